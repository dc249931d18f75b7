/**
 * Opening checkpoint files: torch.save zip archives, torch's legacy (pre-1.6) stream format, and
 * safetensors. All three come back as the same thing: a pickle-like root value whose tensors are lazy
 * TorchTensor objects, plus helpers to find the state dict inside it.
 */
import { type ByteSource, FileSource, MemorySource } from './byte_source';
import { TorchFileError } from './errors';
import { DEFAULT_READER_OPTIONS, type ReaderOptions, validateReaderOptions } from './limits';
import { describe, isTruncationError, PyDict, PyTuple, unpickle } from './pickle';
import { parseSafetensors } from './safetensors';
import { DTYPE_SIZE, type TorchDType, type TorchStorage, TorchTensor } from './tensor';
import { makeGlobalResolver, storageDTypeOf } from './torch_globals';
import { isZip, ZipArchive } from './zip';

export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

export interface TorchFile {
  /** File path, or '<memory>'. */
  readonly file: string;
  readonly format: CheckpointFormat;
  /** The unpickled object (safetensors: a PyDict of name -> tensor). */
  readonly root: unknown;
  /** Every tensor the file defines, in pickle order. */
  readonly tensors: readonly TorchTensor[];
  /** safetensors `__metadata__`, torch's `sys_info`/version info. */
  readonly metadata: Record<string, string>;
  /** Releases the file handle; tensors cannot be read afterwards. */
  close(): void;
}

