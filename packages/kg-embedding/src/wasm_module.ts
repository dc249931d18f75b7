/**
 * A minimal WebAssembly binary emitter, enough for the SIMD kernels of this package: one imported
 * memory, functions over i32 / f32 / v128 locals, structured control flow, scalar and 128-bit
 * SIMD (f32x4) instructions. The kernels are written against this builder in `simd_kernels.ts`
 * and assembled at load time, so the package needs no WebAssembly toolchain and ships no binary.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

function uleb(out: number[], v: number): void {
  let x = v >>> 0;
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x !== 0) b |= 0x80;
    out.push(b);
  } while (x !== 0);
}

function sleb(out: number[], v: number): void {
  let x = v | 0;
  for (;;) {
    const b = x & 0x7f;
    x >>= 7;
    if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function name(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  uleb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  for (const b of body) out.push(b);
}

/** Opcodes after the 0xfd SIMD prefix. */
export const SIMD = {
  load: 0x00,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  v128And: 0x4e,
  v128Or: 0x50,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
} as const;

/** Scalar opcodes used by the kernels. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  i32Store: 0x36,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtU: 0x4b,
  i32LeU: 0x4d,
  i32GeU: 0x4f,
  f32Ne: 0x5c,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  f32Le: 0x5f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  f32Abs: 0x8b,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f64Const: 0x44,
  f64Add: 0xa0,
  f64PromoteF32: 0xbb,
} as const;

/** The body of one function: locals are numbered after the parameters, in declaration order. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(
    readonly params: ValType[],
    readonly results: ValType[] = [],
  ) {}

  /** Declares a local and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  get(i: number): this {
    this.code.push(OP.localGet);
    uleb(this.code, i);
    return this;
  }

  set(i: number): this {
    this.code.push(OP.localSet);
    uleb(this.code, i);
    return this;
  }

  tee(i: number): this {
    this.code.push(OP.localTee);
    uleb(this.code, i);
    return this;
  }

  i32(v: number): this {
    this.code.push(OP.i32Const);
    sleb(this.code, v);
    return this;
  }

  f32(v: number): this {
    this.code.push(OP.f32Const);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v, 0);
    for (const x of b) this.code.push(x);
    return this;
  }

  f64(v: number): this {
    this.code.push(OP.f64Const);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v, 0);
    for (const x of b) this.code.push(x);
    return this;
  }

  /** A scalar load or store with a constant byte offset (alignment 2^align). */
  mem(opcode: number, offset = 0, align = 2): this {
    this.code.push(opcode);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }

  simd(opcode: number): this {
    this.code.push(0xfd);
    uleb(this.code, opcode);
    return this;
  }

  /** v128.load / v128.store with a constant byte offset (unaligned hint). */
  v128Mem(opcode: typeof SIMD.load | typeof SIMD.store, offset = 0): this {
    this.simd(opcode);
    uleb(this.code, 0);
    uleb(this.code, offset);
    return this;
  }

  lane(opcode: number, lane: number): this {
    this.simd(opcode);
    this.code.push(lane);
    return this;
  }

  v128Zero(): this {
    this.simd(SIMD.const);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  /** block / loop / if with no result. */
  begin(kind: typeof OP.block | typeof OP.loop | typeof OP.if): this {
    this.code.push(kind, 0x40);
    return this;
  }

  end(): this {
    this.code.push(OP.end);
    return this;
  }

  /** Calls function `index` of the module (arguments on the stack). */
  call(index: number): this {
    this.code.push(0x10);
    uleb(this.code, index);
    return this;
  }

  br(depth: number): this {
    this.code.push(OP.br);
    uleb(this.code, depth);
    return this;
  }

  brIf(depth: number): this {
    this.code.push(OP.brIf);
    uleb(this.code, depth);
    return this;
  }

  encodeBody(): number[] {
    const body: number[] = [];
    // Run-length groups of equal local types.
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(body, groups.length);
    for (const [n, t] of groups) {
      uleb(body, n);
      body.push(t);
    }
    for (const b of this.code) body.push(b);
    body.push(OP.end);
    const out: number[] = [];
    uleb(out, body.length);
    for (const b of body) out.push(b);
    return out;
  }
}

/**
 * A module that imports one memory as `env.memory` (shared or not: a shared memory must be
 * declared with a maximum, here the 4 GiB limit of wasm32) and exports the given functions.
 */
export function assembleModule(
  functions: { name: string; fn: FunctionBuilder }[],
  sharedMemory: boolean,
): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(types, functions.length);
  for (const { fn } of functions) {
    types.push(0x60);
    uleb(types, fn.params.length);
    for (const p of fn.params) types.push(p);
    uleb(types, fn.results.length);
    for (const r of fn.results) types.push(r);
  }
  section(out, 1, types);
  const imports: number[] = [];
  uleb(imports, 1);
  name(imports, 'env');
  name(imports, 'memory');
  imports.push(0x02); // memory
  if (sharedMemory) {
    imports.push(0x03);
    uleb(imports, 1);
    uleb(imports, 65536);
  } else {
    imports.push(0x00);
    uleb(imports, 1);
  }
  section(out, 2, imports);
  const funcs: number[] = [];
  uleb(funcs, functions.length);
  for (let i = 0; i < functions.length; i++) uleb(funcs, i);
  section(out, 3, funcs);
  const exports: number[] = [];
  uleb(exports, functions.length);
  functions.forEach(({ name: n }, i) => {
    name(exports, n);
    exports.push(0x00);
    uleb(exports, i);
  });
  section(out, 7, exports);
  const code: number[] = [];
  uleb(code, functions.length);
  for (const { fn } of functions) for (const b of fn.encodeBody()) code.push(b);
  section(out, 10, code);
  return Uint8Array.from(out);
}

/** The parts of the WebAssembly JS API this package uses (the Node typings here do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** The engine's WebAssembly object, or null where there is none. */
export function wasmApi(): WasmApi | null {
  const w = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  return w && typeof w.validate === 'function' ? w : null;
}
