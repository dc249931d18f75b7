// Direct tests of the addon's argument checking. They run where the addon is built; CI's fallback
// job (ARTIST_DISABLE_NATIVE=1) checks the reported reason instead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { blasInfo, memoryReadBandwidth, nativeAvailable, setBlasThreads } from '../src';
import { getNativeAddon } from '../src/addon';

const avail = nativeAvailable();
const describeNative = avail.ok ? describe : describe.skip;

describe('nativeAvailable', () => {
  it('gives a reason whenever the addon is off', () => {
    expect(typeof avail.ok).toBe('boolean');
    expect(avail.reason.length).toBeGreaterThan(0);
    if (!avail.ok) expect(getNativeAddon()).toBeNull();
    if (process.env.CI && !process.env.ARTIST_DISABLE_NATIVE) {
      // CI installs libopenblas-dev: the native path must be the one under test there
      expect(avail).toMatchObject({ ok: true });
    }
  });
});

describeNative('ARTIST_NATIVE_ADDON', () => {
  // a fresh copy of addon.ts per case: the loaded addon is cached per module instance
  function availabilityWith(file: string): { ok: boolean; reason: string; path: string } {
    const saved = process.env.ARTIST_NATIVE_ADDON;
    process.env.ARTIST_NATIVE_ADDON = file;
    try {
      let avail = { ok: false, reason: '', path: '' };
      jest.isolateModules(() => {
        avail = (require('../src/addon') as typeof import('../src/addon')).nativeAvailable();
      });
      return avail;
    } finally {
      if (saved === undefined) delete process.env.ARTIST_NATIVE_ADDON;
      else process.env.ARTIST_NATIVE_ADDON = saved;
    }
  }

  it('loads the file it names instead of the source build', () => {
    const avail = availabilityWith(nativeAvailable().path);
    expect(avail).toMatchObject({ ok: true, path: nativeAvailable().path });
  });

  it('reports a missing file and one that is not an addon', () => {
    expect(availabilityWith('/nonexistent/artist.node').reason).toMatch(/does not exist/);
    const bogus = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'artist-addon-')), 'x.node');
    fs.writeFileSync(bogus, 'not an ELF file');
    const avail = availabilityWith(bogus);
    expect(avail.ok).toBe(false);
    expect(avail.reason).toMatch(/x\.node failed to load/);
  });
});

describeNative('native addon', () => {
  const addon = getNativeAddon()!;

  it('reports its BLAS and sets threads', () => {
    const info = blasInfo()!;
    // 'none': a build without BLAS (the prebuilt addon), which runs the portable SGEMM
    expect(['openblas', 'accelerate', 'none']).toContain(info.vendor);
    if (info.vendor === 'none') expect(info.gemm).toBe('portable');
    if (info.vendor !== 'accelerate') {
      expect(setBlasThreads(1)).toBe(1);
      expect(blasInfo()!.threads).toBe(1);
    }
  });

  it('measures the memory read bandwidth and rejects a bad size', () => {
    const gbps = memoryReadBandwidth(1 << 22, 2)!;
    expect(Number.isFinite(gbps) && gbps > 0).toBe(true);
    expect(() => memoryReadBandwidth(100)).toThrow(/bytes must be an integer >= 4096/);
    expect(() => addon.memoryReadBandwidth!(1 << 20, 0)).toThrow(/reps in \[1, 100\]/);
  });

  it('computes a hand-checked batched GEMM with broadcast offsets', () => {
    // A0 = [[1, 2], [3, 4]], A1 = [[0, 1], [1, 0]]; B = [[1, 0], [0, 2]] shared by both batches
    const a = Float32Array.of(1, 2, 3, 4, 0, 1, 1, 0);
    const b = Float32Array.of(1, 0, 0, 2);
    const c = new Float32Array(8);
    addon.sgemmBatched(a, b, c, 2, 2, 2, 2, false, false, null, Int32Array.of(0, 0), 4, 0);
    expect(Array.from(c)).toEqual([1, 4, 3, 8, 0, 2, 1, 0]);
    // C = 2 A0^T B + 1 C
    const c2 = Float32Array.of(1, 1, 1, 1);
    addon.sgemmBatched(a, b, c2, 1, 2, 2, 2, true, false, null, null, 4, 4, 2, 1);
    expect(Array.from(c2)).toEqual([3, 13, 5, 17]);
  });

  it('rejects buffers that are too short instead of touching memory', () => {
    const small = new Float32Array(3);
    expect(() =>
      addon.sgemmBatched(
        small,
        small,
        new Float32Array(4),
        1,
        2,
        2,
        2,
        false,
        false,
        null,
        null,
        4,
        4,
      ),
    ).toThrow(/reads past the end/);
    expect(() =>
      addon.sgemmBatched(
        new Float32Array(4),
        new Float32Array(4),
        small,
        1,
        2,
        2,
        2,
        false,
        false,
        null,
        null,
        4,
        4,
      ),
    ).toThrow(/C is shorter/);
    const params = Int32Array.of(1, 4, 4, 1, 3, 3, 1, 4, 4, 1, 1, 1, 1, 1, 1);
    expect(() =>
      addon.conv2d(new Float32Array(15), new Float32Array(9), new Float32Array(16), params),
    ).toThrow(/shorter/);
    expect(() =>
      addon.conv2d(
        new Float32Array(16),
        new Float32Array(9),
        new Float32Array(16),
        params.subarray(0, 10),
      ),
    ).toThrow(/params must be an Int32Array/);
  });

  it('rejects wrong argument types', () => {
    const f = new Float32Array(4);
    expect(() =>
      addon.sgemmBatched(
        new Float64Array(4) as unknown as Float32Array,
        f,
        f,
        1,
        2,
        2,
        1,
        false,
        false,
        null,
        null,
        2,
        2,
      ),
    ).toThrow(/A must be a Float32Array/);
    expect(() =>
      addon.sgemmBatched(
        f,
        f,
        f,
        1,
        2,
        2,
        1,
        false,
        false,
        [0] as unknown as Int32Array,
        null,
        2,
        2,
      ),
    ).toThrow(/offA/);
    expect(() => addon.setThreads(0)).toThrow(/threads must be in \[1, 1024\]/);
  });
});
