import * as os from 'node:os';
import {
  DISABLE_NATIVE_ENV,
  formatInstallReport,
  installKernels,
  nativeAvailable,
  nativeDisabledByEnv,
  setBlasThreads,
  TRAINING_KERNELS,
  uninstallKernels,
  validateInstallKernelsOptions,
} from '../src';
import { expectClose, tf, useBackend } from './helpers';

describe('validateInstallKernelsOptions', () => {
  it('fills defaults', () => {
    const cores = Math.min(8, os.availableParallelism());
    expect(validateInstallKernelsOptions({}, {})).toEqual({
      native: true,
      threads: cores,
      parallelThreshold: 2 ** 21,
    });
    expect(validateInstallKernelsOptions({}, { ARTIST_BLAS_THREADS: '3' })).toEqual({
      native: true,
      threads: 3,
      parallelThreshold: 2 ** 21,
    });
    expect(
      validateInstallKernelsOptions({ threads: 3 }, { ARTIST_BLAS_THREADS: '2' }).threads,
    ).toBe(3);
  });

  it('names the bad field', () => {
    expect(() => validateInstallKernelsOptions({ threads: 0 }, {})).toThrow(/options\.threads/);
    expect(() => validateInstallKernelsOptions({ threads: 1.5 }, {})).toThrow(/options\.threads/);
    expect(() => validateInstallKernelsOptions({}, { ARTIST_BLAS_THREADS: 'two' })).toThrow(
      /ARTIST_BLAS_THREADS/,
    );
    expect(() =>
      validateInstallKernelsOptions({ native: 'yes' as unknown as boolean }, {}),
    ).toThrow(/options\.native/);
    expect(() => validateInstallKernelsOptions({ parallelThreshold: -1 }, {})).toThrow(
      /options\.parallelThreshold/,
    );
  });
});

