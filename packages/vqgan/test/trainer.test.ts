import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCheckpoint, writeCheckpoint } from '@artist-ts/core/checkpoint-files';
import { encodeTrainerState } from '@artist-ts/core/trainer-state';
import { WeightMismatchError } from '@artist-ts/core/weight-match';
import { initRuntime, leanVariableGrads } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import { codebookStats } from '../src/codebook';
import { InMemoryImageDataset } from '../src/dataset';
import { NLayerDiscriminator } from '../src/discriminator';
import { toModelInput } from '../src/images';
import { generateShapeImages } from '../src/synthetic';
import type { VqganTrainConfig } from '../src/train_config';
import { type StepMetrics, VqganTrainer } from '../src/trainer';
import { generatorLosses } from '../src/vq_loss';
import { Vqgan } from '../src/vqgan';
import { kmeansOnSeparatedClusters, MICRO } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqgan-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const data = () => new InMemoryImageDataset(generateShapeImages(6, 8, 'test-shapes'), 8, 8, 3);
const BASE: Partial<VqganTrainConfig> = {
  batchSize: 2,
  learningRate: 3e-3,
  restartEvery: 0,
  seed: 't',
};

const LOSS_WEIGHTS = { l1Weight: 1, l2Weight: 1, perceptualWeight: 1, codebookWeight: 1 };

/** MICRO at 16x16 and a batch of two shapes: the gradient tests' model and input. */
function micro16(seed: number): { model: Vqgan; x: tf.Tensor4D } {
  const model = Vqgan.create({ ...MICRO, resolution: 16 }, { seed });
  const images = new InMemoryImageDataset(generateShapeImages(2, 16, 'test-shapes'), 16, 16, 3);
  return { model, x: toModelInput(images.batch([0, 1]), 3) };
}

/** `objective`'s value and its gradients by variable name through `grads`, and the peak bytes held. */
async function profiledGradients(
  grads: typeof leanVariableGrads,
  objective: () => tf.Scalar,
  vars: readonly tf.Variable[],
): Promise<{ loss: number; grads: Record<string, Float32Array>; peak: number }> {
  let loss = 0;
  let byName: Record<string, Float32Array> = {};
  const profile = await tf.profile(() => {
    const r = grads(objective, vars);
    loss = r.value.dataSync()[0];
    byName = Object.fromEntries(
      Object.entries(r.grads).map(([k, g]) => [k, g.dataSync() as Float32Array]),
    );
    tf.dispose([r.value, ...Object.values(r.grads)]);
  });
  return { loss, grads: byName, peak: profile.peakBytes };
}

