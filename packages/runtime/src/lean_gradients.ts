/**
 * `leanVariableGrads`: `tf.variableGrads` with the same tape, the same gradient functions and the
 * same order of accumulation (so the same gradients, bit for bit), but a backward pass that frees
 * as it goes. tfjs 4.x keeps every tensor a kernel saved for its gradient, and every intermediate
 * gradient, until the whole backward pass ends; here each kernel's saved tensors are released as
 * soon as its gradient has run, and the gradient of each of its outputs as soon as it is consumed.
 * A transformer's backward peak then holds the saved activations of the blocks not yet
 * differentiated plus one block's gradients, instead of every activation and every gradient.
 *
 * It reads tfjs-core 4.x engine internals (the tape, `scopedRun`, `startTape`), as
 * `recomputed` (recompute.ts) does; inside another gradient computation (a nested tape)
 * it is plain `tf.variableGrads`.
 */
import * as tf from '@tensorflow/tfjs';

/** One recorded kernel of the gradient tape (tfjs-core 4.x `TapeNode`). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

/** The engine internals used here (tfjs-core 4.x). */
interface Engine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

/**
 * The kernels of `tape` on a path from one of `xs` to `y`, with their inputs pruned to those that
 * depend on `xs` (tfjs-core's `getFilteredNodesXToY`).
 */
function nodesFromXToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!(nodesFromX.has(node.id) && nodesToY.has(node.id))) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * The value of `f` and the gradients of `vars` (trainable variables), keyed by variable name, as
 * `tf.variableGrads(f, vars)` returns them, with the backward pass freeing each kernel's saved
 * tensors and each consumed gradient at once (see the file comment). A variable `f` does not reach
 * gets no entry. The caller disposes the value and the gradients.
 */
export function leanVariableGrads(
  f: () => tf.Scalar,
  vars: readonly tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const eng = tf.engine() as unknown as Engine;
  if (eng.state.gradientDepth > 0) return tf.variableGrads(f, [...vars]);
  const xs = vars.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error('leanVariableGrads: no trainable variable given');
  const y = eng.scopedRun(
    () => eng.startTape(),
    () => eng.endTape(),
    () => eng.tidy('forward', f),
  );
  const tape = eng.state.activeTape ?? [];
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) {
      throw new Error('leanVariableGrads: f must return a scalar tensor');
    }
    const nodes = nodesFromXToY(tape, xs, y);
    const grads = eng.tidy('backward', () => backward(nodes, xs, y));
    if (Object.keys(grads).length === 0) {
      throw new Error('leanVariableGrads: no variable reaches the value of f');
    }
    return { value: y, grads };
  } catch (e) {
    y.dispose();
    throw e;
  } finally {
    for (const node of tape) if (node.saved) tf.dispose(node.saved);
    eng.state.activeTape = null;
  }
}

/** Walks `nodes` backwards from `y` (seed 1), freeing as it goes; the gradients of `xs` by name. */
function backward(
  nodes: TapeNode[],
  xs: readonly tf.Variable[],
  y: tf.Tensor,
): Record<string, tf.Tensor> {
  // gradient of each tensor id, and how many entries hold each gradient tensor (a kernel's
  // gradient may hand its dy on unchanged)
  const acc = new Map<number, tf.Tensor>();
  const holders = new Map<tf.Tensor, number>();
  const hold = (id: number, g: tf.Tensor) => {
    acc.set(id, g);
    holders.set(g, (holders.get(g) ?? 0) + 1);
  };
  const release = (id: number): tf.Tensor | undefined => {
    const g = acc.get(id);
    if (g === undefined) return undefined;
    acc.delete(id);
    const n = (holders.get(g) ?? 1) - 1;
    if (n > 0) holders.set(g, n);
    else holders.delete(g);
    return g;
  };
  hold(y.id, tf.onesLike(y));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.gradient) {
      throw new Error(
        `Cannot compute gradient: gradient function not found for ${node.kernelName}.`,
      );
    }
    const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
    const dxs = tf.tidy(() => {
      const inputGradients = node.gradient!(dys);
      return Object.entries(node.inputs).map(([name, x]) => {
        if (!(name in inputGradients)) {
          throw new Error(
            `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
          );
        }
        const dx = inputGradients[name]();
        if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(
            `Error in gradient for op ${node.kernelName}: the gradient of input '${name}' is ${dx.dtype} [${dx.shape}], expected float32 [${x.shape}]`,
          );
        }
        return dx;
      });
    });
    // this kernel was the last reader of its outputs' gradients and of its saved tensors
    for (const o of node.outputs) {
      const dy = release(o.id);
      if (dy && !holders.has(dy) && !dxs.includes(dy)) dy.dispose();
    }
    if (node.saved) tf.dispose(node.saved);
    Object.values(node.inputs).forEach((x, j) => {
      const cur = release(x.id);
      if (cur === undefined) {
        hold(x.id, dxs[j]);
        return;
      }
      hold(x.id, tf.add(cur, dxs[j]));
      if (!holders.has(cur)) cur.dispose();
      if (!holders.has(dxs[j])) dxs[j].dispose();
    });
  }
  const grads: Record<string, tf.Tensor> = {};
  for (const v of xs) {
    const g = acc.get(v.id);
    if (g) grads[v.name] = g;
  }
  return grads;
}