/** torch/serialization.py MAGIC_NUMBER and PROTOCOL_VERSION of the legacy format. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

class Budget {
  private total = 0;
  private count = 0;
  constructor(
    private readonly o: ReaderOptions,
    private readonly file: string,
  ) {}
  storage(bytes: number, key: string): void {
    this.total += bytes;
    if (this.total > this.o.maxTotalBytes) {
      throw new TorchFileError(
        `storages exceed the limit of ${this.o.maxTotalBytes} bytes in all`,
        {
          file: this.file,
          field: key,
        },
      );
    }
  }
  tensor(): void {
    if (++this.count > this.o.maxTensors) {
      throw new TorchFileError(`more than ${this.o.maxTensors} tensors`, { file: this.file });
    }
  }
}

function sniff(src: ByteSource): CheckpointFormat {
  if (isZip(src)) return 'torch-zip';
  if (src.size >= 9) {
    const h = src.read(0, 9);
    const headerLen = new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0, true);
    if (h[8] === 0x7b && headerLen <= BigInt(src.size - 8)) return 'safetensors';
  }
  if (src.size >= 2) {
    const h = src.read(0, 2);
    if (h[0] === 0x80 && h[1] >= 2 && h[1] <= 5) return 'torch-legacy';
  }
  throw new TorchFileError(
    'unrecognised checkpoint: not a torch.save zip, not a legacy torch pickle, not safetensors',
    { file: src.name, offset: 0 },
  );
}

function parsePid(pid: unknown, at: { file: string; offset: number }, legacy: boolean) {
  const items = pid instanceof PyTuple ? pid.items : null;
  if (items?.[0] !== 'storage') {
    const kind = items && typeof items[0] === 'string' ? `'${items[0]}'` : describe(pid);
    throw new TorchFileError(
      `persistent id ${kind} is not a storage${kind === "'module'" ? ' (a whole pickled nn.Module: save model.state_dict() instead)' : ''}`,
      at,
    );
  }
  const [, type, key, location, numel, view] = items;
  const dtype = storageDTypeOf(type);
  if (!dtype)
    throw new TorchFileError(`persistent id with unknown storage type ${describe(type)}`, at);
  if (typeof key !== 'string') throw new TorchFileError(`storage key is ${describe(key)}`, at);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
    throw new TorchFileError(`storage ${key}: bad element count ${describe(numel)}`, {
      ...at,
      field: key,
    });
  }
  return { dtype, key, location: String(location), numel, view: legacy ? view : null };
}

function openZip(src: ByteSource, o: ReaderOptions): TorchFile {
  const zip = new ZipArchive(src, o.maxTensors + 16);
  const pkl = [...zip.entries.keys()].filter(
    (n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl',
  );
  if (pkl.length !== 1) {
    throw new TorchFileError(
      pkl.length
        ? `several data.pkl entries (${pkl.join(', ')})`
        : 'zip without <archive>/data.pkl: not a torch.save file',
      { file: src.name },
    );
  }
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const entry = (n: string) => zip.entries.get(prefix + n);
  const text = (n: string): string | undefined => {
    const e = entry(n);
    return e && e.size < 4096 ? Buffer.from(zip.readEntry(e)).toString('utf8').trim() : undefined;
  };
  const byteorder = text('byteorder') ?? 'little';
  if (byteorder !== 'little' && byteorder !== 'big') {
    throw new TorchFileError(`unknown byteorder '${byteorder}'`, {
      file: src.name,
      field: `${prefix}byteorder`,
    });
  }
  const pklEntry = zip.entries.get(pkl[0]);
  if (!pklEntry) throw new TorchFileError('data.pkl vanished', { file: src.name });
  if (pklEntry.size > o.maxPickleBytes) {
    throw new TorchFileError(
      `data.pkl is ${pklEntry.size} bytes, above maxPickleBytes ${o.maxPickleBytes}`,
      {
        file: src.name,
        field: pkl[0],
      },
    );
  }
  const budget = new Budget(o, src.name);
  const tensors: TorchTensor[] = [];
  const storages = new Map<string, TorchStorage>();
  const file = `${src.name}:${pkl[0]}`;
  const { value } = unpickle(zip.readEntry(pklEntry), {
    file,
    maxDepth: o.maxDepth,
    resolveGlobal: makeGlobalResolver({
      maxTensorElements: o.maxTensorElements,
      allowGlobals: o.allowGlobals,
      onTensor: (t) => {
        budget.tensor();
        tensors.push(t);
      },
    }),
    persistentLoad: (pid, at) => {
      const { dtype, key, numel } = parsePid(pid, at, false);
      const cached = storages.get(key);
      if (cached) {
        if (cached.dtype !== dtype || cached.numel !== numel) {
          throw new TorchFileError(`storage ${key} referenced with two dtypes or sizes`, {
            ...at,
            field: key,
          });
        }
        return cached;
      }
      if (numel > o.maxTensorElements) {
        throw new TorchFileError(
          `storage ${key} claims ${numel} elements, above the limit ${o.maxTensorElements}`,
          {
            ...at,
            field: key,
          },
        );
      }
      const e = entry(`data/${key}`);
      if (!e)
        throw new TorchFileError(`storage data/${key} is missing from the archive`, {
          ...at,
          field: key,
        });
      const nbytes = numel * DTYPE_SIZE[dtype];
      if (e.size !== nbytes) {
        throw new TorchFileError(
          `storage ${key} claims ${numel} x ${dtype} = ${nbytes} bytes but data/${key} holds ${e.size}`,
          { ...at, field: key },
        );
      }
      budget.storage(nbytes, key);
      const s: TorchStorage = {
        key,
        dtype,
        numel,
        littleEndian: byteorder === 'little',
        file: src.name,
        readBytes: (off, len) => zip.readEntry(e, off, len),
      };
      storages.set(key, s);
      return s;
    },
  });
  const metadata: Record<string, string> = { byteorder };
  const version = text('version');
  if (version !== undefined) metadata.version = version;
  return {
    file: src.name,
    format: 'torch-zip',
    root: value,
    tensors,
    metadata,
    close: () => src.close(),
  };
}

interface LegacyStorage extends TorchStorage {
  dataOffset: number;
}

/**
 * The legacy format's pickles sit at the start of the file, before the (large) storage data. They
 * are parsed from a 1 MiB prefix, retried with an 8x longer one while they run past it, up to
 * maxPickleBytes, so a multi-GB file never has to be read whole.
 */
