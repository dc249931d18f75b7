/**
 * Checkpoint folders on disk, without tfjs (`@artist-ts/core/checkpoint-files`).
 *
 * A checkpoint root holds one folder per saved step and a `latest` pointer:
 *
 *   <root>/step-000000500/model.json        tfjs weights manifest (loadable with tf.io)
 *   <root>/step-000000500/weights.bin       all tensors, concatenated little-endian
 *   <root>/step-000000500/trainer_state.pb  TrainerState protobuf
 *   <root>/step-000000500/optimizer.bin     optimizer slots, concatenated (only when there are slots;
 *                                           listed in model.json's `optimizerManifest`)
 *   <root>/latest                           "step-000000500\n"
 *
 * Each folder is written to a temporary sibling, fsynced and renamed, then `latest` is replaced
 * atomically, then folders beyond `keepLast` are pruned. A crash at any point leaves the previous
 * checkpoint loadable.
 *
 * Sizes: no file is ever read or written whole. Tensors are written one at a time (a
 * `DeferredTensor` is asked for its values only when the writer reaches it) and read straight into
 * their own typed arrays, every I/O call moving at most `ioChunkBytes()` bytes (`@artist-ts/core/files`;
 * Node refuses single calls above 2 GiB), so weights and optimizer state of several GiB save and load,
 * and memory holds each value once. Optimizer slots go to `optimizer.bin`, not into the protobuf
 * (a protobuf is read whole and cannot exceed 2 GiB); such a trainer_state.pb has format_version 2.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  atomicWriteDir,
  atomicWriteFile,
  isTempName,
  readFullySync,
  removeStaleTemps,
  writeFully,
} from './files';
import {
  decodeTrainerState,
  elementCount,
  emptyTrainerState,
  encodeTrainerState,
  type RawDType,
  type RawTensor,
  rawTensorBytes,
  TRAINER_STATE_FORMAT_VERSION,
  type TrainerState,
} from './trainer_state';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const TRAINER_STATE_PB = 'trainer_state.pb';
export const OPTIMIZER_BIN = 'optimizer.bin';
export const LATEST_POINTER = 'latest';
export const CHECKPOINT_FORMAT = 'artist-ts-checkpoint';

/** One entry of the tfjs weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: RawDType;
}

/** One group of a manifest: its tensors are stored back to back in the concatenation of `paths`. */
export interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** `model.json`: the tfjs weights-manifest layout plus our metadata. */
export interface ModelJson {
  format: string;
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: null;
  weightsManifest: ManifestGroup[];
  /** The optimizer slots in optimizer.bin (absent when there are none, and in older checkpoints). */
  optimizerManifest?: ManifestGroup[];
  userDefinedMetadata?: Record<string, unknown>;
}

/**
 * A tensor whose values are produced only when the writer reaches it (e.g. read back from a tfjs
 * backend), so a checkpoint is streamed tensor by tensor and never held whole in memory.
 */
export interface DeferredTensor {
  name: string;
  shape: number[];
  dtype: RawDType;
  /** Called once, when the tensor is written; must return `elementCount(shape)` values. */
  values(): Promise<RawTensor['data']> | RawTensor['data'];
}

export type CheckpointTensor = RawTensor | DeferredTensor;

export interface CheckpointContents {
  tensors: CheckpointTensor[];
  state?: TrainerState;
  /** Optimizer slots, written to optimizer.bin; default `state.optimizerSlots`. */
  optimizerSlots?: CheckpointTensor[];
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
  const slots = contents.optimizerSlots ?? state.optimizerSlots;
  checkTensors(contents.tensors, 'tensor');
  checkTensors(slots, 'optimizer slot');
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
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: contents.tensors.map(specOf) }],
        userDefinedMetadata: contents.metadata ?? {},
      };
      if (slots.length > 0) {
        modelJson.optimizerManifest = [{ paths: [OPTIMIZER_BIN], weights: slots.map(specOf) }];
      }
      await writeTensorFile(path.join(tmp, WEIGHTS_BIN), contents.tensors);
      if (slots.length > 0) await writeTensorFile(path.join(tmp, OPTIMIZER_BIN), slots);
      await fs.promises.writeFile(
        path.join(tmp, MODEL_JSON),
        `${JSON.stringify(modelJson, null, 1)}\n`,
      );
      await fs.promises.writeFile(
        path.join(tmp, TRAINER_STATE_PB),
        encodeTrainerState(
          { ...state, optimizerSlots: [] },
          slots.length > 0 ? TRAINER_STATE_FORMAT_VERSION : 1,
        ),
      );
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

