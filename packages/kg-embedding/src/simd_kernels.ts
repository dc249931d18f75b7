/**
 * WebAssembly SIMD (f32x4) kernels, assembled at load time by `wasm_module.ts`.
 *
 * Ranking: the distance of every candidate entity to a block of 8 queries, in a GEMM-like loop:
 * each candidate row is loaded once per block and scored against the 8 queries held in an
 * interleaved tile (the 4 floats k..k+3 of the 8 queries are adjacent), 8 f32x4 accumulators.
 * L1 sums |e - q|, L2 sums (e - q)^2 (squared: same order, no square root). Sums run in float32
 * in a fixed order, so the target and every candidate are scored by the same arithmetic and ties
 * are exact. Filtered ranks subtract the known answers (sorted id ranges of the triple index)
 * from the counts over all candidates.
 *
 * Training: the tables and Adagrad accumulators live in one WebAssembly memory (shared between
 * worker threads), laid out by `allocWasmTables` with one scratch area per thread. `classic` runs
 * a planned step of one-negative margin/SGD updates; `forward` / `backward` (+ `applyRow`) run the
 * general K-negative step around the loss and weights computed in JavaScript (kernel.ts).
 */
import type { Tables } from './kernel';
import { adviseHugePages } from './large_buffers';
import type { TripleIndexData } from './triple_index';
import {
  assembleModule,
  F32,
  F64,
  FunctionBuilder,
  I32,
  OP,
  SIMD,
  V128,
  type WasmMemory,
  type WasmModule,
  wasmApi,
} from './wasm_module';

/** Queries scored together by one kernel call. */
export const SIMD_QUERY_BLOCK = 8;

/** Pushes the horizontal sum ((l0 + l1) + (l2 + l3)) of the f32x4 in local `a` (one order everywhere). */
function emitHsum(f: FunctionBuilder, a: number): void {
  f.get(a).lane(SIMD.f32x4ExtractLane, 0).get(a).lane(SIMD.f32x4ExtractLane, 1).op(OP.f32Add);
  f.get(a).lane(SIMD.f32x4ExtractLane, 2).get(a).lane(SIMD.f32x4ExtractLane, 3).op(OP.f32Add);
  f.op(OP.f32Add);
}

function rankKernel(l2: boolean): FunctionBuilder {
  const Q = SIMD_QUERY_BLOCK;
  // (q, e, n, rowBytes, out): q = interleaved query tile, e = first candidate row, n = rows,
  // rowBytes = padded row size (a multiple of 16), out = [n][8] float32 distances.
  const f = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [q, e, n, rowBytes, out] = [0, 1, 2, 3, 4];
  const eEnd = f.local(I32);
  const rowEnd = f.local(I32);
  const qk = f.local(I32);
  const ek = f.local(I32);
  const ev = f.local(V128);
  const d = f.local(V128);
  const acc: number[] = [];
  for (let j = 0; j < Q; j++) acc.push(f.local(V128));
  f.get(e).get(n).get(rowBytes).op(OP.i32Mul, OP.i32Add).set(eEnd);
  f.begin(OP.block);
  f.get(e).get(eEnd).op(OP.i32GeU).brIf(0);
  f.begin(OP.loop); // candidates
  for (const a of acc) f.v128Zero().set(a);
  f.get(e).get(rowBytes).op(OP.i32Add).set(rowEnd);
  f.get(q).set(qk);
  f.get(e).set(ek);
  f.begin(OP.loop); // 4 coordinates at a time
  f.get(ek).v128Mem(SIMD.load).set(ev);
  for (let j = 0; j < Q; j++) {
    f.get(ev)
      .get(qk)
      .v128Mem(SIMD.load, j * 16)
      .simd(SIMD.f32x4Sub);
    if (l2) f.tee(d).get(d).simd(SIMD.f32x4Mul);
    else f.simd(SIMD.f32x4Abs);
    f.get(acc[j]).simd(SIMD.f32x4Add).set(acc[j]);
  }
  f.get(qk)
    .i32(Q * 16)
    .op(OP.i32Add)
    .set(qk);
  f.get(ek).i32(16).op(OP.i32Add).tee(ek);
  f.get(rowEnd).op(OP.i32LtU).brIf(0);
  f.end();
  for (let j = 0; j < Q; j++) {
    // ((l0 + l1) + (l2 + l3))
    f.get(out);
    emitHsum(f, acc[j]);
    f.mem(OP.f32Store, j * 4);
  }
  f.get(out)
    .i32(Q * 4)
    .op(OP.i32Add)
    .set(out);
  f.get(rowEnd).tee(e).get(eEnd).op(OP.i32LtU).brIf(0);
  f.end();
  f.end();
  return f;
}

let rankBytes: Uint8Array | null = null;
let rankModule: WasmModule | null = null;
let simdChecked: boolean | null = null;

function rankModuleBytes(): Uint8Array {
  if (!rankBytes) {
    rankBytes = assembleModule(
      [
        { name: 'rank8_l1', fn: rankKernel(false) },
        { name: 'rank8_l2', fn: rankKernel(true) },
      ],
      false,
    );
  }
  return rankBytes;
}

/** Whether this JavaScript engine runs the WebAssembly SIMD kernels (Node >= 16.4 does). */
export function simdSupported(): boolean {
  if (simdChecked === null) {
    try {
      const api = wasmApi();
      simdChecked =
        api?.validate(rankModuleBytes()) === true && api.validate(trainModuleBytes(false));
    } catch {
      simdChecked = false;
    }
  }
  return simdChecked;
}

let sharedChecked: boolean | null = null;

