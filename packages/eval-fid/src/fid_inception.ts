/**
 * pytorch-fid's FID InceptionV3 (`pytorch_fid/inception.py`, `fid_inception_v3`) in tfjs: the
 * torchvision InceptionV3 trunk with the TF-compatible FIDInceptionA/C/E blocks (average pooling
 * without counting padding; max pooling in the last block), BasicConv2d = conv (no bias) + batch
 * norm (eps 1e-3) + ReLU, input resized bilinearly to 299 (align_corners=False) and mapped to
 * [-1, 1], 2048-d pool3 features (or pytorch-fid's 64/192/768-d blocks).
 *
 * Weights are not bundled (they cannot be downloaded here): load them from the torchvision-named
 * state dict of `pt_inception-2015-12-05-6726825d.pth` (converted by the checkpoint importer) or
 * from a runtime checkpoint saved with {@link FidInceptionV3.getWeights}.
 */

import type { Rng } from '@artist-ts/core/rng';
import { assertWeightsMatch } from '@artist-ts/core/weight-match';
import { loadCheckpoint, randomUniformTensor } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  BILINEAR_HALF_PIXEL,
  type FeatureExtractor,
  hashNamedTensors,
  resizeBilinear,
} from './extractor';
import type { FeatureProtocol } from './protocol';

export const FID_INCEPTION_ID = 'pytorch-fid-inception-v3';
/** The weights pytorch-fid downloads; their hash makes a score comparable with published FIDs. */
export const PT_INCEPTION_FILE = 'pt_inception-2015-12-05-6726825d.pth';

/** pytorch-fid's `--dims`: which block's globally averaged output is the feature. */
export const FID_INCEPTION_DIMS = [64, 192, 768, 2048] as const;
export type FidInceptionDims = (typeof FID_INCEPTION_DIMS)[number];

export interface FidInceptionConfig {
  /** Feature dimension (block): 2048 = pool3, the standard FID. */
  dims: FidInceptionDims;
  /** Resize target; pytorch-fid always uses 299. Smaller values are for tests only. */
  imageSize: number;
  /**
   * sha256 of the official pytorch-fid weights as {@link hashNamedTensors} computes it, when
   * known: scores are marked comparable with published FIDs only if the loaded weights match.
   */
  referenceWeightsHash: string | null;
}

export const DEFAULT_FID_INCEPTION_CONFIG: Readonly<FidInceptionConfig> = Object.freeze({
  dims: 2048 as const,
  imageSize: 299,
  referenceWeightsHash: null,
});

/** Copies `config`, fills defaults and throws an error naming the bad field. */
export function validateFidInceptionConfig(
  config: Partial<FidInceptionConfig> = {},
): FidInceptionConfig {
  const c: FidInceptionConfig = { ...DEFAULT_FID_INCEPTION_CONFIG, ...config };
  if (!FID_INCEPTION_DIMS.includes(c.dims)) {
    throw new RangeError(
      `FidInceptionConfig.dims: expected one of ${FID_INCEPTION_DIMS.join(', ')}, got ${c.dims}`,
    );
  }
  if (!Number.isInteger(c.imageSize) || c.imageSize < 75) {
    throw new RangeError(
      `FidInceptionConfig.imageSize: expected an integer >= 75, got ${c.imageSize}`,
    );
  }
  if (c.referenceWeightsHash !== null && !/^sha256:[0-9a-f]{64}$/.test(c.referenceWeightsHash)) {
    throw new RangeError(
      `FidInceptionConfig.referenceWeightsHash: expected null or 'sha256:<64 hex>'`,
    );
  }
  return c;
}

/** One BasicConv2d: torch Conv2d(cin, cout, kernel, stride, padding, bias=False) + BN + ReLU. */
interface ConvSpec {
  name: string;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  ph: number;
  pw: number;
}

