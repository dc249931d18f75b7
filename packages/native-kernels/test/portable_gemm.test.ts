// The addon's own SGEMM (src/native/portable_sgemm.cc), which a build without BLAS (the prebuilt
// addon) runs every GEMM and convolution on. CI links OpenBLAS, so these tests switch to it with
// useGemm('portable') and check it against a float64 reference and against the BLAS, with its
// AVX2 micro-kernel and with the plain C++ one ('generic', what CPUs without AVX2 run); the
// package's test script also reruns the GEMM-heavy suites under ARTIST_GEMM=portable.
import { blasInfo, nativeAvailable, useGemm } from '../src';
import { getNativeAddon } from '../src/addon';
import { randArray, referenceGemm, relError, seeded } from './helpers';

const describeNative = nativeAvailable().ok ? describe : describe.skip;

describeNative('portable SGEMM', () => {
  // describe.skip still runs this body: nothing here may assume the addon
  const addon = getNativeAddon()!;
  let initial = 'blas';
  beforeAll(() => {
    initial = blasInfo()!.gemm;
  });
  afterAll(() => useGemm(initial === 'portable' ? 'portable' : 'blas'));

  it('reports which GEMM is in use and switches between the BLAS and the portable one', () => {
    const info = blasInfo()!;
    expect(['openblas', 'accelerate', 'portable']).toContain(info.gemm);
    expect(['avx2-fma', 'generic']).toContain(info.gemmKernel);
    expect(useGemm('portable')).toBe('portable');
    expect(blasInfo()!.gemm).toBe('portable');
    // 'blas' gives the linked BLAS back, or keeps the portable SGEMM in a build without one
    expect(useGemm('blas')).toBe(info.vendor === 'none' ? 'portable' : info.vendor);
    expect(useGemm('generic')).toBe('portable');
    expect(blasInfo()!.gemmKernel).toBe('generic');
    expect(useGemm('portable')).toBe('portable');
    expect(blasInfo()!.gemmKernel).toBe(info.gemmKernel);
    useGemm('blas');
    expect(() => useGemm('fast' as 'blas')).toThrow(/'blas', 'portable' or 'generic'/);
    expect(() => addon.useGemm('fast' as 'blas')).toThrow(/got 'fast'/);
  });

  // edges of the 6 x 16 micro-tile, several 256-deep K slices, more than one 2048-wide B panel
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 17, 3],
    [6, 16, 256],
    [13, 33, 515],
    [125, 49, 64],
    [3, 2100, 5],
  ];
  for (const [m, n, k] of shapes) {
    it.each(['portable', 'generic'] as const)(
      `%s: matches a float64 reference for ${m} x ${n} x ${k}, every transpose, alpha and beta`,
      (kind) => {
        useGemm(kind);
        const rand = seeded(m * 7919 + n * 31 + k);
        const a = randArray(rand, m * k);
        const b = randArray(rand, k * n);
        const c0 = randArray(rand, m * n);
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            for (const [alpha, beta] of [
              [1, 0],
              [0.5, 1],
              [-2, 0.25],
            ] as const) {
              // beta = 0 must overwrite C, NaN included
              const c = beta === 0 ? new Float32Array(m * n).fill(Number.NaN) : c0.slice();
              addon.sgemmBatched(a, b, c, 1, m, n, k, ta, tb, null, null, 0, 0, alpha, beta);
              const want = referenceGemm(a, b, c0, m, n, k, ta, tb, alpha, beta);
              expect(relError(c, want)).toBeLessThan(2e-6);
            }
          }
        }
      },
    );
  }

  it('gives the BLAS results, to rounding, for batched GEMMs and the three convolutions', () => {
    if (blasInfo()!.vendor === 'none') return; // nothing to compare with in a build without BLAS
    const rand = seeded(42);
    // batched attention-shaped GEMM: 8 x (64 x 32) . (32 x 64)^T
    const qa = randArray(rand, 8 * 64 * 32);
    const kb = randArray(rand, 8 * 64 * 32);
    // conv: n 2, 12 x 12 x 16 -> 24 channels, 3 x 3, stride 1, pad 1 (the Winograd path) and
    // 4 x 4, stride 2, pad 1 (im2col)
    const x = randArray(rand, 2 * 12 * 12 * 16);
    const run = (kind: 'blas' | 'portable' | 'generic') => {
      useGemm(kind);
      const out: Float32Array[] = [];
      const scores = new Float32Array(8 * 64 * 64);
      addon.sgemmBatched(qa, kb, scores, 8, 64, 64, 32, false, true, null, null, 2048, 2048);
      out.push(scores);
      for (const [f, s, o] of [
        [3, 1, 12],
        [4, 2, 6],
      ] as const) {
        const params = Int32Array.of(2, 12, 12, 16, f, f, 24, o, o, s, s, 1, 1, 1, 1);
        const w = randArray(seeded(f), f * f * 16 * 24);
        const y = new Float32Array(2 * o * o * 24);
        addon.conv2d(x, w, y, params);
        const dy = randArray(seeded(f + 10), y.length);
        const dx = new Float32Array(x.length);
        addon.conv2dBackpropInput(dy, w, dx, params);
        const dw = new Float32Array(w.length);
        addon.conv2dBackpropFilter(x, dy, dw, params);
        out.push(y, dx, dw);
      }
      return out;
    };
    const blas = run('blas');
    for (const kind of ['portable', 'generic'] as const) {
      const portable = run(kind);
      for (let i = 0; i < blas.length; i++) {
        expect(relError(portable[i]!, blas[i]!)).toBeLessThan(1e-5);
      }
    }
  });
});
