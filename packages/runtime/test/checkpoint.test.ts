import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  listCheckpoints,
  readCheckpoint,
  resolveCheckpointDir,
  writeCheckpoint,
} from '@artist-ts/core/checkpoint-files';
import { setIoChunkBytes } from '@artist-ts/core/files';
import { Rng } from '@artist-ts/core/rng';
import {
  decodeTrainerState,
  emptyTrainerState,
  encodeTrainerState,
} from '@artist-ts/core/trainer-state';
import { WeightMismatchError } from '@artist-ts/core/weight-match';
import * as tf from '@tensorflow/tfjs';
import { initRuntime } from '../src/backend';
import { assignWeights, loadCheckpoint, restoreOptimizer, saveCheckpoint } from '../src/checkpoint';
import { randomNormalTensor } from '../src/init';
import { AdamW } from '../src/optim';
import { expectArraysClose, expectNoLeakedTensors } from '../src/testing';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'artist-ckpt-test-'));
}

/** A two-layer MLP as a dict of variables, seeded. */
function mlp(seed: number): Record<string, tf.Variable> {
  const rng = new Rng(seed);
  return {
    'h/kernel': tf.variable(randomNormalTensor(rng, [6, 5], 0.3)),
    'h/bias': tf.variable(tf.zeros([5])),
    'out/kernel': tf.variable(randomNormalTensor(rng, [5, 2], 0.3)),
    'out/bias': tf.variable(tf.zeros([2])),
  };
}

function loss(v: Record<string, tf.Variable>, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const h = tf.relu(tf.add(tf.matMul(x, v['h/kernel']), v['h/bias'])); // [n, 5]
    const o = tf.add(tf.matMul(h, v['out/kernel']), v['out/bias']); // [n, 2]
    return tf.mean(tf.square(tf.sub(o, y))) as tf.Scalar;
  });
}

async function train(
  opt: AdamW,
  v: Record<string, tf.Variable>,
  x: tf.Tensor,
  y: tf.Tensor,
  n: number,
) {
  const losses: number[] = [];
  for (let i = 0; i < n; i++) {
    const { value, grads } = tf.variableGrads(() => loss(v, x, y), Object.values(v));
    const byName: Record<string, tf.Tensor> = {};
    for (const [k, p] of Object.entries(v)) byName[k] = grads[p.name];
    opt.applyGradients(v, byName);
    losses.push((await value.data())[0]);
    tf.dispose([value, ...Object.values(grads)]);
  }
  return losses;
}

