/**
 * The VQGAN image tokenizer: images <-> code grids. taming-transformers' VQModel (encoder,
 * quant_conv, VectorQuantizer2, post_quant_conv, decoder) with taming's parameter names.
 */
import fs from 'node:fs';
import {
  type CheckpointReader,
  type CheckpointTensor,
  openCheckpoint,
  type StoredTensor,
  writeCheckpoint,
} from '@artist-ts/core/checkpoint-files';
import { Rng } from '@artist-ts/core/rng';
import type { RawTensor, TrainerState } from '@artist-ts/core/trainer-state';
import {
  assertWeightsMatch,
  matchWeights,
  WeightMismatchError,
  weightsMatch,
} from '@artist-ts/core/weight-match';
import { deferredTensor, readStoredTensor } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import type { NormSpec } from './blocks';
import {
  codeGridShape,
  downsamplingFactor,
  type VqganConfig,
  type VqganPresetName,
  validateVqganConfig,
} from './config';
import { conv1x1 } from './conv';
import { type ImageInput, toModelInput, toUint8Pixels } from './images';
import {
  type ActivationMode,
  type DecoderParams,
  decoderHead,
  decoderParams,
  decoderTrunk,
  type EncoderParams,
  encoderForward,
  encoderParams,
} from './networks';
import { vqganTable } from './param_table';
import { type ConvParams, ParamStore } from './params';
import { nearestCodes, type QuantizeOutput, quantize } from './quantizer';

export const VQGAN_MODEL_TYPE = 'artist-ts/vqgan';

export interface VqganCreateOptions {
  /** Seed or label of the initialisation stream (default 'vqgan-init'). */
  seed?: number | string;
  /** 'random' (PyTorch default init, as taming) or 'zeros' (fast; for loading weights). */
  init?: 'random' | 'zeros';
  /**
   * Loaded weights by name, taken as the variables' values without a copy (the caller still
   * disposes them); parameters not in the map are initialised as `init` says.
   */
  weights?: ReadonlyMap<string, tf.Tensor>;
}

export type TrainForwardOutput = {
  /** Reconstruction [b, H, W, 3], float in about [-1, 1]. */
  xrec: tf.Tensor4D;
  /** Decoder activation fed to conv_out [b, H, W, ch]: for the adaptive GAN weight. */
  h: tf.Tensor4D;
  /** Encoder output after quant_conv [b, h, w, d]. */
  ze: tf.Tensor4D;
  q: QuantizeOutput;
};

/**
 * Names of checkpoint tensors that are not the autoencoder's: taming keeps the loss module
 * (discriminator, LPIPS) under `loss.`; the trainer keeps its statistics under `trainer.`.
 */
export function isAuxWeight(name: string): boolean {
  return name.startsWith('loss.') || name.startsWith('trainer.');
}

/**
 * The model weights stored in a checkpoint (aux names left out), after checking them against
 * `expected` (names and shapes; WeightMismatchError naming weights.bin) and their dtype.
 */
function modelWeightsOf(
  reader: CheckpointReader,
  expected: ReadonlyArray<readonly [string, readonly number[]]>,
): StoredTensor[] {
  const source = `${reader.dir}/weights.bin`;
  const stored = reader.weights.filter((t) => !isAuxWeight(t.name));
  assertWeightsMatch(
    source,
    expected,
    stored.map((t) => [t.name, t.shape] as const),
  );
  for (const t of stored) {
    if (t.dtype !== 'float32')
      throw new Error(`${source}: weight '${t.name}' must be float32, got ${t.dtype}`);
  }
  return stored;
}

/** Options of the inference passes (`encode`, `decode`, `reconstruct`). */
export interface InferenceOptions {
  /**
   * Images run together (default `inferenceBatch(config, size)`: as many as keep one
   * full-resolution activation under 64 MiB). Results do not depend on it; memory grows with it.
   */
  maxBatch?: number;
}

/** Bytes of one image's largest activation (full resolution, first level's channels) per slice. */
const INFERENCE_SLICE_BYTES = 64 * 2 ** 20;

/**
 * Images per inference slice: as many as keep one full-resolution activation under 64 MiB
 * (ARTIST-base at 256x256: 2, 10 % faster than one at a time; the demo's 32x32 models: dozens, so small models keep their batch
 * speed).
 */
