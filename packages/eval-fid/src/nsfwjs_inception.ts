/**
 * The default, offline feature extractor: the Keras InceptionV3 bundled in the npm package
 * `nsfwjs@4.4.0` (MIT), cut at `mixed10` and averaged over space, i.e. the 2048-d output of its
 * `average_pooling2d_10` at 299 px, the same place as FID's pool3.
 *
 * The network was fine-tuned for 5-class NSFW detection and its weights are uint8-quantized, so
 * its scores are NOT comparable with published FIDs (about 100x smaller on emoji); the fingerprint
 * says so. It is a real pretrained Inception with the canonical interface, good for tracking a
 * run and comparing runs with each other.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { BILINEAR_HALF_PIXEL, type FeatureExtractor, hashBytes, resizeBilinear } from './extractor';
import type { FeatureProtocol } from './protocol';

export const NSFWJS_INCEPTION_ID = 'nsfwjs-4.4.0-inception-v3-mixed10-avg';

export interface NsfwjsInceptionConfig {
  /**
   * Folder with the model: nsfwjs's bundled layout (`model.min.js` + `group1-shard*of*.min.js`) or
   * a tfjs layers model (`model.json` + weight files). Default: the installed `nsfwjs` package.
   */
  modelDir: string | null;
  /** Network input size (default 299; smaller sizes run faster but change the features). */
  imageSize: number;
}

export const DEFAULT_NSFWJS_INCEPTION_CONFIG: Readonly<NsfwjsInceptionConfig> = Object.freeze({
  modelDir: null,
  imageSize: 299,
});

/** Copies `config`, fills defaults and throws an error naming the bad field. */
export function validateNsfwjsInceptionConfig(
  config: Partial<NsfwjsInceptionConfig> = {},
): NsfwjsInceptionConfig {
  const c: NsfwjsInceptionConfig = { ...DEFAULT_NSFWJS_INCEPTION_CONFIG, ...config };
  if (c.modelDir !== null && typeof c.modelDir !== 'string') {
    throw new TypeError(
      `NsfwjsInceptionConfig.modelDir: expected a path or null, got ${typeof c.modelDir}`,
    );
  }
  // mixed10 needs at least 75 px (as Keras' InceptionV3 minimum).
  if (!Number.isInteger(c.imageSize) || c.imageSize < 75) {
    throw new RangeError(
      `NsfwjsInceptionConfig.imageSize: expected an integer >= 75, got ${c.imageSize}`,
    );
  }
  return c;
}

/** nsfwjs is optional: it is resolved only when this extractor is asked for. */
export function defaultNsfwjsModelDir(): string {
  let entry: string;
  try {
    entry = require.resolve('nsfwjs');
  } catch {
    throw new Error(
      "the default feature extractor needs the optional package 'nsfwjs@4.4.0' (pnpm add nsfwjs@4.4.0), " +
        'or pass modelDir, or use FidInceptionV3 with your own pytorch-fid weights',
    );
  }
  // .../nsfwjs/dist/cjs/index.js -> .../nsfwjs/dist/models/inception_v3
  return join(dirname(entry), '..', 'models', 'inception_v3');
}

/** Extracts the string literal a browserify-wrapped shard exports (`h.exports="<base64>"`). */
function shardBase64(file: string): string {
  const text = readFileSync(file, 'utf8');
  const m = /\.exports="([A-Za-z0-9+/=]+)"/.exec(text);
  if (!m) throw new Error(`${file}: no base64 weight payload found (not an nsfwjs shard?)`);
  return m[1]!;
}

/** The object literal of nsfwjs's `model.min.js`, evaluated in an empty sandbox. */
function bundledModelJson(file: string): {
  modelTopology: unknown;
  weightsManifest: tf.io.WeightsManifestConfig;
} {
  const text = readFileSync(file, 'utf8');
  const sandbox: { module: { exports: unknown }; exports: unknown } = {
    module: { exports: {} },
    exports: {},
  };
  sandbox.exports = sandbox.module.exports;
  // The file is a UMD/browserify wrapper around one object literal; run it with only
  // `module`/`exports` in scope (no require, no globals needed).
  runInNewContext(text, sandbox, { filename: file, timeout: 10_000 });
  const out = sandbox.module.exports as {
    modelTopology?: unknown;
    weightsManifest?: tf.io.WeightsManifestConfig;
  };
  if (!out?.modelTopology || !out.weightsManifest)
    throw new Error(`${file}: no modelTopology/weightsManifest exported`);
  return out as { modelTopology: unknown; weightsManifest: tf.io.WeightsManifestConfig };
}

