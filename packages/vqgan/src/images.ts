/**
 * Image batches in and out of the model. Images are NHWC. Two encodings are accepted:
 * - uint8 pixels in [0, 255]: a `Uint8Array`/`Uint8ClampedArray` batch, or an int32 tensor;
 * - float pixels in [-1, 1] (x / 127.5 - 1, as EasyNLP and taming feed the VQGAN): a `Float32Array`
 *   batch or a float32 tensor.
 */
import * as tf from '@tensorflow/tfjs';

/** A batch of images as plain memory. */
export interface ImageBatch {
  data: Uint8Array | Uint8ClampedArray | Float32Array;
  /** [b, h, w, c] */
  shape: [number, number, number, number];
}

export type ImageInput = tf.Tensor4D | tf.Tensor3D | ImageBatch;

function isBatch(x: ImageInput): x is ImageBatch {
  return (
    !(x instanceof tf.Tensor) && typeof x === 'object' && x !== null && 'data' in x && 'shape' in x
  );
}

/** Converts any accepted input to a float32 tensor in [-1, 1], [b, h, w, c]. Caller disposes. */
export function toModelInput(images: ImageInput, channels: number, field = 'images'): tf.Tensor4D {
  return tf.tidy(() => {
    let t: tf.Tensor;
    let uint8: boolean;
    if (isBatch(images)) {
      const { data, shape } = images;
      if (!Array.isArray(shape) || shape.length !== 4) {
        throw new Error(`${field}: shape must be [b, h, w, c], got ${JSON.stringify(shape)}`);
      }
      const n = shape.reduce((a, d) => a * d, 1);
      if (data.length !== n) {
        throw new Error(`${field}: shape [${shape}] needs ${n} values, data has ${data.length}`);
      }
      uint8 = !(data instanceof Float32Array);
      t = uint8
        ? tf.tensor4d(Int32Array.from(data), shape, 'int32')
        : tf.tensor4d(data as Float32Array, shape, 'float32');
    } else if (images instanceof tf.Tensor) {
      t = images.rank === 3 ? tf.expandDims(images, 0) : images;
      if (t.rank !== 4)
        throw new Error(`${field}: expected a rank-4 [b, h, w, c] tensor, got rank ${images.rank}`);
      uint8 = t.dtype === 'int32';
      if (t.dtype !== 'int32' && t.dtype !== 'float32') {
        throw new Error(
          `${field}: dtype must be int32 (uint8 pixels) or float32 ([-1, 1]), got ${t.dtype}`,
        );
      }
    } else {
      throw new Error(`${field}: expected a tensor or {data, shape}`);
    }
    if (t.shape[3] !== channels) {
      throw new Error(`${field}: expected ${channels} channels, got shape [${t.shape}]`);
    }
    if (!uint8) return tf.cast(t, 'float32') as tf.Tensor4D;
    // uint8 -> [-1, 1] in JS: a tfjs int32 -> float32 cast may keep an Int32Array store, which
    // some kernel overrides reject.
    const src = t.dataSync();
    const f = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) f[i] = src[i] / 127.5 - 1;
    return tf.tensor4d(f, t.shape as [number, number, number, number], 'float32');
  });
}

/** [-1, 1] float images -> uint8 pixels (clip((x + 1) * 127.5), rounded), as EasyNLP post-processes. */
export function toUint8Pixels(images: tf.Tensor4D): Uint8Array {
  const v = tf.tidy(() => tf.clipByValue(tf.round(tf.mul(tf.add(images, 1), 127.5)), 0, 255));
  const data = v.dataSync();
  v.dispose();
  return Uint8Array.from(data);
}

/** PSNR in dB between two [-1, 1] image tensors (peak-to-peak 2), computed in float64. */
export function psnr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  if (x.length !== y.length) throw new Error(`psnr: sizes differ (${x.length} vs ${y.length})`);
  let se = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.max(-1, Math.min(1, x[i])) - Math.max(-1, Math.min(1, y[i]));
    se += d * d;
  }
  const mse = se / x.length;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(4 / mse);
}
