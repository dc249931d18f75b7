/**
 * The runtime self-check: initialise the backend, train a tiny model for a few steps, checkpoint
 * it with its optimizer state, load it back and compare. Returns a report; printing is the CLI's job.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import * as tf from '@tensorflow/tfjs';
import { initRuntime, type RuntimeInfo, type RuntimeOptions } from './backend';
import { assignWeights, loadCheckpoint, restoreOptimizer, saveCheckpoint } from './checkpoint';
import { randomNormalTensor } from './init';
import { AdamW } from './optim';

export interface SelfCheckReport {
  runtime: RuntimeInfo;
  checkpointDir: string;
  steps: number;
  lossBefore: number;
  lossAfter: number;
  /** Largest |difference| between the original and reloaded weights (must be 0). */
  weightMaxAbsDiff: number;
  /** Loss of one more step from the reloaded model vs from the original (must match exactly). */
  resumeLossOriginal: number;
  resumeLossReloaded: number;
  ok: boolean;
  seconds: number;
}

function makeModel(rng: Rng): Record<string, tf.Variable> {
  return {
    'dense/kernel': tf.variable(randomNormalTensor(rng, [8, 4], 0.5)),
    'dense/bias': tf.variable(tf.zeros([4])),
  };
}

function lossOf(vars: Record<string, tf.Variable>, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const pred = tf.add(tf.matMul(x, vars['dense/kernel']), vars['dense/bias']); // [n, 4]
    return tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
  });
}

async function step(
  opt: AdamW,
  vars: Record<string, tf.Variable>,
  x: tf.Tensor,
  y: tf.Tensor,
): Promise<number> {
  const { value, grads } = tf.variableGrads(() => lossOf(vars, x, y), Object.values(vars));
  const byName: Record<string, tf.Tensor> = {};
  for (const [k, p] of Object.entries(vars)) byName[k] = grads[p.name];
  opt.applyGradients(vars, byName);
  const v = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return v;
}

export async function runSelfCheck(
  options: RuntimeOptions & { dir?: string } = {},
): Promise<SelfCheckReport> {
  const t0 = Date.now();
  const runtime = await initRuntime(options);
  const rng = new Rng(1234);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'artist-selfcheck-'));
  const x = randomNormalTensor(rng, [32, 8]);
  const trueW = randomNormalTensor(rng, [8, 4]);
  const y = tf.matMul(x, trueW);
  const vars = makeModel(rng);
  const opt = new AdamW({ learningRate: 0.05 });
  const vars2 = makeModel(new Rng(99));
  const opt2 = new AdamW({ learningRate: 0.05 });
  try {
    const lossBefore = (await lossOf(vars, x, y).data())[0];
    const steps = 20;
    let lossAfter = lossBefore;
    for (let i = 0; i < steps; i++) lossAfter = await step(opt, vars, x, y);
    const checkpointDir = await saveCheckpoint(dir, {
      weights: vars,
      optimizer: opt,
      state: { step: steps, rng: { init: rng.getState() } },
      metadata: { model: 'self-check dense 8x4' },
    });
    const loaded = await loadCheckpoint(dir);
    assignWeights(vars2, loaded.weights, { source: loaded.dir });
    tf.dispose(Object.values(loaded.weights));
    await restoreOptimizer(opt2, loaded.state);
    let maxDiff = 0;
    for (const k of Object.keys(vars)) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(vars[k], vars2[k]))));
      maxDiff = Math.max(maxDiff, (await d.data())[0]);
      d.dispose();
    }
    const resumeLossOriginal = await step(opt, vars, x, y);
    const resumeLossReloaded = await step(opt2, vars2, x, y);
    const ok =
      maxDiff === 0 &&
      resumeLossOriginal === resumeLossReloaded &&
      lossAfter < lossBefore &&
      loaded.state.step === steps;
    return {
      runtime,
      checkpointDir,
      steps,
      lossBefore,
      lossAfter,
      weightMaxAbsDiff: maxDiff,
      resumeLossOriginal,
      resumeLossReloaded,
      ok,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    tf.dispose([x, trueW, y, ...Object.values(vars), ...Object.values(vars2)]);
    opt.dispose();
    opt2.dispose();
  }
}
