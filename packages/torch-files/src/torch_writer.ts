/**
 * torch.save's zip format, written without Python: `<archive>/data.pkl` (pickle protocol 2; tensors
 * as `torch._utils._rebuild_tensor_v2` calls whose storages are persistent ids
 * `('storage', torch.FloatStorage, key, 'cpu', numel)`), `<archive>/data/<key>` (stored, 64-byte
 * aligned, streamed), `byteorder`, `version`. `torch.load` (weights_only too) reads the result.
 */
import { type ByteSink, MemorySink, writeFileAtomically } from './file_sink';
import { PyGlobal, PyTuple } from './pickle';
import { PersistentId, PickleWriter } from './pickle_writer';
import { TorchTensor } from './tensor';
import { STORAGE_TYPES } from './torch_globals';
import { type WritableDType, WritableTensor } from './writable_tensor';
import { ZipWriter } from './zip_writer';

/**
 * What `writeTorchFile` accepts: `WritableTensor` (or a contiguous `TorchTensor` read from a file);
 * `Map` -> `collections.OrderedDict` (a state dict); plain object or `PyDict` -> dict; array -> list;
 * `PyTuple` -> tuple; string, boolean, null; integer numbers and bigints -> int; other numbers -> float.
 */
export type TorchValue = unknown;

export interface WriteTorchOptions {
  /** The folder inside the zip (torch names it after the file; any name loads). Default 'archive'. */
  archiveName?: string;
  /** Values at or above this use ZIP64 fields. Default 0xffffffff; lower it only in tests. */
  zip64From?: number;
}

const STORAGE_OF = Object.fromEntries(
  Object.entries(STORAGE_TYPES).map(([name, dtype]) => [dtype, name]),
) as Record<WritableDType, string>;

const TEXT = (s: string) => new TextEncoder().encode(s);

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function writeTo(
  sink: ByteSink,
  value: TorchValue,
  options: WriteTorchOptions,
): Promise<void> {
  const archive = options.archiveName ?? 'archive';
  if (!/^[\w.-]+$/.test(archive)) {
    throw new Error(
      `WriteTorchOptions.archiveName: expected letters, digits, '_', '.', '-'; got '${archive}'`,
    );
  }
  const storages: WritableTensor[] = [];
  const keyOf = new Map<unknown, string>();
  const pkl = PickleWriter.dumps(value, (v, p) => {
    if (!(v instanceof WritableTensor || v instanceof TorchTensor)) return false;
    let key = keyOf.get(v);
    if (key === undefined) {
      key = String(storages.length);
      keyOf.set(v, key);
      storages.push(
        v instanceof WritableTensor
          ? v
          : new WritableTensor({ dtype: v.dtype, shape: v.shape, data: v }, v.origin),
      );
    }
    const t = storages[Number(key)];
    p.call('torch._utils', '_rebuild_tensor_v2', [
      new PersistentId([
        'storage',
        new PyGlobal('torch', STORAGE_OF[t.dtype]),
        key,
        'cpu',
        t.numel,
      ]),
      0,
      new PyTuple(t.shape),
      new PyTuple(TorchTensor.contiguousStrides(t.shape)),
      false,
      new Map(),
    ]);
    return true;
  });
  const zip = new ZipWriter(sink, options.zip64From);
  const small = (name: string, text: string) => {
    const b = TEXT(text);
    return zip.add(`${archive}/${name}`, b.length, once(b));
  };
  await zip.add(`${archive}/data.pkl`, pkl.length, once(pkl));
  await small('.format_version', '1');
  await small('.storage_alignment', '64');
  await small('byteorder', 'little');
  for (const [i, t] of storages.entries()) {
    await zip.add(`${archive}/data/${i}`, t.byteLength, t.bytes());
  }
  await small('version', '3\n');
  await zip.finish();
}

/**
 * Writes `value` as torch.save would, atomically (temporary sibling, fsync, rename). Tensor bytes are
 * streamed entry by entry; a tensor given as byte chunks is never held whole.
 */
export async function writeTorchFile(
  file: string,
  value: TorchValue,
  options: WriteTorchOptions = {},
): Promise<void> {
  await writeFileAtomically(file, (sink) => writeTo(sink, value, options));
}

/** The bytes `writeTorchFile` would write (in memory: for small values). */
export async function encodeTorchFile(
  value: TorchValue,
  options: WriteTorchOptions = {},
): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeTo(sink, value, options);
  return sink.bytes();
}