function openLegacy(src: ByteSource, o: ReaderOptions): TorchFile {
  const limit = Math.min(src.size, o.maxPickleBytes);
  for (let n = Math.min(limit, 1 << 20); ; n = Math.min(limit, n * 8)) {
    try {
      return openLegacyFrom(src, o, src.read(0, n));
    } catch (e) {
      if (!isTruncationError(e)) throw e;
      if (n >= limit) {
        if (limit < src.size) {
          throw new TorchFileError(`pickles run past maxPickleBytes (${o.maxPickleBytes})`, {
            file: src.name,
          });
        }
        throw e;
      }
    }
  }
}

function openLegacyFrom(src: ByteSource, o: ReaderOptions, head: Uint8Array): TorchFile {
  let pos = 0;
  const plain = (what: string): unknown => {
    const r = unpickle(head.subarray(pos), {
      file: src.name,
      baseOffset: pos,
      maxDepth: o.maxDepth,
      resolveGlobal: (m, n, at) => {
        throw new TorchFileError(`global ${m}.${n} inside the ${what}`, {
          ...at,
          field: `${m}.${n}`,
        });
      },
    });
    pos += r.end;
    return r.value;
  };
  const magic = plain('magic number');
  if (typeof magic !== 'bigint' || magic !== LEGACY_MAGIC) {
    throw new TorchFileError(
      'legacy torch file with a wrong magic number (is it a plain pickle?)',
      {
        file: src.name,
        offset: 0,
      },
    );
  }
  const protocol = plain('protocol version');
  if (protocol !== LEGACY_PROTOCOL) {
    throw new TorchFileError(
      `legacy protocol version ${describe(protocol)}, expected ${LEGACY_PROTOCOL}`,
      {
        file: src.name,
      },
    );
  }
  const sysInfo = plain('sys_info');
  const littleEndian = !(sysInfo instanceof PyDict) || sysInfo.get('little_endian') !== false;
  const budget = new Budget(o, src.name);
  const tensors: TorchTensor[] = [];
  const roots = new Map<string, LegacyStorage>();
  const r = unpickle(head.subarray(pos), {
    file: src.name,
    baseOffset: pos,
    maxDepth: o.maxDepth,
    resolveGlobal: makeGlobalResolver({
      maxTensorElements: o.maxTensorElements,
      allowGlobals: o.allowGlobals,
      onTensor: (t) => {
        budget.tensor();
        tensors.push(t);
      },
    }),
    persistentLoad: (pid, at) => {
      const { dtype, key, numel, view } = parsePid(pid, at, true);
      if (numel > o.maxTensorElements) {
        throw new TorchFileError(
          `storage ${key} claims ${numel} elements, above the limit ${o.maxTensorElements}`,
          {
            ...at,
            field: key,
          },
        );
      }
      let root = roots.get(key);
      if (!root) {
        budget.storage(numel * DTYPE_SIZE[dtype], key);
        const s: LegacyStorage = {
          key,
          dtype,
          numel,
          littleEndian,
          file: src.name,
          dataOffset: -1,
          readBytes(off, len) {
            if (this.dataOffset < 0)
              throw new TorchFileError(`storage ${key} has no data`, {
                file: src.name,
                field: key,
              });
            if (off + len > numel * DTYPE_SIZE[dtype]) {
              throw new TorchFileError(`read past the end of storage ${key}`, {
                file: src.name,
                field: key,
              });
            }
            return src.read(this.dataOffset + off, len);
          },
        };
        root = s;
        roots.set(key, s);
      } else if (root.dtype !== dtype) {
        throw new TorchFileError(`storage ${key} referenced with two dtypes`, {
          ...at,
          field: key,
        });
      }
      if (view === null || view === undefined) return root;
      // (view_key, element offset, view size): a window onto the root storage.
      const v = view instanceof PyTuple ? view.items : [];
      const [, offset, size] = v;
      if (
        typeof offset !== 'number' ||
        typeof size !== 'number' ||
        offset < 0 ||
        size < 0 ||
        offset + size > numel
      ) {
        throw new TorchFileError(`bad storage view ${describe(view)} of ${key}`, {
          ...at,
          field: key,
        });
      }
      const base = root;
      const el = DTYPE_SIZE[dtype];
      const viewStorage: TorchStorage = {
        key: `${key}[${offset}:${offset + size}]`,
        dtype,
        numel: size,
        littleEndian,
        file: src.name,
        readBytes: (off, len) => base.readBytes(offset * el + off, len),
      };
      return viewStorage;
    },
  });
  pos += r.end;
  const keys = plain('storage key list');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new TorchFileError(`storage key list is ${describe(keys)}`, {
      file: src.name,
      offset: pos,
    });
  }
  let at = pos;
  for (const key of keys as string[]) {
    const s = roots.get(key);
    if (at + 8 > src.size) {
      throw new TorchFileError(`file ends before storage ${key}`, {
        file: src.name,
        offset: at,
        field: key,
      });
    }
    const c8 = src.read(at, 8);
    const count = new DataView(c8.buffer, c8.byteOffset, 8).getBigInt64(0, littleEndian);
    const elSize = s ? DTYPE_SIZE[s.dtype] : 1;
    if (count < 0n || count * BigInt(elSize) > BigInt(src.size - at - 8)) {
      throw new TorchFileError(
        `storage ${key} claims ${count} elements, more than the file holds`,
        {
          file: src.name,
          offset: at,
          field: key,
        },
      );
    }
    if (s) {
      if (Number(count) !== s.numel) {
        throw new TorchFileError(
          `storage ${key}: pickle says ${s.numel} elements, data says ${count}`,
          {
            file: src.name,
            offset: at,
            field: key,
          },
        );
      }
      s.dataOffset = at + 8;
    }
    at += 8 + Number(count) * elSize;
  }
  for (const [key, s] of roots) {
    if (s.dataOffset < 0)
      throw new TorchFileError(`storage ${key} is not in the data section`, {
        file: src.name,
        field: key,
      });
  }
  const metadata: Record<string, string> = { littleEndian: String(littleEndian) };
  if (sysInfo instanceof PyDict) {
    for (const [k, v] of sysInfo.entries()) if (typeof k === 'string') metadata[k] = describe(v);
  }
  return {
    file: src.name,
    format: 'torch-legacy',
    root: r.value,
    tensors,
    metadata,
    close: () => src.close(),
  };
}

