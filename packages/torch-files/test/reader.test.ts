import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  encodeSafetensors,
  ForbiddenGlobalError,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  loadStateDict,
  MemorySource,
  readTorchFile,
  TorchFileError,
  type TorchTensor,
  validateReaderOptions,
} from '../src';
import { ZipArchive } from '../src/zip';

const FIX = path.join(__dirname, 'fixtures');
const fx = (n: string) => path.join(FIX, n);
const expected = JSON.parse(fs.readFileSync(fx('expected.json'), 'utf8')).dtypes_views as Record<
  string,
  number[]
>;

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
}

describe.each([
  ['zip', 'dtypes_views.pt', 'torch-zip'],
  ['legacy', 'dtypes_views_legacy.pt', 'torch-legacy'],
  ['zip, pickle protocol 5', 'dtypes_views_p5.pt', 'torch-zip'],
])('torch.save %s format', (_label, file, format) => {
  const sd = loadStateDict(fx(file));
  afterAll(() => sd.close());
  const t = (k: string): TorchTensor => {
    const v = sd.tensors.get(k);
    if (!v) throw new Error(`no ${k}`);
    return v;
  };

  it('sniffs the format and finds every tensor in file order', () => {
    expect(sd.format).toBe(format);
    expect([...sd.tensors.keys()]).toEqual([
      'f32',
      'f16',
      'bf16',
      'f64',
      'i64',
      'scalar',
      'view_t',
      'view_row',
      'param',
      'nested.inner.weight',
    ]);
  });

  it('decodes float32, float16, bfloat16, float64 and int64', () => {
    expect(t('f32').shape).toEqual([2, 3, 4]);
    expect(t('f32').dtype).toBe('float32');
    close(t('f32').toFloat32(), expected.f32);
    expect(t('f16').dtype).toBe('float16');
    close(t('f16').toFloat32(), expected.f16, 0);
    expect(t('bf16').dtype).toBe('bfloat16');
    close(t('bf16').toFloat32(), expected.bf16, 0);
    close(t('f64').toFloat32(), expected.f64);
    expect(Array.from(t('i64').toInt32())).toEqual(expected.i64);
    expect(() => t('f32').toInt32()).toThrow(/expected an integer tensor/);
    expect(t('scalar').shape).toEqual([]);
    expect(Array.from(t('scalar').toFloat32())).toEqual([7.25]);
  });

  it('follows strides and storage offsets of views', () => {
    const v = t('view_t');
    expect(v.shape).toEqual([3, 2]);
    expect(v.strides).toEqual([1, 6]);
    expect(v.isContiguous()).toBe(false);
    close(v.toFloat32(), expected.view_t);
    close(t('view_row').toFloat32(), expected.view_row);
    expect(v.storage).toBe(t('view_row').storage);
  });

  it('unwraps parameters and flattens nested dicts', () => {
    expect(t('param').isParameter).toBe(true);
    expect(t('param').requiresGrad).toBe(true);
    expect(Array.from(t('nested.inner.weight').toFloat32())).toEqual([1, 0, 0, 1]);
  });
});

describe('safetensors', () => {
  it('reads dtypes, shapes and metadata', () => {
    const sd = loadStateDict(fx('dtypes.safetensors'));
    expect(sd.format).toBe('safetensors');
    expect(sd.tensors.get('f16')?.shape).toEqual([2, 3]);
    close(sd.tensors.get('f16')?.toFloat32() ?? [], expected.f16, 0);
    close(sd.tensors.get('bf16')?.toFloat32() ?? [], expected.bf16, 0);
    expect(Array.from(sd.tensors.get('i64')?.toInt32() ?? [])).toEqual(expected.i64);
    sd.close();
  });

  it('reads from memory as well as from a path', () => {
    const sd = loadStateDict(fs.readFileSync(fx('dtypes.safetensors')));
    expect(sd.file).toBe('<memory>');
    expect(sd.tensors.size).toBe(3);
  });
});

