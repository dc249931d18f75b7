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
 * Backend-safe: every convolution kernel this module calls, forward and backward, gets padding
 * 'valid' or 'same' (tfjs-node's Conv2DBackpropInput / Conv2DBackpropFilter accept nothing
 * else). PyTorch-style pads become 'same' where TF's SAME rule gives exactly those pads for the
 * input at hand (3x3 stride-1 pad 1; taming's Downsample pad on even inputs; 4x4 stride-2 pad 1
 * on even inputs), and an explicit `tf.pad` followed by a 'valid' conv elsewhere, so the
 * gradients tfjs derives call only 'valid'/'same' kernels too.
 *
 * Only standard tfjs ops are used.
 */
import { runtimeInfo } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';

/**
 * How conv weight gradients are computed (see the module comment). `'auto'` (the default) picks
 * `'kernel'` where the backend's `Conv2DBackpropFilter` is fast (native kernels installed by
 * `initRuntime`, tfjs-node, GPU backends) and `'conv'` elsewhere (stock cpu, wasm without the
 * addon). On wasm + native kernels a `nano` step measured 0.191 s CPU with `'kernel'` and 0.209 s
 * with `'conv'` (medians of three alternating runs).
 */
export type ConvGradMode = 'auto' | 'conv' | 'kernel';

let convGradMode: ConvGradMode = 'auto';

/** Selects the weight-gradient path of every conv of this package (global; default `'auto'`). */
export function setConvGradMode(mode: ConvGradMode): void {
  if (mode !== 'auto' && mode !== 'conv' && mode !== 'kernel') {
    throw new Error(
      `setConvGradMode: mode must be 'auto', 'conv' or 'kernel', got '${String(mode)}'`,
    );
  }
  convGradMode = mode;
}

export function getConvGradMode(): ConvGradMode {
  return convGradMode;
}

/** The path `'auto'` stands for on the current backend (or the explicit setting). */
export function resolvedConvGradMode(): 'conv' | 'kernel' {
  if (convGradMode !== 'auto') return convGradMode;
  const backend = tf.getBackend();
  if (backend === 'tensorflow' || backend === 'webgl' || backend === 'webgpu') return 'kernel';
  const info = runtimeInfo();
  if (
    info !== null &&
    info.backend === backend &&
    info.nativeKernels &&
    info.kernels.includes('Conv2DBackpropFilter')
  ) {
    return 'kernel';
  }
  return 'conv';
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

const NO_PAD: Pad4 = [0, 0, 0, 0];

/** TF's SAME padding [before, after] along one axis (tfjs conv_util's rule, dilation 1). */
function samePad(size: number, k: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + k - size);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * How a conv with PyTorch-style `pad` runs on kernels that accept only 'valid' / 'same':
 * `'same'` when TF's SAME rule gives exactly `pad` for this input, else `'valid'` after padding
 * the input with `pre` (all zeros when `pad` is).
 */
export function backendPadding(
  xShape: readonly number[], // [b, h, w, c]
  kernel: readonly [number, number],
  stride: number,
  pad: Pad4,
): { padding: 'same' | 'valid'; pre: Pad4 } {
  if (pad.every((p) => p === 0)) return { padding: 'valid', pre: NO_PAD };
  const [th, bh] = samePad(xShape[1], kernel[0], stride);
  const [lw, rw] = samePad(xShape[2], kernel[1], stride);
  if (th === pad[0] && bh === pad[1] && lw === pad[2] && rw === pad[3])
    return { padding: 'same', pre: NO_PAD };
  return { padding: 'valid', pre: pad };
}

/** `x` zero-padded by `pad` ([top, bottom, left, right]); `x` itself when there is nothing to pad. */
function padInput(x: tf.Tensor4D, pad: Pad4): tf.Tensor4D {
  return pad.some((p) => p !== 0) ? tf.pad(x, explicit(pad)) : x; // [b, h + t + b, w + l + r, c]
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
    let xp = padInput(x, pad); // [b, hp, wp, ci]
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
 * `[co, ci, kh, kw]` transposed by (2, 3, 1, 0)). `inference`: one `tf.fused.conv2d` with the bias
 * (no gradient path needed; @artist-ts/native-kernels adds the bias as the outputs are written,
 * instead of a separate pass over a new tensor).
 */
export function conv2d(
  x: tf.Tensor4D, // [b, h, w, ci]
  w: tf.Tensor4D, // [kh, kw, ci, co]
  bias: tf.Tensor1D | null, // [co]
  stride: number,
  pad: Pad4,
  inference = false,
): tf.Tensor4D {
  const [kh, kw] = [w.shape[0], w.shape[1]];
  const { padding, pre } = backendPadding(x.shape, [kh, kw], stride, pad);
  if (inference) {
    return tf.tidy(() =>
      tf.fused.conv2d({
        x: padInput(x, pre),
        filter: w,
        strides: stride,
        pad: padding,
        bias: bias ?? undefined,
      }),
    );
  }
  // 'same' pads inside the kernel: the filter gradient below needs those pads spelled out.
  const kernelPad = padding === 'same' ? pad : NO_PAD;
  const xin = padInput(x, pre); // [b, h', w', ci]
  let y: tf.Tensor4D;
  if (resolvedConvGradMode() === 'kernel' || !(w instanceof tf.Variable && w.trainable)) {
    // Constant kernels (e.g. LPIPS's VGG) need no weight gradient: tfjs's own gradient then only
    // computes the input gradient.
    y = tf.conv2d(xin, w, stride, padding);
  } else {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x4 = args[0] as tf.Tensor4D;
      const w4 = args[1] as tf.Tensor4D;
      const save = args[2] as tf.GradSaveFunc;
      save([x4, w4]);
      return {
        value: tf.conv2d(x4, w4, stride, padding), // [b, ho, wo, co]
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
          const dy4 = dy as tf.Tensor4D;
          const dx = tf.conv2dTranspose(dy4, ws, xs.shape, stride, padding); // [b, h', w', ci]
          const dw = convFilterGrad(xs, dy4, [kh, kw], stride, kernelPad);
          return [dx, dw];
        },
      };
    });
    y = op(xin, w) as tf.Tensor4D;
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

