import { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';
import {
  type EntityTable,
  type GptConfig,
  type GptExample,
  type KnowlGpt,
  knowledgeTensors,
  type LatticeFields,
} from '../src';
import { makeTrainBatch } from '../src/batch';
import { LoraAdapters } from '../src/lora';

/**
 * A lattice in lattice-data's FLAT layout: `seqLen` character entries (default: just enough for
 * the spans), then one span per entity.
 */
export function flatLattice(
  ids: number[],
  starts: number[],
  ends: number[],
  seqLen = ends.length > 0 ? Math.max(...ends) + 1 : 0,
): LatticeFields {
  const chars = Array.from({ length: seqLen }, (_, i) => i);
  return {
    seqLen,
    lexIds: ids.map(String),
    posS: [...chars, ...starts],
    posE: [...chars, ...ends],
  };
}

/** A small random TransE-like table. */
export function makeTable(numEntities: number, dim: number, seed = 'table'): EntityTable {
  const rng = new Rng(seed);
  return { vectors: rng.fillNormal(new Float32Array(numEntities * dim), 0, 1), numEntities, dim };
}

/** Deterministic tiny data set: codes depend on the first text token (learnable). */
export function makeExamples(c: GptConfig, n: number, seed = 'data'): GptExample[] {
  const rng = new Rng(seed);
  const out: GptExample[] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + rng.int(c.textLen - 2);
    const text = Array.from({ length: len }, () => 1 + rng.int(c.textVocabSize - 1));
    const codes = Array.from(
      { length: c.imageLen },
      (_, k) => (text[0] * 7 + k * 3) % c.imageVocabSize,
    );
    const lattice = flatLattice([1 + (i % 5), 2], [0, 1], [1, Math.min(3, len - 1)], len);
    out.push({ text, codes, lattice });
  }
  return out;
}

/** Every variable's values, by name (for exact comparisons). */
export function variableValues(vars: Record<string, { dataSync(): ArrayLike<number> }>) {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.from(v.dataSync())]));
}

/**
 * Rank-2 LoRA adapters on `model` whose B factors are moved off their zero start (so that A's
 * gradient is not zero too). Caller disposes.
 */
export function movedLora(model: KnowlGpt): LoraAdapters {
  const lora = new LoraAdapters(model, { rank: 2 }, 'r');
  for (const [k, v] of Object.entries(lora.variables)) {
    if (k.endsWith('lora_b'))
      tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 7)));
  }
  return lora;
}

/** A gradient function with `tf.variableGrads`' signature. */
export type GradsFn = (
  f: () => tf.Scalar,
  vars: tf.Variable[],
) => { value: tf.Scalar; grads: Record<string, tf.Tensor | null> };

/**
 * Loss and gradients (by variable name, as numbers) of one training batch of 3 examples (dropout
 * seed 5), through `grads` (default `tf.variableGrads`), with the first `recompute` blocks
 * checkpointed and the head's loss in chunks with `fusedHead`; with `lora`, of its adapters.
 */
export function lossAndGrads(
  model: KnowlGpt,
  options: { recompute?: number; lora?: LoraAdapters; fusedHead?: boolean; grads?: GradsFn } = {},
): Record<string, number[]> {
  const { lora, grads = (f, vars) => tf.variableGrads(f, vars) } = options;
  const c = model.config;
  const batch = makeTrainBatch(c, makeExamples(c, 3), makeTable(10, c.entityDim));
  const L = c.textLen + c.imageLen - 1;
  return tf.tidy(() => {
    const tokens = tf.tensor2d(batch.tokens, [batch.batch, L], 'int32');
    const targets = tf.tensor2d(batch.targets, [batch.batch, c.imageLen], 'int32');
    const knowledge = batch.knowledge ? knowledgeTensors(batch.knowledge, c) : null;
    const loss = () =>
      model.loss(tokens, targets, {
        knowledge,
        training: true,
        dropoutSeed: 5,
        recomputeBlocks: options.recompute ?? 0,
        fusedHead: options.fusedHead ?? false,
      });
    const vars = Object.values(lora ? lora.variables : model.variables);
    const r = grads(() => (lora ? lora.run(loss) : loss()), vars);
    const out: Record<string, number[]> = { loss: Array.from(r.value.dataSync()) };
    for (const [k, g] of Object.entries(r.grads)) out[k] = Array.from(g!.dataSync());
    return out;
  });
}
