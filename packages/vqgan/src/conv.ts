/**
 * 2-D convolution with PyTorch-style explicit padding and a fast weight gradient.
 *
 * The stock tfjs `cpu` kernel `Conv2DBackpropFilter` runs at about 0.013 GFLOP/s (measured: 27-31 s
 * for one 3x3 conv of batch 8, 32x32x32 -> 32), 50-75x slower than the forward conv. The weight
 * gradient of a convolution is itself a convolution: dW[i, j, ci, co] = sum_{b, y, x}
 * xpad[b, s*y + i, s*x + j, ci] * dy[b, y, x, co], i.e. a stride-1 conv of the transposed input
 * `[ci, Hp, Wp, b]` with `dy` transposed to a filter `[Ho, Wo, b, co]`, dilated by the stride. In
 * `'conv'` mode (the default) the gradient is computed that way through the ordinary `Conv2D`
 * kernel, so it is as fast as a forward conv on every backend and benefits from any native
 * `Conv2D` override. `'kernel'` mode uses tfjs's own gradient (`Conv2DBackpropFilter`), for
 * backends whose kernel is fast.
 *
 * Only standard tfjs ops are used.
 */
import * as tf from '@tensorflow/tfjs';

/** How conv weight gradients are computed (see the module comment). */
export type ConvGradMode = 'conv' | 'kernel';

let convGradMode: ConvGradMode = 'conv';

/** Selects the weight-gradient path of every conv of this package (global; default `'conv'`). */
export function setConvGradMode(mode: ConvGradMode): void {
  if (mode !== 'conv' && mode !== 'kernel') {
    throw new Error(`setConvGradMode: mode must be 'conv' or 'kernel', got '${String(mode)}'`);
  }
  convGradMode = mode;
}

export function getConvGradMode(): ConvGradMode {
  return convGradMode;
}

/** Padding as [top, bottom, left, right] (PyTorch `padding=p` is [p, p, p, p]). */
export type Pad4 = readonly [number, number, number, number];

function explicit(
  pad: Pad4,
): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [pad[0], pad[1]],
    [pad[2], pad[3]],
    [0, 0],
  ];
}

/** Weight gradient of `conv2d(x, w, stride, pad)` given the output gradient `dy`, via a conv. */
export function convFilterGrad(
  x: tf.Tensor4D, // [b, h, w, ci]
  dy: tf.Tensor4D, // [b, ho, wo, co]
  kernel: readonly [number, number],
  stride: number,
  pad: Pad4,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = kernel;
    const [, ho, wo] = dy.shape;
    let xp: tf.Tensor4D = pad.some((p) => p !== 0) ? tf.pad(x, explicit(pad)) : x; // [b, hp, wp, ci]
    // Rows/cols that no output position reads (when (hp - kh) % stride != 0) are dropped.
    const needH = (ho - 1) * stride + kh;
    const needW = (wo - 1) * stride + kw;
    if (xp.shape[1] !== needH || xp.shape[2] !== needW) {
      xp = tf.slice(xp, [0, 0, 0, 0], [xp.shape[0], needH, needW, xp.shape[3]]);
    }
    const xt = tf.transpose(xp, [3, 1, 2, 0]); // [ci, hp, wp, b]
    const f = tf.transpose(dy, [1, 2, 0, 3]); // [ho, wo, b, co]
    const g = tf.conv2d(xt, f, 1, 'valid', 'NHWC', stride); // [ci, kh, kw, co]
    return tf.transpose(g, [1, 2, 0, 3]); // [kh, kw, ci, co]
  });
}

/**
 * `y = conv2d(x, w) + bias` with explicit padding. `w` is `[kh, kw, ci, co]` (tfjs layout; taming's
 * `[co, ci, kh, kw]` transposed by (2, 3, 1, 0)).
 */
export function conv2d(
  x: tf.Tensor4D, // [b, h, w, ci]
  w: tf.Tensor4D, // [kh, kw, ci, co]
  bias: tf.Tensor1D | null, // [co]
  stride: number,
  pad: Pad4,
): tf.Tensor4D {
  const padArg = explicit(pad);
  let y: tf.Tensor4D;
  if (convGradMode === 'kernel' || !(w instanceof tf.Variable && w.trainable)) {
    // Constant kernels (e.g. LPIPS's VGG) need no weight gradient: tfjs's own gradient then only
    // computes the input gradient.
    y = tf.conv2d(x, w, stride, padArg);
  } else {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x4 = args[0] as tf.Tensor4D;
      const w4 = args[1] as tf.Tensor4D;
      const save = args[2] as tf.GradSaveFunc;
      save([x4, w4]);
      return {
        value: tf.conv2d(x4, w4, stride, padArg), // [b, ho, wo, co]
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
          const dy4 = dy as tf.Tensor4D;
          const dx = tf.conv2dTranspose(dy4, ws, xs.shape, stride, padArg); // [b, h, w, ci]
          const dw = convFilterGrad(xs, dy4, [ws.shape[0], ws.shape[1]], stride, pad);
          return [dx, dw];
        },
      };
    });
    y = op(x, w) as tf.Tensor4D;
  }
  return bias ? tf.add(y, bias) : y;
}

/** A 1x1 conv as a matmul: `x [b, h, w, ci] @ w [1, 1, ci, co] + bias`. */
export function conv1x1(
  x: tf.Tensor4D, // [b, h, w, ci]
  w: tf.Tensor4D, // [1, 1, ci, co]
  bias: tf.Tensor1D | null,
): tf.Tensor4D {
  const [b, h, wd, ci] = x.shape;
  const co = w.shape[3];
  const flat = tf.reshape(x, [b * h * wd, ci]); // [bhw, ci]
  let y = tf.matMul(flat, tf.reshape(w, [ci, co])); // [bhw, co]
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [b, h, wd, co]);
}
