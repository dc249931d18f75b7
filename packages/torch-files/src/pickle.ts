/**
 * A restricted unpickler. It implements the opcodes that torch.save / pickle protocol 2-5 emit for
 * state dicts and nothing that could run code: globals are resolved through a caller-supplied
 * allow-list (anything else throws ForbiddenGlobalError naming it), persistent ids go to a caller
 * callback, and every length is checked against the bytes that are really there before anything is
 * allocated. Python values map to: None -> null, bool, int -> number (bigint beyond 2^53), float ->
 * number, str -> string, bytes -> Uint8Array, list -> Array, tuple -> PyTuple, dict -> PyDict,
 * set -> PySet, allowed globals -> PyGlobal (and what they build).
 */
import { TorchFileError } from './errors';

export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export class PySet {
  constructor(readonly items: unknown[]) {}
}

function isPrimitiveKey(k: unknown): boolean {
  return k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k);
}

/** An insertion-ordered dict. Primitive keys compare by value, others by identity. */
export class PyDict {
  readonly keys: unknown[] = [];
  readonly values: unknown[] = [];
  /** Attributes set by BUILD (e.g. a state dict's `_metadata`). */
  attrs: unknown = undefined;
  private readonly index = new Map<unknown, number>();

  set(k: unknown, v: unknown): void {
    const ik = isPrimitiveKey(k) ? `${typeof k}:${String(k)}` : k;
    const at = this.index.get(ik);
    if (at !== undefined) {
      this.values[at] = v;
      return;
    }
    this.index.set(ik, this.keys.length);
    this.keys.push(k);
    this.values.push(v);
  }
  get(k: unknown): unknown {
    const ik = isPrimitiveKey(k) ? `${typeof k}:${String(k)}` : k;
    const at = this.index.get(ik);
    return at === undefined ? undefined : this.values[at];
  }
  has(k: unknown): boolean {
    return this.get(k) !== undefined;
  }
  get size(): number {
    return this.keys.length;
  }
  *entries(): IterableIterator<[unknown, unknown]> {
    for (let i = 0; i < this.keys.length; i++) yield [this.keys[i], this.values[i]];
  }
}

/** Where a call happens, for error messages. */
export interface CallSite {
  file: string;
  offset: number;
}

/** A resolved, allow-listed global. `call` implements REDUCE / NEWOBJ; `build` BUILD on its results. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: readonly unknown[], at: CallSite) => unknown,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An inert instance of an allowed-as-opaque global: never executed, only recorded. */
export class PyObject {
  state: unknown = undefined;
  readonly listItems: unknown[] = [];
  readonly dictItems = new PyDict();
  constructor(
    readonly cls: string,
    readonly args: readonly unknown[],
  ) {}
}

/** Objects that accept BUILD (pickle's __setstate__) implement this. */
export interface Buildable {
  setState(state: unknown, at: CallSite): void;
}

function isBuildable(v: unknown): v is Buildable {
  return typeof v === 'object' && v !== null && typeof (v as Buildable).setState === 'function';
}

export interface UnpickleContext {
  file: string;
  /** Offset of `bytes[0]` in the file, for error messages. */
  baseOffset?: number;
  resolveGlobal(module: string, name: string, at: CallSite): PyGlobal;
  persistentLoad?(pid: unknown, at: CallSite): unknown;
  /** Largest MARK nesting. */
  maxDepth: number;
}

/** True for errors that a longer input could avoid (the pickle ran past the bytes given). */
export function isTruncationError(e: unknown): boolean {
  return (
    e instanceof TorchFileError &&
    (e as TorchFileError & { truncated?: boolean }).truncated === true
  );
}

export interface UnpickleResult {
  value: unknown;
  /** Index in `bytes` just after STOP. */
  end: number;
}

