/**
 * The allow-list of pickle globals: what torch.save writes for tensors and state dicts (the same
 * spirit as torch.load(weights_only=True)). Each entry is implemented here in TypeScript; nothing in
 * the file can name code to run. Anything else raises ForbiddenGlobalError, unless the caller lists
 * it in `allowGlobals`, in which case it becomes an inert PyObject.
 */
import { ForbiddenGlobalError, TorchFileError } from './errors';
import { type CallSite, describe, PyDict, PyGlobal, PyObject, PySet, PyTuple } from './pickle';
import { type TorchDType, type TorchStorage, TorchTensor } from './tensor';

/** `torch.FloatStorage` & co. as they appear in persistent ids. */
export class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: TorchDType,
  ) {}
}

export const STORAGE_TYPES: Readonly<Record<string, TorchDType>> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** `torch.float32` & co. (torch.dtype objects). */
const TORCH_DTYPES: Readonly<Record<string, TorchDType>> = {
  float32: 'float32',
  float: 'float32',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  float64: 'float64',
  double: 'float64',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

export class TorchDTypeValue {
  constructor(readonly dtype: TorchDType) {}
}

/** A numpy dtype as pickled (numpy.dtype('f8', False, True) + BUILD state). */
class NumpyDType {
  littleEndian = true;
  constructor(readonly descr: string) {}
  setState(state: unknown): void {
    if (state instanceof PyTuple && typeof state.items[1] === 'string')
      this.littleEndian = state.items[1] !== '>';
  }
}

function numpyScalar(dtype: unknown, data: unknown, at: CallSite): number | boolean {
  const fail = (m: string): never => {
    throw new TorchFileError(m, {
      file: at.file,
      offset: at.offset,
      field: 'numpy.core.multiarray.scalar',
    });
  };
  if (!(dtype instanceof NumpyDType) || !(data instanceof Uint8Array))
    return fail('expected (dtype, bytes)');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = dtype.littleEndian;
  const want = (n: number) => {
    if (data.length !== n) fail(`numpy ${dtype.descr} scalar with ${data.length} bytes`);
  };
  switch (dtype.descr) {
    case 'f8':
      want(8);
      return dv.getFloat64(0, le);
    case 'f4':
      want(4);
      return dv.getFloat32(0, le);
    case 'i8':
      want(8);
      return Number(dv.getBigInt64(0, le));
    case 'i4':
      want(4);
      return dv.getInt32(0, le);
    case 'b1':
      want(1);
      return data[0] !== 0;
    default:
      return fail(`numpy scalar dtype '${dtype.descr}' is not supported`);
  }
}

function asIntList(v: unknown, what: string, at: CallSite): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items?.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    throw new TorchFileError(`${what} must be a tuple of ints, got ${describe(v)}`, at);
  }
  return items as number[];
}

function argCount(
  args: readonly unknown[],
  min: number,
  max: number,
  name: string,
  at: CallSite,
): void {
  if (args.length < min || args.length > max) {
    throw new TorchFileError(
      `${name} called with ${args.length} arguments (expects ${min}..${max})`,
      {
        ...at,
        field: name,
      },
    );
  }
}

export interface GlobalsContext {
  maxTensorElements: number;
  /** Called for each tensor rebuilt (limits on count). */
  onTensor(t: TorchTensor): void;
  allowGlobals: readonly string[];
}

function isStorage(v: unknown): v is TorchStorage {
  return typeof v === 'object' && v !== null && 'readBytes' in v && 'numel' in v;
}

