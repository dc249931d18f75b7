/**
 * Checkpoint folders on disk, without tfjs (`@artist-ts/core/checkpoint-files`).
 *
 * A checkpoint root holds one folder per saved step and a `latest` pointer:
 *
 *   <root>/step-000000500/model.json        tfjs weights manifest (loadable with tf.io)
 *   <root>/step-000000500/weights.bin       all tensors, concatenated little-endian
 *   <root>/step-000000500/trainer_state.pb  TrainerState protobuf
 *   <root>/latest                           "step-000000500\n"
 *
 * Each folder is written to a temporary sibling, fsynced and renamed, then `latest` is replaced
 * atomically, then folders beyond `keepLast` are pruned. A crash at any point leaves the previous
 * checkpoint loadable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteDir, atomicWriteFile, isTempName, removeStaleTemps } from './files';
import {
  decodeTrainerState,
  elementCount,
  emptyTrainerState,
  encodeTrainerState,
  type RawDType,
  type RawTensor,
  rawTensorBytes,
  rawTensorFromBytes,
  type TrainerState,
} from './trainer_state';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const TRAINER_STATE_PB = 'trainer_state.pb';
export const LATEST_POINTER = 'latest';
export const CHECKPOINT_FORMAT = 'artist-ts-checkpoint';

/** One entry of the tfjs weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: RawDType;
}

/** `model.json`: the tfjs weights-manifest layout plus our metadata. */
export interface ModelJson {
  format: string;
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: null;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

export interface CheckpointContents {
  tensors: RawTensor[];
  state?: TrainerState;
  /** Free-form metadata stored in model.json (model class, config). */
  metadata?: Record<string, unknown>;
}

export interface WriteCheckpointOptions {
  /** Keep this many newest step folders (default 3; 0 keeps all). */
  keepLast?: number;
  /** Folder name; default `step-<9-digit step>`. */
  name?: string;
  /** Fault injection for tests: runs after the temp folder is complete, before its rename. */
  beforeRename?: (tmpDir: string) => void | Promise<void>;
}

export interface LoadedCheckpoint {
  dir: string;
  tensors: RawTensor[];
  state: TrainerState;
  metadata: Record<string, unknown>;
}

export function stepFolderName(step: number): string {
  return `step-${String(step).padStart(9, '0')}`;
}

const GENERATED_BY = '@artist-ts/runtime';

/** Writes a checkpoint folder under `root` and moves `latest` to it. Returns the folder path. */
export async function writeCheckpoint(
  root: string,
  contents: CheckpointContents,
  options: WriteCheckpointOptions = {},
): Promise<string> {
  const state = contents.state ?? emptyTrainerState();
  const name = options.name ?? stepFolderName(state.step);
  if (name === LATEST_POINTER || name.includes('/') || isTempName(name)) {
    throw new Error(`writeCheckpoint: invalid folder name '${name}'`);
  }
  const seen = new Set<string>();
  for (const t of contents.tensors) {
    if (seen.has(t.name)) throw new Error(`writeCheckpoint: duplicate tensor name '${t.name}'`);
    seen.add(t.name);
    if (elementCount(t.shape) !== t.data.length) {
      throw new Error(
        `writeCheckpoint: tensor '${t.name}' has shape [${t.shape}] but ${t.data.length} elements`,
      );
    }
  }
  await fs.promises.mkdir(root, { recursive: true });
  await removeStaleTemps(root);
  const target = path.join(root, name);
  await atomicWriteDir(
    target,
    async (tmp) => {
      const modelJson: ModelJson = {
        format: CHECKPOINT_FORMAT,
        generatedBy: GENERATED_BY,
        convertedBy: null,
        modelTopology: null,
        weightsManifest: [
          {
            paths: [WEIGHTS_BIN],
            weights: contents.tensors.map((t) => ({
              name: t.name,
              shape: t.shape,
              dtype: t.dtype,
            })),
          },
        ],
        userDefinedMetadata: contents.metadata ?? {},
      };
      const handle = await fs.promises.open(path.join(tmp, WEIGHTS_BIN), 'w');
      try {
        for (const t of contents.tensors) await handle.write(rawTensorBytes(t));
      } finally {
        await handle.close();
      }
      await fs.promises.writeFile(
        path.join(tmp, MODEL_JSON),
        `${JSON.stringify(modelJson, null, 1)}\n`,
      );
      await fs.promises.writeFile(path.join(tmp, TRAINER_STATE_PB), encodeTrainerState(state));
    },
    { overwrite: true, beforeRename: options.beforeRename },
  );
  await atomicWriteFile(path.join(root, LATEST_POINTER), `${name}\n`);
  const keep = options.keepLast ?? 3;
  if (keep > 0) {
    const all = listCheckpoints(root);
    for (const old of all.slice(0, Math.max(0, all.length - keep))) {
      if (old !== name)
        await fs.promises.rm(path.join(root, old), { recursive: true, force: true });
    }
  }
  return target;
}

function isComplete(dir: string): boolean {
  return [MODEL_JSON, WEIGHTS_BIN, TRAINER_STATE_PB].every((f) => fs.existsSync(path.join(dir, f)));
}

/** Complete checkpoint folder names under `root`, oldest first (by name, i.e. by step). */
export function listCheckpoints(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !isTempName(e.name) && isComplete(path.join(root, e.name)))
    .map((e) => e.name)
    .sort();
}

