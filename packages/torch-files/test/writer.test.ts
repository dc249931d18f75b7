import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setIoChunkBytes } from '@artist-ts/core/files';
import {
  DTYPE_SIZE,
  encodeSafetensors,
  encodeTorchFile,
  isFloatDType,
  loadStateDict,
  PyDict,
  PyTuple,
  readTorchFile,
  type TensorSpec,
  TorchTensor,
  type WritableDType,
  WritableTensor,
  writeSafetensors,
  writeTorchFile,
} from '../src';

const fx = (n: string) => path.join(__dirname, 'fixtures', n);

// Values and the files torch 2.13 wrote from them (torch_state_dict.pt, torch_tensor.pt).
const VALUES = JSON.parse(fs.readFileSync(fx('writer_values.json'), 'utf8')).tensors as Record<
  string,
  { dtype: WritableDType; shape: number[]; values: (number | string)[] }
>;

function specOf(v: (typeof VALUES)[string]): TensorSpec {
  const data =
    v.dtype === 'int64'
      ? BigInt64Array.from(v.values.map((x) => BigInt(x)))
      : v.dtype === 'float64'
        ? Float64Array.from(v.values as number[])
        : v.dtype === 'int32'
          ? Int32Array.from(v.values as number[])
          : v.dtype === 'uint8' || v.dtype === 'bool'
            ? Uint8Array.from(v.values as number[])
            : Float32Array.from(v.values as number[]);
  return { dtype: v.dtype, shape: v.shape, data };
}

/** The state dict of writer_values.json as tensors to write (same order as torch's file). */
function stateDict(): Map<string, WritableTensor> {
  return new Map(Object.entries(VALUES).map(([k, v]) => [k, new WritableTensor(specOf(v), k)]));
}

/** A read tensor's stored bytes (contiguous tensors only). */
function storedBytes(t: TorchTensor): Buffer {
  const size = DTYPE_SIZE[t.dtype];
  return Buffer.from(t.storage.readBytes(t.storageOffset * size, t.numel * size));
}