describe('VqganTrainer', () => {
  test('reconstruction loss decreases on a tiny set', () => {
    const model = Vqgan.create(MICRO, { seed: 3 });
    const two = new InMemoryImageDataset(generateShapeImages(2, 8, 'test-shapes'), 8, 8, 3);
    const trainer = new VqganTrainer(model, two, { ...BASE, learningRate: 5e-3 });
    const nll: number[] = [];
    for (let i = 0; i < 8; i++) nll.push(trainer.trainStep().metrics.nll);
    expect((nll[6] + nll[7]) / 2).toBeLessThan(0.8 * nll[0]);
    trainer.dispose();
    model.dispose();
  });

  test("taming's adaptive GAN weight equals ||grad nll|| / (||grad g|| + 1e-4) at conv_out", () => {
    const model = Vqgan.create(MICRO, { seed: 4 });
    const ds = data();
    const trainer = new VqganTrainer(model, ds, {
      ...BASE,
      disc: true,
      discStart: 0,
      discWeight: 0.8,
      discriminator: { nLayers: 1, ndf: 8, inChannels: 3 },
    });
    const x = toModelInput(ds.batch(trainer.peekBatchIndices()), 3);
    const w = model.decoder.convOut.weight;
    const disc = trainer.discriminator;
    if (!disc) throw new Error('no discriminator');
    const gN = tf.variableGrads(() => {
      const d = tf.sub(x, model.trainForward(x).xrec);
      return tf.add(tf.mean(tf.abs(d)), tf.mean(tf.square(d))) as tf.Scalar;
    }, [w]);
    const gG = tf.variableGrads(
      () => tf.neg(tf.mean(disc.forward(model.trainForward(x).xrec))) as tf.Scalar,
      [w],
    );
    const nN = tf.norm(gN.grads[w.name]).dataSync()[0];
    const nG = tf.norm(gG.grads[w.name]).dataSync()[0];
    const expected = Math.min(Math.max(nN / (nG + 1e-4), 0), 1e4) * 0.8;
    tf.dispose([gN.value, gG.value, x, ...Object.values(gN.grads), ...Object.values(gG.grads)]);
    const m = trainer.trainStep().metrics;
    expect(m.discWeight).not.toBeNull();
    expect(m.discWeight as number).toBeCloseTo(expected, 4);
    expect(m.dLoss).not.toBeNull();
    trainer.dispose();
    model.dispose();
  });

  test('resume is exact (disc warm-up, restarts, k-means, epoch boundary)', async () => {
    const cfg: Partial<VqganTrainConfig> = {
      ...BASE,
      disc: true,
      discStart: 1,
      discriminator: { nLayers: 1, ndf: 8, inChannels: 3 },
      restartEvery: 2,
      kmeansInit: true,
      kmeansBatches: 2,
      kmeansIterations: 3,
      lrDecaySteps: 3,
    };
    const strip = (m: StepMetrics) => ({ ...m });
    const a = Vqgan.create(MICRO, { seed: 5 });
    const ta = new VqganTrainer(a, data(), cfg);
    const straight: StepMetrics[] = [];
    for (let i = 0; i < 4; i++) straight.push(strip(ta.trainStep().metrics));

    const b = Vqgan.create(MICRO, { seed: 5 });
    const tb = new VqganTrainer(b, data(), cfg);
    const resumed: StepMetrics[] = [];
    for (let i = 0; i < 2; i++) resumed.push(strip(tb.trainStep().metrics));
    const dir = path.join(tmp, 'resume');
    await tb.save(dir);
    tb.dispose();
    b.dispose();
    const tc = await VqganTrainer.resume(dir, data());
    expect(tc.step).toBe(2);
    for (let i = 0; i < 2; i++) resumed.push(strip(tc.trainStep().metrics));
    expect(resumed).toEqual(straight);
    // discStart 1: no GAN term at step 0, adaptive weight and discriminator loss afterwards
    expect(straight[0].gLoss).toBeNull();
    expect(straight[0].dLoss).toBeNull();
    expect(straight[1].gLoss).not.toBeNull();
    expect(straight[1].discWeight).toBeGreaterThan(0);
    expect(straight[1].restarted).toBeGreaterThanOrEqual(0);
    expect(straight[2].epoch).toBe(0);
    expect(straight[3].epoch).toBe(1);
    const wa = a.rawWeights();
    const wc = tc.model.rawWeights();
    wa.forEach((t, i) => {
      expect(Array.from(wc[i].data)).toEqual(Array.from(t.data));
    });
    ta.dispose();
    a.dispose();
    tc.dispose();
    tc.model.dispose();
  });

  test('fit: abort writes a checkpoint and resolves aborted; fit again resumes exactly', async () => {
    const cfg: Partial<VqganTrainConfig> = { ...BASE, restartEvery: 2, lrDecaySteps: 3 };
    const a = Vqgan.create(MICRO, { seed: 12 });
    const ta = new VqganTrainer(a, data(), cfg);
    const straight: StepMetrics[] = [];
    const ra = await ta.fit({ steps: 4, onStep: (m) => void straight.push(m) });
    expect(ra).toMatchObject({ step: 4, aborted: false, checkpoint: null, epoch: 1 });
    expect(ra.last).toEqual(straight[3]);

    const dir = path.join(tmp, 'fit');
    const stop = new AbortController();
    const events: { dir: string; step: number }[] = [];
    const b = Vqgan.create(MICRO, { seed: 12 });
    const tb = new VqganTrainer(b, data(), cfg);
    const rb = await tb.fit({
      steps: 4,
      checkpointDir: dir,
      signal: stop.signal,
      onStep: (m) => {
        if (m.step === 2) stop.abort();
      },
      onCheckpoint: (e) => void events.push(e),
    });
    expect(rb.aborted).toBe(true);
    expect(rb.step).toBe(2);
    expect(events).toEqual([{ dir: rb.checkpoint, step: 2 }]);
    // optimizer slots keep the names FlatAdam (0.1) wrote, so older checkpoints restore
    const slots = (await readCheckpoint(dir)).state.optimizerSlots.map((t) => t.name);
    expect(slots).toContain('gen/step');
    expect(slots).toContain('gen/m/encoder.conv_in.weight');
    expect(slots).toContain('gen/v/quantize.embedding.weight');
    tb.dispose();
    b.dispose();

    // a fresh trainer (other initial weights) picks the run up from the checkpoint
    const c = Vqgan.create(MICRO, { seed: 99 });
    const tc = new VqganTrainer(c, data(), cfg);
    const resumed: StepMetrics[] = [];
    const rc = await tc.fit({
      steps: 4,
      checkpointDir: dir,
      checkpointEvery: 1,
      keepLast: 1,
      onStep: (m) => void resumed.push(m),
    });
    expect(rc).toMatchObject({ step: 4, aborted: false });
    expect(resumed).toEqual(straight.slice(2));
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('step-'))).toHaveLength(1);
    const wa = a.rawWeights();
    c.rawWeights().forEach((t, i) => {
      expect(Array.from(t.data)).toEqual(Array.from(wa[i].data));
    });
    await expect(tc.fit({ steps: -1 })).rejects.toThrow(/'steps'/);
    ta.dispose();
    a.dispose();
    tc.dispose();
    c.dispose();
  });

  test('cosine learning-rate decay to minLrRatio over lrDecaySteps, then constant', () => {
    const model = Vqgan.create(MICRO, { seed: 10 });
    const trainer = new VqganTrainer(model, data(), {
      ...BASE,
      learningRate: 1e-3,
      lrDecaySteps: 2,
      minLrRatio: 0.1,
    });
    const lrs = [0, 1, 2, 3].map(() => trainer.trainStep().metrics.learningRate);
    // steps 0..3: scale 1, 0.1 + 0.9 * (1 + cos(pi/2)) / 2 = 0.55, then 0.1
    expect(lrs[0]).toBeCloseTo(1e-3, 12);
    expect(lrs[1]).toBeCloseTo(0.55e-3, 12);
    expect(lrs[2]).toBeCloseTo(1e-4, 12);
    expect(lrs[3]).toBeCloseTo(1e-4, 12);
    expect(() => new VqganTrainer(model, data(), { minLrRatio: 2 })).toThrow(/'minLrRatio'/);
    trainer.dispose();
    model.dispose();
  });

  test('dead-code restart raises usage on a collapsed codebook', () => {
    const model = Vqgan.create(MICRO, { seed: 6 });
    const ds = data();
    const all = toModelInput(ds.batch([0, 1, 2, 3, 4, 5]), 3);
    const usage = () => {
      const codes = model.encode(all);
      const counts = new Float64Array(16);
      for (const c of codes.dataSync()) counts[c] += 1;
      codes.dispose();
      return codebookStats(counts).usedCodes;
    };
    tf.tidy(() => model.codebook.assign(tf.zeros([16, 8])));
    expect(usage()).toBe(1);
    const trainer = new VqganTrainer(model, ds, { ...BASE, learningRate: 0, restartEvery: 1 });
    const m = trainer.trainStep().metrics;
    expect(m.batchCodes).toBe(1);
    expect(m.restarted).toBe(15);
    expect(usage()).toBeGreaterThanOrEqual(6);
    all.dispose();
    trainer.dispose();
    model.dispose();
  });

  test("the trainer's lean backward pass: tf.variableGrads' gradients, bit for bit, at a lower peak", async () => {
    const { model, x } = micro16(21);
    const disc = new NLayerDiscriminator({ nLayers: 1, ndf: 8, inChannels: 3 }, 2);
    // the generator objective with a GAN term, as the trainer builds it
    const objective = (): tf.Scalar => {
      const out = model.trainForward(x);
      const gLoss = tf.neg(tf.mean(disc.forward(out.xrec))) as tf.Scalar;
      return tf.add(
        generatorLosses(x, out.xrec, out.q, LOSS_WEIGHTS, null, gLoss).reconstructionObjective,
        gLoss,
      );
    };
    const vars = model.trainableVariables();
    const plain = await profiledGradients((f, v) => tf.variableGrads(f, [...v]), objective, vars);
    let lean = { loss: 0, grads: {} as Record<string, Float32Array>, peak: 0 };
    await expectNoLeakedTensors(async () => {
      lean = await profiledGradients(leanVariableGrads, objective, vars);
    }, 'leanVariableGrads');
    expect(lean.loss).toBe(plain.loss);
    expect(lean.grads).toEqual(plain.grads);
    expect(lean.peak).toBeLessThan(plain.peak);
    tf.dispose(x);
    disc.dispose();
    model.dispose();
  });

  test('recompute: the same loss and gradients (to float rounding) at a lower peak, no leak', async () => {
    const { model, x } = micro16(22);
    const objective = (recompute: boolean) => (): tf.Scalar => {
      const out = model.trainForward(x, { recompute });
      return generatorLosses(x, out.xrec, out.q, LOSS_WEIGHTS, null, null).reconstructionObjective;
    };
    const vars = model.trainableVariables();
    const kept = await profiledGradients(leanVariableGrads, objective(false), vars);
    let again = { loss: 0, grads: {} as Record<string, Float32Array>, peak: 0 };
    await expectNoLeakedTensors(async () => {
      again = await profiledGradients(leanVariableGrads, objective(true), vars);
    }, 'recompute');
    expect(again.loss).toBe(kept.loss); // the forward pass is the same computation
    expect(Object.keys(again.grads).sort()).toEqual(Object.keys(kept.grads).sort());
    for (const [k, g] of Object.entries(kept.grads)) {
      expectArraysClose(again.grads[k], g, { rtol: 1e-4, atol: 1e-6 });
    }
    expect(again.peak).toBeLessThan(kept.peak);
    // the trainer option reaches the model; configs without it validate to false
    expect(new VqganTrainer(model, data(), BASE).config.recompute).toBe(false);
    const trainer = new VqganTrainer(model, data(), { ...BASE, recompute: true });
    expect(trainer.config.recompute).toBe(true);
    expect(Number.isFinite(trainer.trainStep().metrics.loss)).toBe(true);
    expect(
      () => new VqganTrainer(model, data(), { ...BASE, recompute: 1 as unknown as boolean }),
    ).toThrow("vqgan train config: 'recompute' must be true or false, got 1");
    trainer.dispose();
    tf.dispose(x);
    model.dispose();
  });

  test('a training step leaks no tensors', async () => {
    const model = Vqgan.create(MICRO, { seed: 7 });
    const trainer = new VqganTrainer(model, data(), {
      ...BASE,
      disc: true,
      discStart: 0,
      restartEvery: 1,
      discriminator: { nLayers: 1, ndf: 8, inChannels: 3 },
    });
    await expectNoLeakedTensors(() => {
      trainer.trainStep();
    }, 'trainStep');
    trainer.dispose();
    model.dispose();
  });

  test('save and resume leak no tensors; slots kept in trainer_state.pb (format 1) resume the same', async () => {
    const cfg: Partial<VqganTrainConfig> = {
      ...BASE,
      disc: true,
      discStart: 0,
      discriminator: { nLayers: 1, ndf: 8, inChannels: 3 },
    };
    const model = Vqgan.create(MICRO, { seed: 13 });
    const trainer = new VqganTrainer(model, data(), cfg);
    trainer.trainStep();
    const dir = path.join(tmp, 'stream');
    let saved = '';
    await expectNoLeakedTensors(async () => {
      saved = await trainer.save(dir);
    }, 'save');
    // optimizer.bin holds the slots; the protobuf none
    const written = await readCheckpoint(saved);
    expect(fs.existsSync(path.join(saved, 'optimizer.bin'))).toBe(true);
    expect(written.state.optimizerSlots.map((t) => t.name)).toContain(
      'disc/m/loss.discriminator.main.0.weight',
    );
    // the same checkpoint as an older writer laid it out: slots inside trainer_state.pb
    const legacy = path.join(tmp, 'stream-legacy', 'step-000000001');
    fs.mkdirSync(legacy, { recursive: true });
    fs.copyFileSync(path.join(saved, 'weights.bin'), path.join(legacy, 'weights.bin'));
    const modelJson = JSON.parse(fs.readFileSync(path.join(saved, 'model.json'), 'utf8'));
    delete modelJson.optimizerManifest;
    fs.writeFileSync(path.join(legacy, 'model.json'), JSON.stringify(modelJson));
    fs.writeFileSync(path.join(legacy, 'trainer_state.pb'), encodeTrainerState(written.state, 1));
    const expected = trainer.trainStep().metrics;
    for (const from of [dir, legacy]) {
      let resumed: VqganTrainer | undefined;
      await expectNoLeakedTensors(
        async () => {
          resumed = await VqganTrainer.resume(from, data());
          resumed.model.dispose();
          resumed.dispose();
        },
        `resume ${path.basename(from)}`,
      );
      const again = await VqganTrainer.resume(from, data());
      expect(again.step).toBe(1);
      expect(again.trainStep().metrics).toEqual(expected);
      again.model.dispose();
      again.dispose();
    }
    trainer.dispose();
    model.dispose();
  });
});