function openSafetensors(src: ByteSource, o: ReaderOptions): TorchFile {
  const { tensors, metadata } = parseSafetensors(src, o);
  const root = new PyDict();
  for (const t of tensors) root.set(t.origin, t);
  return {
    file: src.name,
    format: 'safetensors',
    root,
    tensors,
    metadata,
    close: () => src.close(),
  };
}

/** Opens a checkpoint from a path or bytes. The format is sniffed from the content. */
export function readTorchFile(
  input: string | Uint8Array,
  options: Partial<ReaderOptions> = {},
): TorchFile {
  const o = validateReaderOptions(options);
  const src: ByteSource =
    typeof input === 'string' ? new FileSource(input) : new MemorySource(input);
  try {
    const format = sniff(src);
    if (format === 'torch-zip') return openZip(src, o);
    if (format === 'torch-legacy') return openLegacy(src, o);
    return openSafetensors(src, o);
  } catch (e) {
    src.close();
    throw e;
  }
}

export interface StateDict {
  readonly file: string;
  readonly format: CheckpointFormat;
  /** Where the weights were found: '' (the root), 'state_dict' (Lightning), 'model', ... */
  readonly container: string;
  /** Tensors by dotted key, in file order. Each tensor's `origin` is its key. */
  readonly tensors: Map<string, TorchTensor>;
  /** Entries that are not tensors (with a short description), and top-level keys left aside. */
  readonly skipped: { key: string; what: string }[];
  readonly metadata: Record<string, string>;
  close(): void;
}

