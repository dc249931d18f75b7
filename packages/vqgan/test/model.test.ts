import { initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { codeGridShape, PRESETS, validateVqganConfig } from '../src/config';
import { toUint8Pixels } from '../src/images';
import { countVqganParameters, vqganParameterSpecs } from '../src/param_table';
import { tamingKeys } from '../src/taming_keys';
import { inferenceBatch, Vqgan } from '../src/vqgan';
import { MICRO } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

// Independent counts: python3 test/reference/count_params.py (mirrors taming's constructors).
const EXPECTED_PARAMS: Record<string, number> = {
  nano: 275731,
  small: 12185859,
  'artist-base': 76073859,
};
const EXPECTED_KEYS: Record<string, number> = { nano: 153, small: 215, 'artist-base': 343 };

describe('Vqgan shapes', () => {
  test('nano: 32x32 images <-> 8x8 codes', () => {
    const model = Vqgan.create('nano', { seed: 1 });
    const c = model.config;
    expect(model.parameterCount()).toBe(EXPECTED_PARAMS.nano);
    expect(model.store.names()).toEqual(tamingKeys(c));
    expect(codeGridShape(c)).toEqual([8, 8]);
    const images = {
      data: new Uint8Array(32 * 32 * 3).fill(128),
      shape: [1, 32, 32, 3] as [number, number, number, number],
    };
    const codes = model.encode(images);
    expect(codes.shape).toEqual([1, 8, 8]);
    expect(codes.dtype).toBe('int32');
    const rec = model.decode(codes);
    expect(rec.shape).toEqual([1, 32, 32, 3]);
    // flat [b, h*w] codes (ARTIST's sequence layout) decode the same
    const flat = tf.reshape(codes, [1, 64]) as tf.Tensor2D;
    const rec2 = model.decode(flat);
    expect(Array.from(rec2.dataSync())).toEqual(Array.from(rec.dataSync()));
    tf.dispose([codes, rec, flat, rec2]);
    model.dispose();
  });

  test('small: 64x64 -> 8x8 codes (f=8); fully convolutional, checked on 16x16 -> 2x2', () => {
    const model = Vqgan.create('small', { init: 'zeros' });
    const c = model.config;
    expect(model.parameterCount()).toBe(EXPECTED_PARAMS.small);
    expect(model.store.names()).toEqual(tamingKeys(c));
    expect(codeGridShape(c)).toEqual([8, 8]);
    const x = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    const codes = model.encode(x);
    expect(codes.shape).toEqual([1, 2, 2]);
    const rec = model.decode(codes);
    expect(rec.shape).toEqual([1, 16, 16, 3]);
    const bad = tf.zeros([1, 12, 12, 3]) as tf.Tensor4D;
    expect(() => model.encode(bad)).toThrow(/multiples of 8/);
    tf.dispose([x, codes, rec, bad]);
    model.dispose();
  });

  test('artist-base is taming ImageNet f16/16384: 76,073,859 parameters, 343 keys', () => {
    const model = Vqgan.create('artist-base', { init: 'zeros' });
    expect(model.parameterCount()).toBe(EXPECTED_PARAMS['artist-base']);
    expect(model.store.names().length).toBe(343);
    expect(model.codeShape).toEqual([16, 16]);
    const w = model.weights();
    expect(w['encoder.conv_in.weight'].shape).toEqual([3, 3, 3, 128]);
    expect(w['encoder.down.4.attn.1.q.weight'].shape).toEqual([1, 1, 512, 512]);
    expect(w['encoder.down.2.block.0.nin_shortcut.weight'].shape).toEqual([1, 1, 128, 256]);
    expect(w['encoder.conv_out.weight'].shape).toEqual([3, 3, 512, 256]);
    expect(w['quantize.embedding.weight'].shape).toEqual([16384, 256]);
    expect(w['decoder.conv_in.weight'].shape).toEqual([3, 3, 256, 512]);
    expect(w['decoder.up.4.attn.2.proj_out.weight'].shape).toEqual([1, 1, 512, 512]);
    expect(w['decoder.up.3.block.0.nin_shortcut.weight'].shape).toEqual([1, 1, 512, 256]);
    expect(w['decoder.up.1.upsample.conv.weight'].shape).toEqual([3, 3, 128, 128]);
    expect(w['decoder.up.2.upsample.conv.weight'].shape).toEqual([3, 3, 256, 256]);
    expect(w['decoder.conv_out.weight'].shape).toEqual([3, 3, 128, 3]);
    expect('decoder.up.0.upsample.conv.weight' in w).toBe(false);
    expect('encoder.down.4.downsample.conv.weight' in w).toBe(false);
    model.dispose();
  });

  test('micro forward does not leak', async () => {
    const model = Vqgan.create(MICRO, { seed: 2 });
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1) as tf.Tensor4D;
    await expectNoLeakedTensors(() => {
      const codes = model.encode(x);
      const rec = model.decode(codes);
      const r2 = model.reconstruct(x);
      tf.dispose([codes, rec, r2]);
    }, 'encode/decode');
    x.dispose();
    model.dispose();
  });
});

