import { Rng } from '@artist-ts/core/rng';
import { evaluateLinkPrediction, rankOf } from '../src/evaluate';
import type { TripleSet } from '../src/kg_data';
import { gridDataset } from './helpers';

const ts = (rows: number[][]): TripleSet => ({
  data: Int32Array.from(rows.flat()),
  count: rows.length,
});

// dim 1: entity positions 0, 1, 2, 1, 5; relation +1. Worked out by hand:
// (0, r, 1) tail query q = 1: e1 = target (d 0), e3 ties (d 0)       -> better 0, ties 1
// (0, r, 1) head query q = 0: e0 = target, nothing closer or equal   -> better 0, ties 0
// (2, r, 4) tail query q = 3: target d 2; e2 (d 1) better; e1, e3 tie -> better 1, ties 2
// (2, r, 4) head query q = 4: target e2 d 2; e4 (d 1) better          -> better 1, ties 0
const emb = {
  dim: 1,
  numEntities: 5,
  numRelations: 1,
  entity: Float32Array.from([0, 1, 2, 1, 5]),
  relation: Float32Array.from([1]),
};
const test = ts([
  [0, 0, 1],
  [2, 0, 4],
]);

describe('evaluateLinkPrediction', () => {
  it('ranks ties three ways (raw)', async () => {
    const m = await evaluateLinkPrediction(emb, test, { workers: 0 });
    expect(m.filtered).toBe(false);
    expect(m.triples).toBe(2);
    // realistic ranks 1.5, 1, 3, 2; optimistic 1, 1, 2, 2; pessimistic 2, 1, 4, 2
    expect(m.realistic.both.mr).toBeCloseTo(1.875, 12);
    expect(m.realistic.both.mrr).toBeCloseTo((1 / 1.5 + 1 + 1 / 3 + 1 / 2) / 4, 12);
    expect(m.optimistic.both.mrr).toBeCloseTo(0.75, 12);
    expect(m.pessimistic.both.mrr).toBeCloseTo(0.5625, 12);
    expect(m.realistic.both.hits1).toBe(0.25);
    expect(m.optimistic.both.hits1).toBe(0.5);
    expect(m.pessimistic.both.hits3).toBe(0.75);
    expect(m.realistic.tail.mr).toBeCloseTo(2.25, 12);
    expect(m.realistic.head.mr).toBeCloseTo(1.5, 12);
    expect(m.realistic.both.hits10).toBe(1);
  });

  it('filters other known answers', async () => {
    // (0, r, 3) is known: e3 no longer ties with the answer of the first tail query.
    const m = await evaluateLinkPrediction(emb, test, { workers: 0, filter: [ts([[0, 0, 3]])] });
    expect(m.filtered).toBe(true);
    // realistic ranks 1, 1, 3, 2
    expect(m.realistic.both.mr).toBeCloseTo(1.75, 12);
    expect(m.optimistic.both.mrr).toBeCloseTo(0.75, 12);
    expect(m.pessimistic.both.mrr).toBeCloseTo((1 + 1 + 0.25 + 0.5) / 4, 12);
  });

  it('agrees with a brute-force ranking, on the calling thread and on 2 workers', async () => {
    const rng = new Rng(5);
    const N = 40;
    const R = 3;
    const dim = 11; // exercises the 8-wide unrolled loop and its remainder
    const entity = new Float32Array(N * dim);
    const relation = new Float32Array(R * dim);
    // Coarse values so that ties happen.
    for (let i = 0; i < entity.length; i++) entity[i] = rng.int(3) - 1;
    for (let i = 0; i < relation.length; i++) relation[i] = rng.int(3) - 1;
    const rows: number[][] = [];
    for (let i = 0; i < 60; i++) rows.push([rng.int(N), rng.int(R), rng.int(N)]);
    const all = ts(rows);
    const testSet = ts(rows.slice(0, 25));
    for (const distance of ['L1', 'L2'] as const) {
      const e = { dim, numEntities: N, numRelations: R, entity, relation };
      const a = await evaluateLinkPrediction(e, testSet, { workers: 0, filter: [all], distance });
      const b = await evaluateLinkPrediction(e, testSet, { workers: 2, filter: [all], distance });
      expect(b.realistic).toEqual(a.realistic);
      const c = await evaluateLinkPrediction(e, testSet, {
        workers: 0,
        filter: [all],
        distance,
        lowerBound: false,
      });
      expect(c.realistic).toEqual(a.realistic);
      expect(b.pessimistic).toEqual(a.pessimistic);
      // Brute force: score every candidate, drop known answers other than the target.
      const known = new Set(rows.map((r) => r.join(',')));
      const dist = (x: number[]) =>
        distance === 'L1'
          ? x.reduce((s, v) => s + Math.abs(v), 0)
          : Math.sqrt(x.reduce((s, v) => s + v * v, 0));
      const vec = (h: number, r: number, t: number) =>
        Array.from(
          { length: dim },
          (_, k) => entity[h * dim + k] + relation[r * dim + k] - entity[t * dim + k],
        );
      let mrr = 0;
      let n = 0;
      for (const [h, r, t] of rows.slice(0, 25)) {
        for (const side of ['tail', 'head']) {
          const target = dist(vec(h, r, t));
          let better = 0;
          let ties = 0;
          for (let c = 0; c < N; c++) {
            const [hh, tt] = side === 'tail' ? [h, c] : [c, t];
            if ((side === 'tail' ? c === t : c === h) || known.has(`${hh},${r},${tt}`)) continue;
            const d = dist(vec(hh, r, tt));
            if (Math.abs(d - target) < 1e-9) ties++;
            else if (d < target) better++;
          }
          mrr += 1 / rankOf(better, ties, 'realistic');
          n++;
        }
      }
      expect(a.realistic.both.mrr).toBeCloseTo(mrr / n, 10);
    }
  });

  it('rejects out-of-range ids and bad options', async () => {
    await expect(evaluateLinkPrediction(emb, ts([[0, 0, 9]]), { workers: 0 })).rejects.toThrow(
      /outside 5 entities/,
    );
    await expect(evaluateLinkPrediction(emb, test, { workers: -1 })).rejects.toThrow(/workers/);
  });
});