const OPCODE_NAMES: Record<number, string> = {
  40: 'MARK',
  46: 'STOP',
  48: 'POP',
  49: 'POP_MARK',
  50: 'DUP',
  70: 'FLOAT',
  73: 'INT',
  74: 'BININT',
  75: 'BININT1',
  76: 'LONG',
  77: 'BININT2',
  78: 'NONE',
  80: 'PERSID',
  81: 'BINPERSID',
  82: 'REDUCE',
  83: 'STRING',
  84: 'BINSTRING',
  85: 'SHORT_BINSTRING',
  86: 'UNICODE',
  88: 'BINUNICODE',
  97: 'APPEND',
  98: 'BUILD',
  99: 'GLOBAL',
  100: 'DICT',
  125: 'EMPTY_DICT',
  101: 'APPENDS',
  103: 'GET',
  104: 'BINGET',
  105: 'INST',
  106: 'LONG_BINGET',
  108: 'LIST',
  93: 'EMPTY_LIST',
  111: 'OBJ',
  112: 'PUT',
  113: 'BINPUT',
  114: 'LONG_BINPUT',
  115: 'SETITEM',
  116: 'TUPLE',
  41: 'EMPTY_TUPLE',
  117: 'SETITEMS',
  71: 'BINFLOAT',
  128: 'PROTO',
  129: 'NEWOBJ',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  133: 'TUPLE1',
  134: 'TUPLE2',
  135: 'TUPLE3',
  136: 'NEWTRUE',
  137: 'NEWFALSE',
  138: 'LONG1',
  139: 'LONG4',
  66: 'BINBYTES',
  67: 'SHORT_BINBYTES',
  140: 'SHORT_BINUNICODE',
  141: 'BINUNICODE8',
  142: 'BINBYTES8',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  146: 'NEWOBJ_EX',
  147: 'STACK_GLOBAL',
  148: 'MEMOIZE',
  149: 'FRAME',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

/** Python's two's-complement little-endian long (LONG1/LONG4 payload). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, ctx: UnpickleContext): UnpickleResult {
  const base = ctx.baseOffset ?? 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  let opAt = 0;

  const fail = (msg: string, truncated = false): never => {
    const e = new TorchFileError(`pickle: ${msg}`, { file: ctx.file, offset: base + opAt });
    if (truncated) (e as TorchFileError & { truncated?: boolean }).truncated = true;
    throw e;
  };
  const need = (n: number): void => {
    if (!Number.isSafeInteger(n) || n < 0 || p + n > bytes.length) {
      fail(
        `${OPCODE_NAMES[bytes[opAt]] ?? 'opcode'} wants ${n} bytes but only ${bytes.length - p} remain`,
        true,
      );
    }
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(p, p + n);
    p += n;
    return out;
  };
  const u8 = (): number => take(1)[0];
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} exceeds the pickle size`, true);
    return Number(v);
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, p);
    if (nl < 0 || nl - p > 4096) fail('unterminated text line', nl < 0);
    const s = latin1.decode(bytes.subarray(p, nl));
    p = nl + 1;
    return s;
  };
  const str = (n: number): string => {
    try {
      return utf8.decode(take(n));
    } catch (e) {
      if (e instanceof TorchFileError) throw e;
      return fail('invalid UTF-8 in a string');
    }
  };
  const pop = (): unknown => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) return fail('no MARK on the stack');
    return stack.splice(m);
  };
  const site = (): CallSite => ({ file: ctx.file, offset: base + opAt });
  const global = (module: string, name: string): PyGlobal =>
    ctx.resolveGlobal(module, name, site());
  const setItems = (target: unknown, items: unknown[]): void => {
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    const d =
      target instanceof PyDict ? target : target instanceof PyObject ? target.dictItems : null;
    if (!d) fail(`SETITEM(S) on a non-dict (${describe(target)})`);
    for (let i = 0; i < items.length; i += 2) d?.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof PyObject) target.listItems.push(...items);
    else fail(`APPEND(S) on a non-list (${describe(target)})`);
  };
  const callGlobal = (fn: unknown, args: unknown, op: string): unknown => {
    if (!(fn instanceof PyGlobal) || !fn.call)
      return fail(`${op} on a non-callable (${describe(fn)})`);
    if (!(args instanceof PyTuple))
      return fail(`${op} arguments are not a tuple (${describe(args)})`);
    return fn.call(args.items, site());
  };

  while (true) {
    opAt = p;
    if (p >= bytes.length) fail('pickle ended without STOP', true);
    const op = bytes[p++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: only a length hint
        u64();
        break;
      case 0x2e: // STOP
        if (marks.length) fail('STOP with an open MARK');
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: p };
      case 0x28: // MARK
        if (marks.length >= ctx.maxDepth) fail(`nesting deeper than maxDepth ${ctx.maxDepth}`);
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = u32();
        if (n > 4096) fail(`LONG4 of ${n} bytes`);
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()));
        break;
      case 0x54: // BINSTRING (py2 str)
        stack.push(latin1.decode(take(u32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Uint8Array.from(take(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Uint8Array.from(take(u64())));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x85:
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new PySet([]));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet)) fail(`ADDITEMS on a non-set (${describe(s)})`);
        (s as PySet).items.push(...items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new PySet(popMark()));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(callGlobal(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (obj instanceof PyObject) obj.state = state;
        else if (isBuildable(obj)) obj.setState(state, site());
        else fail(`BUILD on ${describe(obj)}`);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!ctx.persistentLoad) fail('persistent id in a pickle that must not have any');
        stack.push(ctx.persistentLoad?.(pid, site()));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k));
        break;
      }
      default:
        fail(
          `opcode ${OPCODE_NAMES[op] ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')}) is not accepted in a ` +
            'checkpoint pickle',
        );
    }
  }
}

/** Short description of a pickle value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return `list[${v.length}]`;
  if (v instanceof PyTuple) return `tuple[${v.items.length}]`;
  if (v instanceof PyDict) return `dict[${v.size}]`;
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PyObject) return `object ${v.cls}`;
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v === 'string'
    ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)
    : String(v);
}