function convSpecs(): ConvSpec[] {
  const specs: ConvSpec[] = [];
  const c = (
    name: string,
    cin: number,
    cout: number,
    k: number | [number, number],
    stride = 1,
    pad: number | [number, number] = 0,
  ) => {
    const [kh, kw] = typeof k === 'number' ? [k, k] : k;
    const [ph, pw] = typeof pad === 'number' ? [pad, pad] : pad;
    specs.push({ name, cin, cout, kh, kw, stride, ph, pw });
  };
  c('Conv2d_1a_3x3', 3, 32, 3, 2);
  c('Conv2d_2a_3x3', 32, 32, 3);
  c('Conv2d_2b_3x3', 32, 64, 3, 1, 1);
  c('Conv2d_3b_1x1', 64, 80, 1);
  c('Conv2d_4a_3x3', 80, 192, 3);
  const blockA = (n: string, cin: number, pool: number) => {
    c(`${n}.branch1x1`, cin, 64, 1);
    c(`${n}.branch5x5_1`, cin, 48, 1);
    c(`${n}.branch5x5_2`, 48, 64, 5, 1, 2);
    c(`${n}.branch3x3dbl_1`, cin, 64, 1);
    c(`${n}.branch3x3dbl_2`, 64, 96, 3, 1, 1);
    c(`${n}.branch3x3dbl_3`, 96, 96, 3, 1, 1);
    c(`${n}.branch_pool`, cin, pool, 1);
  };
  blockA('Mixed_5b', 192, 32);
  blockA('Mixed_5c', 256, 64);
  blockA('Mixed_5d', 288, 64);
  c('Mixed_6a.branch3x3', 288, 384, 3, 2);
  c('Mixed_6a.branch3x3dbl_1', 288, 64, 1);
  c('Mixed_6a.branch3x3dbl_2', 64, 96, 3, 1, 1);
  c('Mixed_6a.branch3x3dbl_3', 96, 96, 3, 2);
  const blockC = (n: string, c7: number) => {
    c(`${n}.branch1x1`, 768, 192, 1);
    c(`${n}.branch7x7_1`, 768, c7, 1);
    c(`${n}.branch7x7_2`, c7, c7, [1, 7], 1, [0, 3]);
    c(`${n}.branch7x7_3`, c7, 192, [7, 1], 1, [3, 0]);
    c(`${n}.branch7x7dbl_1`, 768, c7, 1);
    c(`${n}.branch7x7dbl_2`, c7, c7, [7, 1], 1, [3, 0]);
    c(`${n}.branch7x7dbl_3`, c7, c7, [1, 7], 1, [0, 3]);
    c(`${n}.branch7x7dbl_4`, c7, c7, [7, 1], 1, [3, 0]);
    c(`${n}.branch7x7dbl_5`, c7, 192, [1, 7], 1, [0, 3]);
    c(`${n}.branch_pool`, 768, 192, 1);
  };
  blockC('Mixed_6b', 128);
  blockC('Mixed_6c', 160);
  blockC('Mixed_6d', 160);
  blockC('Mixed_6e', 192);
  c('Mixed_7a.branch3x3_1', 768, 192, 1);
  c('Mixed_7a.branch3x3_2', 192, 320, 3, 2);
  c('Mixed_7a.branch7x7x3_1', 768, 192, 1);
  c('Mixed_7a.branch7x7x3_2', 192, 192, [1, 7], 1, [0, 3]);
  c('Mixed_7a.branch7x7x3_3', 192, 192, [7, 1], 1, [3, 0]);
  c('Mixed_7a.branch7x7x3_4', 192, 192, 3, 2);
  const blockE = (n: string, cin: number) => {
    c(`${n}.branch1x1`, cin, 320, 1);
    c(`${n}.branch3x3_1`, cin, 384, 1);
    c(`${n}.branch3x3_2a`, 384, 384, [1, 3], 1, [0, 1]);
    c(`${n}.branch3x3_2b`, 384, 384, [3, 1], 1, [1, 0]);
    c(`${n}.branch3x3dbl_1`, cin, 448, 1);
    c(`${n}.branch3x3dbl_2`, 448, 384, 3, 1, 1);
    c(`${n}.branch3x3dbl_3a`, 384, 384, [1, 3], 1, [0, 1]);
    c(`${n}.branch3x3dbl_3b`, 384, 384, [3, 1], 1, [1, 0]);
    c(`${n}.branch_pool`, cin, 192, 1);
  };
  blockE('Mixed_7b', 1280);
  blockE('Mixed_7c', 2048);
  return specs;
}

/** The conv layers, in order, with torch state-dict prefixes. */
export const FID_INCEPTION_CONVS: readonly ConvSpec[] = Object.freeze(convSpecs());

