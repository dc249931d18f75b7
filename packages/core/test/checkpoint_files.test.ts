import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type DeferredTensor,
  MODEL_JSON,
  OPTIMIZER_BIN,
  openCheckpoint,
  readCheckpoint,
  TRAINER_STATE_PB,
  WEIGHTS_BIN,
  writeCheckpoint,
} from '../src/checkpoint_files';
import { atomicWriteFile, ioChunkBytes, setIoChunkBytes } from '../src/files';
import { Rng } from '../src/rng';
import { decodeTrainerState, emptyTrainerState, type RawTensor } from '../src/trainer_state';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'core-ckpt-test-'));
}

/** Tensors of odd sizes (so chunk boundaries fall inside elements), all three dtypes. */
function tensors(prefix: string, seed: number): RawTensor[] {
  const rng = new Rng(seed);
  const f = (n: number) => rng.fillNormal(new Float32Array(n));
  return [
    { name: `${prefix}/a`, shape: [7, 13], dtype: 'float32', data: f(91) },
    { name: `${prefix}/b`, shape: [3], dtype: 'int32', data: Int32Array.of(-1, 2 ** 31 - 1, 5) },
    { name: `${prefix}/mask`, shape: [5], dtype: 'bool', data: Uint8Array.of(1, 0, 0, 1, 1) },
    { name: `${prefix}/c`, shape: [0, 4], dtype: 'float32', data: new Float32Array(0) },
    { name: `${prefix}/d`, shape: [301], dtype: 'float32', data: f(301) },
  ];
}

function expectSame(a: readonly RawTensor[], b: readonly RawTensor[]): void {
  expect(b.map((t) => [t.name, t.shape, t.dtype])).toEqual(
    a.map((t) => [t.name, t.shape, t.dtype]),
  );
  for (let i = 0; i < a.length; i++) {
    const x = Buffer.from(a[i].data.buffer, a[i].data.byteOffset, a[i].data.byteLength);
    const y = Buffer.from(b[i].data.buffer, b[i].data.byteOffset, b[i].data.byteLength);
    expect(y.equals(x)).toBe(true);
    expect(b[i].data.constructor).toBe(a[i].data.constructor);
  }
}