describe('parameter table', () => {
  test.each(['nano', 'small', 'artist-base'] as const)(
    '%s: counts, key count and layouts without building the model',
    (name) => {
      const c = validateVqganConfig(name);
      const specs = vqganParameterSpecs(c);
      expect(countVqganParameters(c)).toBe(EXPECTED_PARAMS[name]);
      expect(specs.length).toBe(EXPECTED_KEYS[name]);
      expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
      for (const s of specs) {
        // every 4-D weight is a conv kernel stored HWIO; everything else keeps PyTorch's layout
        if (s.torchShape.length === 4) {
          expect(s.layout).toBe('conv_oihw_to_hwio');
          const [o, i, kh, kw] = s.torchShape;
          expect(s.shape).toEqual([kh, kw, i, o]);
        } else {
          expect(s.layout).toBe('identity');
          expect(s.shape).toEqual(s.torchShape);
        }
      }
    },
  );

  test('initialisers are PyTorch defaults: U(+-1/sqrt(fan_in)) convs, GroupNorm 1/0, codebook U(+-1/n)', () => {
    const specs = vqganParameterSpecs(validateVqganConfig('nano'));
    const get = (n: string) => specs.find((s) => s.name === n)?.init;
    expect(get('encoder.conv_in.weight')).toEqual({ kind: 'uniform', bound: 1 / Math.sqrt(27) });
    expect(get('encoder.conv_in.bias')).toEqual({ kind: 'uniform', bound: 1 / Math.sqrt(27) });
    expect(get('quant_conv.weight')).toEqual({ kind: 'uniform', bound: 1 / Math.sqrt(32) });
    expect(get('decoder.norm_out.weight')).toEqual({ kind: 'constant', value: 1 });
    expect(get('decoder.norm_out.bias')).toEqual({ kind: 'constant', value: 0 });
    expect(get('quantize.embedding.weight')).toEqual({ kind: 'uniform', bound: 1 / 512 });
  });
});

describe('decodeToPixels', () => {
  test('equals toUint8Pixels(decode) for per-image and flat codes, in any batch size', async () => {
    const model = Vqgan.create(MICRO, { seed: 3 });
    const [gh, gw] = model.codeShape; // 4x4 codes, 8x8 images
    const rng = (i: number) => (i * 7 + 3) % 16;
    const perImage = Array.from({ length: 5 }, (_, k) =>
      Int32Array.from({ length: gh * gw }, (_, i) => rng(i + 11 * k)),
    );
    const flat = new Int32Array(5 * gh * gw);
    for (const [k, c] of perImage.entries()) flat.set(c, k * gh * gw);
    const codesT = tf.tensor3d(flat, [5, gh, gw], 'int32');
    const images = model.decode(codesT);
    const expected = toUint8Pixels(images);
    tf.dispose([codesT, images]);
    expect(expected.length).toBe(5 * 8 * 8 * 3);
    const a = await model.decodeToPixels(perImage, { batchSize: 2 });
    const b = await model.decodeToPixels(flat);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(Array.from(a)).toEqual(Array.from(expected));
    expect(Array.from(b)).toEqual(Array.from(expected));
    await expectNoLeakedTensors(async () => {
      await model.decodeToPixels(perImage, { batchSize: 3 });
    }, 'decodeToPixels');
    await expect(model.decodeToPixels(new Int32Array(17))).rejects.toThrow(/multiple of 16/);
    await expect(model.decodeToPixels([perImage[0], new Int32Array(3)])).rejects.toThrow(
      /codes\[1\] must be an Int32Array of 16 codes/,
    );
    await expect(model.decodeToPixels([Int32Array.from({ length: 16 }, () => 16)])).rejects.toThrow(
      /values must be in \[0, 16\)/,
    );
    await expect(model.decodeToPixels(flat, { batchSize: 0 })).rejects.toThrow(/'batchSize'/);
    model.dispose();
  });
});