export function inferenceBatch(config: VqganConfig, size: number): number {
  const perImage = size * size * config.ch * config.chMult[0] * 4;
  return Math.max(1, Math.floor(INFERENCE_SLICE_BYTES / perImage));
}

export class Vqgan {
  readonly config: VqganConfig;
  readonly store: ParamStore;
  readonly encoder: EncoderParams;
  readonly decoder: DecoderParams;
  readonly quantConv: ConvParams;
  readonly postQuantConv: ConvParams;
  readonly codebook: tf.Variable<tf.Rank.R2>; // [nEmbed, embedDim]
  private disposed = false;

  private constructor(config: VqganConfig, options: VqganCreateOptions) {
    this.config = config;
    const rng = new Rng(options.seed ?? 'vqgan-init');
    this.store = new ParamStore('vqgan', rng, true, options.init === 'zeros', options.weights);
    const store = this.store;
    const table = vqganTable(config);
    for (const spec of table.specs) store.create(spec);
    this.encoder = encoderParams(store, table.modules);
    this.quantConv = store.convParams('quant_conv');
    this.codebook = store.get('quantize.embedding.weight') as tf.Variable<tf.Rank.R2>;
    this.postQuantConv = store.convParams('post_quant_conv');
    this.decoder = decoderParams(store, table.modules);
  }

  /** A new model with freshly initialised weights (accepts a preset name or a partial config). */
  static create(
    config: Partial<VqganConfig> | VqganPresetName = 'nano',
    options: VqganCreateOptions = {},
  ): Vqgan {
    return new Vqgan(validateVqganConfig(config), options);
  }

  get norm(): NormSpec {
    return { groups: this.config.numGroups, eps: this.config.normEps };
  }

  /** Code grid [h, w] for a full-resolution image. */
  get codeShape(): [number, number] {
    return codeGridShape(this.config);
  }

  parameterCount(): number {
    return this.store.parameterCount();
  }

  /** Our weight name -> variable (taming key names; see taming_keys.ts). */
  weights(): Record<string, tf.Variable> {
    return Object.fromEntries(this.store.entries());
  }

  trainableVariables(): tf.Variable[] {
    return this.store.trainableVariables();
  }

  /**
   * Runs an inference pass over the batch in slices of at most `inferenceBatch` images and
   * concatenates the results, so the memory of a pass does not grow with the batch: one 256x256
   * image's full-resolution activation is already 32 MiB (ARTIST-base decodes 4 images two at a time in ~1 GB
   * peak RSS, about 1.6 GB in one piece).
   */
  private inSlices<T extends tf.Tensor>(
    x: tf.Tensor,
    imageSize: number,
    options: InferenceOptions,
    pass: (slice: tf.Tensor) => T,
  ): T {
    const b = x.shape[0];
    const per = options.maxBatch ?? inferenceBatch(this.config, imageSize);
    if (!Number.isInteger(per) || per < 1) {
      throw new Error(`Vqgan: 'maxBatch' must be a positive integer, got ${per}`);
    }
    if (b <= per) return pass(x);
    const parts: T[] = [];
    try {
      for (let i = 0; i < b; i += per) {
        const n = Math.min(per, b - i);
        parts.push(tf.tidy(() => pass(tf.slice(x, i, n))));
      }
      return tf.concat(parts, 0) as T;
    } finally {
      tf.dispose(parts);
    }
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('Vqgan: used after dispose()');
  }

  private input(images: ImageInput): tf.Tensor4D {
    const x = toModelInput(images, this.config.inChannels);
    const f = downsamplingFactor(this.config);
    if (x.shape[1] % f !== 0 || x.shape[2] % f !== 0) {
      const shape = x.shape;
      x.dispose();
      throw new Error(`images: height and width must be multiples of ${f}, got shape [${shape}]`);
    }
    return x;
  }

  /**
   * Encoder + quant_conv: continuous latents [b, h, w, embedDim] from [-1, 1] images.
   * `release`: free each activation once the next exists (inference; not under a gradient).
   */
  encodeLatents(x: tf.Tensor4D, release = false): tf.Tensor4D {
    return this.latents(x, release ? 'release' : 'keep');
  }