/** Reads model topology, weight specs and weight bytes from disk (no network). */
export function readLayersModelArtifacts(dir: string): {
  artifacts: tf.io.ModelArtifacts;
  weightBytes: Uint8Array;
} {
  let topology: unknown;
  let manifest: tf.io.WeightsManifestConfig;
  let chunks: Uint8Array[];
  if (existsSync(join(dir, 'model.json'))) {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: unknown;
      weightsManifest: tf.io.WeightsManifestConfig;
    };
    topology = json.modelTopology;
    manifest = json.weightsManifest;
    chunks = manifest.flatMap((g) =>
      g.paths.map((p) => new Uint8Array(readFileSync(join(dir, p)))),
    );
  } else if (existsSync(join(dir, 'model.min.js'))) {
    const json = bundledModelJson(join(dir, 'model.min.js'));
    topology = json.modelTopology;
    manifest = json.weightsManifest;
    const files = readdirSync(dir);
    chunks = manifest.flatMap((g) =>
      g.paths.map((p) => {
        const f = files.find((x) => x === `${p}.min.js`);
        if (!f) throw new Error(`${dir}: weight shard ${p}.min.js is missing`);
        return new Uint8Array(Buffer.from(shardBase64(join(dir, f)), 'base64'));
      }),
    );
  } else {
    throw new Error(`${dir}: neither model.json nor model.min.js found`);
  }
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const weightBytes = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    weightBytes.set(c, o);
    o += c.length;
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: topology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: manifest.flatMap((g) => g.weights),
    weightData: weightBytes.buffer.slice(
      weightBytes.byteOffset,
      weightBytes.byteOffset + weightBytes.byteLength,
    ),
  };
  return { artifacts, weightBytes };
}

interface KerasLayer {
  name: string;
  config: { batch_input_shape?: (number | null)[] };
}

/**
 * Rewrites a Keras functional-model topology so that it ends at `outputLayer` and accepts any
 * spatial size (the classifier head after `mixed10` is dropped; its weights are then ignored).
 */
function truncateTopology(topology: unknown, outputLayer: string): unknown {
  const t = JSON.parse(JSON.stringify(topology)) as {
    model_config: { config: { layers: KerasLayer[]; output_layers: unknown[] } };
  };
  const cfg = t.model_config.config;
  const idx = cfg.layers.findIndex((l) => l.name === outputLayer);
  if (idx < 0) throw new Error(`model topology has no layer '${outputLayer}'`);
  cfg.layers = cfg.layers.slice(0, idx + 1);
  cfg.output_layers = [[outputLayer, 0, 0]];
  const input = cfg.layers[0]!;
  if (input.config.batch_input_shape) input.config.batch_input_shape = [null, null, null, 3];
  return t;
}

class NsfwjsInceptionV3 implements FeatureExtractor {
  constructor(
    private readonly model: tf.LayersModel,
    readonly protocol: FeatureProtocol,
  ) {}

  features(images: tf.Tensor4D): tf.Tensor2D {
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new RangeError(`images: expected [b, h, w, 3], got [${images.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const x = resizeBilinear(images, this.protocol.imageSize); // [b, S, S, 3] in [0, 1]
      const m = this.model.predict(x) as tf.Tensor4D; // [b, s, s, 2048] (s = 8 at 299)
      return tf.mean(m, [1, 2]) as tf.Tensor2D; // [b, 2048]
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Loads the nsfwjs InceptionV3 from disk (a few seconds: 22 MB of uint8 weights) and returns a
 * 2048-d extractor. Inputs are [0, 1] RGB, resized bilinearly to `imageSize`.
 */
export async function loadNsfwjsInceptionV3(
  config: Partial<NsfwjsInceptionConfig> = {},
): Promise<FeatureExtractor> {
  const c = validateNsfwjsInceptionConfig(config);
  const dir = c.modelDir ?? defaultNsfwjsModelDir();
  const { artifacts, weightBytes } = readLayersModelArtifacts(dir);
  const weightsHash = hashBytes(weightBytes);
  artifacts.modelTopology = truncateTopology(
    artifacts.modelTopology,
    'mixed10',
  ) as tf.io.ModelArtifacts['modelTopology'];
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts), { strict: false });
  const featureDim = (model.outputs[0]!.shape[3] as number | null) ?? 0;
  if (featureDim !== 2048) {
    model.dispose();
    throw new Error(`${dir}: expected 2048 channels at mixed10, got ${featureDim}`);
  }
  return new NsfwjsInceptionV3(model, {
    extractor: NSFWJS_INCEPTION_ID,
    weightsHash,
    featureDim,
    imageSize: c.imageSize,
    resize: BILINEAR_HALF_PIXEL,
    comparableWithPublished: false,
  });
}
