import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  computeStats,
  decodeNpy,
  decodeNpz,
  decodeStatsNpz,
  encodeNpy,
  encodeNpz,
  encodeStatsNpz,
  loadStatsNpz,
  NpyFormatError,
  StatsAccumulator,
  saveStatsNpz,
} from '../src/stats_entry';
import { randomFeatures } from './helpers';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(join(__dirname, 'fixtures', name)));

describe('npy', () => {
  test('hand-written v1.0 header decodes', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    // 16-byte alignment, as numpy < 1.14 wrote it.
    const padded = header + ' '.repeat(80 - 10 - header.length - 1) + '\n';
    const bytes = new Uint8Array(10 + padded.length + 16);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
    new DataView(bytes.buffer).setUint16(8, padded.length, true);
    bytes.set(Buffer.from(padded, 'latin1'), 10);
    new DataView(bytes.buffer).setFloat64(10 + padded.length, 1.5, true);
    new DataView(bytes.buffer).setFloat64(10 + padded.length + 8, -2.25, true);
    const a = decodeNpy(bytes);
    expect(a.dtype).toBe('<f8');
    expect(a.shape).toEqual([2]);
    expect(Array.from(a.data as Float64Array)).toEqual([1.5, -2.25]);
  });

  test('encoder writes the header numpy writes (64-byte aligned, newline-terminated)', () => {
    const bytes = encodeNpy({ shape: [2, 3], data: new Float64Array(6) });
    const len = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + len) % 64).toBe(0);
    const header = Buffer.from(bytes.subarray(10, 10 + len)).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f8', 'fortran_order': False, 'shape': \(2, 3\), \} +\n$/);
    expect(bytes.length).toBe(10 + len + 48);
  });

  test('round trip of every supported dtype', () => {
    const cases = [
      Float64Array.of(1, -2.5, 1e-300),
      Float32Array.of(1.5, -3),
      Int32Array.of(-7, 2147483647),
      Uint8Array.of(0, 255),
      Int16Array.of(-300, 12),
      BigInt64Array.of(-5n, 9007199254740993n),
    ];
    for (const data of cases) {
      const back = decodeNpy(encodeNpy({ shape: [data.length], data }));
      expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(
        Array.from(data as ArrayLike<unknown>),
      );
      expect(back.data.constructor).toBe(data.constructor);
    }
    const s = decodeNpy(encodeNpy({ shape: [], data: ['héllo 统计 😀'] }));
    expect(s.data).toEqual(['héllo 统计 😀']);
  });

  test('numpy-written files: Fortran order, big-endian, unicode', () => {
    const f = decodeNpy(fixture('fortran_f8.npy'));
    expect(f.shape).toEqual([2, 3]);
    expect(Array.from(f.data as Float64Array)).toEqual([0, 1, 2, 3, 4, 5]);
    const b = decodeNpy(fixture('bigendian_i4.npy'));
    expect(b.dtype).toBe('>i4');
    expect(Array.from(b.data as Int32Array)).toEqual([1, -2, 300000]);
    expect(decodeNpy(fixture('unicode.npy')).data).toEqual(['héllo 统计']);
  });

  test('bad input names the source and the problem', () => {
    expect(() => decodeNpy(new Uint8Array(20), 'x.npy')).toThrow(/x\.npy: not a \.npy file/);
    const truncated = encodeNpy({ shape: [4], data: new Float64Array(4) }).subarray(0, 144);
    expect(() => decodeNpy(truncated, 'y.npy')).toThrow(NpyFormatError);
    expect(() => decodeNpy(truncated, 'y.npy')).toThrow(/y\.npy: data section has 16 bytes/);
    expect(() => decodeNpz(Uint8Array.of(1, 2, 3), 'z.npz')).toThrow(/z\.npz: not a readable zip/);
  });
});