function specOf(t: CheckpointTensor): WeightSpec {
  return { name: t.name, shape: t.shape, dtype: t.dtype };
}

function checkTensors(tensors: readonly CheckpointTensor[], what: string): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`writeCheckpoint: duplicate ${what} name '${t.name}'`);
    seen.add(t.name);
    if ('data' in t) checkLength(t, t.data);
  }
}

function checkLength(t: CheckpointTensor, data: RawTensor['data']): void {
  if (elementCount(t.shape) !== data.length) {
    throw new Error(
      `writeCheckpoint: tensor '${t.name}' has shape [${t.shape}] but ${data.length} elements`,
    );
  }
}

/** Writes the tensors back to back, one at a time (deferred ones are produced here). */
async function writeTensorFile(file: string, tensors: readonly CheckpointTensor[]): Promise<void> {
  const handle = await fs.promises.open(file, 'w');
  try {
    for (const t of tensors) {
      const data = 'data' in t ? t.data : await t.values();
      checkLength(t, data);
      await writeFully(handle, rawTensorBytes({ ...t, data }));
    }
  } finally {
    await handle.close();
  }
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

/** Where a stored tensor lies: byte ranges of the manifest group's files, in order. */
export interface StoredTensor extends WeightSpec {
  /** `weightsManifest[g].weights[w]` (or `optimizerManifest...`), for errors. */
  field: string;
  byteLength: number;
  pieces: { file: string; offset: number; length: number }[];
}

function bytesPerElement(dtype: RawDType): number {
  return dtype === 'bool' ? 1 : 4;
}

/** Places a manifest's tensors in its files, checking every size before anything is read. */
function layoutManifest(
  dir: string,
  modelPath: string,
  manifest: unknown,
  key: string,
): StoredTensor[] {
  if (!Array.isArray(manifest)) {
    throw new Error(`${modelPath}: field '${key}' is missing or not an array`);
  }
  const out: StoredTensor[] = [];
  for (const [gi, group] of (manifest as ManifestGroup[]).entries()) {
    const at = `${key}[${gi}]`;
    if (!Array.isArray(group?.paths) || !group.paths.every((p) => typeof p === 'string')) {
      throw new Error(`${modelPath}: field '${at}.paths' must be an array of file names`);
    }
    if (!Array.isArray(group.weights)) {
      throw new Error(`${modelPath}: field '${at}.weights' must be an array`);
    }
    const files = group.paths.map((rel) => {
      const file = path.join(dir, rel);
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch (err) {
        throw new Error(`${file}: cannot read (${(err as Error).message}), named by ${modelPath}`);
      }
      return { file, size };
    });
    let fi = 0;
    let inFile = 0;
    let groupAt = 0;
    for (const [wi, spec] of group.weights.entries()) {
      const field = `${at}.weights[${wi}]`;
      if (spec.dtype !== 'float32' && spec.dtype !== 'int32' && spec.dtype !== 'bool') {
        throw new Error(`${modelPath}: ${field}.dtype '${spec.dtype}' is not supported`);
      }
      if (
        !Array.isArray(spec.shape) ||
        !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
      ) {
        throw new Error(`${modelPath}: ${field}.shape must be an array of non-negative integers`);
      }
      const byteLength = elementCount(spec.shape) * bytesPerElement(spec.dtype);
      const pieces: StoredTensor['pieces'] = [];
      let need = byteLength;
      while (need > 0) {
        while (fi < files.length && inFile === files[fi].size) {
          fi++;
          inFile = 0;
        }
        if (fi === files.length) {
          const last = files[files.length - 1];
          throw new Error(
            `${last?.file ?? modelPath}: truncated: the file ends at byte ${last?.size ?? 0}, but ${field} ('${spec.name}') of ${modelPath} needs bytes ${groupAt}..${groupAt + byteLength} of ${group.paths.join('+')}`,
          );
        }
        const length = Math.min(need, files[fi].size - inFile);
        pieces.push({ file: files[fi].file, offset: inFile, length });
        inFile += length;
        need -= length;
      }
      groupAt += byteLength;
      out.push({ ...spec, field, byteLength, pieces });
    }
    const extra = files.slice(fi).reduce((a, f) => a + f.size, 0) - inFile;
    if (extra > 0) {
      throw new Error(
        `${modelPath}: ${at} describes ${files.reduce((a, f) => a + f.size, 0) - extra} bytes but ${group.paths.join('+')} hold ${extra} more`,
      );
    }
  }
  return out;
}

/**
 * An opened checkpoint: its metadata, trainer state and where every tensor lies, read one tensor at
 * a time (`read` / `readInto`). Close it when done.
 */
export class CheckpointReader {
  private readonly fds = new Map<string, number>();

  private constructor(
    readonly dir: string,
    readonly metadata: Record<string, unknown>,
    /** The trainer state; its `optimizerSlots` are empty when they live in optimizer.bin. */
    readonly state: TrainerState,
    readonly weights: readonly StoredTensor[],
    /** Optimizer slots in optimizer.bin (empty for older checkpoints: see `state.optimizerSlots`). */
    readonly slots: readonly StoredTensor[],
  ) {}

  /** Opens a step folder or a root with `latest`; checks every file size. Errors name the file. */
  static async open(p: string): Promise<CheckpointReader> {
    const dir = resolveCheckpointDir(p);
    if (dir === null) throw new Error(`no checkpoint found at ${p}`);
    const modelPath = path.join(dir, MODEL_JSON);
    let modelJson: ModelJson;
    try {
      modelJson = JSON.parse(await fs.promises.readFile(modelPath, 'utf8')) as ModelJson;
    } catch (err) {
      throw new Error(`${modelPath}: cannot parse (${(err as Error).message})`);
    }
    const weights = layoutManifest(dir, modelPath, modelJson.weightsManifest, 'weightsManifest');
    const slots =
      modelJson.optimizerManifest === undefined
        ? []
        : layoutManifest(dir, modelPath, modelJson.optimizerManifest, 'optimizerManifest');
    const statePath = path.join(dir, TRAINER_STATE_PB);
    const state = decodeTrainerState(await fs.promises.readFile(statePath), statePath);
    if (slots.length > 0 && state.optimizerSlots.length > 0) {
      throw new Error(
        `${statePath}: holds optimizer slots, and ${modelPath} lists more in optimizer.bin`,
      );
    }
    return new CheckpointReader(dir, modelJson.userDefinedMetadata ?? {}, state, weights, slots);
  }

  /** Reads a stored tensor's bytes into `target` (exactly `t.byteLength` bytes), in chunks. */
  readInto(t: StoredTensor, target: Uint8Array): void {
    if (target.length !== t.byteLength) {
      throw new Error(
        `readInto '${t.name}': target has ${target.length} bytes, the tensor ${t.byteLength}`,
      );
    }
    let at = 0;
    for (const piece of t.pieces) {
      let fd = this.fds.get(piece.file);
      if (fd === undefined) {
        fd = fs.openSync(piece.file, 'r');
        this.fds.set(piece.file, fd);
      }
      const n = readFullySync(fd, target.subarray(at, at + piece.length), piece.offset);
      if (n < piece.length) {
        throw new Error(
          `${piece.file}: unexpected end of file at byte ${piece.offset + n} while reading '${t.name}' (${t.field})`,
        );
      }
      at += piece.length;
    }
  }

  /** A stored tensor as a RawTensor (its own memory, read straight into it). */
  read(t: StoredTensor): RawTensor {
    const n = elementCount(t.shape);
    const data =
      t.dtype === 'float32'
        ? new Float32Array(n)
        : t.dtype === 'int32'
          ? new Int32Array(n)
          : new Uint8Array(n);
    this.readInto(t, new Uint8Array(data.buffer, 0, t.byteLength));
    return { name: t.name, shape: t.shape.slice(), dtype: t.dtype, data };
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

/** Opens a checkpoint for reading one tensor at a time (see CheckpointReader). */
export function openCheckpoint(p: string): Promise<CheckpointReader> {
  return CheckpointReader.open(p);
}

/**
 * Reads a whole checkpoint (a step folder or a root with `latest`), optimizer slots into
 * `state.optimizerSlots`. Each tensor is read straight into its own array. Errors name the file.
 */
export async function readCheckpoint(p: string): Promise<LoadedCheckpoint> {
  const reader = await openCheckpoint(p);
  try {
    const tensors = reader.weights.map((t) => reader.read(t));
    const state = reader.state;
    if (reader.slots.length > 0) state.optimizerSlots = reader.slots.map((t) => reader.read(t));
    return { dir: reader.dir, tensors, state, metadata: reader.metadata };
  } finally {
    reader.close();
  }
}
