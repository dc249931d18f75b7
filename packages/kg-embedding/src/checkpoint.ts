/**
 * TransE checkpoints in the `@artist-ts/core/checkpoint-files` layout (step folders + `latest`),
 * sized for large graphs: tables are written from the live arrays (no copy), a table larger than
 * `partBytes` (default 1 GiB) is stored as row blocks `name.part0`, `name.part1`, ... (one write
 * per block stays below Node's 2 GiB limit per I/O call), and resume reads each tensor straight from
 * `weights.bin` into the destination array at its manifest offset (core's `readCheckpoint` reads the
 * whole file into one Buffer, which fails beyond 2 GiB and would double the memory).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  MODEL_JSON,
  type ModelJson,
  openCheckpoint,
  resolveCheckpointDir,
  TRAINER_STATE_PB,
  writeCheckpoint,
} from '@artist-ts/core/checkpoint-files';
import { readFully } from '@artist-ts/core/files';
import {
  decodeTrainerState,
  type RawTensor,
  type TrainerState,
} from '@artist-ts/core/trainer-state';
import type { TransEConfig } from './config';
import { headBlockEntities } from './epoch_order';
import { bytesOf } from './file_io';
import type { TripleSet } from './kg_data';

/** Default largest tensor stored in one piece. */
export const CHECKPOINT_PART_BYTES = 1 << 30;

export interface ValidationEntry {
  epoch: number;
  mrr: number;
  hits10: number;
}

/** Trainer bookkeeping stored in `TrainerState.extra`. */
export interface CheckpointExtra {
  lossHistory: number[];
  validation: ValidationEntry[];
  bestEpoch: number;
  bestMrr: number | null;
  badEvals: number;
  stoppedEarly: boolean;
  numEntities: number;
  numRelations: number;
  trainFingerprint: string;
  /** Training kernel of the run ('simd' or 'js'); absent in checkpoints older than the SIMD kernels. */
  kernel?: 'simd' | 'js';
}

