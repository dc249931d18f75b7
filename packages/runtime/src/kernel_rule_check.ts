/**
 * A kernel-rule check for tests: while active, every kernel call the models make on the current
 * backend is checked against tfjs-node's rules (tfjs_node_rules.ts) before it runs, and the first
 * violation throws a KernelRuleError naming the kernel and the attribute. Calls made from inside
 * a kernel (a backend's own composition) are not the model's and are not checked.
 *
 * `useStockBackend(name)` selects cpu or wasm with the custom-kernel overrides off, so that the
 * models take the stock-op paths they take on tfjs-node.
 */
import {
  installKernels,
  type KernelBackendName,
  uninstallKernels,
} from '@artist-ts/native-kernels';
import * as tf from '@tensorflow/tfjs';
import { type KernelRuleViolation, TFJS_NODE_KERNELS, tfjsNodeViolations } from './tfjs_node_rules';

/** A kernel call tfjs-node would reject. */
export class KernelRuleError extends Error {
  override readonly name = 'KernelRuleError';
  constructor(readonly violation: KernelRuleViolation) {
    super(
      `kernel ${violation.kernel} on backend '${tf.getBackend()}', attribute '${violation.attribute}': ${violation.rule}`,
    );
  }
}

/** What an active check has seen. */
export interface KernelRuleCheck {
  /** Kernel name -> calls checked. */
  readonly kernels: ReadonlyMap<string, number>;
  /** Restores the engine; safe to call twice. */
  stop(): void;
}

type RunKernel = (name: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap) => unknown;

let active: KernelRuleCheck | null = null;

/**
 * Starts checking every kernel call of the tfjs engine against tfjs-node's rules. One check at a
 * time; stop() it (or use withKernelRuleCheck) before starting another.
 */
export function startKernelRuleCheck(): KernelRuleCheck {
  if (active) throw new Error('startKernelRuleCheck: a check is already active; stop() it first');
  const engine = tf.engine() as unknown as { runKernel: RunKernel };
  const original = engine.runKernel;
  const kernels = new Map<string, number>();
  let depth = 0;
  engine.runKernel = function checkedRunKernel(this: unknown, name, inputs, attrs) {
    if (depth === 0) {
      kernels.set(name, (kernels.get(name) ?? 0) + 1);
      const [first] = tfjsNodeViolations(
        name,
        inputs as Record<string, tf.TensorInfo>,
        (attrs ?? {}) as Record<string, unknown>,
      );
      if (first) throw new KernelRuleError(first);
    }
    depth++;
    try {
      return original.call(this, name, inputs, attrs);
    } finally {
      depth--;
    }
  };
  const check: KernelRuleCheck = {
    kernels,
    stop() {
      if (active !== check) return;
      engine.runKernel = original;
      active = null;
    },
  };
  active = check;
  return check;
}

/** Runs `fn` with the check active; resolves to its result and the kernels it called. */
export async function withKernelRuleCheck<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; kernels: ReadonlyMap<string, number> }> {
  const check = startKernelRuleCheck();
  try {
    const result = await fn();
    return { result, kernels: check.kernels };
  } finally {
    check.stop();
  }
}

/**
 * Selects `cpu` or `wasm` with every custom kernel of @artist-ts/native-kernels off: on cpu none
 * is installed; on wasm only the JS kernels for stock kernel names that stock wasm lacks
 * (Conv2DBackpropFilter, UnsortedSegmentSum, ...; it cannot train without them) stay, so the
 * models call exactly the kernels they would call on tfjs-node.
 */
export async function useStockBackend(name: KernelBackendName): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`useStockBackend: backend '${name}' failed`);
  await tf.ready();
  uninstallKernels(tf, name);
  if (name === 'cpu') return;
  installKernels(tf, name, { native: false, threads: 1 });
  const stock = new Set([
    ...TFJS_NODE_KERNELS,
    ...tf.getKernelsForBackend('cpu').map((k) => k.kernelName),
  ]);
  for (const k of tf.getKernelsForBackend(name)) {
    if (!stock.has(k.kernelName)) tf.unregisterKernel(k.kernelName, name);
  }
}
