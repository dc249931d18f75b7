// The few-row GEMM (src/native/skinny_gemm.cc) that token-by-token decoding runs: sgemmBatched
// takes it for 1-4 rows of A, neither operand transposed. Checked against a float64 reference with
// one and two pool threads, its AVX2 code and its plain code, every row count, widths that are not
// a multiple of the vector width, depths that are not a multiple of its four-row step, alpha/beta
// and batches with offsets.
import { blasInfo, nativeAvailable, setBlasThreads, useGemm } from '../src';
import { getNativeAddon } from '../src/addon';
import { randArray, referenceGemm, relError, seeded } from './helpers';

const describeNative = nativeAvailable().ok ? describe : describe.skip;

describeNative('skinny GEMM (decoding rows)', () => {
  // describe.skip still runs this body: nothing here may assume the addon
  const addon = getNativeAddon()!;
  let initial = { gemm: 'blas', threads: 1 };
  beforeAll(() => {
    const info = blasInfo()!;
    initial = { gemm: info.gemm, threads: info.threads };
  });
  afterAll(() => {
    useGemm(initial.gemm === 'portable' ? 'portable' : 'blas');
    setBlasThreads(Math.max(1, initial.threads));
  });

  const rand = seeded(19);
  // [N, K]: odd width and depth; a wide head-like row; a deep one (the MLP's output projection)
  const shapes: [number, number][] = [
    [203, 651],
    [2048, 67],
    [96, 2050],
  ];
  for (const kernel of ['portable', 'generic'] as const) {
    for (const threads of [1, 2]) {
      it(`matches float64 for 1-4 rows (${kernel} kernel, ${threads} thread(s))`, () => {
        useGemm(kernel);
        setBlasThreads(threads);
        addon.setParallelThreshold(0); // split even these small products across the pool
        for (const [n, k] of shapes) {
          for (let m = 1; m <= 4; m++) {
            for (const [alpha, beta] of [
              [1, 0],
              [0.5, 2],
            ] as const) {
              const a = randArray(rand, m * k);
              const b = randArray(rand, k * n);
              const c0 = randArray(rand, m * n);
              const c = c0.slice();
              addon.sgemmBatched(a, b, c, 1, m, n, k, false, false, null, null, 0, 0, alpha, beta);
              const want = referenceGemm(a, b, c0, m, n, k, false, false, alpha, beta);
              expect(relError(c, want)).toBeLessThan(1e-5);
            }
          }
        }
        addon.setParallelThreshold(1 << 21);
      });
    }
  }

  it('computes each batch item from its own offsets', () => {
    useGemm('portable');
    const [m, n, k] = [2, 130, 517];
    const a = randArray(rand, 2 * m * k);
    const b = randArray(rand, k * n); // one B shared by both items (offset 0 twice)
    const c = new Float32Array(2 * m * n);
    addon.sgemmBatched(a, b, c, 2, m, n, k, false, false, null, Int32Array.of(0, 0), m * k, 0);
    for (let i = 0; i < 2; i++) {
      const ai = a.subarray(i * m * k, (i + 1) * m * k);
      const want = referenceGemm(ai, b, new Float32Array(m * n), m, n, k, false, false, 1, 0);
      expect(relError(c.subarray(i * m * n, (i + 1) * m * n), want)).toBeLessThan(1e-5);
    }
  });
});
