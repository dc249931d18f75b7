/**
 * Perceptual loss hook and LPIPS (Zhang et al. 2018; taming/modules/losses/lpips.py) for users who
 * have the weights. Nothing is downloaded: LPIPS needs ImageNet VGG16 conv weights and the LPIPS
 * `lin` layers, converted to our checkpoint format (see README). Names are taming's, with or
 * without the `loss.perceptual_loss.` prefix a taming `last.ckpt` uses:
 *   net.slice{1..5}.{i}.{weight,bias}  VGG16 `features[i]` convs, weight [3, 3, in, out]
 *   lin{0..4}.model.1.weight           1x1 convs [1, 1, C, 1], no bias
 */
import { readCheckpoint } from '@artist-ts/core/checkpoint-files';
import type { RawTensor } from '@artist-ts/core/trainer-state';
import * as tf from '@tensorflow/tfjs';
import { conv1x1, conv2d } from './conv';

/** A differentiable perceptual distance: mean over the batch, as a scalar. */
export type PerceptualLoss = (x: tf.Tensor4D, xrec: tf.Tensor4D) => tf.Scalar;

/** VGG16 `features` conv indices per LPIPS slice and their output channels. */
export const LPIPS_VGG_SLICES: readonly { slice: number; convs: number[]; channels: number[] }[] = [
  { slice: 1, convs: [0, 2], channels: [64, 64] },
  { slice: 2, convs: [5, 7], channels: [128, 128] },
  { slice: 3, convs: [10, 12, 14], channels: [256, 256, 256] },
  { slice: 4, convs: [17, 19, 21], channels: [512, 512, 512] },
  { slice: 5, convs: [24, 26, 28], channels: [512, 512, 512] },
];

const SHIFT = [-0.03, -0.088, -0.188];
const SCALE = [0.458, 0.448, 0.45];
const PREFIX = 'loss.perceptual_loss.';

/** Every weight name and shape LPIPS needs (our layout). */
export function lpipsWeightSpecs(): { name: string; shape: number[] }[] {
  const specs: { name: string; shape: number[] }[] = [];
  let cin = 3;
  for (const s of LPIPS_VGG_SLICES) {
    s.convs.forEach((idx, i) => {
      const cout = s.channels[i];
      specs.push({ name: `net.slice${s.slice}.${idx}.weight`, shape: [3, 3, cin, cout] });
      specs.push({ name: `net.slice${s.slice}.${idx}.bias`, shape: [cout] });
      cin = cout;
    });
  }
  LPIPS_VGG_SLICES.forEach((s, i) => {
    specs.push({
      name: `lin${i}.model.1.weight`,
      shape: [1, 1, s.channels[s.channels.length - 1], 1],
    });
  });
  return specs;
}

export class Lpips {
  private readonly weights = new Map<string, tf.Tensor>();

  /** Takes ownership of nothing: the tensors are copied. Throws naming missing or mis-shaped weights. */
  constructor(tensors: RawTensor[] | Record<string, tf.Tensor>, source = 'lpips weights') {
    const byName = new Map<string, { shape: number[]; data: Float32Array | tf.Tensor }>();
    if (Array.isArray(tensors)) {
      for (const t of tensors)
        byName.set(stripPrefix(t.name), { shape: t.shape, data: t.data as Float32Array });
    } else {
      for (const [k, v] of Object.entries(tensors))
        byName.set(stripPrefix(k), { shape: v.shape, data: v });
    }
    const problems: string[] = [];
    for (const spec of lpipsWeightSpecs()) {
      const t = byName.get(spec.name);
      if (!t) problems.push(`missing ${spec.name}`);
      else if (t.shape.join() !== spec.shape.join())
        problems.push(`${spec.name} has shape [${t.shape}], expected [${spec.shape}]`);
    }
    if (problems.length)
      throw new Error(
        `${source}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` ... (${problems.length})` : ''}`,
      );
    for (const spec of lpipsWeightSpecs()) {
      const t = byName.get(spec.name);
      if (!t) continue;
      const tensor =
        t.data instanceof tf.Tensor ? tf.clone(t.data) : tf.tensor(t.data, spec.shape, 'float32');
      this.weights.set(spec.name, tf.keep(tensor));
    }
  }

  /** Loads LPIPS weights from a checkpoint folder written with the runtime's checkpoint format. */
  static async load(pathOrRoot: string): Promise<Lpips> {
    const ckpt = await readCheckpoint(pathOrRoot);
    return new Lpips(ckpt.tensors, `${ckpt.dir}/weights.bin`);
  }

  private w<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.weights.get(name) as tf.Tensor<R>;
  }

  /** relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 of the scaled input. */
  features(x: tf.Tensor4D): tf.Tensor4D[] {
    const outs: tf.Tensor4D[] = [];
    let h = tf.div(tf.sub(x, tf.tensor1d(SHIFT)), tf.tensor1d(SCALE)) as tf.Tensor4D;
    for (const s of LPIPS_VGG_SLICES) {
      if (s.slice > 1) h = tf.maxPool(h, 2, 2, 'valid');
      for (const idx of s.convs) {
        const name = `net.slice${s.slice}.${idx}`;
        h = tf.relu(conv2d(h, this.w(`${name}.weight`), this.w(`${name}.bias`), 1, [1, 1, 1, 1]));
      }
      outs.push(h);
    }
    return outs;
  }

  /** Per-image LPIPS distance [b]; inputs in [-1, 1]. */
  distance(x: tf.Tensor4D, y: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => {
      const fx = this.features(x);
      const fy = this.features(y);
      let total: tf.Tensor = tf.zeros([x.shape[0]]);
      fx.forEach((a, i) => {
        const na = tf.div(a, tf.add(tf.sqrt(tf.sum(tf.square(a), 3, true)), 1e-10));
        const nb = tf.div(fy[i], tf.add(tf.sqrt(tf.sum(tf.square(fy[i]), 3, true)), 1e-10));
        const d = tf.square(tf.sub(na, nb)) as tf.Tensor4D; // [b, h, w, c]
        const lin = conv1x1(d, this.w(`lin${i}.model.1.weight`), null); // [b, h, w, 1]
        total = tf.add(total, tf.mean(lin, [1, 2, 3]));
      });
      return total as tf.Tensor1D;
    });
  }

  /** The PerceptualLoss hook: mean LPIPS over the batch. */
  readonly loss: PerceptualLoss = (x, xrec) =>
    tf.tidy(() => tf.mean(this.distance(x, xrec)) as tf.Scalar);

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
    this.weights.clear();
  }
}

function stripPrefix(name: string): string {
  return name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name;
}
