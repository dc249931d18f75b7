/**
 * The trainer state stored beside a checkpoint's weights (`trainer_state.pb`, protobuf; schema in
 * proto/trainer_state.proto) and the raw tensor type shared by every checkpoint reader/writer.
 *
 * This entry does not load tfjs (`@artist-ts/core/trainer-state`).
 */
import { artist } from './generated/trainer_state';
import type { RngState } from './rng';

/**
 * Version 1: optimizer slots inside the protobuf. Version 2: the protobuf holds none; they are in the
 * checkpoint folder's optimizer.bin (model.json `optimizerManifest`), read by `readCheckpoint`.
 */
export const TRAINER_STATE_FORMAT_VERSION = 2;

export type RawDType = 'float32' | 'int32' | 'bool';

/** A tensor as plain memory: what checkpoints store. `bool` data is one byte per element. */
export interface RawTensor {
  name: string;
  shape: number[];
  dtype: RawDType;
  data: Float32Array | Int32Array | Uint8Array;
}

export interface TrainerState {
  /** Optimizer steps taken so far. */
  step: number;
  epoch: number;
  /** Best validation metric so far (absent until one is measured). */
  bestMetric?: number;
  /** e.g. 'adamw'; empty when no optimizer state is stored. */
  optimizerName: string;
  /** Optimizer slot tensors (moments, step counters), in the optimizer's own order. */
  optimizerSlots: RawTensor[];
  /** Every named RNG stream a run uses (init, shuffle, dropout, sampling...). */
  rng: Record<string, RngState>;
  /** Position in the data stream (e.g. examples consumed in the current epoch). */
  dataCursor: number;
  /** The resolved run configuration. */
  config?: unknown;
  /** Package-specific JSON (loss history, schedules, counters). */
  extra?: unknown;
  /** ISO time of writing; filled by the writer. */
  createdAt?: string;
}

export function emptyTrainerState(): TrainerState {
  return { step: 0, epoch: 0, optimizerName: '', optimizerSlots: [], rng: {}, dataCursor: 0 };
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Little-endian bytes of a raw tensor (a copy only where the view is unaligned). */
export function rawTensorBytes(t: RawTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Rebuilds typed data from bytes. Copies first: protobufjs byte fields may be views into a shared pooled slab. */
export function rawTensorFromBytes(
  name: string,
  shape: number[],
  dtype: string,
  bytes: Uint8Array,
): RawTensor {
  const copy = Uint8Array.from(bytes);
  const n = elementCount(shape);
  let data: Float32Array | Int32Array | Uint8Array;
  if (dtype === 'float32') data = new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  else if (dtype === 'int32') data = new Int32Array(copy.buffer, 0, copy.byteLength / 4);
  else if (dtype === 'bool') data = copy;
  else throw new Error(`tensor '${name}': unsupported dtype '${dtype}'`);
  if (data.length !== n) {
    throw new Error(
      `tensor '${name}': shape [${shape}] needs ${n} elements, data has ${data.length}`,
    );
  }
  return { name, shape, dtype, data };
}

/** `formatVersion` 2 (writeCheckpoint) promises the slots are stored beside the protobuf. */
export function encodeTrainerState(state: TrainerState, formatVersion = 1): Uint8Array {
  if (formatVersion === 2 && state.optimizerSlots.length > 0) {
    throw new Error(
      'encodeTrainerState: format_version 2 keeps optimizer slots out of the protobuf',
    );
  }
  const rng: Record<string, artist.IRngState> = {};
  for (const [k, v] of Object.entries(state.rng))
    rng[k] = { algorithm: v.algorithm, words: v.words };
  const msg = artist.TrainerState.create({
    formatVersion,
    step: state.step,
    epoch: state.epoch,
    hasBestMetric: state.bestMetric !== undefined,
    bestMetric: state.bestMetric ?? 0,
    optimizerName: state.optimizerName,
    optimizerSlots: state.optimizerSlots.map((t) => ({
      name: t.name,
      shape: t.shape,
      dtype: t.dtype,
      data: rawTensorBytes(t),
    })),
    rng,
    dataCursor: state.dataCursor,
    configJson: state.config === undefined ? '' : JSON.stringify(state.config),
    extraJson: state.extra === undefined ? '' : JSON.stringify(state.extra),
    createdAt: state.createdAt ?? new Date().toISOString(),
  });
  // finish() may return a view into protobufjs's pooled slab: copy it out.
  return Uint8Array.from(artist.TrainerState.encode(msg).finish());
}

export function decodeTrainerState(bytes: Uint8Array, source = 'trainer_state.pb'): TrainerState {
  let msg: artist.TrainerState;
  try {
    msg = artist.TrainerState.decode(bytes);
  } catch (err) {
    throw new Error(`${source}: not a valid TrainerState protobuf (${(err as Error).message})`);
  }
  if (msg.formatVersion > TRAINER_STATE_FORMAT_VERSION) {
    throw new Error(
      `${source}: format_version ${msg.formatVersion} is newer than this runtime understands (${TRAINER_STATE_FORMAT_VERSION})`,
    );
  }
  const rng: Record<string, RngState> = {};
  for (const [k, v] of Object.entries(msg.rng ?? {})) {
    rng[k] = { algorithm: v.algorithm ?? '', words: (v.words ?? []).map((w) => Number(w) >>> 0) };
  }
  const state: TrainerState = {
    step: Number(msg.step),
    epoch: Number(msg.epoch),
    optimizerName: msg.optimizerName,
    optimizerSlots: msg.optimizerSlots.map((t) =>
      rawTensorFromBytes(
        t.name ?? '',
        (t.shape ?? []).map(Number),
        t.dtype ?? '',
        t.data ?? new Uint8Array(0),
      ),
    ),
    rng,
    dataCursor: Number(msg.dataCursor),
    createdAt: msg.createdAt,
  };
  if (msg.hasBestMetric) state.bestMetric = msg.bestMetric;
  if (msg.configJson) state.config = JSON.parse(msg.configJson);
  if (msg.extraJson) state.extra = JSON.parse(msg.extraJson);
  return state;
}
