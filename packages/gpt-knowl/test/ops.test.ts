import { Rng } from '@artist-ts/core/rng';
import { GELU_KERNEL, initRuntime, LAYER_NORM_KERNEL } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { disposePacked, KnowlGpt } from '../src';
import { gelu, layerNorm } from '../src/layers';
import { kthLargest } from '../src/sampler';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

// Values from numpy/scipy in float64 (gradients by central differences).
const X = [
  [0.5, -1.2, 2.0, 0.3],
  [-0.7, 0.1, 0.4, -2.2],
];
const G = [1.1, 0.9, -0.5, 1.3];
const BETA = [0.1, -0.2, 0.0, 0.3];
const DY = [
  [0.2, -0.1, 0.5, 1.0],
  [-0.3, 0.7, 0.05, -0.4],
];

describe('hand-differentiated ops', () => {
  test('layerNorm: value and gradients against numpy', () => {
    const [y, dx, dg, db] = tf.tidy(() => {
      const x = tf.tensor2d(X);
      const g = tf.tensor1d(G);
      const b = tf.tensor1d(BETA);
      const dy = tf.tensor2d(DY);
      const grads = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) =>
        layerNorm(a, c, e, 1e-5),
      )([x, g, b], dy);
      return [layerNorm(x, g, b, 1e-5), ...grads];
    });
    expectArraysClose(
      y,
      [
        0.19703746, -1.4703086, -0.705727, 0.18531936, -0.0091836289, 0.42532442, -0.49628922,
        -1.7645632,
      ],
    );
    expectArraysClose(
      dx,
      [
        -0.059914761, -0.43958545, -0.38082219, 0.8803224, -0.2354382, 0.46689908, -0.27719156,
        0.045730682,
      ],
    );
    expectArraysClose(dg, [0.047420528, 0.62750884, 0.75535592, 0.54703433]);
    expectArraysClose(db, [-0.1, 0.6, 0.55, 0.6]);
    tf.dispose([y, dx, dg, db]);
  });

  test('layerNorm gradients equal autodiff of the plain formula on a 3-D input', () => {
    const rng = new Rng('ln');
    const shape = [2, 3, 8];
    const plain = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const xc = tf.sub(x, tf.mean(x, -1, true));
      const v = tf.mean(tf.square(xc), -1, true);
      return tf.add(tf.mul(tf.div(xc, tf.sqrt(tf.add(v, 1e-5))), g), b);
    };
    const out = tf.tidy(() => {
      const x = tf.tensor(rng.fillNormal(new Float32Array(48)), shape);
      const g = tf.tensor1d(rng.fillNormal(new Float32Array(8), 1, 0.3));
      const b = tf.tensor1d(rng.fillNormal(new Float32Array(8)));
      const dy = tf.tensor(rng.fillNormal(new Float32Array(48)), shape);
      const mine = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => layerNorm(a, c, e, 1e-5))(
        [x, g, b],
        dy,
      );
      const ref = tf.grads(plain)([x, g, b], dy);
      return [...mine, ...ref];
    });
    for (let i = 0; i < 3; i++) expectArraysClose(out[i], out[i + 3].dataSync(), { atol: 1e-5 });
    tf.dispose(out);
  });

  test('gelu: exact (erf) value and gradient against scipy', () => {
    const z = [-3, -1, -0.5, 0, 0.3, 1, 2.5];
    const [y, dz] = tf.tidy(() => {
      const x = tf.tensor1d(z);
      return [gelu(x), tf.grad((a: tf.Tensor) => gelu(a))(x)];
    });
    expectArraysClose(
      y,
      [-0.0040496941, -0.15865525, -0.15426877, 0, 0.18537343, 0.84134475, 2.4844758],
    );
    expectArraysClose(
      dz,
      [-0.011945647, -0.083315471, 0.13250488, 0.5, 0.73232777, 1.0833155, 1.0376111],
    );
    tf.dispose([y, dz]);
  });

  test('the custom gradients leak no tensors', async () => {
    await expectNoLeakedTensors(() =>
      tf.tidy(() => {
        const x = tf.tensor2d(X);
        const g = tf.tensor1d(G);
        const b = tf.tensor1d(BETA);
        const f = (a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) =>
          tf.sum(gelu(layerNorm(a, c, e, 1e-5)));
        return tf.grads(f)([x, g, b]);
      }),
    );
  });
});