function expectTensorsEqual(read: Map<string, TorchTensor>, written: Map<string, WritableTensor>) {
  expect([...read.keys()]).toEqual([...written.keys()]);
  for (const [k, w] of written) {
    const t = read.get(k) as TorchTensor;
    expect([k, t.dtype, t.shape]).toEqual([k, w.dtype, w.shape]);
    expect(storedBytes(t).equals(Buffer.from(w.encodeValues()))).toBe(true);
  }
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-files-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('files written by PyTorch', () => {
  it('hold bit for bit the bytes we encode from the same values (fp16/bf16 rounding, int64)', () => {
    const sd = loadStateDict(fx('torch_state_dict.pt'));
    expectTensorsEqual(sd.tensors, stateDict());
    sd.close();
    const bare = readTorchFile(fx('torch_tensor.pt'));
    expect(bare.root).toBeInstanceOf(TorchTensor);
    expect(storedBytes(bare.root as TorchTensor)).toEqual(storedBytes(bare.tensors[0]));
    expect(
      storedBytes(bare.root as TorchTensor).equals(
        Buffer.from(new WritableTensor(specOf(VALUES.f32)).encodeValues()),
      ),
    ).toBe(true);
    bare.close();
  });
});

describe('writeTorchFile', () => {
  it('writes exactly the files torch.load was verified to read (state dict, bare tensor, zip64)', async () => {
    // ours_*.pt were written by this writer and loaded by torch 2.13 (weights_only and mmap),
    // which returned these values bit for bit.
    const sd = stateDict();
    expect(
      Buffer.from(await encodeTorchFile(sd)).equals(fs.readFileSync(fx('ours_state_dict.pt'))),
    ).toBe(true);
    const bare = await encodeTorchFile(sd.get('f32'));
    expect(Buffer.from(bare).equals(fs.readFileSync(fx('ours_tensor.pt')))).toBe(true);
    const z64 = await encodeTorchFile(sd, { zip64From: 0 });
    expect(Buffer.from(z64).equals(fs.readFileSync(fx('ours_state_dict_zip64.pt')))).toBe(true);
  });

  it('round-trips through the reader: tensors, 64-byte aligned stored entries, every zip64 field', async () => {
    for (const zip64From of [undefined, 0]) {
      const bytes = await encodeTorchFile(stateDict(), { zip64From });
      const sd = loadStateDict(bytes);
      expect(sd.format).toBe('torch-zip');
      expect(sd.metadata).toEqual({ byteorder: 'little', version: '3' });
      expectTensorsEqual(sd.tensors, stateDict());
      sd.close();
    }
  });

  it('writes the Python values a checkpoint holds', async () => {
    const w = new WritableTensor({ dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) });
    const value = {
      model: new Map<string, unknown>([
        ['w', w],
        ['same', w],
      ]),
      epoch: 3,
      lr: 4e-5,
      step: 2n ** 70n,
      neg: -300,
      minus: -(2 ** 40),
      name: '模型',
      flags: [true, false, null],
      pair: new PyTuple([1, 2.5, 'x', [], {}]),
      many: Array.from({ length: 2500 }, (_, i) => i),
    };
    const f = readTorchFile(await encodeTorchFile(value));
    const root = f.root as PyDict;
    expect(root).toBeInstanceOf(PyDict);
    expect(root.keys).toEqual(Object.keys(value));
    const model = root.get('model') as PyDict;
    expect(model.get('w')).toBeInstanceOf(TorchTensor);
    expect(f.tensors.length).toBe(2);
    expect((model.get('same') as TorchTensor).storage).toBe(
      (model.get('w') as TorchTensor).storage,
    );
    for (const k of ['epoch', 'lr', 'neg', 'minus', 'name', 'flags', 'many']) {
      expect([k, root.get(k)]).toEqual([k, value[k as keyof typeof value]]);
    }
    expect(root.get('step')).toBe(2n ** 70n);
    expect((root.get('pair') as PyTuple).items.slice(0, 4)).toEqual([1, 2.5, 'x', []]);
    f.close();
  });

  it('streams byte chunks to the same file as values, and copies tensors read from a file', async () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const raw = new Uint8Array(values.buffer);
    function* chunks() {
      for (let at = 0; at < raw.length; at += 333) yield raw.subarray(at, at + 333);
    }
    const a = path.join(tmp, 'values.pt');
    const b = path.join(tmp, 'chunks.pt');
    const c = path.join(tmp, 'copied.pt');
    await writeTorchFile(
      a,
      new WritableTensor({ dtype: 'float32', shape: [10, 100], data: values }),
    );
    await writeTorchFile(
      b,
      new WritableTensor({ dtype: 'float32', shape: [10, 100], data: chunks() }),
    );
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    const src = readTorchFile(a);
    await writeTorchFile(c, src.root);
    src.close();
    expect(fs.readFileSync(a).equals(fs.readFileSync(c))).toBe(true);
  });

  it('leaves nothing behind when the data is short, long or invalid', async () => {
    const target = path.join(tmp, 'bad', 'entity2vec.pt');
    const short = new WritableTensor({ dtype: 'float32', shape: [4], data: [new Uint8Array(12)] });
    await expect(writeTorchFile(target, short)).rejects.toThrow(
      /needs 16 bytes, the chunks held 12/,
    );
    const long = new WritableTensor({ dtype: 'float32', shape: [1], data: [new Uint8Array(8)] });
    await expect(writeTorchFile(target, long)).rejects.toThrow(
      /needs 4 bytes, the chunks hold more/,
    );
    const range = new WritableTensor(
      { dtype: 'int32', shape: [1], data: Float64Array.from([2 ** 31]) },
      'ids',
    );
    await expect(writeTorchFile(target, range)).rejects.toThrow(/ids: value 2147483648 at index 0/);
    await expect(writeTorchFile(target, { f: () => 1 })).rejects.toThrow(/cannot write/);
    expect(fs.readdirSync(path.dirname(target))).toEqual([]);
    expect(
      () => new WritableTensor({ dtype: 'float32', shape: [3], data: new Float32Array(2) }, 'w'),
    ).toThrow(/w: shape \[3\] holds 3 values, data has 2/);
    expect(
      () =>
        new WritableTensor({
          dtype: 'complex64' as WritableDType,
          shape: [1],
          data: new Float32Array(1),
        }),
    ).toThrow(/dtype 'complex64'/);
  });

  it('uses ZIP64 end records past 65535 entries', async () => {
    const n = 65_536;
    const sd = new Map<string, WritableTensor>();
    for (let i = 0; i < n; i++) {
      sd.set(`t${i}`, new WritableTensor({ dtype: 'int32', shape: [1], data: Int32Array.of(i) }));
    }
    const bytes = await encodeTorchFile(sd);
    const eocd = Buffer.from(bytes.subarray(bytes.length - 22));
    expect(eocd.readUInt16LE(10)).toBe(0xffff); // the count lives in the zip64 record
    const read = loadStateDict(bytes);
    expect(read.tensors.size).toBe(n);
    expect(Array.from(read.tensors.get('t65535')?.toInt32() ?? [])).toEqual([65535]);
    read.close();
  });
});