/**
 * The checkpoint folder that `p` designates: `p` itself when it holds model.json, else the
 * folder named by `p/latest`, else the newest complete folder under `p`; null when none exists.
 */
export function resolveCheckpointDir(p: string): string | null {
  if (!fs.existsSync(p)) return null;
  if (fs.existsSync(path.join(p, MODEL_JSON))) return p;
  const pointer = path.join(p, LATEST_POINTER);
  if (fs.existsSync(pointer)) {
    const name = fs.readFileSync(pointer, 'utf8').trim();
    const dir = path.join(p, name);
    if (name && isComplete(dir)) return dir;
  }
  const all = listCheckpoints(p);
  return all.length > 0 ? path.join(p, all[all.length - 1]) : null;
}

/** Reads a checkpoint (a step folder or a root with `latest`). Errors name the file at fault. */
export async function readCheckpoint(p: string): Promise<LoadedCheckpoint> {
  const dir = resolveCheckpointDir(p);
  if (dir === null) throw new Error(`no checkpoint found at ${p}`);
  const modelPath = path.join(dir, MODEL_JSON);
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse(await fs.promises.readFile(modelPath, 'utf8')) as ModelJson;
  } catch (err) {
    throw new Error(`${modelPath}: cannot parse (${(err as Error).message})`);
  }
  if (!Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${modelPath}: field 'weightsManifest' is missing or not an array`);
  }
  const tensors: RawTensor[] = [];
  for (const [gi, group] of modelJson.weightsManifest.entries()) {
    const chunks: Buffer[] = [];
    for (const rel of group.paths) chunks.push(await fs.promises.readFile(path.join(dir, rel)));
    const bytes = Buffer.concat(chunks);
    let offset = 0;
    for (const [wi, spec] of group.weights.entries()) {
      const field = `weightsManifest[${gi}].weights[${wi}]`;
      if (spec.dtype !== 'float32' && spec.dtype !== 'int32' && spec.dtype !== 'bool') {
        throw new Error(`${modelPath}: ${field}.dtype '${spec.dtype}' is not supported`);
      }
      const size = elementCount(spec.shape) * (spec.dtype === 'bool' ? 1 : 4);
      if (offset + size > bytes.length) {
        throw new Error(
          `${modelPath}: ${field} ('${spec.name}') needs bytes ${offset}..${offset + size} but ${group.paths.join('+')} has ${bytes.length}`,
        );
      }
      tensors.push(
        rawTensorFromBytes(
          spec.name,
          spec.shape,
          spec.dtype,
          bytes.subarray(offset, offset + size),
        ),
      );
      offset += size;
    }
    if (offset !== bytes.length) {
      throw new Error(
        `${modelPath}: weightsManifest[${gi}] describes ${offset} bytes but the files hold ${bytes.length}`,
      );
    }
  }
  const statePath = path.join(dir, TRAINER_STATE_PB);
  const state = decodeTrainerState(await fs.promises.readFile(statePath), statePath);
  return { dir, tensors, state, metadata: modelJson.userDefinedMetadata ?? {} };
}