  /** Encoder + quant_conv with the activations treated as `mode` says. */
  private latents(x: tf.Tensor4D, mode: ActivationMode): tf.Tensor4D {
    return tf.tidy(() =>
      conv1x1(
        encoderForward(this.encoder, x, this.norm, mode),
        this.quantConv.weight,
        this.quantConv.bias,
      ),
    );
  }

  /** Latents [b, h, w, d] -> nearest codes [b, h, w] int32. */
  latentsToCodes(ze: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, h, w, d] = ze.shape;
      return tf.reshape(nearestCodes(tf.reshape(ze, [b * h * w, d]), this.codebook), [
        b,
        h,
        w,
      ]) as tf.Tensor3D;
    });
  }

  /** Images (uint8 [0, 255] or float [-1, 1], NHWC) -> codes [b, h, w] int32, row-major grid. */
  encode(images: ImageInput, options: InferenceOptions = {}): tf.Tensor3D {
    this.checkAlive();
    const x = this.input(images);
    try {
      return this.inSlices(x, x.shape[1], options, (xs) =>
        tf.tidy(() => this.latentsToCodes(this.encodeLatents(xs as tf.Tensor4D, true))),
      );
    } finally {
      x.dispose();
    }
  }

  /** Codebook vectors for codes [b, h, w] -> [b, h, w, embedDim]. */
  codesToLatents(codes: tf.Tensor3D | tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      let c: tf.Tensor = codes;
      if (c.rank === 2) {
        // [b, h*w] flat codes (ARTIST's sequence layout) -> square grid
        const [b, n] = c.shape;
        const s = Math.round(Math.sqrt(n));
        if (s * s !== n) throw new Error(`codes: a flat [b, n] batch needs square n, got ${n}`);
        c = tf.reshape(c, [b, s, s]);
      }
      if (c.dtype !== 'int32') throw new Error(`codes: dtype must be int32, got ${c.dtype}`);
      const [b, h, w] = c.shape as [number, number, number];
      const flat = tf.reshape(c, [b * h * w]);
      const min = tf.min(flat).dataSync()[0];
      const max = tf.max(flat).dataSync()[0];
      if (min < 0 || max >= this.config.nEmbed) {
        throw new Error(
          `codes: values must be in [0, ${this.config.nEmbed}), got [${min}, ${max}]`,
        );
      }
      return tf.reshape(tf.gather(this.codebook, flat), [
        b,
        h,
        w,
        this.config.embedDim,
      ]) as tf.Tensor4D;
    });
  }

  /**
   * post_quant_conv + decoder: quantized latents -> images in about [-1, 1].
   * `release`: free each activation once the next exists (inference; not under a gradient).
   */
  decodeLatents(zq: tf.Tensor4D, release = false): tf.Tensor4D {
    return tf.tidy(() => {
      const z = conv1x1(zq, this.postQuantConv.weight, this.postQuantConv.bias);
      const h = decoderTrunk(this.decoder, z, this.norm, release ? 'release' : 'keep');
      if (release) z.dispose();
      return decoderHead(this.decoder, h, release);
    });
  }

  /** Codes [b, h, w] (or flat [b, h*w]) int32 -> float images [b, H, W, 3] in about [-1, 1] (not clipped). */
  decode(codes: tf.Tensor3D | tf.Tensor2D, options: InferenceOptions = {}): tf.Tensor4D {
    this.checkAlive();
    // output side: code rows x the downsampling factor (a flat [b, h*w] grid is square)
    const rows = codes.rank === 3 ? codes.shape[1] : Math.round(Math.sqrt(codes.shape[1]));
    return this.inSlices(codes, rows * downsamplingFactor(this.config), options, (cs) =>
      tf.tidy(() => this.decodeLatents(this.codesToLatents(cs as tf.Tensor3D), true)),
    );
  }

  /**
   * Decodes code grids to uint8 RGB pixels, NHWC, `clip(round((x + 1) * 127.5))` as EasyNLP
   * post-processes. `codes` is one Int32Array per image (each `h * w` codes, row-major: ARTIST's
   * flat `w * row + col` order), or one Int32Array holding `n * h * w` codes back to back.
   * Runs in batches of `batchSize` images (default 16), yielding to the event loop between them,
   * and returns `n * H * W * 3` bytes. Leaves no tensors behind.
   */
  async decodeToPixels(
    codes: Int32Array[] | Int32Array,
    options: { batchSize?: number } = {},
  ): Promise<Uint8Array> {
    this.checkAlive();
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(`decodeToPixels: 'batchSize' must be a positive integer, got ${batchSize}`);
    }
    const [gh, gw] = this.codeShape;
    const per = gh * gw;
    let flat: Int32Array;
    if (codes instanceof Int32Array) {
      if (codes.length % per !== 0) {
        throw new Error(
          `decodeToPixels: codes has ${codes.length} values, not a multiple of ${per} (${gh}x${gw} per image)`,
        );
      }
      flat = codes;
    } else if (Array.isArray(codes)) {
      flat = new Int32Array(codes.length * per);
      codes.forEach((c, i) => {
        if (!(c instanceof Int32Array) || c.length !== per) {
          throw new Error(
            `decodeToPixels: codes[${i}] must be an Int32Array of ${per} codes (${gh}x${gw}), got ${c instanceof Int32Array ? `${c.length} values` : typeof c}`,
          );
        }
        flat.set(c, i * per);
      });
    } else {
      throw new Error('decodeToPixels: codes must be an Int32Array or an array of Int32Array');
    }
    const n = flat.length / per;
    const size = this.config.resolution;
    const perImage = size * size * this.config.outChannels;
    const out = new Uint8Array(n * perImage);
    for (let i = 0; i < n; i += batchSize) {
      const m = Math.min(batchSize, n - i);
      const codesT = tf.tensor3d(flat.subarray(i * per, (i + m) * per), [m, gh, gw], 'int32');
      try {
        const images = this.decode(codesT); // [m, H, W, 3] in about [-1, 1]
        out.set(toUint8Pixels(images), i * perImage);
        images.dispose();
      } finally {
        codesT.dispose();
      }
      if (i + m < n) await new Promise((r) => setImmediate(r));
    }
    return out;
  }

  /** encode + decode. */
  reconstruct(images: ImageInput, options: InferenceOptions = {}): tf.Tensor4D {
    this.checkAlive();
    const x = this.input(images);
    try {
      return this.inSlices(x, x.shape[1], options, (xs) =>
        tf.tidy(() =>
          this.decodeLatents(
            this.codesToLatents(this.latentsToCodes(this.encodeLatents(xs as tf.Tensor4D, true))),
            true,
          ),
        ),
      );
    } finally {
      x.dispose();
    }
  }

  /**
   * The differentiable training forward (straight-through quantization). `recompute`: keep only
   * the encoder's and decoder's stage boundaries for the backward pass, which runs each stage
   * again (same gradients up to float rounding, much less memory; see ActivationMode).
   */
  trainForward(x: tf.Tensor4D, options: { recompute?: boolean } = {}): TrainForwardOutput {
    this.checkAlive();
    const mode: ActivationMode = options.recompute ? 'recompute' : 'keep';
    return tf.tidy(() => {
      const ze = this.latents(x, mode); // [b, h, w, d]
      const q = quantize(ze, this.codebook, this.config.beta, this.config.legacyBeta);
      const z = conv1x1(q.zq, this.postQuantConv.weight, this.postQuantConv.bias);
      const h = decoderTrunk(this.decoder, z, this.norm, mode); // [b, H, W, ch]
      const xrec = decoderHead(this.decoder, h); // [b, H, W, 3]
      return { xrec, h, ze, q };
    });
  }

  /** Plain-memory copies of every weight (our names). */
  rawWeights(): RawTensor[] {
    return this.store.entries().map(([name, v]) => ({
      name,
      shape: [...v.shape],
      dtype: 'float32' as const,
      data: Float32Array.from(v.dataSync() as Float32Array),
    }));
  }

  /**
   * Assigns weights by name. `loss.*` and `trainer.*` names are ignored. Throws
   * WeightMismatchError listing missing, unexpected and mis-shaped names unless `strict` is false
   * (then only present, well-shaped weights are assigned).
   */
  assignWeights(tensors: RawTensor[], options: { source?: string; strict?: boolean } = {}): void {
    this.checkAlive();
    const source = options.source ?? 'weights';
    const byName = new Map<string, RawTensor>();
    for (const t of tensors) if (!isAuxWeight(t.name)) byName.set(t.name, t);
    const match = matchWeights(
      this.store.entries().map(([name, v]) => [name, v.shape] as const),
      [...byName.values()].map((t) => [t.name, t.shape] as const),
    );
    if ((options.strict ?? true) && !weightsMatch(match)) {
      throw new WeightMismatchError(source, match);
    }
    const misShaped = new Set(match.misShaped.map((m) => m.name));
    for (const [name, v] of this.store.entries()) {
      const t = byName.get(name);
      if (!t || misShaped.has(name)) continue;
      if (t.dtype !== 'float32')
        throw new Error(`${source}: weight '${name}' must be float32, got ${t.dtype}`);
      tf.tidy(() => v.assign(tf.tensor(t.data as Float32Array, v.shape, 'float32')));
    }
  }

  /** Metadata stored in model.json. */
  metadata(): Record<string, unknown> {
    return { modelType: VQGAN_MODEL_TYPE, config: this.config };
  }

  /**
   * Writes a checkpoint under `root` (`root/step-NNNNNNNNN/{model.json, weights.bin, trainer_state.pb}`,
   * atomically, and moves `root/latest`). Returns the folder written. Each weight is read back from
   * the backend only when the writer reaches it (no whole copy of the model is made); so are
   * deferred `extraTensors` and `optimizerSlots` (optimizer.bin).
   */
  async save(
    root: string,
    options: {
      state?: TrainerState;
      extraTensors?: CheckpointTensor[];
      optimizerSlots?: CheckpointTensor[];
      keepLast?: number;
      name?: string;
    } = {},
  ): Promise<string> {
    this.checkAlive();
    return writeCheckpoint(
      root,
      {
        tensors: [
          ...this.store.entries().map(([name, v]) => deferredTensor(name, v)),
          ...(options.extraTensors ?? []),
        ],
        state: options.state,
        optimizerSlots: options.optimizerSlots,
        metadata: this.metadata(),
      },
      { keepLast: options.keepLast, name: options.name },
    );
  }

  /**
   * Assigns the model weights of an opened checkpoint (`loss.*` and `trainer.*` ignored), one
   * tensor at a time from disk into the backend. Every name and shape is checked first: a
   * WeightMismatchError and nothing assigned when they differ.
   */
  assignFromCheckpoint(reader: CheckpointReader): void {
    this.checkAlive();
    const stored = modelWeightsOf(
      reader,
      this.store.entries().map(([name, v]) => [name, v.shape] as const),
    );
    for (const t of stored) {
      const value = readStoredTensor(reader, t);
      this.store.get(t.name).assign(value);
      value.dispose();
    }
  }

  /** Loads a model saved by `save` (a checkpoint folder, or a root whose `latest` is followed). */
  static async load(pathOrRoot: string): Promise<Vqgan> {
    if (!fs.existsSync(pathOrRoot)) throw new Error(`Vqgan.load: '${pathOrRoot}' does not exist`);
    const reader = await openCheckpoint(pathOrRoot);
    const weights = new Map<string, tf.Tensor>();
    try {
      const meta = reader.metadata;
      if (meta.modelType !== VQGAN_MODEL_TYPE) {
        throw new Error(
          `${reader.dir}/model.json: userDefinedMetadata.modelType is '${String(meta.modelType)}', expected '${VQGAN_MODEL_TYPE}'`,
        );
      }
      let config: VqganConfig;
      try {
        config = validateVqganConfig(meta.config as Partial<VqganConfig>);
      } catch (e) {
        throw new Error(`${reader.dir}/model.json: userDefinedMetadata.${(e as Error).message}`);
      }
      // Names and shapes first (nothing read yet), then each tensor straight into backend memory.
      const stored = modelWeightsOf(
        reader,
        vqganTable(config).specs.map((p) => [p.name, p.shape] as const),
      );
      for (const t of stored) weights.set(t.name, readStoredTensor(reader, t));
      return new Vqgan(config, { init: 'zeros', weights });
    } finally {
      reader.close();
      tf.dispose([...weights.values()]);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.store.dispose();
    this.disposed = true;
  }
}