/** Torch state-dict suffixes of one BasicConv2d. */
const TORCH_SUFFIXES = [
  'conv.weight',
  'bn.weight',
  'bn.bias',
  'bn.running_mean',
  'bn.running_var',
] as const;
/** Keys of the .pth that the feature network does not use. */
const IGNORED = [/^fc\./, /^AuxLogits\./, /\.num_batches_tracked$/];
const isIgnored = (name: string): boolean => IGNORED.some((r) => r.test(name));

/** Name -> shape of every weight the extractor reads, conv kernels in torch or tfjs layout. */
function expectedShapes(layout: 'torch' | 'tfjs'): Map<string, number[]> {
  const expected = new Map<string, number[]>();
  for (const s of FID_INCEPTION_CONVS) {
    expected.set(
      `${s.name}.conv.weight`,
      layout === 'torch' ? [s.cout, s.cin, s.kh, s.kw] : [s.kh, s.kw, s.cin, s.cout],
    );
    for (const suf of TORCH_SUFFIXES.slice(1)) expected.set(`${s.name}.${suf}`, [s.cout]);
  }
  return expected;
}

function shapesOf(weights: Record<string, { shape: number[] }>): [string, number[]][] {
  return Object.entries(weights).map(([name, w]) => [name, w.shape]);
}
const BN_EPS = 1e-3;

/** A tensor given as data (e.g. from a converted .pth) or as a tfjs tensor. */
export type WeightLike = tf.Tensor | { shape: number[]; data: ArrayLike<number> };

interface ConvParams {
  /** [kh, kw, cin, cout] */
  kernel: tf.Tensor4D;
  /** Folded batch norm: y = conv * scale + shift, as torch's CPU inference kernel computes it. */
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

function toArray(w: WeightLike): { shape: number[]; data: Float64Array } {
  if (w instanceof tf.Tensor)
    return { shape: w.shape.slice(), data: Float64Array.from(w.dataSync()) };
  return { shape: w.shape.slice(), data: Float64Array.from(w.data) };
}

/** FID InceptionV3 feature extractor (inference only). */
export class FidInceptionV3 implements FeatureExtractor {
  readonly protocol: FeatureProtocol;
  private readonly params: Map<string, ConvParams>;
  /** The batch-norm vectors as loaded (gamma, beta, mean, var), for {@link getWeights}. */
  private readonly bn: Map<string, Float32Array>;
  private disposed = false;

  private constructor(
    params: Map<string, ConvParams>,
    bn: Map<string, Float32Array>,
    readonly config: FidInceptionConfig,
    weightsHash: string,
  ) {
    this.params = params;
    this.bn = bn;
    this.protocol = {
      extractor: `${FID_INCEPTION_ID}-${config.dims === 2048 ? 'pool3' : `block${config.dims}`}`,
      weightsHash,
      featureDim: config.dims,
      imageSize: config.imageSize,
      resize: BILINEAR_HALF_PIXEL,
      comparableWithPublished:
        config.referenceWeightsHash !== null &&
        weightsHash === config.referenceWeightsHash &&
        config.imageSize === 299,
    };
  }

  /**
   * From a torchvision-named state dict (`Mixed_5b.branch1x1.conv.weight` [out, in, kh, kw],
   * `...bn.weight|bias|running_mean|running_var`). `fc.*`, `AuxLogits.*` and
   * `num_batches_tracked` are ignored; anything missing, unexpected or mis-shaped throws a
   * WeightMismatchError (`@artist-ts/core/weight-match`) listing all of them.
   */
  static fromTorchStateDict(
    stateDict: Record<string, WeightLike>,
    config: Partial<FidInceptionConfig> = {},
    source = 'state dict',
  ): FidInceptionV3 {
    const c = validateFidInceptionConfig(config);
    assertWeightsMatch(source, expectedShapes('torch'), shapesOf(stateDict), { ignore: isIgnored });
    const tfjsWeights: Record<string, tf.Tensor> = {};
    try {
      for (const s of FID_INCEPTION_CONVS) {
        const w = toArray(stateDict[`${s.name}.conv.weight`]!).data; // [out, in, kh, kw]
        const hwio = new Float32Array(w.length);
        for (let o = 0; o < s.cout; o++)
          for (let i = 0; i < s.cin; i++)
            for (let y = 0; y < s.kh; y++)
              for (let x = 0; x < s.kw; x++) {
                hwio[((y * s.kw + x) * s.cin + i) * s.cout + o] =
                  w[((o * s.cin + i) * s.kh + y) * s.kw + x]!;
              }
        tfjsWeights[`${s.name}.conv.weight`] = tf.tensor4d(hwio, [s.kh, s.kw, s.cin, s.cout]);
        for (const suf of TORCH_SUFFIXES.slice(1)) {
          tfjsWeights[`${s.name}.${suf}`] = tf.tensor1d(
            Float32Array.from(toArray(stateDict[`${s.name}.${suf}`]!).data),
          );
        }
      }
      return FidInceptionV3.fromTfjsWeights(tfjsWeights, c, source);
    } finally {
      tf.dispose(Object.values(tfjsWeights));
    }
  }