/** FNV-1a over the training triples: a resume on different data is refused. */
export function fingerprintTriples(s: TripleSet): string {
  let h = 0x811c9dc5;
  const d = s.data;
  for (let i = 0; i < s.count * 3; i++) {
    const v = d[i];
    h = Math.imul(h ^ (v & 0xff), 0x01000193);
    h = Math.imul(h ^ ((v >>> 8) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((v >>> 16) & 0xffff), 0x01000193);
  }
  return `${s.count}:${(h >>> 0).toString(16)}`;
}

/** Config fields that may differ between a checkpoint and the run that resumes it. */
const RESUMABLE_CHANGES = new Set<keyof TransEConfig>([
  'workers',
  'evalEvery',
  'patience',
  'checkpointEvery',
  'keepCheckpoints',
]);

/** Fields whose resolved effect is compared instead (a checkpoint without them was shuffled). */
const ORDER_FIELDS = new Set<keyof TransEConfig>(['epochOrder', 'blockBytes']);

/** A [rows, dim] table as one raw tensor, or as row blocks of at most `partBytes` (views, no copy). */
export function tableTensors(
  name: string,
  data: Float32Array,
  dim: number,
  partBytes = CHECKPOINT_PART_BYTES,
): RawTensor[] {
  const rows = data.length / dim;
  const rowsPerPart = Math.max(1, Math.floor(partBytes / (4 * dim)));
  if (rows <= rowsPerPart) return [{ name, shape: [rows, dim], dtype: 'float32', data }];
  const out: RawTensor[] = [];
  for (let r0 = 0, k = 0; r0 < rows; r0 += rowsPerPart, k++) {
    const r1 = Math.min(rows, r0 + rowsPerPart);
    out.push({
      name: `${name}.part${k}`,
      shape: [r1 - r0, dim],
      dtype: 'float32',
      data: data.subarray(r0 * dim, r1 * dim),
    });
  }
  return out;
}

export interface TablesToSave {
  dim: number;
  entity: Float32Array;
  relation: Float32Array;
  best: { entity: Float32Array; relation: Float32Array } | null;
}

/** Writes one checkpoint; returns its folder. */
export function writeTransECheckpoint(
  root: string,
  t: TablesToSave,
  state: TrainerState,
  keepLast: number,
  partBytes = CHECKPOINT_PART_BYTES,
): Promise<string> {
  const tensors = [
    ...tableTensors('entity', t.entity, t.dim, partBytes),
    ...tableTensors('relation', t.relation, t.dim, partBytes),
  ];
  if (t.best) {
    tensors.push(
      ...tableTensors('best/entity', t.best.entity, t.dim, partBytes),
      ...tableTensors('best/relation', t.best.relation, t.dim, partBytes),
    );
  }
  return writeCheckpoint(
    root,
    { tensors, state, metadata: { model: 'TransE', package: '@artist-ts/kg-embedding' } },
    { keepLast },
  );
}

/** A checkpoint whose state is read and checked, and whose tensors are read on demand. */
export interface OpenCheckpoint {
  dir: string;
  state: TrainerState;
  extra: CheckpointExtra;
  /** Whether the checkpoint holds best-validation tables. */
  hasBest: boolean;
  /** Reads tensor `name` (whole or in parts) into `target`, whose length must match. */
  readInto(name: string, target: Float32Array): Promise<void>;
  /** The optimizer slot `name` (entity_acc, relation_acc) with `length` values. */
  slot(name: string, length: number): Float32Array;
}

/**
 * Opens the newest checkpoint under `root` for a run with `cfg` on data with `fingerprint`;
 * null when there is none. Throws naming the field when it cannot be resumed by this run.
 */
export async function openTransECheckpoint(
  root: string,
  cfg: TransEConfig,
  fingerprint: string,
  N: number,
  R: number,
): Promise<OpenCheckpoint | null> {
  const dir = resolveCheckpointDir(root);
  if (dir === null) return null;
  const modelPath = path.join(dir, MODEL_JSON);
  let model: ModelJson;
  try {
    model = JSON.parse(await fs.promises.readFile(modelPath, 'utf8')) as ModelJson;
  } catch (err) {
    throw new Error(`${modelPath}: cannot parse (${(err as Error).message})`);
  }
  const statePath = path.join(dir, TRAINER_STATE_PB);
  const state = decodeTrainerState(await fs.promises.readFile(statePath), statePath);
  if (model.optimizerManifest) {
    // The optimizer slots live in optimizer.bin (core checkpoint format 2).
    const reader = await openCheckpoint(dir);
    try {
      state.optimizerSlots = reader.slots.map((t) => reader.read(t));
    } finally {
      reader.close();
    }
  }
  const saved = state.config as Partial<TransEConfig> | undefined;
  if (!saved)
    throw new Error(`${dir}: trainer_state.pb has no config; not a kg-embedding checkpoint`);
  for (const key of Object.keys(cfg) as (keyof TransEConfig)[]) {
    if (RESUMABLE_CHANGES.has(key) || ORDER_FIELDS.has(key)) continue;
    if (saved[key] !== cfg[key]) {
      throw new Error(
        `${dir}: cannot resume: config field '${key}' was ${JSON.stringify(saved[key])}, now ${JSON.stringify(cfg[key])}`,
      );
    }
  }
  const savedOrder = {
    dim: cfg.dim,
    epochOrder: saved.epochOrder ?? 'shuffled',
    blockBytes: saved.blockBytes ?? cfg.blockBytes,
  };
  const was = headBlockEntities(savedOrder, N);
  const now = headBlockEntities(cfg, N);
  if (was !== now) {
    const say = (b: number) => (b === 0 ? 'one shuffled order' : `head blocks of ${b} entities`);
    throw new Error(
      `${dir}: cannot resume: config fields 'epochOrder'/'blockBytes' give ${say(now)}; the checkpoint was trained with ${say(was)} (epochOrder ${JSON.stringify(savedOrder.epochOrder)}, blockBytes ${savedOrder.blockBytes})`,
    );
  }
  const extra = state.extra as CheckpointExtra | undefined;
  if (!extra || !Array.isArray(extra.lossHistory))
    throw new Error(`${dir}: trainer_state.pb field 'extra' lacks lossHistory`);
  if (
    extra.numEntities !== N ||
    extra.numRelations !== R ||
    extra.trainFingerprint !== fingerprint
  ) {
    throw new Error(
      `${dir}: cannot resume: checkpoint was trained on ${extra.numEntities} entities, ${extra.numRelations} relations, train ${extra.trainFingerprint}; now ${N}, ${R}, ${fingerprint}`,
    );
  }
  if (!state.rng.shuffle) throw new Error(`${dir}: trainer_state.pb has no 'shuffle' RNG state`);
  // Byte offset of every tensor in its file.
  const where = new Map<string, { file: string; offset: number; values: number }>();
  for (const [gi, group] of (model.weightsManifest ?? []).entries()) {
    if (group.paths.length !== 1) {
      throw new Error(`${modelPath}: weightsManifest[${gi}] must name one file`);
    }
    let offset = 0;
    for (const spec of group.weights) {
      const values = spec.shape.reduce((a, b) => a * b, 1);
      where.set(spec.name, { file: path.join(dir, group.paths[0]), offset, values });
      offset += values * (spec.dtype === 'bool' ? 1 : 4);
    }
  }
  const parts = (name: string) => {
    if (where.has(name)) return [name];
    const out: string[] = [];
    while (where.has(`${name}.part${out.length}`)) out.push(`${name}.part${out.length}`);
    return out;
  };
  return {
    dir,
    state,
    extra,
    hasBest: parts('best/entity').length > 0 && parts('best/relation').length > 0,
    async readInto(name, target) {
      const names = parts(name);
      if (names.length === 0) throw new Error(`${dir}: tensor '${name}' is missing`);
      const total = names.reduce((a, n) => a + (where.get(n)?.values ?? 0), 0);
      if (total !== target.length) {
        throw new Error(
          `${dir}: tensor '${name}' has ${total} float32 values, expected ${target.length}`,
        );
      }
      const bytes = bytesOf(target);
      let w = 0;
      for (const n of names) {
        const loc = where.get(n) as { file: string; offset: number; values: number };
        const fh = await fs.promises.open(loc.file, 'r');
        try {
          const part = bytes.subarray(w, w + loc.values * 4);
          if ((await readFully(fh, part, loc.offset)) < part.length)
            throw new Error(`${loc.file}: ends inside tensor '${n}'`);
        } finally {
          await fh.close();
        }
        w += loc.values * 4;
      }
    },
    slot(name, length) {
      const t = state.optimizerSlots.find((x) => x.name === name);
      if (!t) throw new Error(`${dir}: tensor '${name}' is missing`);
      if (t.dtype !== 'float32' || t.data.length !== length) {
        throw new Error(
          `${dir}: tensor '${name}' has ${t.data.length} ${t.dtype} values, expected ${length} float32`,
        );
      }
      return t.data as Float32Array;
    },
  };
}