describe('Vqgan save/load', () => {
  test('round trip gives identical codes and images', async () => {
    const model = Vqgan.create(MICRO, { seed: 8 });
    const x = toModelInput(data().batch([0, 1]), 3);
    const dir = path.join(tmp, 'model');
    const written = await model.save(dir);
    expect(fs.existsSync(path.join(written, 'model.json'))).toBe(true);
    const loaded = await Vqgan.load(dir);
    expect(loaded.config).toEqual(model.config);
    const c1 = model.encode(x);
    const c2 = loaded.encode(x);
    expect(Array.from(c2.dataSync())).toEqual(Array.from(c1.dataSync()));
    const r1 = model.decode(c1);
    const r2 = loaded.decode(c2);
    expectArraysClose(r2, r1, { atol: 0, rtol: 0 });
    tf.dispose([x, c1, c2, r1, r2]);
    loaded.dispose();
    model.dispose();
  });

  test('load takes the read tensors as its variables (no leak) and names missing weights', async () => {
    const model = Vqgan.create(MICRO, { seed: 10 });
    const dir = path.join(tmp, 'load-share');
    await model.save(dir);
    await expectNoLeakedTensors(async () => {
      const loaded = await Vqgan.load(dir);
      const a = model.weights();
      for (const [name, v] of Object.entries(loaded.weights())) {
        expect(Array.from(v.dataSync())).toEqual(Array.from(a[name].dataSync()));
      }
      loaded.dispose();
    }, 'Vqgan.load');
    const partial = path.join(tmp, 'load-partial');
    await writeCheckpoint(partial, {
      tensors: model.rawWeights().filter((t) => t.name !== 'decoder.conv_out.bias'),
      metadata: model.metadata(),
    });
    await expectNoLeakedTensors(async () => {
      await expect(Vqgan.load(partial)).rejects.toThrow(
        /weights\.bin: [\s\S]*missing[^\n]*decoder\.conv_out\.bias/,
      );
    }, 'Vqgan.load of a partial checkpoint');
    model.dispose();
  });

  test('mismatched weights are named', () => {
    const model = Vqgan.create(MICRO, { seed: 9 });
    const raw = model.rawWeights().filter((t) => t.name !== 'decoder.conv_out.bias');
    raw.push({ name: 'decoder.extra', shape: [1], dtype: 'float32', data: new Float32Array(1) });
    expect(() => model.assignWeights(raw, { source: 'x.bin' })).toThrow(WeightMismatchError);
    expect(() => model.assignWeights(raw, { source: 'x.bin' })).toThrow(
      /^x\.bin: [\s\S]*missing[^\n]*decoder\.conv_out\.bias\n[\s\S]*unexpected[^\n]*decoder\.extra/,
    );
    model.dispose();
  });
});

describe('kmeans', () => {
  test('recovers well separated clusters', () => {
    const [found, expected] = kmeansOnSeparatedClusters();
    expect(found).toEqual(expected);
  });
});