describe('inference path', () => {
  // with the native LayerNorm and GELU kernels (where the addon is built), and with stock ops
  test.each([true, false])(
    'packed weights (folded LayerNorms, fused q/k/v, 3-D matmuls) give the plain logits (native norm and GELU kernels: %s)',
    (native) => {
      const backend = tf.getBackend();
      const removed = native
        ? []
        : [GELU_KERNEL, LAYER_NORM_KERNEL].flatMap((k) => tf.getKernel(k, backend) ?? []);
      for (const k of removed) tf.unregisterKernel(k.kernelName, backend);
      try {
        packedMatchesPlain();
      } finally {
        for (const k of removed) tf.registerKernel(k);
      }
    },
  );

  function packedMatchesPlain(): void {
    const m = new KnowlGpt({ preset: 'nano', fusion: 'none' }, { seed: 4 });
    const c = m.config;
    const rng = new Rng('ln-params');
    // non-trivial LayerNorm gains and biases, so the folding is exercised
    for (const [name, v] of Object.entries(m.variables)) {
      if (/ln/.test(name)) {
        v.assign(tf.tensor(rng.fillNormal(new Float32Array(v.size), 1, 0.3), v.shape));
      }
    }
    const T = c.textLen + 5;
    const ids = Array.from({ length: 2 * T }, (_, i) =>
      i % T < c.textLen ? c.imageVocabSize + 1 + (i % 9) : i % c.imageVocabSize,
    );
    const packed = m.packWeights();
    const [plain, fast, step, hostStep] = tf.tidy(() => {
      const tokens = tf.tensor2d(ids, [2, T], 'int32');
      const head = tf.slice(tokens, [0, 0], [2, T - 1]) as tf.Tensor2D;
      const last = tf.slice(tokens, [0, T - 1], [2, 1]) as tf.Tensor2D;
      const first = m.forward(head, { packed, returnCache: true });
      const lastCodes = Array.from(last.dataSync());
      return [
        m.forward(tokens).logits,
        m.forward(tokens, { packed }).logits,
        m.forward(last, { packed, cache: first.cache }).logits,
        // the decoding step's input rows summed on the CPU from the packed host tables
        m.forwardEmbedded(m.embedCodes(lastCodes, T - 1, packed), { packed, cache: first.cache })
          .logits,
      ];
    });
    expectArraysClose(fast, plain.dataSync(), { atol: 1e-5 });
    const lastPlain = tf.tidy(() => tf.slice(plain, [0, T - 1, 0], [2, 1, c.imageVocabSize]));
    expectArraysClose(step, lastPlain.dataSync(), { atol: 1e-5 });
    expect(Array.from(hostStep.dataSync())).toEqual(Array.from(step.dataSync()));
    expect(() => m.embedCodes([c.imageVocabSize], 0, packed)).toThrow(/codes\[0\] = 32 is not/);
    tf.dispose([plain, fast, step, hostStep, lastPlain]);
    disposePacked(packed);
    m.dispose();
  }
});

describe('kthLargest (top-k threshold)', () => {
  test('equals the sorted array element V - k, with ties and random data', () => {
    const rng = new Rng('select');
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + rng.int(200);
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = trial % 2 ? rng.int(4) : rng.normal();
      const k = 1 + rng.int(n);
      expect(kthLargest(a, k)).toBe(Float32Array.from(a).sort()[n - k]);
    }
    expect(() => kthLargest(new Float32Array(3), 4)).toThrow(/k = 4 outside \[1, 3\]/);
  });

  test('vocabulary-sized rows (the sampled prefilter): equals the sorted element, ties too', () => {
    const rng = new Rng('select-large');
    const n = 16384;
    const a = new Float32Array(n);
    for (let trial = 0; trial < 24; trial++) {
      // normal logits; few distinct values (ties across the threshold); sorted ascending and
      // descending (the strided sample sees the extremes)
      for (let i = 0; i < n; i++) a[i] = trial % 4 === 1 ? rng.int(6) : rng.normal();
      if (trial % 4 === 2) a.sort();
      if (trial % 4 === 3) a.sort().reverse();
      const sorted = Float32Array.from(a).sort();
      for (const k of [1, 2, 100, 1 + rng.int(n / 8), n / 8, n / 8 + 1, n]) {
        expect(kthLargest(a, k)).toBe(sorted[n - k]);
      }
    }
  });
});
