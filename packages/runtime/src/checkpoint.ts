/**
 * tfjs side of checkpoints: tensors <-> the folders of `checkpoint_files.ts`, strict weight
 * assignment with a readable mismatch report, and optimizer slot restore.
 */

import {
  type CheckpointReader,
  type DeferredTensor,
  type LoadedCheckpoint,
  openCheckpoint,
  type StoredTensor,
  type WriteCheckpointOptions,
  writeCheckpoint,
} from '@artist-ts/core/checkpoint-files';
import {
  emptyTrainerState,
  type RawDType,
  type RawTensor,
  type TrainerState,
} from '@artist-ts/core/trainer-state';
import { assertWeightsMatch } from '@artist-ts/core/weight-match';
import { hostFor } from '@artist-ts/native-kernels';
import * as tf from '@tensorflow/tfjs';

export type NamedTensors = Record<string, tf.Tensor>;

/** A tensor with its name, as tf.Optimizer.getWeights() returns them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Anything with tfjs-optimizer-like slot access (tf.Optimizer, our AdamW...). */
export interface OptimizerLike {
  /** tf.Optimizer returns its live slot variables; our AdamW returns fresh clones. */
  getWeights(): Promise<NamedTensor[]> | NamedTensor[];
  /** Slots read only when written (our AdamW): preferred over getWeights when present. */
  checkpointSlots?(): DeferredTensor[];
  setWeights?(weights: NamedTensor[]): Promise<void> | void;
  getClassName?(): string;
}

export interface SaveCheckpointInput {
  weights: NamedTensors;
  /** Optimizer whose slots are saved (getWeights()). */
  optimizer?: OptimizerLike & { name?: string };
  /** Alternatively (or in addition), slot tensors by name. */
  optimizerSlots?: NamedTensors;
  state?: Partial<TrainerState>;
  metadata?: Record<string, unknown>;
}

function checkpointDtype(name: string, t: tf.Tensor): RawDType {
  const dtype = t.dtype;
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new Error(`tensor '${name}': dtype '${dtype}' cannot be checkpointed`);
  }
  return dtype;
}

export async function tensorToRaw(name: string, t: tf.Tensor): Promise<RawTensor> {
  const dtype = checkpointDtype(name, t);
  const values = await t.data();
  const data =
    dtype === 'float32'
      ? Float32Array.from(values as Float32Array)
      : dtype === 'int32'
        ? Int32Array.from(values as Int32Array)
        : Uint8Array.from(values as Uint8Array);
  return { name, shape: t.shape.slice(), dtype, data };
}

/** A tensor read back from the backend only when the checkpoint writer reaches it. */
export function deferredTensor(name: string, t: tf.Tensor): DeferredTensor {
  const dtype = checkpointDtype(name, t);
  return {
    name,
    shape: t.shape.slice(),
    dtype,
    values: async () => (await t.data()) as RawTensor['data'],
  };
}

export function rawToTensor(raw: RawTensor): tf.Tensor {
  return tf.tensor(raw.data, raw.shape, raw.dtype);
}

/**
 * A stored tensor as a tfjs tensor, its bytes read once: on wasm straight into the tensor's heap
 * memory (no JS copy; the heap cannot grow during the synchronous read), elsewhere into a typed
 * array the backend takes.
 */
export function readStoredTensor(reader: CheckpointReader, stored: StoredTensor): tf.Tensor {
  if (tf.getBackend() !== 'wasm' || stored.dtype === 'bool') {
    return rawToTensor(reader.read(stored));
  }
  const host = hostFor('wasm', tf.backend());
  const info = host.alloc(stored.shape.slice(), stored.dtype);
  try {
    const view = host.view(info);
    reader.readInto(stored, new Uint8Array(view.buffer, view.byteOffset, stored.byteLength));
  } catch (err) {
    host.free(info);
    throw err;
  }
  return tf.engine().makeTensorFromTensorInfo(info, tf.backend());
}

/**
 * Saves weights, optimizer slots and trainer state as a new step folder under `root`. Each tensor is
 * read back from the backend only when it is written, so no whole copy of the state is made.
 */