/** Builds the resolver the unpickler calls for GLOBAL / STACK_GLOBAL. */
export function makeGlobalResolver(
  ctx: GlobalsContext,
): (module: string, name: string, at: CallSite) => PyGlobal {
  const rebuildTensor = (args: readonly unknown[], at: CallSite, fn: string): TorchTensor => {
    const [storage, offset, size, stride] = args;
    if (!isStorage(storage)) {
      throw new TorchFileError(`${fn}: first argument is not a storage (${describe(storage)})`, at);
    }
    if (typeof offset !== 'number')
      throw new TorchFileError(`${fn}: storage offset is ${describe(offset)}`, at);
    const t = new TorchTensor(
      storage,
      asIntList(size, `${fn} size`, at),
      asIntList(stride, `${fn} stride`, at),
      offset,
      `tensor at pickle byte ${at.offset}`,
      ctx.maxTensorElements,
    );
    if (args[4] === true) t.requiresGrad = true;
    ctx.onTensor(t);
    return t;
  };
  const table: Record<string, (args: readonly unknown[], at: CallSite) => unknown> = {
    'collections.OrderedDict': (args, at) => {
      argCount(args, 0, 0, 'collections.OrderedDict', at);
      return new PyDict();
    },
    'builtins.dict': (args, at) => {
      argCount(args, 0, 0, 'builtins.dict', at);
      return new PyDict();
    },
    'builtins.set': (args, at) => {
      argCount(args, 0, 1, 'builtins.set', at);
      return new PySet(Array.isArray(args[0]) ? [...args[0]] : []);
    },
    'builtins.bytearray': (args) => (args[0] instanceof Uint8Array ? args[0] : new Uint8Array(0)),
    'torch._utils._rebuild_tensor': (args, at) => {
      argCount(args, 4, 4, '_rebuild_tensor', at);
      return rebuildTensor(args, at, '_rebuild_tensor');
    },
    'torch._utils._rebuild_tensor_v2': (args, at) => {
      argCount(args, 6, 7, '_rebuild_tensor_v2', at);
      return rebuildTensor(args, at, '_rebuild_tensor_v2');
    },
    'torch._utils._rebuild_parameter': (args, at) => {
      argCount(args, 3, 3, '_rebuild_parameter', at);
      if (!(args[0] instanceof TorchTensor))
        throw new TorchFileError('_rebuild_parameter of a non-tensor', at);
      args[0].isParameter = true;
      args[0].requiresGrad = args[1] === true;
      return args[0];
    },
    'torch._utils._rebuild_parameter_with_state': (args, at) => {
      argCount(args, 4, 4, '_rebuild_parameter_with_state', at);
      if (!(args[0] instanceof TorchTensor))
        throw new TorchFileError('_rebuild_parameter_with_state of a non-tensor', at);
      args[0].isParameter = true;
      return args[0];
    },
    'torch._tensor._rebuild_from_type_v2': (args, at) => {
      // (func, new_type, args, state): allowed only for plain tensors / parameters.
      argCount(args, 4, 4, '_rebuild_from_type_v2', at);
      const [fn, type, fnArgs] = args;
      const typeName = type instanceof PyGlobal ? type.qualifiedName : describe(type);
      if (typeName !== 'torch.Tensor' && typeName !== 'torch.nn.parameter.Parameter') {
        throw new TorchFileError(`_rebuild_from_type_v2 for type ${typeName} is not allowed`, at);
      }
      if (!(fn instanceof PyGlobal) || !fn.call || !(fnArgs instanceof PyTuple)) {
        throw new TorchFileError('_rebuild_from_type_v2 without a callable and argument tuple', at);
      }
      return fn.call(fnArgs.items, at);
    },
    'torch.Size': (args, at) =>
      new PyTuple(asIntList(args[0] ?? new PyTuple([]), 'torch.Size', at)),
    'torch.device': (args) => String(args[0] ?? 'cpu'),
    '_codecs.encode': (args, at) => {
      argCount(args, 1, 2, '_codecs.encode', at);
      if (typeof args[0] !== 'string')
        throw new TorchFileError('_codecs.encode of a non-string', at);
      const enc = String(args[1] ?? 'utf-8').toLowerCase();
      if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1')
        return Uint8Array.from(Buffer.from(args[0], 'latin1'));
      if (enc === 'utf-8' || enc === 'utf8') return Uint8Array.from(Buffer.from(args[0], 'utf8'));
      throw new TorchFileError(`_codecs.encode with encoding ${enc}`, at);
    },
    'numpy.dtype': (args, at) => {
      if (typeof args[0] !== 'string') throw new TorchFileError('numpy.dtype of a non-string', at);
      return new NumpyDType(args[0]);
    },
    'numpy.core.multiarray.scalar': (args, at) => numpyScalar(args[0], args[1], at),
    'numpy._core.multiarray.scalar': (args, at) => numpyScalar(args[0], args[1], at),
  };
  // Python 2 pickles name the builtins module __builtin__.
  table['__builtin__.set'] = table['builtins.set'];
  table['__builtin__.bytearray'] = table['builtins.bytearray'];
  // Types that only appear as arguments (never called).
  const inertTypes = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter']);

  const isOpaque = (q: string): boolean =>
    ctx.allowGlobals.some((g) => (g.endsWith('.*') ? q.startsWith(g.slice(0, -1)) : q === g));

  return (module, name, at) => {
    const q = `${module}.${name}`;
    const impl = table[q];
    if (impl) return new PyGlobal(module, name, impl);
    if (module === 'torch' && name in STORAGE_TYPES) {
      const st = new StorageType(name, STORAGE_TYPES[name]);
      return Object.assign(new PyGlobal(module, name), { storageType: st });
    }
    if (module === 'torch' && name in TORCH_DTYPES) {
      return Object.assign(new PyGlobal(module, name), {
        dtypeValue: new TorchDTypeValue(TORCH_DTYPES[name]),
      });
    }
    if (inertTypes.has(q)) return new PyGlobal(module, name);
    if (isOpaque(q)) return new PyGlobal(module, name, (args) => new PyObject(q, args));
    throw new ForbiddenGlobalError(q, at);
  };
}

/** The storage dtype named by a persistent id's storage-type element. */
export function storageDTypeOf(v: unknown): TorchDType | null {
  if (v instanceof PyGlobal) {
    const st = (v as PyGlobal & { storageType?: StorageType }).storageType;
    if (st) return st.dtype;
    const dt = (v as PyGlobal & { dtypeValue?: TorchDTypeValue }).dtypeValue;
    if (dt) return dt.dtype;
  }
  return null;
}