/** Whether WebAssembly memories can be shared between worker threads here. */
export function sharedWasmSupported(): boolean {
  if (sharedChecked === null) {
    try {
      const api = wasmApi();
      const m = api ? new api.Memory({ initial: 1, maximum: 1, shared: true }) : null;
      sharedChecked = m !== null && m.buffer instanceof SharedArrayBuffer && simdSupported();
    } catch {
      sharedChecked = false;
    }
  }
  return sharedChecked;
}

type RankFn = (q: number, e: number, n: number, rowBytes: number, out: number) => void;

/** Per-thread SIMD ranking state: a private wasm memory holding a padded copy of the entity table. */
export class SimdRanker {
  private memory: WasmMemory | null = null;
  private l1: RankFn | null = null;
  private l2: RankFn | null = null;
  private f32: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private dim = 0;
  private padded = 0;
  private numEntities = 0;
  private qOff = 0;
  private outOff = 0;

  /** Copies the entity table (rows padded to a multiple of 4 floats); call after the tables change. */
  prepare(t: Tables): void {
    const D = t.dim;
    const Dp = Math.ceil(D / 4) * 4;
    const N = t.numEntities;
    const Q = SIMD_QUERY_BLOCK;
    // Layout (float32 units): [entities N * Dp][query tile Dp * Q][out N * Q]
    const floats = N * Dp + Dp * Q + N * Q;
    const pages = Math.ceil((floats * 4) / 65536) + 1;
    if (!this.memory || this.memory.buffer.byteLength < pages * 65536) {
      const api = wasmApi();
      if (api === null) throw new Error('SimdRanker: this engine has no WebAssembly');
      this.memory = new api.Memory({ initial: pages });
      adviseHugePages(this.memory.buffer);
      if (!rankModule) rankModule = new api.Module(rankModuleBytes());
      const inst = new api.Instance(rankModule, { env: { memory: this.memory } });
      this.l1 = inst.exports.rank8_l1 as RankFn;
      this.l2 = inst.exports.rank8_l2 as RankFn;
    }
    this.f32 = new Float32Array(this.memory.buffer);
    const M = this.f32;
    const E = t.entity;
    if (Dp === D) M.set(E.subarray(0, N * D), 0);
    else {
      M.fill(0, 0, N * Dp);
      for (let e = 0; e < N; e++) M.set(E.subarray(e * D, e * D + D), e * Dp);
    }
    this.dim = D;
    this.padded = Dp;
    this.numEntities = N;
    this.qOff = N * Dp;
    this.outOff = N * Dp + Dp * Q;
  }

  /**
   * Ranks queries [qStart, qEnd): query j asks the tail (j even) or the head (j odd) of triple
   * j >> 1; writes out[2j] = candidates strictly better, out[2j + 1] = ties (known answers and
   * the target excluded).
   */
  rankRange(
    t: Tables,
    triples: Int32Array,
    index: TripleIndexData | null,
    out: Int32Array,
    distance: 'L1' | 'L2',
    qStart: number,
    qEnd: number,
  ): void {
    if (!this.memory || t.dim !== this.dim || t.numEntities !== this.numEntities) {
      throw new Error('SimdRanker: prepare() the tables first');
    }
    const D = this.dim;
    const Dp = this.padded;
    const N = this.numEntities;
    const Q = SIMD_QUERY_BLOCK;
    const M = this.f32;
    const E = t.entity;
    const Rt = t.relation;
    const qOff = this.qOff;
    const outOff = this.outOff;
    const fn = (distance === 'L1' ? this.l1 : this.l2) as RankFn;
    for (let j0 = qStart; j0 < qEnd; j0 += Q) {
      const nq = Math.min(Q, qEnd - j0);
      M.fill(0, qOff, qOff + Dp * Q);
      for (let s = 0; s < nq; s++) {
        const j = j0 + s;
        const tri = (j >> 1) * 3;
        const rO = triples[tri + 1] * D;
        // Interleaved tile: float k of query s sits at (k >> 2) * 4Q + 4s + (k & 3).
        if ((j & 1) === 0) {
          const hO = triples[tri] * D;
          for (let k = 0; k < D; k++)
            M[qOff + (k >> 2) * 4 * Q + 4 * s + (k & 3)] = E[hO + k] + Rt[rO + k];
        } else {
          const tO = triples[tri + 2] * D;
          for (let k = 0; k < D; k++)
            M[qOff + (k >> 2) * 4 * Q + 4 * s + (k & 3)] = E[tO + k] - Rt[rO + k];
        }
      }
      fn(qOff * 4, 0, N, Dp * 4, outOff * 4);
      for (let s = 0; s < nq; s++) {
        const j = j0 + s;
        const tri = (j >> 1) * 3;
        const h = triples[tri];
        const r = triples[tri + 1];
        const tt = triples[tri + 2];
        const tail = (j & 1) === 0;
        const target = tail ? tt : h;
        const o = outOff + s;
        const dt = M[o + target * Q];
        let better = 0;
        let ties = 0;
        for (let c = 0; c < N; c++) {
          const d = M[o + c * Q];
          better += (d < dt) as unknown as number;
          ties += (d === dt) as unknown as number;
        }
        // The target itself, then every other known answer of the query.
        if (!Number.isNaN(dt)) ties--;
        if (index !== null) {
          const keys = tail ? index.headKeys : index.tailKeys;
          const offs = tail ? index.headOffsets : index.tailOffsets;
          const seg = tail ? h : tt;
          const end = offs[seg + 1];
          const base = r * N;
          let i = lowerBound(keys, offs[seg], end, base);
          for (; i < end && keys[i] < base + N; i++) {
            const c = keys[i] - base;
            if (c === target) continue;
            const d = M[o + c * Q];
            if (d < dt) better--;
            else if (d === dt) ties--;
          }
        }
        out[2 * j] = better;
        out[2 * j + 1] = ties;
      }
    }
  }
}