export async function saveCheckpoint(
  root: string,
  input: SaveCheckpointInput,
  options: WriteCheckpointOptions = {},
): Promise<string> {
  const tensors = Object.entries(input.weights).map(([name, t]) => deferredTensor(name, t));
  const slots: DeferredTensor[] = [];
  let optimizerName = input.state?.optimizerName ?? '';
  // tf.Optimizer hands out its own variables (and a fresh iterations scalar); tensors that are not
  // variables are copies made for us: disposed once written.
  const copies: tf.Tensor[] = [];
  try {
    if (input.optimizer?.checkpointSlots) {
      slots.push(...input.optimizer.checkpointSlots());
    } else if (input.optimizer) {
      const named = await input.optimizer.getWeights();
      copies.push(...named.map((nt) => nt.tensor).filter((t) => !(t instanceof tf.Variable)));
      for (const nt of named) slots.push(deferredTensor(nt.name, nt.tensor));
    }
    if (input.optimizer) {
      optimizerName =
        input.optimizer.name ?? input.optimizer.getClassName?.() ?? (optimizerName || 'optimizer');
    }
    if (input.optimizerSlots) {
      for (const [name, t] of Object.entries(input.optimizerSlots))
        slots.push(deferredTensor(name, t));
      if (!optimizerName) optimizerName = 'optimizer';
    }
    const state: TrainerState = {
      ...emptyTrainerState(),
      ...input.state,
      optimizerName,
      optimizerSlots: [],
    };
    const optimizerSlots = slots.length > 0 ? slots : (input.state?.optimizerSlots ?? []);
    return await writeCheckpoint(
      root,
      { tensors, state, optimizerSlots, metadata: input.metadata },
      options,
    );
  } finally {
    tf.dispose(copies);
  }
}

export interface LoadedTensorCheckpoint extends Omit<LoadedCheckpoint, 'tensors'> {
  /** Caller owns these tensors and must dispose them. */
  weights: NamedTensors;
}

/**
 * Loads weights as tensors (each read from disk straight into backend memory, see
 * readStoredTensor) and the trainer state with its optimizer slots.
 */
export async function loadCheckpoint(p: string): Promise<LoadedTensorCheckpoint> {
  const reader = await openCheckpoint(p);
  const weights: NamedTensors = {};
  try {
    for (const stored of reader.weights) weights[stored.name] = readStoredTensor(reader, stored);
    const state = reader.state;
    if (reader.slots.length > 0) state.optimizerSlots = reader.slots.map((t) => reader.read(t));
    return { dir: reader.dir, weights, state, metadata: reader.metadata };
  } catch (err) {
    tf.dispose(Object.values(weights));
    throw err;
  } finally {
    reader.close();
  }
}

export interface AssignWeightsOptions {
  /** Names starting with one of these are ignored on both sides (partial loads for fine-tuning). */
  ignorePrefixes?: string[];
  /** Where the weights came from, for the error message. */
  source?: string;
}

/**
 * Assigns checkpoint weights to variables by name. Every variable must receive a weight of its shape
 * and every weight must find a variable (unless ignored by prefix); otherwise nothing is assigned and
 * a WeightMismatchError (`@artist-ts/core/weight-match`) lists every problem at once.
 */
export function assignWeights(
  variables: Record<string, tf.Variable>,
  weights: NamedTensors | RawTensor[],
  options: AssignWeightsOptions = {},
): void {
  const ignore = options.ignorePrefixes ?? [];
  const ignored = (n: string) => ignore.some((p) => n.startsWith(p));
  const byName = new Map<string, { shape: number[]; make: () => tf.Tensor }>();
  if (Array.isArray(weights)) {
    for (const raw of weights)
      byName.set(raw.name, { shape: raw.shape, make: () => rawToTensor(raw) });
  } else {
    for (const [name, t] of Object.entries(weights))
      byName.set(name, { shape: t.shape, make: () => t });
  }
  const expected = Object.entries(variables).map(([name, v]) => [name, v.shape] as const);
  const actual = [...byName].map(([name, w]) => [name, w.shape] as const);
  assertWeightsMatch(options.source ?? '(weights)', expected, actual, { ignorePrefixes: ignore });
  for (const [name, v] of Object.entries(variables)) {
    if (ignored(name)) continue;
    const w = byName.get(name)!;
    const t = w.make();
    const src = t.dtype === v.dtype ? t : tf.cast(t, v.dtype);
    v.assign(src);
    if (src !== t) src.dispose();
    if (Array.isArray(weights)) t.dispose();
  }
}

/** Restores optimizer slots saved by saveCheckpoint into an optimizer with setWeights(). */
export async function restoreOptimizer(
  optimizer: OptimizerLike,
  state: TrainerState,
): Promise<void> {
  if (!optimizer.setWeights) throw new Error('restoreOptimizer: optimizer has no setWeights()');
  if (state.optimizerSlots.length === 0) return;
  const named = state.optimizerSlots.map((raw) => ({ name: raw.name, tensor: rawToTensor(raw) }));
  try {
    await optimizer.setWeights(named);
  } finally {
    // Optimizers copy the values into their own variables.
    tf.dispose(named.map((n) => n.tensor));
  }
}
