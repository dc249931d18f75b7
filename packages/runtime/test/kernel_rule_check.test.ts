import * as tf from '@tensorflow/tfjs';
import {
  KernelRuleError,
  startKernelRuleCheck,
  TFJS_NODE_KERNELS,
  tfjsNodeViolations,
  useStockBackend,
  withKernelRuleCheck,
} from '../src/testing';

function ruleError(fn: () => unknown): KernelRuleError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelRuleError) return e;
    throw e;
  }
  throw new Error('expected a KernelRuleError');
}

describe('tfjs-node kernel rules', () => {
  beforeAll(async () => {
    await useStockBackend('cpu');
  });

  it('lists the 155 kernels tfjs-node 4.22 registers', () => {
    expect(TFJS_NODE_KERNELS.size).toBe(155);
    expect(TFJS_NODE_KERNELS.has('Conv2DBackpropFilter')).toBe(true);
    expect(TFJS_NODE_KERNELS.has('_FusedMatMul')).toBe(true);
    expect(TFJS_NODE_KERNELS.has('SearchSorted')).toBe(false); // tfjs-backend-cpu only
  });

  it('conv2dTranspose with a numeric pad fails on Conv2DBackpropInput, naming pad', () => {
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 3, 2]) as tf.Tensor4D;
    const check = startKernelRuleCheck();
    try {
      const e = ruleError(() => tf.conv2dTranspose(x, w, [1, 8, 8, 3], 2, 1));
      expect(e.violation.kernel).toBe('Conv2DBackpropInput');
      expect(e.violation.attribute).toBe('pad');
      expect(e.message).toMatch(/kernel Conv2DBackpropInput on backend 'cpu', attribute 'pad'/);
      expect(e.message).toMatch(/got 1 \(NUMBER\)/);
    } finally {
      check.stop();
      tf.dispose([x, w]);
    }
  });

  it('explicit pads pass Conv2D forward but fail its filter gradient', async () => {
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const w = tf.variable(tf.ones([3, 3, 2, 3]));
    const pads: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ];
    const { kernels } = await withKernelRuleCheck(() => {
      tf.dispose(tf.conv2d(x, w as tf.Tensor4D, 1, pads));
      const e = ruleError(() =>
        tf.variableGrads(() => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, pads))),
      );
      expect(e.violation).toEqual(
        expect.objectContaining({ kernel: 'Conv2DBackpropFilter', attribute: 'pad' }),
      );
    });
    expect(kernels.get('Conv2D')).toBeGreaterThanOrEqual(2);
    // after stop() the engine is back: the same gradient runs
    const g = tf.variableGrads(() => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, pads)));
    expect(g.grads[w.name].shape).toEqual([3, 3, 2, 3]);
    tf.dispose([x, w, g.value, ...Object.values(g.grads)]);
  });

  it("'same' convolutions train under the check", async () => {
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const w = tf.variable(tf.ones([3, 3, 2, 3]));
    const { kernels } = await withKernelRuleCheck(() => {
      const g = tf.variableGrads(() => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 2, 'same')));
      tf.dispose([g.value, ...Object.values(g.grads)]);
    });
    expect([...kernels.keys()]).toEqual(
      expect.arrayContaining(['Conv2D', 'Conv2DBackpropFilter', 'Sum']),
    );
    tf.dispose([x, w]);
  });

  it('custom kernels, numeric pool pads and out-of-range gathers are named', async () => {
    tf.registerKernel({
      kernelName: 'ArtistRuleTest',
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }) => {
        const x = inputs.x as tf.TensorInfo;
        (backend as unknown as { incRef(d: unknown): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const table = tf.ones([3, 2]);
    const idx = tf.tensor1d([0, 3], 'int32');
    const check = startKernelRuleCheck();
    try {
      const custom = ruleError(() => tf.engine().runKernel('ArtistRuleTest', { x }, {}));
      expect(custom.violation).toEqual(
        expect.objectContaining({ kernel: 'ArtistRuleTest', attribute: '(kernel)' }),
      );
      const pool = ruleError(() => tf.avgPool(x, 2, 1, 1));
      expect(pool.violation).toEqual(
        expect.objectContaining({ kernel: 'AvgPool', attribute: 'pad' }),
      );
      const gather = ruleError(() => tf.gather(table, idx));
      expect(gather.violation.attribute).toBe('indices');
      expect(gather.violation.rule).toMatch(/got 3 at position 1/);
    } finally {
      check.stop();
      tf.unregisterKernel('ArtistRuleTest', 'cpu');
      tf.dispose([x, table, idx]);
    }
  });

  it('attribute rules read from tfjs-node sources', () => {
    const x = tf.ones([1, 4, 4, 2]);
    const filter = tf.ones([3, 3, 2, 3]);
    const names = (k: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) =>
      tfjsNodeViolations(k, inputs, attrs).map((v) => `${v.kernel}.${v.attribute}`);
    expect(names('FusedConv2D', { x, filter }, { pad: 'same', dataFormat: 'NCHW' })).toEqual([
      'FusedConv2D.dataFormat',
    ]);
    expect(names('Conv2D', { x, filter }, { pad: 2, dimRoundingMode: 'ceil' })).toEqual([
      'Conv2D.pad',
      'Conv2D.dimRoundingMode',
    ]);
    expect(
      names(
        'Conv2D',
        { x, filter },
        {
          pad: [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
        },
      ),
    ).toEqual([]);
    expect(names('Conv2D', { x, filter }, { pad: 0, dimRoundingMode: 'floor' })).toEqual([]);
    expect(names('_FusedMatMul', { a: x, b: x }, { activation: 'gelu' })).toEqual([
      '_FusedMatMul.activation',
    ]);
    expect(names('_FusedMatMul', { a: x, b: x }, { activation: 'relu' })).toEqual([]);
    expect(names('Multinomial', { logits: x }, { normalized: true })).toEqual([
      'Multinomial.normalized',
    ]);
    expect(names('Conv3D', {}, { pad: 'valid', dilations: [2, 1, 1] })).toEqual([
      'Conv3D.dilations',
    ]);
    const i = tf.ones([2], 'int32');
    expect(names('Conv2DBackpropFilter', { x: i, dy: x }, { pad: 'valid' })).toEqual([
      'Conv2DBackpropFilter.x',
    ]);
    tf.dispose([x, filter, i]);
  });

  it('useStockBackend(wasm) keeps only stock kernel names, and wasm can still train convs', async () => {
    await useStockBackend('wasm');
    try {
      const custom = tf
        .getKernelsForBackend('wasm')
        .map((k) => k.kernelName)
        .filter((n) => n.startsWith('Artist'));
      expect(custom).toEqual([]);
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
      const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
      const w = tf.variable(tf.ones([3, 3, 2, 3]));
      await withKernelRuleCheck(() => {
        const g = tf.variableGrads(() => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, 'valid')));
        expect(Array.from(g.grads[w.name].dataSync().slice(0, 2))).toEqual([4, 4]);
        tf.dispose([g.value, ...Object.values(g.grads)]);
      });
      tf.dispose([x, w]);
    } finally {
      await useStockBackend('cpu');
    }
  });
});