function lowerBound(keys: Float64Array, lo: number, hi: number, key: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Positives whose rows the classic kernel touches together, one group ahead (a power of 2). */
const TOUCH_GROUP = 4;

/**
 * The classic TransE step (L1, margin loss, one negative, SGD) over a planned range of positives.
 * Plan entries are 4 int32: h, r, t, (e << 1) | corruptHead, written by the JavaScript sampler
 * (the same draws as the JavaScript kernel). Per positive: one pass computes both L1 distances,
 * and when the margin is violated a second pass recomputes the same differences and applies the
 * sign gradients row by row (load, update, store: aliased rows such as h = t accumulate
 * correctly), then the touched entity rows are renormalised (1: unit ball, 2: unit sphere).
 * Returns the summed hinge loss (float64 sum of float32 terms).
 */
function classicKernel(): FunctionBuilder {
  // (plan, count, eBase, rBase, rowBytes, lr, margin, renorm) -> f64
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, F32, F32, I32], [F64]);
  const [plan, count, eBase, rBase, rowBytes, lr, margin, renorm] = [0, 1, 2, 3, 4, 5, 6, 7];
  const pend = f.local(I32);
  const h = f.local(I32);
  const t = f.local(I32);
  const e = f.local(I32);
  const ec = f.local(I32);
  const hp = f.local(I32);
  const rp = f.local(I32);
  const tp = f.local(I32);
  const ep = f.local(I32);
  const ap = f.local(I32);
  const bp = f.local(I32);
  const k = f.local(I32);
  const row = f.local(I32);
  const v = f.local(F32);
  const n2 = f.local(F32);
  const loss = f.local(F64);
  const LR = f.local(V128);
  const vR = f.local(V128);
  const xp = f.local(V128);
  const xn = f.local(V128);
  const accP = f.local(V128);
  const accN = f.local(V128);
  const sp = f.local(V128);
  const sn = f.local(V128);
  const sc = f.local(V128);
  const plan0 = f.local(I32);
  const q = f.local(I32);
  const qend = f.local(I32);
  const off = f.local(I32);
  const sink = f.local(I32);
  const ld = (ptr: number) => f.get(ptr).get(k).op(OP.i32Add).v128Mem(SIMD.load);
  const hsum = (a: number) => emitHsum(f, a);
  // lr * sign(x), lane-wise: (x > 0 ? lr : 0) - (x < 0 ? lr : 0)
  const signLr = (x: number, out: number) => {
    f.get(x).v128Zero().simd(SIMD.f32x4Gt).get(LR).simd(SIMD.v128And);
    f.get(x).v128Zero().simd(SIMD.f32x4Lt).get(LR).simd(SIMD.v128And);
    f.simd(SIMD.f32x4Sub).set(out);
  };
  // ptr[k] = ptr[k] <op> val
  const upd = (ptr: number, val: number, opcode: number) => {
    f.get(ptr).get(k).op(OP.i32Add).tee(row);
    f.get(row).v128Mem(SIMD.load).get(val).simd(opcode).v128Mem(SIMD.store);
  };
  const renormRow = (ptr: number) => {
    f.v128Zero().set(accP).i32(0).set(k);
    f.begin(OP.loop);
    ld(ptr).tee(xp).get(xp).simd(SIMD.f32x4Mul).get(accP).simd(SIMD.f32x4Add).set(accP);
    f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
    f.end();
    hsum(accP);
    f.set(n2);
    // n2 > 0 && (renorm == 2 || n2 > 1)
    f.get(n2).f32(0).op(OP.f32Gt);
    f.get(renorm).i32(2).op(OP.i32Eq).get(n2).f32(1).op(OP.f32Gt).op(OP.i32Or);
    f.op(OP.i32And);
    f.begin(OP.if);
    f.f32(1).get(n2).op(OP.f32Sqrt, OP.f32Div).simd(SIMD.f32x4Splat).set(sc);
    f.i32(0).set(k);
    f.begin(OP.loop);
    upd(ptr, sc, SIMD.f32x4Mul);
    f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
    f.end();
    f.end();
  };

  // Touches every cache line of the entity row at byte address `ptr` (sink ^= each first word).
  const touchRow = (ptr: number) => {
    f.i32(0).set(off);
    f.begin(OP.loop);
    f.get(sink).get(ptr).get(off).op(OP.i32Add).mem(OP.i32Load).op(OP.i32Xor).set(sink);
    f.get(off).i32(64).op(OP.i32Add).tee(off).get(rowBytes).op(OP.i32LtU).brIf(0);
    f.end();
    f.get(sink).get(ptr).get(rowBytes).i32(4).op(OP.i32Sub, OP.i32Add).mem(OP.i32Load);
    f.op(OP.i32Xor).set(sink);
  };
  const rowOf = (entityId: () => void, out: number) => {
    f.get(eBase);
    entityId();
    f.get(rowBytes).op(OP.i32Mul, OP.i32Add).set(out);
  };

  f.f64(0).set(loss);
  f.i32(0).set(sink);
  f.get(plan).set(plan0);
  f.get(plan).get(count).i32(16).op(OP.i32Mul, OP.i32Add).set(pend);
  f.get(lr).simd(SIMD.f32x4Splat).set(LR);
  f.begin(OP.block);
  f.get(plan).get(pend).op(OP.i32GeU).brIf(0);
  f.begin(OP.loop); // positives
  // At the start of each group of TOUCH_GROUP positives, load one word of every cache line of
  // the h, t and negative rows of the next group: WebAssembly has no prefetch, but these
  // independent loads overlap their cache and TLB misses (all of the group's at once, instead of
  // a few lines at a time as the arithmetic walks the rows), and they only read, so the updates
  // and their order are those of the plain loop.
  f.get(plan)
    .get(plan0)
    .op(OP.i32Sub)
    .i32(TOUCH_GROUP * 16 - 1)
    .op(OP.i32And)
    .op(OP.i32Eqz);
  f.begin(OP.if);
  f.get(plan)
    .i32(TOUCH_GROUP * 16)
    .op(OP.i32Add)
    .set(q);
  f.get(q)
    .i32(TOUCH_GROUP * 16)
    .op(OP.i32Add)
    .tee(qend)
    .get(pend)
    .get(qend)
    .get(pend)
    .op(OP.i32LtU, OP.select)
    .set(qend);
  f.begin(OP.block);
  f.get(q).get(qend).op(OP.i32GeU).brIf(0);
  f.begin(OP.loop);
  rowOf(() => f.get(q).mem(OP.i32Load, 0), row);
  touchRow(row);
  rowOf(() => f.get(q).mem(OP.i32Load, 8), row);
  touchRow(row);
  rowOf(() => f.get(q).mem(OP.i32Load, 12).i32(1).op(OP.i32ShrU), row);
  touchRow(row);
  f.get(q).i32(16).op(OP.i32Add).tee(q).get(qend).op(OP.i32LtU).brIf(0);
  f.end();
  f.end();
  f.end();
  f.get(plan).mem(OP.i32Load, 0).set(h);
  f.get(plan).mem(OP.i32Load, 8).set(t);
  f.get(plan).mem(OP.i32Load, 12).set(ec);
  f.get(eBase).get(h).get(rowBytes).op(OP.i32Mul, OP.i32Add).set(hp);
  f.get(rBase).get(plan).mem(OP.i32Load, 4).get(rowBytes).op(OP.i32Mul, OP.i32Add).set(rp);
  f.get(eBase).get(t).get(rowBytes).op(OP.i32Mul, OP.i32Add).set(tp);
  f.get(ec).i32(1).op(OP.i32ShrU).set(e);
  f.get(eBase).get(e).get(rowBytes).op(OP.i32Mul, OP.i32Add).set(ep);
  // The negative is (ap, r, bp): (e, r, t) when the head is corrupted, else (h, r, e).
  f.get(ec).i32(1).op(OP.i32And);
  f.begin(OP.if);
  f.get(ep).set(ap).get(tp).set(bp);
  f.op(OP.else);
  f.get(hp).set(ap).get(ep).set(bp);
  f.end();
  // Pass 1: both distances.
  f.v128Zero().set(accP).v128Zero().set(accN).i32(0).set(k);
  f.begin(OP.loop);
  ld(rp).set(vR);
  ld(hp).get(vR).simd(SIMD.f32x4Add);
  ld(tp).simd(SIMD.f32x4Sub).simd(SIMD.f32x4Abs).get(accP).simd(SIMD.f32x4Add).set(accP);
  ld(ap).get(vR).simd(SIMD.f32x4Add);
  ld(bp).simd(SIMD.f32x4Sub).simd(SIMD.f32x4Abs).get(accN).simd(SIMD.f32x4Add).set(accN);
  f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
  f.end();
  // v = margin + d_pos - d_neg
  f.get(margin);
  hsum(accP);
  f.op(OP.f32Add);
  hsum(accN);
  f.op(OP.f32Sub).tee(v).f32(0).op(OP.f32Gt);
  f.begin(OP.if);
  f.get(loss).get(v).op(OP.f64PromoteF32, OP.f64Add).set(loss);
  // Pass 2: the same differences, then h -= s_p, t += s_p, a += s_n, b -= s_n, r -= s_p - s_n.
  f.i32(0).set(k);
  f.begin(OP.loop);
  ld(rp).set(vR);
  ld(hp).get(vR).simd(SIMD.f32x4Add);
  ld(tp).simd(SIMD.f32x4Sub).set(xp);
  ld(ap).get(vR).simd(SIMD.f32x4Add);
  ld(bp).simd(SIMD.f32x4Sub).set(xn);
  signLr(xp, sp);
  signLr(xn, sn);
  upd(hp, sp, SIMD.f32x4Sub);
  upd(tp, sp, SIMD.f32x4Add);
  upd(ap, sn, SIMD.f32x4Add);
  upd(bp, sn, SIMD.f32x4Sub);
  f.get(sp).get(sn).simd(SIMD.f32x4Sub).set(sp);
  upd(rp, sp, SIMD.f32x4Sub);
  f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
  f.end();
  // Renormalise h, t (if not h) and e (if neither).
  f.get(renorm);
  f.begin(OP.if);
  renormRow(hp);
  f.get(t).get(h).op(OP.i32Ne);
  f.begin(OP.if);
  renormRow(tp);
  f.end();
  f.get(e).get(h).op(OP.i32Ne).get(e).get(t).op(OP.i32Ne).op(OP.i32And);
  f.begin(OP.if);
  renormRow(ep);
  f.end();
  f.end();
  f.end(); // if v > 0
  f.get(plan).i32(16).op(OP.i32Add).tee(plan).get(pend).op(OP.i32LtU).brIf(0);
  f.end();
  f.end();
  // The touched words go to the (consumed) first plan entry, so no load is dead code.
  f.get(plan0).get(sink).mem(OP.i32Store, 0);
  f.get(loss);
  return f;
}