describe('installKernels', () => {
  afterEach(() => {
    uninstallKernels(tf, 'cpu');
    uninstallKernels(tf, 'wasm');
  });

  it('refuses to install before the backend is registered', () => {
    const fake = { findBackendFactory: () => null } as unknown as typeof tf;
    expect(() => installKernels(fake, 'wasm')).toThrow(/import '@tensorflow\/tfjs-backend-wasm'/);
  });

  it("rejects unknown backends, tfjs-node's tensorflow included", () => {
    for (const name of ['webgl', 'tensorflow']) {
      expect(() => installKernels(tf, name as 'cpu')).toThrow(
        /backendName must be one of cpu, wasm/,
      );
    }
  });

  // The fallback contract of every kernel installKernels registers: an override of a stock kernel
  // hands the cases it declines to that kernel; a kernel the stock backend lacks has a JS version
  // registered without the addon too; the package's own Artist* kernels are only reached through
  // wrappers (fusedGelu, fusedLayerNorm, causalSelfAttention, sparseSoftmaxCrossEntropy, and
  // @artist-ts/runtime's AdamW) that run stock ops where they are not registered (their own tests).
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`on ${backend}, every kernel it adds has a fallback without the addon`, async () => {
      await useBackend(backend);
      const withAddon = installKernels(tf, backend).kernels;
      uninstallKernels(tf, backend);
      const stock = new Set(withAddon.filter((k) => tf.getKernel(k, backend) !== undefined));
      const jsOnly = new Set(installKernels(tf, backend, { native: false }).kernels);
      const added = withAddon.filter((k) => !stock.has(k) && !k.startsWith('Artist'));
      expect(added.filter((k) => !jsOnly.has(k))).toEqual([]);
      for (const k of jsOnly) expect(stock.has(k) || withAddon.includes(k)).toBe(true);
    });
  }

  it('makes wasm able to train and restores the stock registry on uninstall', async () => {
    await useBackend('wasm');
    const stockBmm = tf.getKernel('BatchMatMul', 'wasm');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();

    const report = installKernels(tf, 'wasm');
    expect(report.backend).toBe('wasm');
    expect(report.canTrain).toBe(true);
    expect(report.kernels).toEqual(
      expect.arrayContaining(['UnsortedSegmentSum', 'Conv2DBackpropFilter']),
    );
    for (const k of TRAINING_KERNELS) expect(tf.getKernel(k, 'wasm')).toBeDefined();
    expect(formatInstallReport(report)).toMatch(/^kernels wasm: .*can train$/);

    const removed = uninstallKernels(tf, 'wasm');
    expect(removed).toEqual(report.kernels);
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(stockBmm);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    expect(uninstallKernels(tf, 'wasm')).toEqual([]);
  });

  it('keeps the stock setupFunc of overridden wasm kernels', async () => {
    await useBackend('wasm');
    const stock = tf.getKernel('BatchMatMul', 'wasm')!;
    installKernels(tf, 'wasm');
    expect(tf.getKernel('BatchMatMul', 'wasm')!.setupFunc).toBe(stock.setupFunc);
  });

  it('is idempotent: a second call reinstalls with the new options', async () => {
    await useBackend('cpu');
    const stock = tf.getKernel('UnsortedSegmentSum', 'cpu');
    installKernels(tf, 'cpu');
    const second = installKernels(tf, 'cpu', { native: false });
    expect(second.native).toBe(false);
    expect(second.reason).toBe('disabled by options.native = false');
    expect(second.kernels).not.toContain('Conv2D');
    uninstallKernels(tf, 'cpu');
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).toBe(stock);
  });

  it('reports the native state and pool threads', async () => {
    await useBackend('cpu');
    const avail = nativeAvailable();
    const report = installKernels(tf, 'cpu', { threads: 1 });
    expect(report.native).toBe(avail.ok);
    if (avail.ok) {
      expect(report.reason).toBeUndefined();
      expect(report.kernels).toEqual(
        expect.arrayContaining([
          'BatchMatMul',
          '_FusedMatMul',
          'Conv2D',
          'Conv2DBackpropInput',
          'Conv2DBackpropFilter',
        ]),
      );
      expect(report.blasThreads).toBe(1);
      expect(report.parallelThreshold).toBe(2 ** 21);
      expect(report.kernels).toEqual(
        expect.arrayContaining([
          'GatherV2',
          'ArtistSparseSoftmaxCrossEntropy',
          'ArtistSparseSoftmaxCrossEntropyGrad',
          'ArtistAdamWUpdate',
        ]),
      );
      const two = installKernels(tf, 'cpu', { threads: 2, parallelThreshold: 1000 });
      expect(two.parallelThreshold).toBe(1000);
      expect(formatInstallReport(two)).toMatch(/2 threads for jobs of >= 1000 multiply-adds/);
      // results do not depend on the thread count
      const a = tf.randomNormal([70, 50], 0, 1, 'float32', 3);
      const b = tf.randomNormal([50, 40], 0, 1, 'float32', 4);
      const y2 = tf.matMul(a, b);
      installKernels(tf, 'cpu', { threads: 1 });
      const y1 = tf.matMul(a, b);
      expectClose(y2.dataSync(), y1.dataSync(), 1e-5);
      tf.dispose([a, b, y1, y2]);
    } else {
      expect(report.reason).toBe(avail.reason);
      expect(report.blasThreads).toBeUndefined();
    }
    expect(report.kernels).toEqual(
      expect.arrayContaining(['UnsortedSegmentSum', 'ResizeNearestNeighborGrad']),
    );
  });

  it(`${DISABLE_NATIVE_ENV}=1 turns the addon off but keeps the JS kernels`, async () => {
    const prev = process.env[DISABLE_NATIVE_ENV];
    process.env[DISABLE_NATIVE_ENV] = '1';
    try {
      expect(nativeDisabledByEnv()).toBe(true);
      expect(nativeAvailable()).toMatchObject({
        ok: false,
        reason: `disabled by ${DISABLE_NATIVE_ENV}=1`,
      });
      expect(setBlasThreads(1)).toBeNull();
      await useBackend('wasm');
      const report = installKernels(tf, 'wasm');
      expect(report.native).toBe(false);
      expect(report.reason).toContain(DISABLE_NATIVE_ENV);
      expect(report.canTrain).toBe(true);
      expect(report.kernels).toEqual(
        expect.arrayContaining(['UnsortedSegmentSum', 'Conv2DBackpropFilter']),
      );
    } finally {
      if (prev === undefined) delete process.env[DISABLE_NATIVE_ENV];
      else process.env[DISABLE_NATIVE_ENV] = prev;
    }
  });

  it('setBlasThreads validates its argument', () => {
    expect(() => setBlasThreads(0)).toThrow(RangeError);
    expect(() => setBlasThreads(2.5)).toThrow(/integer in \[1, 1024\]/);
  });
});