describe('checkpoints', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('round-trips a model and AdamW state: resumed training equals uninterrupted training', async () => {
    const dir = tmpDir();
    const rng = new Rng(11);
    const x = randomNormalTensor(rng, [16, 6]);
    const y = randomNormalTensor(rng, [16, 2]);

    // Uninterrupted: 10 steps.
    const a = mlp(1);
    const optA = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
    const lossesA = await train(optA, a, x, y, 10);

    // Interrupted: 5 steps, save, load into a fresh model + optimizer, 5 more.
    const b = mlp(1);
    const optB = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
    const first = await train(optB, b, x, y, 5);
    const dataRng = new Rng('data');
    dataRng.uniform();
    await saveCheckpoint(dir, {
      weights: b,
      optimizer: optB,
      state: {
        step: 5,
        epoch: 1,
        bestMetric: 0.25,
        dataCursor: 80,
        rng: { data: dataRng.getState() },
        config: { lr: 0.01 },
      },
      metadata: { model: 'mlp' },
    });
    const c = mlp(2);
    const optC = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
    const loaded = await loadCheckpoint(dir);
    assignWeights(c, loaded.weights, { source: loaded.dir });
    tf.dispose(Object.values(loaded.weights));
    await restoreOptimizer(optC, loaded.state);
    expect(loaded.state.step).toBe(5);
    expect(loaded.state.epoch).toBe(1);
    expect(loaded.state.bestMetric).toBe(0.25);
    expect(loaded.state.dataCursor).toBe(80);
    expect(loaded.state.config).toEqual({ lr: 0.01 });
    expect(loaded.metadata).toEqual({ model: 'mlp' });
    expect(Rng.fromState(loaded.state.rng.data).uniform()).toBe(dataRng.uniform());
    const second = await train(optC, c, x, y, 5);
    expect([...first, ...second]).toEqual(lossesA);
    for (const k of Object.keys(a)) expectArraysClose(c[k], a[k], { rtol: 0, atol: 0 });

    tf.dispose([x, y, ...Object.values(a), ...Object.values(b), ...Object.values(c)]);
    optA.dispose();
    optB.dispose();
    optC.dispose();
  });

  it('writes the tfjs weights manifest layout, loadable with tf.io.decodeWeights', async () => {
    const dir = tmpDir();
    const w = {
      a: tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      b: tf.tensor1d([7, 8, 9], 'int32'),
    };
    const ckDir = await saveCheckpoint(dir, { weights: w });
    const manifest = JSON.parse(fs.readFileSync(path.join(ckDir, 'model.json'), 'utf8'));
    expect(manifest.weightsManifest[0].paths).toEqual(['weights.bin']);
    const bin = fs.readFileSync(path.join(ckDir, 'weights.bin'));
    const decoded = tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      manifest.weightsManifest[0].weights,
    );
    expectArraysClose(decoded.a, [1, 2, 3, 4]);
    expect(Array.from(decoded.b.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([...Object.values(w), ...Object.values(decoded)]);
  });

  it('keeps the last K checkpoints and a latest pointer', async () => {
    const dir = tmpDir();
    const w = { a: tf.scalar(1) };
    for (const step of [1, 2, 3, 4, 5])
      await saveCheckpoint(dir, { weights: w, state: { step } }, { keepLast: 2 });
    expect(listCheckpoints(dir)).toEqual(['step-000000004', 'step-000000005']);
    expect(fs.readFileSync(path.join(dir, 'latest'), 'utf8').trim()).toBe('step-000000005');
    expect(resolveCheckpointDir(dir)).toBe(path.join(dir, 'step-000000005'));
    w.a.dispose();
  });

  it('a crash between temp write and rename leaves the previous checkpoint loadable', async () => {
    const dir = tmpDir();
    await writeCheckpoint(dir, {
      tensors: [{ name: 'w', shape: [2], dtype: 'float32', data: new Float32Array([1, 2]) }],
      state: { ...emptyTrainerState(), step: 1 },
    });
    class Crash extends Error {}
    await expect(
      writeCheckpoint(
        dir,
        {
          tensors: [{ name: 'w', shape: [2], dtype: 'float32', data: new Float32Array([3, 4]) }],
          state: { ...emptyTrainerState(), step: 2 },
        },
        {
          beforeRename: (tmp) => {
            // The new folder is complete on disk at this point; simulate the process dying.
            expect(fs.existsSync(path.join(tmp, 'weights.bin'))).toBe(true);
            throw new Crash('killed');
          },
        },
      ),
    ).rejects.toThrow('killed');
    const ck = await readCheckpoint(dir);
    expect(ck.state.step).toBe(1);
    expect(Array.from(ck.tensors[0].data)).toEqual([1, 2]);
    expect(listCheckpoints(dir)).toEqual(['step-000000001']);
  });

  it('a stale temp folder left by a killed process is ignored and cleaned', async () => {
    const dir = tmpDir();
    await writeCheckpoint(dir, { tensors: [], state: { ...emptyTrainerState(), step: 3 } });
    const stale = path.join(dir, '.step-000000004.tmp-12345-deadbeef');
    fs.mkdirSync(stale);
    fs.writeFileSync(path.join(stale, 'model.json'), '{');
    expect(resolveCheckpointDir(dir)).toBe(path.join(dir, 'step-000000003'));
    await writeCheckpoint(dir, { tensors: [], state: { ...emptyTrainerState(), step: 5 } });
    expect(fs.existsSync(stale)).toBe(false);
  });

  it('a pointer to a missing folder falls back to the newest complete checkpoint', async () => {
    const dir = tmpDir();
    await writeCheckpoint(dir, { tensors: [], state: { ...emptyTrainerState(), step: 7 } });
    fs.writeFileSync(path.join(dir, 'latest'), 'step-000000009\n');
    expect(resolveCheckpointDir(dir)).toBe(path.join(dir, 'step-000000007'));
  });

  it('reports missing, unexpected and mis-shaped names and assigns nothing', () => {
    const vars = {
      'enc/w': tf.variable(tf.zeros([2, 2])),
      'enc/b': tf.variable(tf.zeros([2])),
      'dec/w': tf.variable(tf.zeros([3])),
    };
    const weights = { 'enc/w': tf.ones([2, 3]), 'dec/w': tf.ones([3]), 'extra/w': tf.ones([1]) };
    let err: unknown;
    try {
      assignWeights(vars, weights, { source: 'ckpt/step-1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightMismatchError);
    const m = err as WeightMismatchError;
    expect(m.missing).toEqual(['enc/b']);
    expect(m.unexpected).toEqual(['extra/w']);
    expect(m.misShaped).toEqual([{ name: 'enc/w', expected: [2, 2], got: [2, 3] }]);
    expect(m.message).toContain('ckpt/step-1');
    expect(m.message).toContain('enc/w [2,3] (expected [2,2])');
    expectArraysClose(vars['dec/w'], [0, 0, 0]); // nothing assigned
    // With the mismatching prefixes ignored, the rest loads.
    assignWeights(vars, weights, { ignorePrefixes: ['enc/', 'extra/'] });
    expectArraysClose(vars['dec/w'], [1, 1, 1]);
    tf.dispose([...Object.values(vars), ...Object.values(weights)]);
  });

  it('names the file and field of a corrupt checkpoint', async () => {
    const dir = tmpDir();
    const ckDir = await writeCheckpoint(dir, {
      tensors: [{ name: 'w', shape: [4], dtype: 'float32', data: new Float32Array(4) }],
    });
    fs.writeFileSync(path.join(ckDir, 'weights.bin'), Buffer.alloc(8));
    await expect(readCheckpoint(dir)).rejects.toThrow(
      /weights\.bin: truncated: the file ends at byte 8, but weightsManifest\[0\]\.weights\[0\] \('w'\) of .*model\.json needs bytes 0\.\.16/,
    );
  });

  it('trainer state survives protobuf encoding (copying out of the pooled buffer)', () => {
    const big = new Float32Array(3000).map((_, i) => i * 0.5);
    const state = {
      ...emptyTrainerState(),
      step: 2 ** 40,
      optimizerName: 'adamw',
      optimizerSlots: [
        { name: 'm/a', shape: [3000], dtype: 'float32' as const, data: big },
        { name: 't', shape: [], dtype: 'int32' as const, data: new Int32Array([9]) },
      ],
      extra: { losses: [1.5, 1.25] },
    };
    const decoded = decodeTrainerState(encodeTrainerState(state));
    expect(decoded.step).toBe(2 ** 40);
    expect(Array.from(decoded.optimizerSlots[0].data)).toEqual(Array.from(big));
    expect(Array.from(decoded.optimizerSlots[1].data)).toEqual([9]);
    expect(decoded.extra).toEqual({ losses: [1.5, 1.25] });
    expect(() =>
      decodeTrainerState(new Uint8Array([0xff, 0xff, 0xff]), 'x/trainer_state.pb'),
    ).toThrow(/x\/trainer_state\.pb/);
  });

  it('save and load leak no tensors', async () => {
    const dir = tmpDir();
    const v = mlp(3);
    const opt = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
    const x = tf.ones([2, 6]);
    const y = tf.zeros([2, 2]);
    await train(opt, v, x, y, 1);
    await expectNoLeakedTensors(async () => {
      await saveCheckpoint(dir, { weights: v, optimizer: opt, state: { step: 1 } });
      const loaded = await loadCheckpoint(dir);
      assignWeights(v, loaded.weights);
      tf.dispose(Object.values(loaded.weights));
      await restoreOptimizer(opt, loaded.state);
    }, 'checkpoint round trip');
    tf.dispose([x, y, ...Object.values(v)]);
    opt.dispose();
  });
});

describe.each(['cpu', 'wasm'] as const)('loadCheckpoint on %s in 64-byte I/O chunks', (backend) => {
  let previous = 0;
  beforeAll(async () => {
    const info = await initRuntime({ backend });
    expect(info.backend).toBe(backend);
    previous = setIoChunkBytes(64);
  });
  afterAll(async () => {
    setIoChunkBytes(previous);
    await initRuntime({ backend: 'cpu' });
  });

  it('reads every dtype straight into tensors, bit for bit, leaking nothing', async () => {
    const dir = tmpDir();
    const rng = new Rng(11);
    const raw = [
      {
        name: 'f',
        shape: [5, 7],
        dtype: 'float32' as const,
        data: rng.fillNormal(new Float32Array(35)),
      },
      { name: 'i', shape: [3], dtype: 'int32' as const, data: Int32Array.of(-7, 0, 2 ** 31 - 1) },
      { name: 'b', shape: [2, 3], dtype: 'bool' as const, data: Uint8Array.of(1, 0, 1, 1, 0, 0) },
      { name: 'e', shape: [0], dtype: 'float32' as const, data: new Float32Array(0) },
    ];
    await writeCheckpoint(dir, { tensors: raw });
    await expectNoLeakedTensors(async () => {
      const loaded = await loadCheckpoint(dir);
      for (const r of raw) {
        const t = loaded.weights[r.name];
        expect([t.shape, t.dtype]).toEqual([r.shape, r.dtype]);
        const got = await t.data();
        expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength)).toEqual(
          Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength),
        );
      }
      tf.dispose(Object.values(loaded.weights));
    }, `loadCheckpoint on ${backend}`);
  });
});
