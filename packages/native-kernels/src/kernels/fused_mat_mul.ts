// _FusedMatMul (tf.fused.matMul, tfjs-layers Dense): BLAS matmul plus an in-place bias and
// activation epilogue. Bias and PReLU weights must be scalars or broadcast along the last dim.
import { f32, type TensorInfo } from '../host';
import { planMatMul, runMatMul } from './batch_mat_mul';
import type { KernelCall, KernelImpl } from './types';

const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu']);

/** Applies bias (period `biasLen` along the flat output) and the activation in place. */
export function biasActivation(
  y: Float32Array,
  bias: Float32Array | null,
  activation: string,
  alpha: number,
  prelu: Float32Array | null,
): void {
  const n = y.length;
  if (bias) {
    const p = bias.length;
    if (p === 1) {
      const b = bias[0];
      for (let i = 0; i < n; i++) y[i] += b;
    } else {
      for (let i = 0; i < n; i += p) for (let j = 0; j < p; j++) y[i + j] += bias[j];
    }
  }
  switch (activation) {
    case 'relu':
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] = 0;
      break;
    case 'relu6':
      for (let i = 0; i < n; i++) y[i] = y[i] < 0 ? 0 : Math.min(y[i], 6);
      break;
    case 'elu':
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] = Math.exp(y[i]) - 1;
      break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
      break;
    case 'leakyrelu':
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] *= alpha;
      break;
    case 'prelu': {
      const w = prelu as Float32Array;
      const p = w.length;
      for (let i = 0; i < n; i++) if (y[i] < 0) y[i] *= w[p === 1 ? 0 : i % p];
      break;
    }
    default:
      break;
  }
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function lastDimVector(shape: number[] | undefined, n: number): boolean {
  if (!shape) return true;
  const size = sizeOf(shape);
  if (size === 1) return true;
  // [n], [1, n], [1, 1, n] ...
  return size === n && shape[shape.length - 1] === n;
}

export function checkEpilogue(
  inputs: KernelCall['inputs'],
  attrs: KernelCall['attrs'],
  n: number,
): string | null {
  const { bias, preluActivationWeights: prelu } = inputs;
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (!ACTIVATIONS.has(activation)) return null;
  if (bias && (bias.dtype !== 'float32' || !lastDimVector(bias.shape, n))) return null;
  if (activation === 'prelu' && (prelu?.dtype !== 'float32' || !lastDimVector(prelu.shape, n))) {
    return null;
  }
  return activation;
}

/**
 * Without the addon: the registered BatchMatMul kernel plus the same JS epilogue. The stock wasm
 * _FusedMatMul 4.22 gives wrong results for several activation/bias combinations (relu6, elu and
 * prelu with batched inputs, scalar bias), so wasm always gets this one.
 */
export const fusedMatMulJs: KernelImpl = {
  kernelName: '_FusedMatMul',
  kind: 'js',
  coerceStorage: true,
  run({ inputs, attrs, host, tf, backend }) {
    const { a, b, bias, preluActivationWeights: prelu } = inputs;
    if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const transposeA = Boolean(attrs.transposeA);
    const transposeB = Boolean(attrs.transposeB);
    const plan = planMatMul(tf, a.shape, b.shape, transposeA, transposeB);
    if (!plan) return null;
    const activation = checkEpilogue(inputs, attrs, plan.n);
    if (!activation) return null;
    const bmm = tf.getKernel('BatchMatMul', host.name);
    if (!bmm) return null;
    const out = bmm.kernelFunc({
      inputs: { a, b },
      backend: backend as never,
      attrs: { transposeA, transposeB },
    }) as TensorInfo;
    biasActivation(
      f32(host, out),
      bias ? f32(host, bias) : null,
      activation,
      Number(attrs.leakyreluAlpha ?? 0.2),
      prelu && activation === 'prelu' ? f32(host, prelu) : null,
    );
    return out;
  },
};

export const fusedMatMulNative: KernelImpl = {
  kernelName: '_FusedMatMul',
  kind: 'native',
  coerceStorage: true,
  run({ inputs, attrs, host, tf, native }) {
    const { a, b, bias, preluActivationWeights: prelu } = inputs;
    if (!native || !a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const transposeA = Boolean(attrs.transposeA);
    const transposeB = Boolean(attrs.transposeB);
    const plan = planMatMul(tf, a.shape, b.shape, transposeA, transposeB);
    if (!plan) return null;
    const activation = checkEpilogue(inputs, attrs, plan.n);
    if (!activation) return null;
    // a full [n] bias initialises the output rows natively (one copy per row, then C += A B);
    // a broadcast scalar goes through the epilogue
    const rowBias = bias && sizeOf(bias.shape) === plan.n && plan.n > 1;
    const out = runMatMul(host, native, a, b, plan, transposeA, transposeB, rowBias ? bias : null);
    biasActivation(
      f32(host, out),
      bias && !rowBias ? f32(host, bias) : null,
      activation,
      Number(attrs.leakyreluAlpha ?? 0.2),
      prelu && activation === 'prelu' ? f32(host, prelu) : null,
    );
    return out;
  },
};