/**
 * Rows of M (4x3) fold nearest-x2 upsampling into the 3x3 conv that follows it: along one axis,
 * output 2i+t-1 (t = 0..3) takes input i with weight sum_a M[t][a] w[a], because
 * y[2i] = w0 x[i-1] + (w1 + w2) x[i] and y[2i+1] = (w0 + w1) x[i] + w2 x[i+1].
 */
const UPSAMPLE_FOLD = [0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0];

/**
 * The 3x3 kernel `w` [3, 3, ci, co] of taming's Upsample as the equivalent stride-2 4x4
 * transposed-conv filter [4, 4, co, ci] (tfjs conv2dTranspose layout): K[s, t] = M w M^T.
 * Differentiable (two matmuls and transposes), so the gradient reaches `w`.
 */
export function foldUpsampleKernel(w: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy((): tf.Tensor4D => {
    const [kh, kw, ci, co] = w.shape;
    if (kh !== 3 || kw !== 3)
      throw new Error(`foldUpsampleKernel: expected a 3x3 kernel, got [${w.shape}]`);
    const m = tf.tensor2d(UPSAMPLE_FOLD, [4, 3]);
    const x = ci * co;
    const a = tf.reshape(tf.matMul(m, tf.reshape(w, [3, 3 * x])), [4, 3, x]); // [s, b, x]
    const at = tf.reshape(tf.transpose(a, [1, 0, 2]), [3, 4 * x]); // [b, (s, x)]
    const k = tf.reshape(tf.matMul(m, at), [4, 4, ci, co]); // [t, s, ci, co]
    return tf.transpose(k, [1, 0, 3, 2]) as tf.Tensor4D; // [s, t, co, ci]
  });
}

/**
 * taming's Upsample(with_conv), `conv3x3(pad 1)(nearest_x2(x))`, computed exactly as one stride-2
 * transposed conv with the folded 4x4 kernel: no upsampled copy of `x`, 16 instead of 36
 * multiply-adds per input pixel and channel pair, and a gradient made of a conv and a filter
 * gradient (fast-path or tfjs's kernel, per `setConvGradMode`).
 */
export function upsampleConv2d(
  x: tf.Tensor4D, // [b, h, w, ci]
  w: tf.Tensor4D, // [3, 3, ci, co]
  bias: tf.Tensor1D | null, // [co]
): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, wd] = x.shape;
    const co = w.shape[3];
    const outShape: [number, number, number, number] = [b, 2 * h, 2 * wd, co];
    const k = foldUpsampleKernel(w); // [4, 4, co, ci]
    let y: tf.Tensor4D;
    if (resolvedConvGradMode() === 'kernel') {
      // 'same' for a stride-2 4x4 kernel on the 2h x 2w output is exactly pad 1 on every side.
      y = tf.conv2dTranspose(x, k, outShape, 2, 'same');
    } else {
      const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const x4 = args[0] as tf.Tensor4D;
        const k4 = args[1] as tf.Tensor4D;
        const save = args[2] as tf.GradSaveFunc;
        save([x4, k4]);
        return {
          value: tf.conv2dTranspose(x4, k4, outShape, 2, 'same'), // [b, 2h, 2w, co]
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [xs, ks] = saved as [tf.Tensor4D, tf.Tensor4D];
            const dy4 = dy as tf.Tensor4D;
            const dx = tf.conv2d(dy4, ks, 2, 'same'); // [b, h, w, ci]
            // y = convT(x, K) is the input gradient of conv(y; K), so dK is that conv's filter
            // gradient with the roles swapped: input dy, output gradient x.
            const dk = convFilterGrad(dy4, xs, [4, 4], 2, [1, 1, 1, 1]); // [4, 4, co, ci]
            return [dx, dk];
          },
        };
      });
      y = op(x, k) as tf.Tensor4D;
    }
    return bias ? tf.add(y, bias) : y;
  });
}