describe('checkpoint files in chunks (ioChunkBytes lowered to 64 bytes)', () => {
  let previous = 0;
  beforeAll(() => {
    previous = setIoChunkBytes(64);
  });
  afterAll(() => {
    setIoChunkBytes(previous);
  });

  it('round-trips weights and optimizer slots bit for bit, slots in optimizer.bin', async () => {
    const root = tmpDir();
    const weights = tensors('w', 1);
    const slots = tensors('adam', 2);
    const state = {
      ...emptyTrainerState(),
      step: 9,
      optimizerName: 'adamw',
      optimizerSlots: slots,
    };
    const dir = await writeCheckpoint(root, { tensors: weights, state, metadata: { k: 1 } });
    expect(fs.existsSync(path.join(dir, OPTIMIZER_BIN))).toBe(true);
    // The protobuf stays small: the slots are not in it (format 2).
    const pb = decodeTrainerState(fs.readFileSync(path.join(dir, TRAINER_STATE_PB)));
    expect(pb.optimizerSlots).toEqual([]);
    const back = await readCheckpoint(root);
    expectSame(weights, back.tensors);
    expectSame(slots, back.state.optimizerSlots);
    expect(back.state.step).toBe(9);
    expect(back.metadata).toEqual({ k: 1 });
  });

  it('writes deferred tensors when it reaches them, one at a time', async () => {
    const root = tmpDir();
    const weights = tensors('w', 3);
    const order: string[] = [];
    const deferred: DeferredTensor[] = weights.map((t) => ({
      name: t.name,
      shape: t.shape,
      dtype: t.dtype,
      values: async () => {
        order.push(t.name);
        return t.data;
      },
    }));
    await writeCheckpoint(root, { tensors: deferred, optimizerSlots: deferred.slice(0, 2) });
    expect(order).toEqual([...weights.map((t) => t.name), weights[0].name, weights[1].name]);
    const back = await readCheckpoint(root);
    expectSame(weights, back.tensors);
    expectSame(weights.slice(0, 2), back.state.optimizerSlots);
  });

  it('a deferred tensor of the wrong size fails the write and leaves no folder', async () => {
    const root = tmpDir();
    const bad: DeferredTensor = {
      name: 'x',
      shape: [4],
      dtype: 'float32',
      values: () => new Float32Array(3),
    };
    await expect(writeCheckpoint(root, { tensors: [bad] })).rejects.toThrow(
      "tensor 'x' has shape [4] but 3 elements",
    );
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('reads a manifest group split over several files, tensors spanning the split', async () => {
    const root = tmpDir();
    const weights = tensors('w', 4);
    const dir = await writeCheckpoint(root, { tensors: weights });
    const bin = fs.readFileSync(path.join(dir, WEIGHTS_BIN));
    fs.writeFileSync(path.join(dir, 'shard1'), bin.subarray(0, 101));
    fs.writeFileSync(path.join(dir, 'shard2'), bin.subarray(101));
    fs.rmSync(path.join(dir, WEIGHTS_BIN));
    fs.writeFileSync(path.join(dir, WEIGHTS_BIN), '');
    const modelPath = path.join(dir, MODEL_JSON);
    const model = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
    model.weightsManifest[0].paths = ['shard1', 'shard2'];
    fs.writeFileSync(modelPath, JSON.stringify(model));
    expectSame(weights, (await readCheckpoint(dir)).tensors);
  });

  it('a truncated weights.bin or optimizer.bin is refused naming the file and byte offset', async () => {
    const root = tmpDir();
    const state = { ...emptyTrainerState(), optimizerSlots: tensors('s', 5) };
    const dir = await writeCheckpoint(root, { tensors: tensors('w', 6), state });
    for (const file of [WEIGHTS_BIN, OPTIMIZER_BIN]) {
      const p = path.join(dir, file);
      const full = fs.readFileSync(p);
      fs.writeFileSync(p, full.subarray(0, 1000));
      // 1000 bytes end inside w/d (bytes 381..1585: 91 x 4 + 3 x 4 + 5 before it): 585 are missing.
      await expect(readCheckpoint(dir)).rejects.toThrow(
        `${p}: truncated: the file ends at byte 1000, but ${file === WEIGHTS_BIN ? 'weightsManifest' : 'optimizerManifest'}[0].weights[4] ('${file === WEIGHTS_BIN ? 'w' : 's'}/d') of ${path.join(dir, MODEL_JSON)} needs bytes 381..1585 of ${file}`,
      );
      fs.writeFileSync(p, full);
    }
  });

  it('a file that shrinks while being read is reported with the file and the offset', async () => {
    const root = tmpDir();
    const dir = await writeCheckpoint(root, { tensors: tensors('w', 7) });
    const reader = await openCheckpoint(dir);
    try {
      const p = path.join(dir, WEIGHTS_BIN);
      fs.truncateSync(p, 600);
      const d = reader.weights[4];
      expect(() => reader.read(d)).toThrow(
        `${p}: unexpected end of file at byte 600 while reading 'w/d' (weightsManifest[0].weights[4])`,
      );
    } finally {
      reader.close();
    }
  });

  it('extra bytes after the last tensor are refused', async () => {
    const root = tmpDir();
    const dir = await writeCheckpoint(root, { tensors: tensors('w', 8) });
    fs.appendFileSync(path.join(dir, WEIGHTS_BIN), Buffer.alloc(3));
    await expect(readCheckpoint(dir)).rejects.toThrow(
      /weightsManifest\[0\] describes 1585 bytes but weights.bin hold 3 more/,
    );
  });

  it('atomicWriteFile writes large content in chunks', async () => {
    const p = path.join(tmpDir(), 'x.bin');
    const data = new Rng(9).fillNormal(new Float32Array(1000));
    const bytes = new Uint8Array(data.buffer);
    await atomicWriteFile(p, bytes);
    expect(fs.readFileSync(p).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('setIoChunkBytes', () => {
  it('refuses sizes Node cannot move in one call', () => {
    expect(() => setIoChunkBytes(2 ** 31)).toThrow(/1\.\.2147483647/);
    expect(() => setIoChunkBytes(0)).toThrow(/got 0/);
    expect(ioChunkBytes()).toBe(1 << 30);
  });
});
