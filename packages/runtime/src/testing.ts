/**
 * Test helpers every model test uses (`@artist-ts/runtime/testing`). They throw plain Errors, so
 * they work under any test runner.
 */
import * as tf from '@tensorflow/tfjs';

export {
  type KernelRuleCheck,
  KernelRuleError,
  startKernelRuleCheck,
  useStockBackend,
  withKernelRuleCheck,
} from './kernel_rule_check';
export {
  type KernelRuleViolation,
  padType,
  TFJS_NODE_KERNELS,
  TFJS_NODE_RULES_VERSION,
  tfjsNodeViolations,
} from './tfjs_node_rules';

/**
 * Runs `fn` twice (the first run warms caches: lazily built weights, kernel setup) and asserts that
 * the second run leaves the number of live tensors unchanged. Whatever `fn` returns is disposed.
 */
export async function expectNoLeakedTensors(
  fn: () => unknown | Promise<unknown>,
  label = 'fn',
): Promise<void> {
  tf.dispose((await fn()) as tf.TensorContainer);
  const before = tf.memory().numTensors;
  tf.dispose((await fn()) as tf.TensorContainer);
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(
      `${label} leaked ${after - before} tensor(s): ${before} live before, ${after} after`,
    );
  }
}

type Numeric = ArrayLike<number> | number | tf.Tensor | number[][] | number[][][];

function flatten(x: Numeric): number[] {
  if (x instanceof tf.Tensor) return Array.from(x.dataSync());
  if (typeof x === 'number') return [x];
  if (!Array.isArray(x) && ArrayBuffer.isView(x)) return Array.from(x as ArrayLike<number>);
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') out.push(v);
    else if (Array.isArray(v)) for (const e of v) walk(e);
    else if (ArrayBuffer.isView(v)) {
      const arr = v as unknown as ArrayLike<number>;
      for (let i = 0; i < arr.length; i++) out.push(arr[i]);
    } else throw new TypeError('expectArraysClose: unsupported value');
  };
  walk(x);
  return out;
}

export interface CloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
}

/** Asserts |a - e| <= atol + rtol * |e| elementwise, with a message naming the first bad index. */
export function expectArraysClose(
  actual: Numeric,
  expected: Numeric,
  options: CloseOptions = {},
): void {
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-6;
  if (
    actual instanceof tf.Tensor &&
    expected instanceof tf.Tensor &&
    !tf.util.arraysEqual(actual.shape, expected.shape)
  ) {
    throw new Error(
      `expectArraysClose: shapes differ, actual [${actual.shape}] vs expected [${expected.shape}]`,
    );
  }
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.length !== e.length) {
    throw new Error(
      `expectArraysClose: lengths differ, actual ${a.length} vs expected ${e.length}`,
    );
  }
  let bad = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const ok = Number.isNaN(e[i])
      ? Number.isNaN(a[i])
      : Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]);
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    throw new Error(
      `expectArraysClose: ${bad} of ${a.length} elements differ (rtol ${rtol}, atol ${atol}); first at index ${first}: actual ${a[first]}, expected ${e[first]}`,
    );
  }
}
