/**
 * A pickle writer (protocol 2, the protocol torch.save uses) for the values a checkpoint holds:
 * None, bool, int, float, str, list, tuple, dict, `collections.OrderedDict`, and objects the caller
 * turns into a GLOBAL + arguments + REDUCE (tensors) or a persistent id. Globals are memoised, as
 * Python's pickler does.
 */
import { PyDict, PyGlobal, PyTuple } from './pickle';

/**
 * Writes one value the generic cases do not cover (e.g. a tensor, usually with `call`) and returns
 * true, or returns false to leave it to the generic cases.
 */
export type CustomPickle = (value: unknown, p: PickleWriter) => boolean;

/** A persistent id: its items are pickled as a tuple followed by BINPERSID. */
export class PersistentId {
  constructor(readonly items: readonly unknown[]) {}
}

const OP = {
  PROTO: 0x80,
  STOP: 0x2e,
  NONE: 0x4e,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  LONG1: 0x8a,
  BINFLOAT: 0x47,
  BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d,
  APPENDS: 0x65,
  EMPTY_TUPLE: 0x29,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  TUPLE: 0x74,
  EMPTY_DICT: 0x7d,
  SETITEMS: 0x75,
  MARK: 0x28,
  GLOBAL: 0x63,
  REDUCE: 0x52,
  BINPERSID: 0x51,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
} as const;

/** Items per MARK ... APPENDS / SETITEMS batch (Python's pickler batches by 1000 too). */
const BATCH = 1000;

export class PickleWriter {
  private parts: Uint8Array[] = [];
  private buf = Buffer.allocUnsafe(4096);
  private used = 0;
  private readonly memo = new Map<string, number>();
  private depth = 0;

  constructor(private readonly custom: CustomPickle = () => false) {}

  private ensure(n: number): void {
    if (this.used + n <= this.buf.length) return;
    this.parts.push(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(Math.max(4096, n));
    this.used = 0;
  }

  private op(code: number): void {
    this.ensure(1);
    this.buf[this.used++] = code;
  }

  private raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  private u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.used);
    this.used += 4;
  }

  /** `module.name` as GLOBAL (BINGET after the first time). */
  global(module: string, name: string): void {
    const key = `${module}\n${name}\n`;
    const at = this.memo.get(key);
    if (at !== undefined) {
      if (at < 256) {
        this.op(OP.BINGET);
        this.op(at);
      } else {
        this.op(OP.LONG_BINGET);
        this.u32(at);
      }
      return;
    }
    this.op(OP.GLOBAL);
    this.raw(Buffer.from(key, 'utf8'));
    const index = this.memo.size;
    this.memo.set(key, index);
    if (index < 256) {
      this.op(OP.BINPUT);
      this.op(index);
    } else {
      this.op(OP.LONG_BINPUT);
      this.u32(index);
    }
  }

  int(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 256) {
      this.op(OP.BININT1);
      this.op(v);
    } else if (typeof v === 'number' && v >= 0 && v < 65536) {
      this.op(OP.BININT2);
      this.op(v & 0xff);
      this.op(v >> 8);
    } else if (typeof v === 'number' && v >= -(2 ** 31) && v < 2 ** 31) {
      this.op(OP.BININT);
      this.ensure(4);
      this.buf.writeInt32LE(v, this.used);
      this.used += 4;
    } else {
      // LONG1: little-endian two's complement, as few bytes as keep the sign.
      let x = BigInt(v);
      const bytes: number[] = [];
      while (true) {
        const byte = Number(x & 0xffn);
        bytes.push(byte);
        x >>= 8n;
        if ((x === 0n && (byte & 0x80) === 0) || (x === -1n && (byte & 0x80) !== 0)) break;
      }
      this.op(OP.LONG1);
      this.op(bytes.length);
      this.raw(Uint8Array.from(bytes));
    }
  }

  float(v: number): void {
    this.op(OP.BINFLOAT);
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.used);
    this.used += 8;
  }

  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.op(OP.BINUNICODE);
    this.u32(b.length);
    this.raw(b);
  }

  tuple(items: readonly unknown[]): void {
    if (items.length === 0) {
      this.op(OP.EMPTY_TUPLE);
      return;
    }
    if (items.length > 3) this.op(OP.MARK);
    for (const x of items) this.value(x);
    this.op([0, OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length] ?? OP.TUPLE);
  }

  private batched(items: readonly unknown[], perItem: number, closing: number): void {
    for (let i = 0; i < items.length; i += perItem * BATCH) {
      this.op(OP.MARK);
      for (const x of items.slice(i, i + perItem * BATCH)) this.value(x);
      this.op(closing);
    }
  }

  /** Dict items as MARK k v ... SETITEMS, after an empty dict is on the stack. */
  private items(entries: Iterable<[unknown, unknown]>): void {
    const flat: unknown[] = [];
    for (const [k, v] of entries) flat.push(k, v);
    this.batched(flat, 2, OP.SETITEMS);
  }

  /** `collections.OrderedDict()` filled with `entries` (how torch saves a state dict). */
  orderedDict(entries: Iterable<[unknown, unknown]>): void {
    this.global('collections', 'OrderedDict');
    this.op(OP.EMPTY_TUPLE);
    this.op(OP.REDUCE);
    this.items(entries);
  }

  /** `module.name(*args)`: GLOBAL, the argument tuple, REDUCE. */
  call(module: string, name: string, args: readonly unknown[]): void {
    this.global(module, name);
    this.tuple(args);
    this.op(OP.REDUCE);
  }

  value(v: unknown): void {
    if (++this.depth > 1000) throw new Error('pickle: values nested more than 1000 deep');
    try {
      this.plain(v);
    } finally {
      this.depth--;
    }
  }

  private plain(v: unknown): void {
    if (this.custom(v, this)) {
      // written by the caller
    } else if (v === null || v === undefined) this.op(OP.NONE);
    else if (v === true) this.op(OP.NEWTRUE);
    else if (v === false) this.op(OP.NEWFALSE);
    else if (typeof v === 'bigint') this.int(v);
    else if (typeof v === 'number') Number.isInteger(v) ? this.int(v) : this.float(v);
    else if (typeof v === 'string') this.str(v);
    else if (Array.isArray(v)) {
      this.op(OP.EMPTY_LIST);
      this.batched(v, 1, OP.APPENDS);
    } else if (v instanceof PyTuple) this.tuple(v.items);
    else if (v instanceof PyGlobal) this.global(v.module, v.name);
    else if (v instanceof PersistentId) {
      this.tuple(v.items);
      this.op(OP.BINPERSID);
    } else if (v instanceof Map) this.orderedDict(v.entries());
    else if (v instanceof PyDict) {
      this.op(OP.EMPTY_DICT);
      this.items(v.entries());
    } else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      this.op(OP.EMPTY_DICT);
      this.items(Object.entries(v as Record<string, unknown>));
    } else throw new Error(`pickle: cannot write ${Object.prototype.toString.call(v)}`);
  }

  /** The whole pickle: PROTO 2, `root`, STOP. */
  static dumps(root: unknown, custom?: CustomPickle): Uint8Array {
    const p = new PickleWriter(custom);
    p.op(OP.PROTO);
    p.op(2);
    p.value(root);
    p.op(OP.STOP);
    p.parts.push(p.buf.subarray(0, p.used));
    return Buffer.concat(p.parts);
  }
}
