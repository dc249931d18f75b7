import { Rng } from '@artist-ts/core/rng';
import { WeightMismatchError } from '@artist-ts/core/weight-match';
import { initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { hashNamedTensors } from '../src/extractor';
import {
  FID_INCEPTION_CONVS,
  FidInceptionV3,
  validateFidInceptionConfig,
} from '../src/fid_inception';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

/** Deterministic [b, h, w, 3] images in [0, 1]. */
function images(b: number, h: number, w: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const data = new Float32Array(b * h * w * 3);
  rng.fillUniform(data, 0, 1);
  return tf.tensor4d(data, [b, h, w, 3]);
}

describe('FidInceptionV3 (pytorch-fid architecture, random weights)', () => {
  let net: FidInceptionV3;
  beforeAll(() => {
    net = FidInceptionV3.randomInit(new Rng('fid-inception'), { imageSize: 75 });
  });
  afterAll(() => net.dispose());

  test('has the 94 BasicConv2d layers and the parameter count of the torchvision trunk', () => {
    expect(FID_INCEPTION_CONVS.length).toBe(94);
    let params = 0;
    for (const s of FID_INCEPTION_CONVS) params += s.cout * s.cin * s.kh * s.kw + 2 * s.cout; // conv + bn affine
    // torchvision inception_v3: 27,161,264 parameters, minus AuxLogits (3,326,696) and fc (2,049,000).
    expect(params).toBe(27161264 - 3326696 - 2049000);
  });

  test('pool3 features: [b, 2048], finite, deterministic, no leaks', async () => {
    const x = images(1, 40, 48, 1);
    // expectNoLeakedTensors runs twice; the two outputs are the determinism check.
    const outs: Float32Array[] = [];
    await expectNoLeakedTensors(() => {
      const f = net.features(x);
      expect(f.shape).toEqual([1, 2048]);
      outs.push(f.dataSync() as Float32Array);
      return f;
    });
    expect(outs.length).toBe(2);
    expect(outs[0]!.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(outs[0]!.some((v) => v > 0)).toBe(true);
    expectArraysClose(outs[1]!, outs[0]!, { rtol: 0, atol: 0 });
    x.dispose();
    expect(net.protocol).toMatchObject({
      extractor: 'pytorch-fid-inception-v3-pool3',
      featureDim: 2048,
      imageSize: 75,
      resize: 'bilinear(half-pixel,no-antialias)',
      comparableWithPublished: false,
    });
    expect(net.protocol.weightsHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test('torch state dict round trip: OIHW transpose and batch-norm folding are exact', () => {
    const w = net.getWeights();
    const torch: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const s of FID_INCEPTION_CONVS) {
      const hwio = w[`${s.name}.conv.weight`]!.dataSync();
      const oihw = new Float32Array(hwio.length);
      for (let o = 0; o < s.cout; o++)
        for (let i = 0; i < s.cin; i++)
          for (let y = 0; y < s.kh; y++)
            for (let xx = 0; xx < s.kw; xx++)
              oihw[((o * s.cin + i) * s.kh + y) * s.kw + xx] =
                hwio[((y * s.kw + xx) * s.cin + i) * s.cout + o]!;
      torch[`${s.name}.conv.weight`] = { shape: [s.cout, s.cin, s.kh, s.kw], data: oihw };
      for (const suf of ['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var']) {
        torch[`${s.name}.${suf}`] = {
          shape: [s.cout],
          data: Float32Array.from(w[`${s.name}.${suf}`]!.dataSync()),
        };
      }
    }
    torch['fc.weight'] = { shape: [1008, 2048], data: new Float32Array(0) }; // ignored, like pytorch-fid
    torch['Mixed_5b.branch1x1.bn.num_batches_tracked'] = { shape: [], data: new Float32Array(1) };
    // Compared on the 192-d block (the stem, cheap); the hash covers every weight.
    const again = FidInceptionV3.fromTorchStateDict(torch, { imageSize: 75, dims: 192 });
    const same = FidInceptionV3.fromTfjsWeights(w, { imageSize: 75, dims: 192 });
    try {
      expect(again.protocol.weightsHash).toBe(net.protocol.weightsHash);
      expect(hashNamedTensors(w)).toBe(net.protocol.weightsHash);
      const x = images(1, 30, 30, 2);
      const a = same.features(x);
      const b = again.features(x);
      expectArraysClose(b, a.dataSync(), { rtol: 0, atol: 0 });
      tf.dispose([x, a, b]);
    } finally {
      again.dispose();
      same.dispose();
      tf.dispose(Object.values(w));
    }
  });

  test('mismatched state dicts list every missing, unexpected and mis-shaped name', () => {
    const w = net.getWeights();
    const broken: Record<string, tf.Tensor> = { ...w };
    delete broken['Mixed_7c.branch_pool.bn.running_var'];
    broken['Mixed_8a.conv.weight'] = w['Conv2d_1a_3x3.bn.bias']!;
    broken['Conv2d_1a_3x3.bn.weight'] = w['Conv2d_2a_3x3.conv.weight']!;
    try {
      FidInceptionV3.fromTfjsWeights(broken, { imageSize: 75 }, 'ckpt/x');
      throw new Error('expected a mismatch');
    } catch (e) {
      expect(e).toBeInstanceOf(WeightMismatchError);
      const m = e as WeightMismatchError;
      expect(m.missing).toEqual(['Mixed_7c.branch_pool.bn.running_var']);
      expect(m.unexpected).toEqual(['Mixed_8a.conv.weight']);
      expect(m.misShaped.map((x) => x.name)).toEqual(['Conv2d_1a_3x3.bn.weight']);
    } finally {
      tf.dispose(Object.values(w));
    }
  });

  test("pytorch-fid's --dims blocks: 64, 768", () => {
    const w = net.getWeights();
    const x = images(1, 80, 80, 3);
    try {
      for (const dims of [64, 768] as const) {
        const n = FidInceptionV3.fromTfjsWeights(w, { imageSize: 75, dims });
        const f = n.features(x);
        expect(f.shape).toEqual([1, dims]);
        expect(n.protocol.extractor).toBe(`pytorch-fid-inception-v3-block${dims}`);
        tf.dispose(f);
        n.dispose();
      }
    } finally {
      tf.dispose([x, ...Object.values(w)]);
    }
  });

  test('config validation names the field', () => {
    expect(() => validateFidInceptionConfig({ dims: 100 as never })).toThrow(
      /FidInceptionConfig\.dims/,
    );
    expect(() => validateFidInceptionConfig({ imageSize: 32 })).toThrow(
      /FidInceptionConfig\.imageSize/,
    );
  });
});

describe('the pooling semantics FIDInception blocks rely on', () => {
  test("TF 'same' average pooling excludes padding (count_include_pad=False)", () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const y = tf.avgPool(x, 3, 1, 'same').dataSync();
    expect(y[0]).toBeCloseTo((1 + 2 + 4 + 5) / 4, 6); // corner: 4 real values, not /9
    expect(y[4]).toBeCloseTo(5, 6);
    x.dispose();
  });

  test('bilinear resize with half-pixel centres matches torch align_corners=False', () => {
    // torch.nn.functional.interpolate(torch.tensor([[[[0.,1.],[2.,3.]]]]), size=(4,4), mode='bilinear', align_corners=False)
    const expected = [
      0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3,
    ];
    const x = tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]);
    const y = tf.image.resizeBilinear(x, [4, 4], false, true);
    expectArraysClose(y, expected, { atol: 1e-6 });
    tf.dispose([x, y]);
  });
});