describe('sampled ranking', () => {
  // The protocol re-derived with the plain Rng (not FastRng) and float64 loops.
  function reference(
    E: Float32Array,
    Rt: Float32Array,
    D: number,
    N: number,
    triples: Int32Array,
    known: Set<string>,
    K: number,
    seed: number,
  ): number[] {
    const rng = new Rng(seed).fork('sampled-rank');
    const dist = (h: number, r: number, t: number) => {
      let s = 0;
      for (let k = 0; k < D; k++) s += Math.abs(E[h * D + k] + Rt[r * D + k] - E[t * D + k]);
      return s;
    };
    const out: number[] = [];
    for (let j = 0; j < (triples.length / 3) * 2; j++) {
      const [h, r, t] = triples.subarray(3 * (j >> 1), 3 * (j >> 1) + 3);
      const tail = j % 2 === 0;
      const target = dist(h, r, t);
      let better = 0;
      let ties = 0;
      for (let c = 0; c < K; c++) {
        let e = 0;
        for (let a = 0; a < 32; a++) {
          e = rng.int(N);
          if (e === (tail ? t : h)) continue;
          if (known.has(tail ? `${h},${r},${e}` : `${e},${r},${t}`)) continue;
          break;
        }
        const d = tail ? dist(h, r, e) : dist(e, r, t);
        if (d < target) better++;
        else if (d === target) ties++;
      }
      out.push(better, ties);
    }
    return out;
  }

  it('ranks each answer among K seeded draws, skipping known triples', async () => {
    const N = 40;
    const D = 6;
    const rng = new Rng(9);
    const entity = rng.fillUniform(new Float32Array(N * D), -1, 1);
    const relation = rng.fillUniform(new Float32Array(3 * D), -1, 1);
    const data = new Int32Array(60);
    for (let i = 0; i < 20; i++) data.set([rng.int(N), rng.int(3), rng.int(N)], 3 * i);
    const test = { data, count: 20 };
    const train = { data: data.subarray(0, 30), count: 10 };
    const known = new Set<string>();
    for (let i = 0; i < 20; i++) known.add(Array.from(data.subarray(3 * i, 3 * i + 3)).join(','));
    const emb = { dim: D, numEntities: N, numRelations: 3, entity, relation };
    const m = await evaluateLinkPrediction(emb, test, {
      sampledCandidates: 25,
      seed: 5,
      filter: [train],
      distance: 'L1',
    });
    expect(m.sampledCandidates).toBe(25);
    const ref = reference(entity, relation, D, N, data, known, 25, 5);
    let rr = 0;
    for (let j = 0; j < ref.length; j += 2) rr += 1 / (1 + ref[j] + ref[j + 1] / 2);
    expect(m.realistic.both.mrr).toBeCloseTo(rr / (ref.length / 2), 12);
  });

  it('gives rank 1 to answers closer than every other entity', async () => {
    // The exact TransE solution of the grid: e(x, y) = (x, y), right = (1, 0), up = (0, 1).
    const grid = gridDataset(4, 4);
    const entity = new Float32Array(32);
    for (let i = 0; i < 16; i++) entity.set([i % 4, Math.floor(i / 4)], 2 * i);
    const relation = Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]);
    const planted = { dim: 2, numEntities: 16, numRelations: 4, entity, relation };
    const m = await evaluateLinkPrediction(planted, grid.test, {
      sampledCandidates: 10,
      filter: [grid.train, grid.valid],
      distance: 'L2',
    });
    expect(m.realistic.both.mrr).toBe(1);
  });
});