  /**
   * From weights in tfjs layout (conv kernels [kh, kw, in, out], same names as the torch state
   * dict), as {@link getWeights} returns and runtime checkpoints store. Tensors are copied.
   */
  static fromTfjsWeights(
    weights: Record<string, tf.Tensor>,
    config: Partial<FidInceptionConfig> = {},
    source = 'weights',
  ): FidInceptionV3 {
    const c = validateFidInceptionConfig(config);
    const expected = expectedShapes('tfjs');
    assertWeightsMatch(source, expected, shapesOf(weights), { ignore: isIgnored });
    const used: Record<string, tf.Tensor> = {};
    for (const k of expected.keys()) used[k] = weights[k]!;
    const hash = hashNamedTensors(used);
    const params = new Map<string, ConvParams>();
    const bn = new Map<string, Float32Array>();
    for (const s of FID_INCEPTION_CONVS) {
      const vec = (suffix: string): Float32Array => {
        const v = Float32Array.from(weights[`${s.name}.${suffix}`]!.dataSync());
        bn.set(`${s.name}.${suffix}`, v);
        return v;
      };
      const gamma = vec('bn.weight');
      const beta = vec('bn.bias');
      const mean = vec('bn.running_mean');
      const variance = vec('bn.running_var');
      const scale = new Float32Array(s.cout);
      const shift = new Float32Array(s.cout);
      for (let o = 0; o < s.cout; o++) {
        // torch batch_norm CPU inference: alpha = w / sqrt(var + eps); beta' = b - mean * alpha.
        const inv = Math.fround(1 / Math.sqrt(Math.fround(variance[o]! + BN_EPS)));
        scale[o] = Math.fround(gamma[o]! * inv);
        shift[o] = Math.fround(beta[o]! - mean[o]! * scale[o]!);
      }
      params.set(s.name, {
        kernel: tf.keep(weights[`${s.name}.conv.weight`]!.clone()) as tf.Tensor4D,
        scale: tf.tensor1d(scale),
        shift: tf.tensor1d(shift),
      });
    }
    return new FidInceptionV3(params, bn, c, hash);
  }

  /** From a runtime checkpoint folder holding {@link getWeights} (tfjs layout). */
  static async fromCheckpoint(
    path: string,
    config: Partial<FidInceptionConfig> = {},
  ): Promise<FidInceptionV3> {
    const ckpt = await loadCheckpoint(path);
    try {
      return FidInceptionV3.fromTfjsWeights(ckpt.weights, config, ckpt.dir);
    } finally {
      tf.dispose(Object.values(ckpt.weights));
    }
  }