describe('npz statistics', () => {
  test('reads np.savez (pytorch-fid) and np.savez_compressed (clean-fid) files', () => {
    for (const name of ['stats_savez.npz', 'stats_savez_compressed.npz']) {
      const { stats } = decodeStatsNpz(fixture(name), name);
      expect(Array.from(stats.mu)).toEqual([0.5, -1.25, 3.0]);
      expect(Array.from(stats.sigma)).toEqual([2, 0.5, 0.25, 0.5, 1, -0.125, 0.25, -0.125, 3.5]);
      expect(stats.count).toBeUndefined();
    }
  });

  test('save/load round trip keeps values bit-exact, count, protocol and features', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eval-fid-'));
    try {
      const f = randomFeatures(9, 20, 5);
      const stats = computeStats(f, {
        extractor: 'x',
        weightsHash: 'sha256:ab',
        featureDim: 5,
        imageSize: 64,
        resize: 'bilinear',
        comparableWithPublished: false,
      });
      const path = join(dir, 'real.npz');
      await saveStatsNpz(path, stats, { features: f });
      const back = await loadStatsNpz(path);
      expect(back.stats.mu).toEqual(stats.mu);
      expect(back.stats.sigma).toEqual(stats.sigma);
      expect(back.stats.count).toBe(20);
      expect(back.stats.protocol).toEqual(stats.protocol);
      expect(back.features!.count).toBe(20);
      expect(back.features!.data[7]).toBeCloseTo(f.data[7]!, 6);
      // The archive holds exactly the .npy entries numpy expects.
      const keys = Object.keys(decodeNpz(readFileSync(path)));
      expect(keys.sort()).toEqual(['count', 'features', 'mu', 'protocol', 'sigma']);
      // Deterministic bytes.
      expect(Buffer.from(encodeStatsNpz(stats)).equals(Buffer.from(encodeStatsNpz(stats)))).toBe(
        true,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('missing or mis-shaped arrays are named', () => {
    const noSigma = encodeNpz({ mu: { shape: [2], data: new Float64Array(2) } });
    expect(() => decodeStatsNpz(noSigma, 'a.npz')).toThrow(/a\.npz: no 'sigma' array/);
    const bad = encodeNpz({
      mu: { shape: [2], data: new Float64Array(2) },
      sigma: { shape: [3, 3], data: new Float64Array(9) },
    });
    expect(() => decodeStatsNpz(bad, 'b.npz')).toThrow(/b\.npz: 'sigma' must have shape \[2, 2\]/);
  });
});

describe('StatsAccumulator', () => {
  test('streaming batches equal the two-pass result, also with a large common offset', () => {
    const f = randomFeatures(11, 101, 7, 1, 1e4);
    const whole = computeStats(f);
    const acc = new StatsAccumulator(7);
    for (const [a, b] of [
      [0, 1],
      [1, 17],
      [17, 50],
      [50, 101],
    ]) {
      acc.add(f.data.subarray(a! * 7, b! * 7));
    }
    const s = acc.finalize();
    expect(s.count).toBe(101);
    for (let i = 0; i < 7; i++) expect(Math.abs(s.mu[i]! - whole.mu[i]!)).toBeLessThan(1e-9);
    // Naive E[xx^T] - mu mu^T would lose ~8 digits at offset 1e4; this stays at rounding level.
    let ref = 0;
    for (let r = 0; r < 101; r++) ref += (f.data[r * 7]! - whole.mu[0]!) ** 2;
    ref /= 100;
    expect(Math.abs(s.sigma[0]! - ref)).toBeLessThan(1e-12);
    for (let i = 0; i < 49; i++)
      expect(Math.abs(s.sigma[i]! - whole.sigma[i]!)).toBeLessThan(1e-12);
  });

  test('merge of two accumulators equals one pass', () => {
    const f = randomFeatures(12, 40, 4);
    const a = new StatsAccumulator(4).add(f.data.subarray(0, 60));
    const b = new StatsAccumulator(4).add(f.data.subarray(60));
    const m = a.merge(b).finalize();
    const w = computeStats(f);
    for (let i = 0; i < 16; i++) expect(Math.abs(m.sigma[i]! - w.sigma[i]!)).toBeLessThan(1e-14);
  });

  test('rejects non-finite features and too few samples', () => {
    expect(() => new StatsAccumulator(2).add([1, Number.NaN])).toThrow(/row 0, column 1/);
    expect(() => new StatsAccumulator(2).add([1, 2]).finalize()).toThrow(/at least 2/);
  });
});

describe('the stats entry', () => {
  test('does not load tfjs', () => {
    jest.isolateModules(() => {
      jest.doMock('@tensorflow/tfjs', () => {
        throw new Error('@artist-ts/eval-fid/stats must not load tfjs');
      });
      const entry = require('../src/stats_entry') as typeof import('../src/stats_entry');
      expect(typeof entry.fid).toBe('function');
      expect(typeof entry.loadStatsNpz).toBe('function');
    });
  });
});