describe('writeSafetensors', () => {
  it('streams the same bytes encodeSafetensors builds in memory', async () => {
    const entries = Object.entries(VALUES).map(([name, v]) => ({ name, ...specOf(v) }));
    const file = path.join(tmp, 'all.safetensors');
    await writeSafetensors(file, entries, { format: 'pt' });
    const mem = encodeSafetensors(entries, { format: 'pt' });
    expect(fs.readFileSync(file).equals(Buffer.from(mem))).toBe(true);
    expect(Buffer.from(mem).equals(fs.readFileSync(fx('ours.safetensors')))).toBe(true);
    const sd = loadStateDict(file);
    expectTensorsEqual(sd.tensors, stateDict());
    sd.close();
  });
});

describe('in 64-byte I/O chunks (setIoChunkBytes), as files above 2 GiB are read and written', () => {
  let previous = 0;
  beforeAll(() => {
    previous = setIoChunkBytes(64);
  });
  afterAll(() => {
    setIoChunkBytes(previous);
  });

  const bytesOfChunk = new Uint8Array(
    Float32Array.from({ length: 1001 }, (_, i) => i - 500).buffer,
  );

  /** Odd sizes so chunk and block boundaries fall inside elements; one tensor given as one chunk. */
  function bigDict(): Map<string, WritableTensor> {
    const w = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 1e3);
    const h = Float32Array.from({ length: 77 }, (_, i) => i / 7);
    const sd = stateDict();
    sd.set('big.weight', new WritableTensor({ dtype: 'float32', shape: [7, 143], data: w }));
    sd.set('half', new WritableTensor({ dtype: 'float16', shape: [77], data: h }));
    sd.set(
      'one.chunk',
      new WritableTensor({ dtype: 'float32', shape: [1001], data: [bytesOfChunk] }),
    );
    return sd;
  }

  it('writes the bytes the in-memory encoder makes and reads them back bit for bit', async () => {
    const file = path.join(tmp, 'chunked.pt');
    const written = bigDict();
    await writeTorchFile(file, written);
    expect(fs.readFileSync(file).equals(Buffer.from(await encodeTorchFile(bigDict())))).toBe(true);
    const sd = loadStateDict(file);
    const chunk = sd.tensors.get('one.chunk') as TorchTensor;
    expect(storedBytes(chunk)).toEqual(Buffer.from(bytesOfChunk));
    sd.tensors.delete('one.chunk');
    written.delete('one.chunk');
    expectTensorsEqual(sd.tensors, written);
    const big = sd.tensors.get('big.weight') as TorchTensor;
    expect(Buffer.from(big.toFloat32().buffer)).toEqual(
      Buffer.from(((written.get('big.weight') as WritableTensor).data as Float32Array).buffer),
    );
    sd.close();
  });

  it('decodes views and every dtype of the legacy and zip fixtures as with 1 GiB chunks', () => {
    for (const name of ['dtypes_views.pt', 'dtypes_views_legacy.pt']) {
      const chunked = loadStateDict(fx(name));
      const at = setIoChunkBytes(previous);
      const whole = loadStateDict(fx(name));
      setIoChunkBytes(at);
      for (const [k, t] of whole.tensors) {
        const c = chunked.tensors.get(k) as TorchTensor;
        if (isFloatDType(t.dtype)) expect(c.toFloat32()).toEqual(t.toFloat32());
        else expect(c.toInt32()).toEqual(t.toInt32());
      }
      chunked.close();
      whole.close();
    }
  });

  it('a file cut short is reported with the file and the byte offset', async () => {
    const file = path.join(tmp, 'cut.pt');
    await writeTorchFile(file, bigDict());
    const sd = loadStateDict(file);
    const big = sd.tensors.get('big.weight') as TorchTensor;
    const start = big.storageOffset * 4 + 100; // inside big.weight's storage
    // Where big.weight's data starts in the file (its first 64 bytes are unique there).
    const dataAt = fs.readFileSync(file).indexOf(Buffer.from(big.storage.readBytes(0, 64)));
    fs.truncateSync(file, dataAt + start);
    expect(() => big.toFloat32()).toThrow(
      `${file}: byte ${dataAt + start}: unexpected end of file`,
    );
    sd.close();
    const st = path.join(tmp, 'cut.safetensors');
    const entries = [...stateDict()].map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: t.shape,
      data: t.data as TensorSpec['data'],
    }));
    await writeSafetensors(st, entries);
    const size = fs.statSync(st).size;
    fs.truncateSync(st, size - 10);
    // safetensors: refused before reading, naming the tensor whose bytes run past the end.
    expect(() => loadStateDict(st)).toThrow(
      new RegExp(
        `^${st}: f16\\.data_offsets: data_offsets \\[\\d+, \\d+\\] run past the \\d+ data bytes`,
      ),
    );
  });
});