const CONTAINER_KEYS = ['state_dict', 'model', 'module', 'model_state_dict', 'weights'];

function hasTensors(d: PyDict): boolean {
  return d.values.some((v) => v instanceof TorchTensor);
}

/**
 * The state dict inside a checkpoint: the root when it holds tensors, else the first of
 * `state_dict` (Lightning), `model`, `module`, ... that does. Nested dicts are flattened with dots.
 */
export function stateDictOf(f: TorchFile, container?: string): StateDict {
  const root = f.root;
  if (!(root instanceof PyDict)) {
    throw new TorchFileError(`checkpoint root is ${describe(root)}, not a dict of tensors`, {
      file: f.file,
    });
  }
  let dict: PyDict = root;
  let name = '';
  const skipped: { key: string; what: string }[] = [];
  if (container !== undefined && container !== '') {
    const d = root.get(container);
    if (!(d instanceof PyDict)) {
      throw new TorchFileError(
        `no dict under '${container}' (top-level keys: ${root.keys.map(String).join(', ')})`,
        {
          file: f.file,
          field: container,
        },
      );
    }
    dict = d;
    name = container;
  } else if (!hasTensors(root)) {
    for (const k of CONTAINER_KEYS) {
      const d = root.get(k);
      if (d instanceof PyDict && hasTensors(d)) {
        dict = d;
        name = k;
        break;
      }
    }
  }
  if (name !== '') {
    for (const [k, v] of root.entries())
      if (k !== name) skipped.push({ key: `<top>.${String(k)}`, what: describe(v) });
  }
  const tensors = new Map<string, TorchTensor>();
  const walk = (d: PyDict, prefix: string, depth: number) => {
    for (const [k, v] of d.entries()) {
      const key = `${prefix}${typeof k === 'string' ? k : String(k)}`;
      if (v instanceof TorchTensor) {
        v.origin = key;
        tensors.set(key, v);
      } else if (v instanceof PyDict && depth < 8 && hasTensors(v)) walk(v, `${key}.`, depth + 1);
      else skipped.push({ key, what: describe(v) });
    }
  };
  walk(dict, '', 0);
  return {
    file: f.file,
    format: f.format,
    container: name,
    tensors,
    skipped,
    metadata: f.metadata,
    close: () => f.close(),
  };
}

/** Opens a file and returns its state dict (see stateDictOf). Call close() when done. */
export function loadStateDict(
  input: string | Uint8Array,
  options: Partial<ReaderOptions> & { container?: string } = {},
): StateDict {
  const { container, ...readerOptions } = options;
  const f = readTorchFile(input, readerOptions);
  try {
    return stateDictOf(f, container);
  } catch (e) {
    f.close();
    throw e;
  }
}

export interface CheckpointSummary {
  file: string;
  format: CheckpointFormat;
  container: string;
  tensors: { key: string; dtype: TorchDType; shape: number[] }[];
  /** Elements over all tensors, and their bytes as stored. */
  elements: number;
  bytes: number;
  nonTensor: { key: string; what: string }[];
  metadata: Record<string, string>;
}

/** Keys, dtypes and shapes of a checkpoint without reading any tensor data. */
export function inspectCheckpoint(
  input: string | Uint8Array,
  options: Partial<ReaderOptions> & { container?: string } = {},
): CheckpointSummary {
  const sd = loadStateDict(input, options);
  try {
    let elements = 0;
    let bytes = 0;
    const tensors = [...sd.tensors].map(([key, t]) => {
      elements += t.numel;
      bytes += t.numel * DTYPE_SIZE[t.dtype];
      return { key, dtype: t.dtype, shape: [...t.shape] };
    });
    return {
      file: sd.file,
      format: sd.format,
      container: sd.container,
      tensors,
      elements,
      bytes,
      nonTensor: sd.skipped,
      metadata: sd.metadata,
    };
  } finally {
    sd.close();
  }
}

export type { TorchDType };
export { DEFAULT_READER_OPTIONS };