  /**
   * Random weights (He-uniform kernels, identity batch norm) from a seeded Rng: for tests of
   * shapes and plumbing only; features from it mean nothing.
   */
  static randomInit(rng: Rng, config: Partial<FidInceptionConfig> = {}): FidInceptionV3 {
    const weights: Record<string, tf.Tensor> = {};
    try {
      for (const s of FID_INCEPTION_CONVS) {
        const a = Math.sqrt(6 / (s.cin * s.kh * s.kw));
        weights[`${s.name}.conv.weight`] = randomUniformTensor(
          rng,
          [s.kh, s.kw, s.cin, s.cout],
          -a,
          a,
        );
        weights[`${s.name}.bn.weight`] = tf.ones([s.cout]);
        weights[`${s.name}.bn.bias`] = tf.zeros([s.cout]);
        weights[`${s.name}.bn.running_mean`] = tf.zeros([s.cout]);
        weights[`${s.name}.bn.running_var`] = tf.ones([s.cout]);
      }
      return FidInceptionV3.fromTfjsWeights(weights, config, 'random init');
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  /**
   * The weights in tfjs layout (conv kernels [kh, kw, in, out]; batch-norm vectors as loaded),
   * named as the torch state dict; loading them back gives the same weights hash. The caller owns
   * the tensors (pass them to the runtime's saveCheckpoint).
   */
  getWeights(): Record<string, tf.Tensor> {
    this.assertAlive();
    const out: Record<string, tf.Tensor> = {};
    for (const s of FID_INCEPTION_CONVS) {
      out[`${s.name}.conv.weight`] = this.params.get(s.name)!.kernel.clone();
      for (const suf of TORCH_SUFFIXES.slice(1))
        out[`${s.name}.${suf}`] = tf.tensor1d(this.bn.get(`${s.name}.${suf}`)!);
    }
    return out;
  }

  private conv(name: string, x: tf.Tensor4D): tf.Tensor4D {
    const s = FID_INCEPTION_CONVS_BY_NAME.get(name)!;
    const p = this.params.get(name)!;
    const pad: 'valid' | [[number, number], [number, number], [number, number], [number, number]] =
      s.ph === 0 && s.pw === 0
        ? 'valid'
        : [
            [0, 0],
            [s.ph, s.ph],
            [s.pw, s.pw],
            [0, 0],
          ];
    const y = tf.conv2d(x, p.kernel, s.stride, pad); // [b, h', w', cout]
    return tf.relu(tf.add(tf.mul(y, p.scale), p.shift)) as tf.Tensor4D;
  }

  private blockA(n: string, x: tf.Tensor4D): tf.Tensor4D {
    const b1 = this.conv(`${n}.branch1x1`, x);
    const b5 = this.conv(`${n}.branch5x5_2`, this.conv(`${n}.branch5x5_1`, x));
    let b3 = this.conv(`${n}.branch3x3dbl_1`, x);
    b3 = this.conv(`${n}.branch3x3dbl_3`, this.conv(`${n}.branch3x3dbl_2`, b3));
    // FIDInceptionA: avg_pool2d(3, 1, 1, count_include_pad=False) == TF 'same' average pooling.
    const bp = this.conv(`${n}.branch_pool`, tf.avgPool(x, 3, 1, 'same'));
    return tf.concat([b1, b5, b3, bp], 3);
  }

  private blockB(x: tf.Tensor4D): tf.Tensor4D {
    const n = 'Mixed_6a';
    const b3 = this.conv(`${n}.branch3x3`, x);
    let bd = this.conv(`${n}.branch3x3dbl_1`, x);
    bd = this.conv(`${n}.branch3x3dbl_3`, this.conv(`${n}.branch3x3dbl_2`, bd));
    const bp = tf.maxPool(x, 3, 2, 'valid');
    return tf.concat([b3, bd, bp], 3);
  }

  private blockC(n: string, x: tf.Tensor4D): tf.Tensor4D {
    const b1 = this.conv(`${n}.branch1x1`, x);
    let b7 = this.conv(`${n}.branch7x7_1`, x);
    b7 = this.conv(`${n}.branch7x7_3`, this.conv(`${n}.branch7x7_2`, b7));
    let bd = this.conv(`${n}.branch7x7dbl_1`, x);
    bd = this.conv(`${n}.branch7x7dbl_3`, this.conv(`${n}.branch7x7dbl_2`, bd));
    bd = this.conv(`${n}.branch7x7dbl_5`, this.conv(`${n}.branch7x7dbl_4`, bd));
    const bp = this.conv(`${n}.branch_pool`, tf.avgPool(x, 3, 1, 'same')); // FIDInceptionC
    return tf.concat([b1, b7, bd, bp], 3);
  }

  private blockD(x: tf.Tensor4D): tf.Tensor4D {
    const n = 'Mixed_7a';
    const b3 = this.conv(`${n}.branch3x3_2`, this.conv(`${n}.branch3x3_1`, x));
    let b7 = this.conv(`${n}.branch7x7x3_1`, x);
    b7 = this.conv(`${n}.branch7x7x3_3`, this.conv(`${n}.branch7x7x3_2`, b7));
    b7 = this.conv(`${n}.branch7x7x3_4`, b7);
    const bp = tf.maxPool(x, 3, 2, 'valid');
    return tf.concat([b3, b7, bp], 3);
  }

  private blockE(n: string, x: tf.Tensor4D, pool: 'avg' | 'max'): tf.Tensor4D {
    const b1 = this.conv(`${n}.branch1x1`, x);
    const b3i = this.conv(`${n}.branch3x3_1`, x);
    const b3 = tf.concat(
      [this.conv(`${n}.branch3x3_2a`, b3i), this.conv(`${n}.branch3x3_2b`, b3i)],
      3,
    );
    const bdi = this.conv(`${n}.branch3x3dbl_2`, this.conv(`${n}.branch3x3dbl_1`, x));
    const bd = tf.concat(
      [this.conv(`${n}.branch3x3dbl_3a`, bdi), this.conv(`${n}.branch3x3dbl_3b`, bdi)],
      3,
    );
    // FIDInceptionE_1: avg pool without padding counts; FIDInceptionE_2: max pool (a TF bug kept).
    const pooled = pool === 'avg' ? tf.avgPool(x, 3, 1, 'same') : tf.maxPool(x, 3, 1, 'same');
    const bp = this.conv(`${n}.branch_pool`, pooled);
    return tf.concat([b1, b3, bd, bp], 3);
  }

  features(images: tf.Tensor4D): tf.Tensor2D {
    this.assertAlive();
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new RangeError(`images: expected [b, h, w, 3], got [${images.shape.join(', ')}]`);
    }
    const dims = this.config.dims;
    return tf.tidy(() => {
      const gap = (t: tf.Tensor4D) => tf.mean(t, [1, 2]) as tf.Tensor2D; // adaptive_avg_pool2d(1)
      const r = resizeBilinear(images, this.config.imageSize); // [b, 299, 299, 3] in [0, 1]
      let x = tf.sub(tf.mul(r, 2), 1) as tf.Tensor4D; // normalize_input: [-1, 1]
      x = this.conv('Conv2d_1a_3x3', x); // [b, 149, 149, 32]
      x = this.conv('Conv2d_2a_3x3', x); // [b, 147, 147, 32]
      x = this.conv('Conv2d_2b_3x3', x); // [b, 147, 147, 64]
      x = tf.maxPool(x, 3, 2, 'valid'); // [b, 73, 73, 64]
      if (dims === 64) return gap(x);
      x = this.conv('Conv2d_3b_1x1', x); // [b, 73, 73, 80]
      x = this.conv('Conv2d_4a_3x3', x); // [b, 71, 71, 192]
      x = tf.maxPool(x, 3, 2, 'valid'); // [b, 35, 35, 192]
      if (dims === 192) return gap(x);
      x = this.blockA('Mixed_5b', x); // [b, 35, 35, 256]
      x = this.blockA('Mixed_5c', x); // [b, 35, 35, 288]
      x = this.blockA('Mixed_5d', x); // [b, 35, 35, 288]
      x = this.blockB(x); // [b, 17, 17, 768]
      x = this.blockC('Mixed_6b', x);
      x = this.blockC('Mixed_6c', x);
      x = this.blockC('Mixed_6d', x);
      x = this.blockC('Mixed_6e', x); // [b, 17, 17, 768]
      if (dims === 768) return gap(x);
      x = this.blockD(x); // [b, 8, 8, 1280]
      x = this.blockE('Mixed_7b', x, 'avg'); // [b, 8, 8, 2048]
      x = this.blockE('Mixed_7c', x, 'max'); // [b, 8, 8, 2048]
      return gap(x); // [b, 2048]
    });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const p of this.params.values()) tf.dispose([p.kernel, p.scale, p.shift]);
    this.params.clear();
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('FidInceptionV3: used after dispose()');
  }
}

const FID_INCEPTION_CONVS_BY_NAME = new Map(FID_INCEPTION_CONVS.map((s) => [s.name, s]));