describe('refusals', () => {
  it('refuses an os.system global, naming it, and runs nothing', () => {
    const marker = '/tmp/torch-import-pwned';
    if (fs.existsSync(marker)) fs.unlinkSync(marker);
    let err: unknown;
    try {
      readTorchFile(fx('evil_os_system.pt'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ForbiddenGlobalError);
    expect((err as ForbiddenGlobalError).global).toBe('posix.system');
    expect(String(err)).toMatch(
      /evil_os_system\.pt:archive\/data\.pkl: byte \d+: posix\.system: pickle global 'posix\.system' is not allowed/,
    );
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('refuses a storage that claims more elements than the limit or the archive holds', () => {
    expect(() => readTorchFile(fx('evil_huge_storage.pt'))).toThrow(
      /storage 0 claims 1099511627776 elements, above the limit/,
    );
    expect(() => readTorchFile(fx('evil_huge_storage.pt'), { maxTensorElements: 2 ** 50 })).toThrow(
      /claims 1099511627776 x float32 = 4398046511104 bytes but data\/0 holds 16/,
    );
  });

  it('refuses a tensor whose shape reaches past its storage', () => {
    expect(() => readTorchFile(fx('evil_huge_shape.pt'))).toThrow(
      /exceeds the limit|reach element/,
    );
    expect(() => readTorchFile(fx('evil_huge_shape.pt'), { maxTensorElements: 2 ** 40 })).toThrow(
      /shape \[100000,100000\] strides \[100000,1\] offset 0 reach element 9999999999 of a storage of 4/,
    );
  });

  it('refuses a pickle string longer than the pickle', () => {
    expect(() => readTorchFile(fx('evil_huge_string.pt'))).toThrow(
      /BINUNICODE wants 4294967295 bytes but only 3 remain/,
    );
  });

  it('refuses huge safetensors headers and shapes before reading data', () => {
    expect(() => readTorchFile(fx('evil_huge.safetensors'))).toThrow(
      /w\.shape: shape \[1048576,1048576\] exceeds the limit/,
    );
    const buf = Buffer.alloc(16);
    buf.writeBigUInt64LE(2n ** 40n, 0);
    buf[8] = 0x7b;
    expect(() => readTorchFile(buf)).toThrow(/unrecognised checkpoint/);
  });

  it('refuses legacy pickles longer than maxPickleBytes', () => {
    expect(() => readTorchFile(fx('dtypes_views_legacy.pt'), { maxPickleBytes: 200 })).toThrow(
      /pickles run past maxPickleBytes \(200\)/,
    );
  });

  it('refuses a zip data.pkl longer than maxPickleBytes', () => {
    expect(() => readTorchFile(fx('dtypes_views.pt'), { maxPickleBytes: 200 })).toThrow(
      /data\.pkl is \d+ bytes, above maxPickleBytes 200/,
    );
  });

  it('refuses a legacy storage record larger than the file', () => {
    expect(() => readTorchFile(fx('evil_legacy_count.pt'))).toThrow(
      /storage 0 claims 1125899906842624 elements, more than the file holds/,
    );
  });

  it('refuses non-checkpoint input and protocol-0 opcodes', () => {
    expect(() => readTorchFile(Buffer.from('hello world, not a checkpoint'))).toThrow(
      TorchFileError,
    );
    // protocol 2 header then an INST opcode
    const inst = Buffer.from('\x80\x02ios\nsystem\n(S"x"\ntR.', 'latin1');
    expect(() => readTorchFile(inst)).toThrow(/wrong magic number|INST/);
  });

  it('validates its options, naming the field', () => {
    expect(() => validateReaderOptions({ maxDepth: 0 })).toThrow(/ReaderOptions\.maxDepth/);
    expect(() => validateReaderOptions({ allowGlobals: ['os.system; rm'] })).toThrow(
      /ReaderOptions\.allowGlobals/,
    );
    expect(() => validateReaderOptions({ bogus: 1 } as never)).toThrow(
      /ReaderOptions\.bogus: unknown option/,
    );
  });
});

describe('robustness', () => {
  // Deterministic LCG so the corruptions are the same on every run.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const readAll = (bytes: Uint8Array) => {
    const f = readTorchFile(bytes);
    for (const t of f.tensors) t.dtype === 'int64' ? t.toInt32() : t.toFloat32();
    f.close();
  };
  const onlyTorchFileErrors = (bytes: Uint8Array) => {
    try {
      readAll(bytes);
    } catch (e) {
      if (!(e instanceof TorchFileError)) throw e;
    }
  };

  it.each(['dtypes_views.pt', 'dtypes_views_legacy.pt', 'dtypes.safetensors'])(
    'truncated or corrupted %s fails only with TorchFileError',
    (file) => {
      const good = fs.readFileSync(fx(file));
      for (let cut = 1; cut < good.length; cut += Math.max(1, Math.floor(good.length / 97))) {
        expect(() => readAll(good.subarray(0, cut))).toThrow(TorchFileError);
      }
      for (let k = 0; k < 300; k++) {
        const bad = Uint8Array.from(good);
        for (let j = 0; j < 3; j++) bad[rand(bad.length)] = rand(256);
        onlyTorchFileErrors(bad);
      }
    },
  );
});

describe('writing safetensors', () => {
  it('round-trips through the reader, matching numpy float16/bfloat16 rounding bit for bit', () => {
    const f16src = Float32Array.from({ length: 6 }, (_, i) => (i - 2.5) * 0.3);
    const bytes = encodeSafetensors(
      [
        { name: 'f16', shape: [2, 3], dtype: 'float16', data: f16src },
        {
          name: 'bf16',
          shape: [5],
          dtype: 'bfloat16',
          data: Float32Array.from([-3, -1.5, 0, 1.5, 3]),
        },
        {
          name: 'i64',
          shape: [2, 2],
          dtype: 'int64',
          data: Int32Array.from([1, -2, 3, 2 ** 31 - 1]),
        },
      ],
      { note: 'x' },
    );
    // The python-written fixture has the same three tensors: identical data bytes.
    const fixture = fs.readFileSync(fx('dtypes.safetensors'));
    const dataOf = (b: Uint8Array) => b.subarray(8 + Number(Buffer.from(b).readBigUInt64LE(0)));
    expect(Buffer.from(dataOf(bytes)).equals(Buffer.from(dataOf(fixture)))).toBe(true);
    const sd = loadStateDict(bytes);
    expect(sd.metadata).toEqual({ note: 'x' });
    close(sd.tensors.get('f16')?.toFloat32() ?? [], expected.f16, 0);
    expect(Array.from(sd.tensors.get('i64')?.toInt32() ?? [])).toEqual(expected.i64);
  });

  it('rounds to nearest even at the edges', () => {
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up to inf
    expect(floatToHalf(2 ** -24)).toBe(1); // smallest subnormal
    expect(floatToHalf(2 ** -26)).toBe(0);
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(halfToFloat(floatToHalf(0.1))).toBe(0.0999755859375);
    expect(floatToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(floatToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(halfToFloat(floatToHalf(Number.NaN)))).toBe(true);
  });

  it('refuses mismatched shapes and duplicate names', () => {
    expect(() =>
      encodeSafetensors([{ name: 'a', shape: [3], dtype: 'float32', data: new Float32Array(2) }]),
    ).toThrow(/a: shape \[3\] holds 3 values/);
    const t = { name: 'a', shape: [1], dtype: 'float32' as const, data: new Float32Array(1) };
    expect(() => encodeSafetensors([t, t])).toThrow(/duplicate/);
  });
});

describe('zip variants torch and other writers produce', () => {
  /** Re-zips entries, optionally deflated and with zip64 records (as large archives carry). */
  function rezip(
    entries: { name: string; data: Uint8Array }[],
    opts: { deflate: boolean; zip64: boolean },
  ): Uint8Array {
    const parts: Buffer[] = [];
    const central: Buffer[] = [];
    let off = 0;
    for (const e of entries) {
      const body = opts.deflate ? zlib.deflateRawSync(e.data) : Buffer.from(e.data);
      const name = Buffer.from(e.name);
      const crc = zlib.crc32(e.data);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(45, 4);
      local.writeUInt16LE(opts.deflate ? 8 : 0, 8);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(e.data.length, 22);
      local.writeUInt16LE(name.length, 26);
      parts.push(local, name, body);
      const extra = Buffer.alloc(opts.zip64 ? 28 : 0);
      if (opts.zip64) {
        extra.writeUInt16LE(1, 0);
        extra.writeUInt16LE(24, 2);
        extra.writeBigUInt64LE(BigInt(e.data.length), 4);
        extra.writeBigUInt64LE(BigInt(body.length), 12);
        extra.writeBigUInt64LE(BigInt(off), 20);
      }
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(45, 4);
      c.writeUInt16LE(45, 6);
      c.writeUInt16LE(opts.deflate ? 8 : 0, 10);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(opts.zip64 ? 0xffffffff : body.length, 20);
      c.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE(opts.zip64 ? 0xffffffff : off, 42);
      central.push(c, name, extra);
      off += 30 + name.length + body.length;
    }
    const cd = Buffer.concat(central);
    const tail: Buffer[] = [];
    if (opts.zip64) {
      const z = Buffer.alloc(56);
      z.writeUInt32LE(0x06064b50, 0);
      z.writeBigUInt64LE(44n, 4);
      z.writeBigUInt64LE(BigInt(entries.length), 24);
      z.writeBigUInt64LE(BigInt(entries.length), 32);
      z.writeBigUInt64LE(BigInt(cd.length), 40);
      z.writeBigUInt64LE(BigInt(off), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(off + cd.length), 8);
      loc.writeUInt32LE(1, 16);
      tail.push(z, loc);
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
    eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
    eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
    eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : off, 16);
    return Buffer.concat([...parts, cd, ...tail, eocd]);
  }

  const original = new ZipArchive(new MemorySource(fs.readFileSync(fx('dtypes_views.pt'))), 100);
  const entries = [...original.entries.values()].map((e) => ({
    name: e.name,
    data: Uint8Array.from(original.readEntry(e)),
  }));

  it.each([
    { deflate: false, zip64: true },
    { deflate: true, zip64: false },
    { deflate: true, zip64: true },
  ])('reads the same tensors from %o', (opts) => {
    const sd = loadStateDict(rezip(entries, opts));
    expect(sd.format).toBe('torch-zip');
    close(sd.tensors.get('view_t')?.toFloat32() ?? [], expected.view_t);
    close(sd.tensors.get('bf16')?.toFloat32() ?? [], expected.bf16, 0);
    expect(Array.from(sd.tensors.get('i64')?.toInt32() ?? [])).toEqual(expected.i64);
  });

  it('refuses a deflated entry that inflates past its declared size', () => {
    const bytes = Buffer.from(rezip(entries, { deflate: true, zip64: false }));
    // shrink the declared plain size of data.pkl in its central directory record
    const cdName = Buffer.from('archive/data.pkl');
    let at = bytes.lastIndexOf(cdName);
    at -= 46;
    expect(bytes.readUInt32LE(at)).toBe(0x02014b50);
    bytes.writeUInt32LE(bytes.readUInt32LE(at + 24) - 4, at + 24);
    expect(() => readTorchFile(bytes)).toThrow(/archive\/data\.pkl: cannot inflate/);
  });
});