/**
 * Row update shared by the general kernels: row -= scale * g, where scale = lr (SGD) or
 * lr / (sqrt(acc) + 1e-10) after acc += mean(g^2) (row-wise Adagrad, accPtr >= 0), then the row
 * is renormalised (1: onto the unit ball, 2: onto the unit sphere).
 */
function applyRowKernel(): FunctionBuilder {
  // (row, g, accPtr, lr, adagrad, renorm, rowBytes, dim)
  const f = new FunctionBuilder([I32, I32, I32, F32, I32, I32, I32, F32]);
  const [row, g, accPtr, lr, adagrad, renorm, rowBytes, dim] = [0, 1, 2, 3, 4, 5, 6, 7];
  const k = f.local(I32);
  const a = f.local(F32);
  const n2 = f.local(F32);
  const acc = f.local(V128);
  const v = f.local(V128);
  const sc = f.local(V128);
  const hsum = (x: number) => emitHsum(f, x);
  f.get(lr).simd(SIMD.f32x4Splat).set(sc);
  f.get(adagrad);
  f.begin(OP.if);
  f.v128Zero().set(acc).i32(0).set(k);
  f.begin(OP.loop);
  f.get(g).get(k).op(OP.i32Add).v128Mem(SIMD.load).tee(v).get(v).simd(SIMD.f32x4Mul);
  f.get(acc).simd(SIMD.f32x4Add).set(acc);
  f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
  f.end();
  // a = acc[row] + sum(g^2) / dim; scale = lr / (sqrt(a) + 1e-10)
  f.get(accPtr).mem(OP.f32Load);
  hsum(acc);
  f.get(dim).op(OP.f32Div, OP.f32Add).set(a);
  f.get(accPtr).get(a).mem(OP.f32Store);
  f.get(lr).get(a).op(OP.f32Sqrt).f32(1e-10).op(OP.f32Add, OP.f32Div).simd(SIMD.f32x4Splat).set(sc);
  f.end();
  // row -= sc * g, with the squared norm of the result
  f.v128Zero().set(acc).i32(0).set(k);
  f.begin(OP.loop);
  f.get(row).get(k).op(OP.i32Add);
  f.get(row).get(k).op(OP.i32Add).v128Mem(SIMD.load);
  f.get(g).get(k).op(OP.i32Add).v128Mem(SIMD.load).get(sc).simd(SIMD.f32x4Mul);
  f.simd(SIMD.f32x4Sub).tee(v).v128Mem(SIMD.store);
  f.get(v).get(v).simd(SIMD.f32x4Mul).get(acc).simd(SIMD.f32x4Add).set(acc);
  f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
  f.end();
  hsum(acc);
  f.set(n2);
  f.get(renorm).i32(0).op(OP.i32Ne);
  f.get(n2).f32(0).op(OP.f32Gt).op(OP.i32And);
  f.get(renorm).i32(2).op(OP.i32Eq).get(n2).f32(1).op(OP.f32Gt).op(OP.i32Or).op(OP.i32And);
  f.begin(OP.if);
  f.f32(1).get(n2).op(OP.f32Sqrt, OP.f32Div).simd(SIMD.f32x4Splat).set(sc);
  f.i32(0).set(k);
  f.begin(OP.loop);
  f.get(row).get(k).op(OP.i32Add);
  f.get(row).get(k).op(OP.i32Add).v128Mem(SIMD.load).get(sc).simd(SIMD.f32x4Mul);
  f.v128Mem(SIMD.store);
  f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
  f.end();
  f.end();
  return f;
}

