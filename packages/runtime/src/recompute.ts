/**
 * Activation checkpointing for tfjs: `recomputed(fn, inputs)` runs `fn` so that a gradient tape
 * keeps only its inputs, not its intermediates; the backward pass runs `fn` again on the saved
 * inputs and differentiates that second run. A transformer block wrapped this way holds one
 * [rows, d] tensor for the backward pass instead of every LayerNorm, projection, GELU and
 * attention output, for one more forward pass of the block.
 *
 * tfjs keeps every tensor a tape saved, and every intermediate gradient, until the whole backward
 * pass ends; the nested gradient below frees the block's own as soon as the block is done.
 */
import * as tf from '@tensorflow/tfjs';

/** The engine state the nested gradient has to preserve (tfjs-core 4.x internals). */
interface TapeState {
  state: { activeTape: unknown[] | null };
  gradients(
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/**
 * `fn(...inputs)` whose backward pass recomputes `fn` instead of keeping its intermediates.
 * `fn` must be a pure, deterministic function of `inputs` (seed any dropout from outside, the
 * same in both runs) and must read no other tensor that needs a gradient: pass every weight that
 * trains as an input. Gradients equal those of calling `fn` directly.
 */
export function recomputed(
  fn: (...inputs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
): tf.Tensor {
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const xs = args as tf.Tensor[];
    // clones share the buffers; the tape releases them after the backward pass
    save(xs);
    return {
      value: fn(...xs),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const eng = tf.engine() as unknown as TapeState;
        // a nested gradient at depth 0 replaces (then clears) the engine's tape: keep the outer one
        const outer = eng.state.activeTape;
        try {
          const { value, grads } = eng.gradients(() => fn(...saved), saved, dy as tf.Tensor, true);
          value.dispose();
          return grads.map((g, i) => g ?? tf.zerosLike(saved[i]));
        } finally {
          eng.state.activeTape = outer;
        }
      },
    };
  });
  return run(...inputs);
}