test('the inference encoder (fused GroupNorm) equals the training forward', () => {
  const model = Vqgan.create(MICRO, { seed: 5 });
  const x = tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 3), 2), 1));
  const zTrain = model.encodeLatents(x as tf.Tensor4D);
  const zInfer = model.encodeLatents(x as tf.Tensor4D, true);
  expectArraysClose(zInfer, zTrain, { atol: 1e-5 });
  tf.dispose([x, zTrain, zInfer]);
  model.dispose();
});

describe('inference memory', () => {
  test('slices of the batch and released activations give the one-piece results', async () => {
    const model = Vqgan.create(MICRO, { seed: 4 });
    const x = tf.tidy(() =>
      tf.sub(tf.mul(tf.randomUniform([5, 8, 8, 3], 0, 1, 'float32', 9), 2), 1),
    );
    const whole = model.encode(x as tf.Tensor4D, { maxBatch: 5 });
    const sliced = model.encode(x as tf.Tensor4D, { maxBatch: 2 });
    expect(Array.from(sliced.dataSync())).toEqual(Array.from(whole.dataSync()));
    const a = model.decode(whole, { maxBatch: 5 });
    const b = model.decode(whole, { maxBatch: 2 });
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    expect(d).toBeLessThan(1e-6);
    // activations freed as the pass goes (inference: also the fused GroupNorm and the upsampled
    // copy + 3x3 conv) vs kept with the training ops (what training's tape needs): equal to rounding
    const [kept, freed] = tf.tidy(() => {
      const zq = model.codesToLatents(whole);
      return [model.decodeLatents(zq, false), model.decodeLatents(zq, true)];
    });
    expectArraysClose(freed, kept, { atol: 1e-5 });
    const r1 = model.reconstruct(x as tf.Tensor4D, { maxBatch: 3 });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(r1, a))).dataSync()[0])).toBeLessThan(1e-6);
    await expectNoLeakedTensors(() => {
      tf.dispose([
        model.encode(x as tf.Tensor4D, { maxBatch: 2 }),
        model.decode(whole, { maxBatch: 2 }),
        model.reconstruct(x as tf.Tensor4D, { maxBatch: 4 }),
      ]);
    }, 'sliced inference');
    expect(() => model.decode(whole, { maxBatch: 0 })).toThrow(/'maxBatch' must be a positive/);
    tf.dispose([x, whole, sliced, a, b, kept, freed, r1]);
    model.dispose();
  });

  test('images per slice keep one full-resolution activation under 64 MiB', () => {
    // 256 * 256 * 128 channels * 4 bytes = 32 MiB an image
    expect(inferenceBatch(validateVqganConfig('artist-base'), 256)).toBe(2);
    // 32 * 32 * 64 * 4 = 256 KiB an image
    const nano = validateVqganConfig('nano');
    expect(inferenceBatch(nano, 32)).toBe(
      Math.floor((64 * 2 ** 20) / (32 * 32 * nano.ch * nano.chMult[0] * 4)),
    );
  });
});

describe('config validation', () => {
  test('names the bad field', () => {
    expect(() => validateVqganConfig({ ch: 0 })).toThrow(/'ch'/);
    expect(() => validateVqganConfig({ numGroups: 5, ch: 8, chMult: [1] })).toThrow(/'numGroups'/);
    expect(() => validateVqganConfig({ resolution: 30 })).toThrow(/'resolution'/);
    expect(() => validateVqganConfig('huge' as 'nano')).toThrow(/unknown preset 'huge'.*nano/);
    expect(() => validateVqganConfig({ chMul: [1] } as never)).toThrow(/unknown field 'chMul'/);
    expect(validateVqganConfig('nano')).toEqual(PRESETS.nano);
  });
});