/**
 * General step, forward half: X_0 = h + r - t and, for each negative i (entry (e << 1) | head),
 * X_i = e + r - t (head) or h + r - e (tail); dist[i] = sum |X_i| (L1) or sum X_i^2 (L2).
 */
function forwardKernel(): FunctionBuilder {
  // (hp, rp, tp, neg, K, eBase, rowBytes, X, dist, l2)
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [hp, rp, tp, neg, K, eBase, rowBytes, X, dist, l2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const i = f.local(I32);
  const ap = f.local(I32);
  const bp = f.local(I32);
  const ep = f.local(I32);
  const ec = f.local(I32);
  const k = f.local(I32);
  const x = f.local(I32);
  const acc = f.local(V128);
  const v = f.local(V128);
  f.i32(0).set(i).get(X).set(x);
  f.begin(OP.loop); // i = 0 (positive) .. K
  f.get(i);
  f.begin(OP.if);
  f.get(neg).get(i).i32(1).op(OP.i32Sub).i32(4).op(OP.i32Mul, OP.i32Add).mem(OP.i32Load).set(ec);
  f.get(eBase).get(ec).i32(1).op(OP.i32ShrU).get(rowBytes).op(OP.i32Mul, OP.i32Add).set(ep);
  f.get(ec).i32(1).op(OP.i32And);
  f.begin(OP.if);
  f.get(ep).set(ap).get(tp).set(bp);
  f.op(OP.else);
  f.get(hp).set(ap).get(ep).set(bp);
  f.end();
  f.op(OP.else);
  f.get(hp).set(ap).get(tp).set(bp);
  f.end();
  f.v128Zero().set(acc).i32(0).set(k);
  f.begin(OP.loop);
  f.get(x).get(k).op(OP.i32Add);
  f.get(ap).get(k).op(OP.i32Add).v128Mem(SIMD.load);
  f.get(rp).get(k).op(OP.i32Add).v128Mem(SIMD.load).simd(SIMD.f32x4Add);
  f.get(bp).get(k).op(OP.i32Add).v128Mem(SIMD.load).simd(SIMD.f32x4Sub);
  f.tee(v).v128Mem(SIMD.store);
  f.get(l2);
  f.begin(OP.if);
  f.get(v).get(v).simd(SIMD.f32x4Mul).get(acc).simd(SIMD.f32x4Add).set(acc);
  f.op(OP.else);
  f.get(v).simd(SIMD.f32x4Abs).get(acc).simd(SIMD.f32x4Add).set(acc);
  f.end();
  f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
  f.end();
  f.get(dist).get(i).i32(4).op(OP.i32Mul, OP.i32Add);
  emitHsum(f, acc);
  f.mem(OP.f32Store);
  f.get(x).get(rowBytes).op(OP.i32Add).set(x);
  f.get(i).i32(1).op(OP.i32Add).tee(i).get(K).op(OP.i32LeU).brIf(0);
  f.end();
  return f;
}

/**
 * General step, backward half. scale[0] and scale[i] are the factors of the positive and of
 * negative i (0: no gradient): the direction is sign(X) (L1) or X itself (L2, the factor then
 * carries 1 / d). gH = s_0 dir(X_0), gT = -gH, gR = gH; each negative adds g_i = s_i dir(X_i) to
 * gR and -g_i to gT (head corrupted) or +g_i to gH (tail corrupted), and its entity row is updated
 * at once with +g_i (head) or -g_i (tail); then h, t and r are updated (`applyRow`).
 */
function backwardKernel(applyRowIndex: number): FunctionBuilder {
  // (hp, rp, tp, neg, K, eBase, rowBytes, X, scale, G, lr, adagrad, renorm, eAcc, rAccPtr, l2, dim, h, t)
  const f = new FunctionBuilder([
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    F32,
    I32,
    I32,
    I32,
    I32,
    I32,
    F32,
    I32,
    I32,
  ]);
  const [hp, rp, tp, neg, K, eBase, rowBytes, X, scale, G, lr, adagrad, renorm, eAcc, rAccPtr] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
  const [l2, dim, h, t] = [15, 16, 17, 18];
  const i = f.local(I32);
  const k = f.local(I32);
  const x = f.local(I32);
  const ec = f.local(I32);
  const e = f.local(I32);
  const gE = f.local(I32);
  const gHp = f.local(I32);
  const gTp = f.local(I32);
  const gRp = f.local(I32);
  const s = f.local(F32);
  const S = f.local(V128);
  const d = f.local(V128);
  const ONE = f.local(V128);
  const dir = () => {
    // dir(v) in d: sign(v) * S (L1) or v * S (L2); v is on the stack
    f.set(d);
    f.get(l2);
    f.begin(OP.if);
    f.get(d).get(S).simd(SIMD.f32x4Mul).set(d);
    f.op(OP.else);
    f.get(d).v128Zero().simd(SIMD.f32x4Gt).get(S).simd(SIMD.v128And);
    f.get(d).v128Zero().simd(SIMD.f32x4Lt).get(S).simd(SIMD.v128And);
    f.simd(SIMD.f32x4Sub).set(d);
    f.end();
  };
  const at = (base: number): FunctionBuilder => f.get(base).get(k).op(OP.i32Add);
  const loopRow = (body: () => void) => {
    f.i32(0).set(k);
    f.begin(OP.loop);
    body();
    f.get(k).i32(16).op(OP.i32Add).tee(k).get(rowBytes).op(OP.i32LtU).brIf(0);
    f.end();
  };
  f.f32(1).simd(SIMD.f32x4Splat).set(ONE);
  f.get(G).set(gHp);
  f.get(G).get(rowBytes).op(OP.i32Add).set(gTp);
  f.get(gTp).get(rowBytes).op(OP.i32Add).set(gRp);
  f.get(gRp).get(rowBytes).op(OP.i32Add).set(gE);
  // Positive.
  f.get(scale).mem(OP.f32Load).simd(SIMD.f32x4Splat).set(S);
  loopRow(() => {
    at(X).v128Mem(SIMD.load);
    dir();
    at(gHp).get(d).v128Mem(SIMD.store);
    at(gRp).get(d).v128Mem(SIMD.store);
    at(gTp).v128Zero().get(d).simd(SIMD.f32x4Sub).v128Mem(SIMD.store);
  });
  // Negatives.
  f.i32(1).set(i).get(X).get(rowBytes).op(OP.i32Add).set(x);
  f.begin(OP.block);
  f.get(i).get(K).op(OP.i32GtU).brIf(0);
  f.begin(OP.loop);
  f.get(scale).get(i).i32(4).op(OP.i32Mul, OP.i32Add).mem(OP.f32Load).tee(s).f32(0).op(OP.f32Ne);
  f.begin(OP.if);
  f.get(s).simd(SIMD.f32x4Splat).set(S);
  f.get(neg).get(i).i32(1).op(OP.i32Sub).i32(4).op(OP.i32Mul, OP.i32Add).mem(OP.i32Load).set(ec);
  f.get(ec).i32(1).op(OP.i32ShrU).set(e);
  f.get(ec).i32(1).op(OP.i32And);
  f.begin(OP.if);
  // head corrupted: gR += g, gT -= g, gE = +g
  loopRow(() => {
    f.get(x).get(k).op(OP.i32Add).v128Mem(SIMD.load);
    dir();
    at(gRp);
    at(gRp).v128Mem(SIMD.load).get(d).simd(SIMD.f32x4Add).v128Mem(SIMD.store);
    at(gTp);
    at(gTp).v128Mem(SIMD.load).get(d).simd(SIMD.f32x4Sub).v128Mem(SIMD.store);
    at(gE).get(d).v128Mem(SIMD.store);
  });
  f.op(OP.else);
  // tail corrupted: gR += g, gH += g, gE = -g
  loopRow(() => {
    f.get(x).get(k).op(OP.i32Add).v128Mem(SIMD.load);
    dir();
    at(gRp);
    at(gRp).v128Mem(SIMD.load).get(d).simd(SIMD.f32x4Add).v128Mem(SIMD.store);
    at(gHp);
    at(gHp).v128Mem(SIMD.load).get(d).simd(SIMD.f32x4Add).v128Mem(SIMD.store);
    at(gE).v128Zero().get(d).simd(SIMD.f32x4Sub).v128Mem(SIMD.store);
  });
  f.end();
  // the corrupted entity's row
  f.get(eBase).get(e).get(rowBytes).op(OP.i32Mul, OP.i32Add);
  f.get(gE).get(eAcc).get(e).i32(4).op(OP.i32Mul, OP.i32Add);
  f.get(lr).get(adagrad).get(renorm).get(rowBytes).get(dim);
  f.call(applyRowIndex);
  f.end();
  f.get(x).get(rowBytes).op(OP.i32Add).set(x);
  f.get(i).i32(1).op(OP.i32Add).tee(i).get(K).op(OP.i32LeU).brIf(0);
  f.end();
  f.end();
  // h, t, r
  f.get(hp).get(gHp).get(eAcc).get(h).i32(4).op(OP.i32Mul, OP.i32Add);
  f.get(lr).get(adagrad).get(renorm).get(rowBytes).get(dim);
  f.call(applyRowIndex);
  f.get(tp).get(gTp).get(eAcc).get(t).i32(4).op(OP.i32Mul, OP.i32Add);
  f.get(lr).get(adagrad).get(renorm).get(rowBytes).get(dim);
  f.call(applyRowIndex);
  f.get(rp).get(gRp).get(rAccPtr);
  f.get(lr).get(adagrad).i32(0).get(rowBytes).get(dim);
  f.call(applyRowIndex);
  return f;
}

function trainModuleBytes(shared: boolean): Uint8Array {
  // applyRow must stay function 0: backward calls it by index.
  return assembleModule(
    [
      { name: 'applyRow', fn: applyRowKernel() },
      { name: 'classic', fn: classicKernel() },
      { name: 'forward', fn: forwardKernel() },
      { name: 'backward', fn: backwardKernel(0) },
    ],
    shared,
  );
}

const trainBytes: [Uint8Array | null, Uint8Array | null] = [null, null];
const trainModules: [WasmModule | null, WasmModule | null] = [null, null];

function trainModule(shared: boolean): WasmModule {
  const i = shared ? 1 : 0;
  let m = trainModules[i];
  if (!m) {
    const api = wasmApi();
    if (api === null) throw new Error('kg-embedding: this engine has no WebAssembly');
    let bytes = trainBytes[i];
    if (!bytes) {
      bytes = trainModuleBytes(shared);
      trainBytes[i] = bytes;
    }
    m = new api.Module(bytes);
    trainModules[i] = m;
  }
  return m;
}

/**
 * Where the tables live when they sit in a WebAssembly memory (shared between threads when
 * `shared`): byte offsets of the entity and relation tables and of one plan area per thread.
 */
export interface WasmTables {
  memory: WasmMemory;
  shared: boolean;
  entityOffset: number;
  relationOffset: number;
  /** [N] and [R] float32 Adagrad accumulators. */
  entityAccOffset: number;
  relationAccOffset: number;
  /** Row width, and negatives per positive, the scratch areas are sized for. */
  dim: number;
  negatives: number;
  scratchOffset: number;
  /**
   * Bytes of one thread's scratch area: the classic plan (16 per positive of a step) or the
   * general step's buffers (negatives, distances, factors, K + 1 difference rows, 4 gradient rows).
   */
  scratchBytes: number;
  /** Plan areas (threads that may run the SIMD kernel). */
  slots: number;
}

/** Largest WebAssembly memory the kernels ask for: 4 GiB (wasm32) less one page of headroom. */
export const MAX_WASM_BYTES = 65535 * 65536;

function generalScratch(dim: number, negatives: number) {
  const a16 = (x: number) => Math.ceil(x / 16) * 16;
  const rowBytes = dim * 4;
  const neg = 0;
  const dist = a16(negatives * 4);
  const scale = dist + a16((negatives + 1) * 4);
  const X = scale + a16((negatives + 1) * 4);
  const G = X + (negatives + 1) * rowBytes;
  return { neg, dist, scale, X, G, bytes: G + 4 * rowBytes };
}

function wasmLayout(
  numEntities: number,
  numRelations: number,
  dim: number,
  batchSize: number,
  negatives: number,
) {
  const align = (x: number) => Math.ceil(x / 64) * 64;
  const entityOffset = 0;
  const relationOffset = align(numEntities * dim * 4);
  const entityAccOffset = align(relationOffset + numRelations * dim * 4);
  const relationAccOffset = align(entityAccOffset + numEntities * 4);
  const scratchOffset = align(relationAccOffset + numRelations * 4);
  const scratchBytes = align(Math.max(batchSize * 16, generalScratch(dim, negatives).bytes));
  return {
    entityOffset,
    relationOffset,
    entityAccOffset,
    relationAccOffset,
    scratchOffset,
    scratchBytes,
  };
}

/** Whether tables of this size fit one WebAssembly memory (else the JavaScript kernels run). */
export function wasmTablesFit(
  numEntities: number,
  numRelations: number,
  dim: number,
  batchSize: number,
  negatives: number,
  slots: number,
): boolean {
  const l = wasmLayout(numEntities, numRelations, dim, batchSize, negatives);
  return l.scratchOffset + l.scratchBytes * slots + 65536 <= MAX_WASM_BYTES;
}

/** Whether the SIMD ranker's copy of an entity table fits one WebAssembly memory. */
export function rankTablesFit(numEntities: number, dim: number): boolean {
  const Dp = Math.ceil(dim / 4) * 4;
  const floats = numEntities * Dp + Dp * SIMD_QUERY_BLOCK + numEntities * SIMD_QUERY_BLOCK;
  return floats * 4 + 65536 <= MAX_WASM_BYTES;
}

/** Allocates the tables and accumulators inside a WebAssembly memory, with `slots` scratch areas. */
export function allocWasmTables(
  numEntities: number,
  numRelations: number,
  dim: number,
  batchSize: number,
  negatives: number,
  slots: number,
  shared: boolean,
): {
  wasm: WasmTables;
  entity: Float32Array;
  relation: Float32Array;
  entityAcc: Float32Array;
  relationAcc: Float32Array;
} {
  const api = wasmApi();
  if (api === null) throw new Error('kg-embedding: this engine has no WebAssembly');
  const l = wasmLayout(numEntities, numRelations, dim, batchSize, negatives);
  if (!wasmTablesFit(numEntities, numRelations, dim, batchSize, negatives, slots)) {
    throw new RangeError('kg-embedding: tables exceed the 4 GiB WebAssembly memory limit');
  }
  const pages = Math.ceil((l.scratchOffset + l.scratchBytes * slots) / 65536) + 1;
  const memory = shared
    ? new api.Memory({ initial: pages, maximum: pages, shared: true })
    : new api.Memory({ initial: pages });
  // Before the first write: the tables are read at random (see large_buffers.ts).
  adviseHugePages(memory.buffer, 0, l.scratchOffset);
  return {
    wasm: { memory, shared, dim, negatives, slots, ...l },
    entity: new Float32Array(memory.buffer, l.entityOffset, numEntities * dim),
    relation: new Float32Array(memory.buffer, l.relationOffset, numRelations * dim),
    entityAcc: new Float32Array(memory.buffer, l.entityAccOffset, numEntities),
    relationAcc: new Float32Array(memory.buffer, l.relationAccOffset, numRelations),
  };
}

type ClassicFn = (
  plan: number,
  count: number,
  eBase: number,
  rBase: number,
  rowBytes: number,
  lr: number,
  margin: number,
  renorm: number,
) => number;

/** One thread's handle on the SIMD training kernels and its scratch area. */
export class SimdTrainer {
  readonly plan: Int32Array;
  private readonly fn: ClassicFn;
  private readonly planOffset: number;

  constructor(
    readonly wasm: WasmTables,
    slot: number,
  ) {
    const api = wasmApi();
    if (api === null) throw new Error('kg-embedding: this engine has no WebAssembly');
    if (slot < 0 || slot >= wasm.slots) throw new RangeError(`SimdTrainer: no plan area ${slot}`);
    const inst = new api.Instance(trainModule(wasm.shared), { env: { memory: wasm.memory } });
    this.fn = inst.exports.classic as ClassicFn;
    this.forwardFn = inst.exports.forward as (...args: number[]) => void;
    this.backwardFn = inst.exports.backward as (...args: number[]) => void;
    this.planOffset = wasm.scratchOffset + slot * wasm.scratchBytes;
    this.plan = new Int32Array(wasm.memory.buffer, this.planOffset, wasm.scratchBytes / 4);
    this.g = generalScratch(wasm.dim, wasm.negatives);
    const buf = wasm.memory.buffer;
    this.neg = new Int32Array(buf, this.planOffset + this.g.neg, wasm.negatives);
    this.dist = new Float32Array(buf, this.planOffset + this.g.dist, wasm.negatives + 1);
    this.scale = new Float32Array(buf, this.planOffset + this.g.scale, wasm.negatives + 1);
  }

  /** Scratch of the general step: negatives (e << 1 | head), distances, factors. */
  readonly neg: Int32Array;
  readonly dist: Float32Array;
  readonly scale: Float32Array;
  private readonly forwardFn: (...args: number[]) => void;
  private readonly backwardFn: (...args: number[]) => void;
  private readonly g: ReturnType<typeof generalScratch>;

  /** Distances of the positive (dist[0]) and the negatives in `neg` (dist[1..K]). */
  forward(h: number, r: number, t: number, K: number, dim: number, l2: boolean): void {
    const w = this.wasm;
    const rb = dim * 4;
    const base = this.planOffset;
    this.forwardFn(
      w.entityOffset + h * rb,
      w.relationOffset + r * rb,
      w.entityOffset + t * rb,
      base + this.g.neg,
      K,
      w.entityOffset,
      rb,
      base + this.g.X,
      base + this.g.dist,
      l2 ? 1 : 0,
    );
  }

  /** Applies the gradients whose factors are in `scale` (see the kernel). */
  backward(
    h: number,
    r: number,
    t: number,
    K: number,
    dim: number,
    l2: boolean,
    lr: number,
    adagrad: boolean,
    renorm: number,
  ): void {
    const w = this.wasm;
    const rb = dim * 4;
    const base = this.planOffset;
    this.backwardFn(
      w.entityOffset + h * rb,
      w.relationOffset + r * rb,
      w.entityOffset + t * rb,
      base + this.g.neg,
      K,
      w.entityOffset,
      rb,
      base + this.g.X,
      base + this.g.scale,
      base + this.g.G,
      lr,
      adagrad ? 1 : 0,
      renorm,
      w.entityAccOffset,
      w.relationAccOffset + r * 4,
      l2 ? 1 : 0,
      dim,
      h,
      t,
    );
  }

  /** Runs the first `count` planned positives; returns the summed loss. */
  run(count: number, dim: number, lr: number, margin: number, renorm: number): number {
    return this.fn(
      this.planOffset,
      count,
      this.wasm.entityOffset,
      this.wasm.relationOffset,
      dim * 4,
      lr,
      margin,
      renorm,
    );
  }
}
