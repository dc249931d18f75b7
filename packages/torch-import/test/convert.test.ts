import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint } from '@artist-ts/core/checkpoint-files';
import { FID_INCEPTION_CONVS } from '@artist-ts/eval-fid';
import { loadGpt, PRESETS, validateGptConfig } from '@artist-ts/gpt-knowl';
import { initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import { tamingKeys, Vqgan, validateVqganConfig } from '@artist-ts/vqgan';
import * as tf from '@tensorflow/tfjs';
import {
  applyPlan,
  ConversionError,
  encodeSafetensors,
  ForbiddenGlobalError,
  gptPlan,
  type ImportProgress,
  INCEPTION_IGNORE,
  importCheckpoint,
  inceptionPlan,
  loadStateDict,
  oihwToHwio,
  TorchFileError,
  transformedShape,
  transpose2d,
  vqganPlan,
} from '../src';

const FIX = path.join(__dirname, 'fixtures');
const fx = (n: string) => path.join(FIX, n);
// The hostile files are the reader's fixtures (@artist-ts/torch-files).
const evil = (n: string) => path.join(__dirname, '..', '..', 'torch-files', 'test', 'fixtures', n);
const expected = JSON.parse(fs.readFileSync(fx('expected.json'), 'utf8'));
const VQ = {
  resolution: expected.vqgan.resolution as number,
  numGroups: expected.vqgan.groups as number,
};
const GPT = {
  nHead: expected.gpt.n_head as number,
  textLen: expected.gpt.text_len as number,
  entitySlots: expected.gpt.entity_slots as number,
};

let tmp: string;
beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-import-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Inverse layouts, to check that the written tensors are exactly the source arrays. */
function hwioToOihw(data: Float32Array, hwio: number[]): Float32Array {
  const [kh, kw, ci, co] = hwio;
  const out = new Float32Array(data.length);
  for (let o = 0; o < co; o++)
    for (let i = 0; i < ci; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o];
  return out;
}

async function expectExactRoundTrip(
  dir: string,
  source: string,
  used: { sourceKey: string; name: string; transform: string }[],
) {
  const ck = await readCheckpoint(dir);
  const byName = new Map(ck.tensors.map((t) => [t.name, t]));
  const sd = loadStateDict(source, { allowGlobals: ['pytorch_lightning.*'] });
  try {
    expect(ck.tensors.length).toBe(used.length);
    for (const u of used) {
      const ours = byName.get(u.name);
      const src = sd.tensors.get(u.sourceKey);
      if (!ours || !src) throw new Error(`lost ${u.name}`);
      const data = ours.data as Float32Array;
      const back =
        u.transform === 'conv_oihw_to_hwio'
          ? hwioToOihw(data, ours.shape)
          : u.transform === 'linear_transpose'
            ? transpose2d(data, ours.shape)
            : data;
      expect(
        Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(
          Buffer.from(src.toFloat32().buffer),
        ),
      ).toBe(true);
    }
  } finally {
    sd.close();
  }
}

async function checkVqgan(root: string): Promise<void> {
  const vq = await Vqgan.load(root);
  try {
    expect(vq.config).toMatchObject({
      ch: 4,
      chMult: [1, 2],
      numResBlocks: 1,
      attnResolutions: [4],
      zChannels: 4,
      embedDim: 4,
      nEmbed: 8,
      ...VQ,
    });
    await expectNoLeakedTensors(() => {
      tf.tidy(() => {
        const x = tf.tensor4d(expected.vqgan.image_nhwc, [1, 8, 8, 3]);
        const z = vq.encodeLatents(x); // [1, 4, 4, 4]
        expectArraysClose(z.dataSync(), expected.vqgan.latents_nhwc, { atol: 2e-4, rtol: 1e-3 });
        expect(Array.from(vq.latentsToCodes(z).dataSync())).toEqual(expected.vqgan.codes_of_image);
        const img = vq.decode(tf.tensor3d(expected.vqgan.codes, [1, 4, 4], 'int32')); // [1, 8, 8, 3]
        expect(img.shape).toEqual([1, 8, 8, 3]);
        expectArraysClose(img.dataSync(), expected.vqgan.decoded_nhwc, { atol: 2e-4, rtol: 1e-3 });
      });
    });
  } finally {
    vq.dispose();
  }
}

describe('taming VQGAN', () => {
  it('converts a flat safetensors state dict; Vqgan reproduces the numpy reference', async () => {
    const out = path.join(tmp, 'vq-st');
    const seen: ImportProgress['stage'][] = [];
    const report = await importCheckpoint({
      from: fx('vqgan_tiny.safetensors'),
      kind: 'vqgan',
      out,
      vqgan: VQ,
      onProgress: (p) => seen.push(p.stage),
    });
    expect(report.format).toBe('safetensors');
    expect(report.sha256).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Set(seen)).toEqual(new Set(['hash', 'read', 'convert', 'write', 'done']));
    const [m] = report.models;
    expect(m.model).toBe('vqgan');
    expect(m.conversion.ignored).toEqual([]);
    const sd = loadStateDict(fx('vqgan_tiny.safetensors'));
    expect(m.conversion.used.map((u) => u.sourceKey).sort()).toEqual([...sd.tensors.keys()].sort());
    sd.close();
    expect(
      JSON.parse(fs.readFileSync(path.join(out, 'import_report.json'), 'utf8')).models[0].conversion
        .tensors,
    ).toBe(m.conversion.tensors);
    await expectExactRoundTrip(m.dir, fx('vqgan_tiny.safetensors'), m.conversion.used);
    await checkVqgan(out);
  });

  it('converts a Lightning last.ckpt, dropping and reporting loss.* and the trainer state', async () => {
    const out = path.join(tmp, 'vq-ckpt');
    const report = await importCheckpoint({
      from: fx('vqgan_tiny_lightning.ckpt'),
      kind: 'vqgan',
      out,
      vqgan: VQ,
    });
    expect(report.container).toBe('state_dict');
    expect(report.models[0].conversion.ignored.map((i) => i.key)).toEqual([
      'loss.logvar',
      'loss.perceptual_loss.net.slice1.0.weight',
      'loss.discriminator.main.0.weight',
      'loss.discriminator.main.0.bias',
    ]);
    expect(report.nonTensor.map((s) => s.key)).toContain('<top>.optimizer_states');
    await checkVqgan(out);
  });

  it('lists every missing and mis-shaped key and writes nothing', async () => {
    const out = path.join(tmp, 'vq-bad');
    // Wrong GroupNorm count is a config error; a wrong resolution changes which levels have attention.
    await expect(
      importCheckpoint({
        from: fx('vqgan_tiny.safetensors'),
        kind: 'vqgan',
        out,
        vqgan: { ...VQ, numGroups: 3 },
      }),
    ).rejects.toThrow(/numGroups/);
    let err: unknown;
    try {
      await importCheckpoint({
        from: fx('vqgan_tiny.safetensors'),
        kind: 'vqgan',
        out,
        vqgan: { ...VQ, nEmbed: 16, attnResolutions: [8] },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConversionError);
    const ce = err as ConversionError;
    expect(ce.misShaped).toEqual([
      { name: 'quantize.embedding.weight', expected: [16, 4], got: [8, 4] },
    ]);
    expect(ce.missing).toContain('encoder.down.0.attn.0.q.weight');
    expect(ce.unexpected).toContain('encoder.down.1.attn.0.q.weight');
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('EasyNLP ARTIST', () => {
  it('converts transformer.* to gpt-knowl (easynlp fusion) and first_stage_model.* to vqgan', async () => {
    const out = path.join(tmp, 'artist');
    const report = await importCheckpoint({
      from: fx('artist_tiny.bin'),
      kind: 'artist',
      out,
      vqgan: VQ,
      gpt: GPT,
    });
    expect(report.format).toBe('torch-zip');
    expect(report.models.map((m) => m.model)).toEqual(['gpt', 'vqgan']);
    const gptReport = report.models[0];
    expect(gptReport.config).toMatchObject({
      nLayer: 2,
      nEmbd: 16,
      fusion: 'easynlp',
      imageVocabSize: 16,
      textVocabSize: 24,
      imageLen: 8,
      entityDim: 6,
      ...GPT,
    });
    expect(gptReport.conversion.ignored).toEqual([
      {
        key: 'transformer.blocks.0.attn.mask',
        reason: 'causal attention mask buffer: rebuilt by the model',
      },
      {
        key: 'transformer.blocks.1.attn.mask',
        reason: 'causal attention mask buffer: rebuilt by the model',
      },
    ]);
    // every source key accounted for
    const sd = loadStateDict(fx('artist_tiny.bin'));
    const accounted = report.models.flatMap((m) => [
      ...m.conversion.used.map((u) => u.sourceKey),
      ...m.conversion.ignored.map((i) => i.key),
    ]);
    expect(accounted.sort()).toEqual([...sd.tensors.keys()].sort());
    sd.close();
    await expectExactRoundTrip(gptReport.dir, fx('artist_tiny.bin'), gptReport.conversion.used);

    const gpt = await loadGpt(path.join(out, 'gpt'));
    try {
      const g = expected.gpt;
      await expectNoLeakedTensors(() => {
        tf.tidy(() => {
          const tokens = tf.tensor2d(g.tokens, [1, g.length], 'int32');
          const wordsEmb = tf.tensor4d(g.words_emb, [1, GPT.entitySlots, GPT.textLen, 6]);
          const { logits } = gpt.forward(tokens, { knowledge: { mode: 'easynlp', wordsEmb } }); // [1, t, v]
          expectArraysClose(logits.dataSync(), g.logits, { atol: 2e-4, rtol: 1e-3 });
        });
      });
    } finally {
      gpt.dispose();
    }
    await checkVqgan(path.join(out, 'vqgan'));
  });

  it('imports a text-only ARTIST GPT (no ent_emb) as fusion none; image positions match the reference', async () => {
    // pai-painter-*: the same file without ent_emb. EasyNLP's fusion only changes text positions,
    // so image-position logits of the knowledge reference hold for the text-only model too.
    const sd = loadStateDict(fx('artist_tiny.bin'));
    const entries = [...sd.tensors]
      .filter(([k]) => !k.startsWith('transformer.ent_emb.'))
      .map(([name, t]) => ({
        name,
        shape: t.shape,
        dtype: 'float32' as const,
        data: t.toFloat32(),
      }));
    sd.close();
    const file = path.join(tmp, 'painter_tiny.safetensors');
    fs.writeFileSync(file, encodeSafetensors(entries));
    const out = path.join(tmp, 'painter');
    const report = await importCheckpoint({ from: file, kind: 'artist', out, vqgan: VQ, gpt: GPT });
    expect(report.models[0].config).toMatchObject({ fusion: 'none' });
    const gpt = await loadGpt(path.join(out, 'gpt'));
    try {
      const g = expected.gpt;
      const V = 16;
      const logits = tf.tidy(() =>
        gpt.forward(tf.tensor2d(g.tokens, [1, g.length], 'int32')).logits.dataSync(),
      ); // [1, t, v]
      const from = GPT.textLen * V;
      expectArraysClose(logits.slice(from), g.logits.slice(from), { atol: 2e-4, rtol: 1e-3 });
      // and the text positions do differ (the reference had knowledge fused there)
      expect(
        Math.max(...Array.from(logits.slice(0, from), (v, i) => Math.abs(v - g.logits[i]))),
      ).toBeGreaterThan(1e-2);
    } finally {
      gpt.dispose();
    }
  });

  it('refuses stray keys, or lists them with allowUnused', async () => {
    const sd = loadStateDict(fx('artist_tiny.bin'));
    const entries = [...sd.tensors].map(([name, t]) => ({
      name,
      shape: t.shape,
      dtype: 'float32' as const,
      data: t.toFloat32(),
    }));
    sd.close();
    entries.push({
      name: 'cond_stage_model.proj.weight',
      shape: [2],
      dtype: 'float32',
      data: new Float32Array(2),
    });
    entries.push({
      name: 'transformer.extra_head.weight',
      shape: [2],
      dtype: 'float32',
      data: new Float32Array(2),
    });
    const file = path.join(tmp, 'stray.safetensors');
    fs.writeFileSync(file, encodeSafetensors(entries));
    const out = path.join(tmp, 'stray');
    await expect(
      importCheckpoint({ from: file, kind: 'artist', out, vqgan: VQ, gpt: GPT }),
    ).rejects.toThrow(
      /unexpected \(in the weights, not in the model\): transformer\.extra_head\.weight[\s\S]*--allow-unused/,
    );
    const r = await importCheckpoint({
      from: file,
      kind: 'artist',
      out,
      vqgan: VQ,
      gpt: GPT,
      allowUnused: true,
      dryRun: true,
    });
    expect(r.strayKeys).toEqual(['cond_stage_model.proj.weight']);
    expect(r.models[0].conversion.unused).toEqual(['transformer.extra_head.weight']);
  });

  it('imports only the VQGAN of an ARTIST file with kind vqgan, reporting the GPT keys', async () => {
    const report = await importCheckpoint({
      from: fx('artist_tiny.bin'),
      kind: 'vqgan',
      out: path.join(tmp, 'artist-vq'),
      vqgan: VQ,
    });
    const ignored = report.models[0].conversion.ignored;
    expect(ignored.length).toBeGreaterThan(0);
    expect(
      ignored.every((i) => i.key.startsWith('transformer.') && /kind 'artist'/.test(i.reason)),
    ).toBe(true);
    await checkVqgan(path.join(tmp, 'artist-vq'));
  });
});

describe('pytorch-fid Inception', () => {
  // The committed fixture has real pytorch-fid key names at reduced widths (the real file is 91 MB).
  const TINY = [
    { name: 'Conv2d_1a_3x3', cin: 3, cout: 4, kh: 3, kw: 3 },
    { name: 'Conv2d_2a_3x3', cin: 4, cout: 4, kh: 3, kw: 3 },
    { name: 'Conv2d_2b_3x3', cin: 4, cout: 8, kh: 3, kw: 3 },
    { name: 'Conv2d_3b_1x1', cin: 8, cout: 10, kh: 1, kw: 1 },
    { name: 'Conv2d_4a_3x3', cin: 10, cout: 24, kh: 3, kw: 3 },
    { name: 'Mixed_5b.branch1x1', cin: 24, cout: 8, kh: 1, kw: 1 },
    { name: 'Mixed_5b.branch5x5_1', cin: 24, cout: 6, kh: 1, kw: 1 },
    { name: 'Mixed_5b.branch5x5_2', cin: 6, cout: 8, kh: 5, kw: 5 },
    { name: 'Mixed_5b.branch3x3dbl_1', cin: 24, cout: 8, kh: 1, kw: 1 },
    { name: 'Mixed_5b.branch3x3dbl_2', cin: 8, cout: 12, kh: 3, kw: 3 },
    { name: 'Mixed_5b.branch3x3dbl_3', cin: 12, cout: 12, kh: 3, kw: 3 },
    { name: 'Mixed_5b.branch_pool', cin: 24, cout: 4, kh: 1, kw: 1 },
    { name: 'Mixed_6b.branch7x7_2', cin: 6, cout: 6, kh: 1, kw: 7 },
  ];

  it('checks the legacy-format file against the full FidInceptionV3 layer table', async () => {
    const out = path.join(tmp, 'inc-full');
    let err: unknown;
    try {
      await importCheckpoint({ from: fx('inception_tiny_legacy.pth'), kind: 'inception', out });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConversionError);
    const ce = err as ConversionError;
    expect(ce.missing).toContain('Mixed_7c.branch_pool.conv.weight');
    expect(ce.misShaped).toContainEqual({
      name: 'Conv2d_1a_3x3.conv.weight',
      expected: [32, 3, 3, 3],
      got: [4, 3, 3, 3],
    });
    expect(ce.unexpected).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('converts BasicConv2d layers: tfjs on the converted kernel equals plain NCHW conv + BN + ReLU', () => {
    const sd = loadStateDict(fx('inception_tiny_legacy.pth'));
    try {
      expect(sd.format).toBe('torch-legacy');
      const { tensors, report } = applyPlan(sd, inceptionPlan(TINY), INCEPTION_IGNORE, {
        kind: 'inception',
      });
      expect(report.ignored.map((i) => i.key)).toEqual(
        [...TINY.map((s) => `${s.name}.bn.num_batches_tracked`), 'fc.weight', 'fc.bias'].sort(
          (a, b) => [...sd.tensors.keys()].indexOf(a) - [...sd.tensors.keys()].indexOf(b),
        ),
      );
      const byName = new Map(tensors.map((t) => [t.name, t]));
      for (const spec of [TINY[7], TINY[12]]) {
        // plain NCHW reference from the raw source arrays
        const w = sd.tensors.get(`${spec.name}.conv.weight`)?.toFloat32() as Float32Array; // [o, i, kh, kw]
        const bn = ['weight', 'bias', 'running_mean', 'running_var'].map(
          (k) => sd.tensors.get(`${spec.name}.bn.${k}`)?.toFloat32() as Float32Array,
        );
        const H = 9;
        const W = 11;
        const x = Float32Array.from({ length: spec.cin * H * W }, (_, i) => Math.sin(i * 0.7)); // [c, h, w]
        const ph = (spec.kh - 1) / 2;
        const pw = (spec.kw - 1) / 2;
        const ref = new Float32Array(spec.cout * H * W);
        for (let o = 0; o < spec.cout; o++)
          for (let y = 0; y < H; y++)
            for (let xx = 0; xx < W; xx++) {
              let acc = 0;
              for (let i = 0; i < spec.cin; i++)
                for (let u = 0; u < spec.kh; u++)
                  for (let v = 0; v < spec.kw; v++) {
                    const yy = y + u - ph;
                    const xv = xx + v - pw;
                    if (yy >= 0 && yy < H && xv >= 0 && xv < W)
                      acc +=
                        w[((o * spec.cin + i) * spec.kh + u) * spec.kw + v] *
                        x[(i * H + yy) * W + xv];
                  }
              const z = ((acc - bn[2][o]) / Math.sqrt(bn[3][o] + 1e-3)) * bn[0][o] + bn[1][o];
              ref[(o * H + y) * W + xx] = Math.max(0, z);
            }
        const k = byName.get(`${spec.name}.conv.weight`);
        expect(k?.shape).toEqual([spec.kh, spec.kw, spec.cin, spec.cout]);
        const got = tf.tidy(() => {
          const xin = tf
            .transpose(tf.tensor3d(x, [spec.cin, H, W]), [1, 2, 0])
            .expandDims(0) as tf.Tensor4D; // [1, h, w, c]
          const y = tf.conv2d(
            xin,
            tf.tensor4d(k?.data as Float32Array, k?.shape as [number, number, number, number]),
            1,
            'same',
          );
          const g = (n: string) =>
            tf.tensor1d(byName.get(`${spec.name}.bn.${n}`)?.data as Float32Array);
          const z = tf.relu(
            tf.batchNorm(y, g('running_mean'), g('running_var'), g('bias'), g('weight'), 1e-3),
          );
          return tf.transpose(z.squeeze([0]), [2, 0, 1]).dataSync(); // [c, h, w]
        });
        expectArraysClose(got, ref, { atol: 1e-4, rtol: 1e-4 });
      }
    } finally {
      sd.close();
    }
  });
});

describe('layouts and refusals', () => {
  it('OIHW -> HWIO and Linear transposes move the right elements', () => {
    const w = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i); // [o2, i3, h2, w2]
    const h = oihwToHwio(w, [2, 3, 2, 2]); // [h2, w2, i3, o2]
    expect(h[((1 * 2 + 0) * 3 + 2) * 2 + 1]).toBe(w[((1 * 3 + 2) * 2 + 1) * 2 + 0]);
    expect(Array.from(transpose2d(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]))).toEqual([
      1, 4, 2, 5, 3, 6,
    ]);
  });

  it('a converted PyTorch conv weight gives the PyTorch convolution', () => {
    // torch.nn.functional.conv2d with weight [out=2, in=1, 2, 2] = 0..7 on a 3x3 input 1..9, no padding:
    // out0 = [[25, 31], [43, 49]], out1 = [[73, 95], [139, 161]] (python3 + numpy cross-correlation).
    const torchW = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(transformedShape([2, 1, 2, 2], 'conv_oihw_to_hwio')).toEqual([2, 2, 1, 2]);
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const w = tf.tensor4d(oihwToHwio(torchW, [2, 1, 2, 2]), [2, 2, 1, 2]);
    const y = tf.conv2d(x, w, 1, 'valid');
    expect(Array.from(y.dataSync())).toEqual([25, 73, 31, 95, 43, 139, 49, 161]);
    tf.dispose([x, w, y]);
  });

  it('tiled transposes equal the plain loops on shapes that are not multiples of the tile', () => {
    for (const [o, i, kh, kw] of [
      [33, 70, 3, 3],
      [65, 1, 1, 7],
      [1, 40, 5, 1],
    ]) {
      const w = Float32Array.from({ length: o * i * kh * kw }, (_, n) => n);
      const back = hwioToOihw(oihwToHwio(w, [o, i, kh, kw]), [kh, kw, i, o]);
      expect(Buffer.from(back.buffer).equals(Buffer.from(w.buffer))).toBe(true);
    }
    const m = Float32Array.from({ length: 37 * 100 }, (_, n) => n);
    const t = transpose2d(m, [37, 100]);
    let wrong = 0;
    for (let r = 0; r < 37; r++)
      for (let c = 0; c < 100; c++) if (t[c * 37 + r] !== m[r * 100 + c]) wrong++;
    expect(wrong).toBe(0);
  });

  it('importCheckpoint refuses malicious files before writing anything', async () => {
    const out = path.join(tmp, 'evil');
    await expect(
      importCheckpoint({ from: evil('evil_os_system.pt'), kind: 'artist', out }),
    ).rejects.toThrow(ForbiddenGlobalError);
    await expect(
      importCheckpoint({ from: evil('evil_huge_storage.pt'), kind: 'vqgan', out }),
    ).rejects.toThrow(TorchFileError);
    await expect(
      importCheckpoint({ from: evil('evil_huge.safetensors'), kind: 'inception', out }),
    ).rejects.toThrow(/exceeds the limit/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('validates its options, naming the field', async () => {
    await expect(
      importCheckpoint({ from: fx('artist_tiny.bin'), kind: 'bert' as never, out: tmp }),
    ).rejects.toThrow(/kind must be one of artist, vqgan, inception/);
    await expect(
      importCheckpoint({ from: fx('nope.bin'), kind: 'artist', out: tmp }),
    ).rejects.toThrow(/from: .*nope\.bin' is not a file/);
    await expect(
      importCheckpoint({
        from: fx('artist_tiny.bin'),
        kind: 'artist',
        out: tmp,
        extra: 1,
      } as never),
    ).rejects.toThrow(/unknown option 'extra'/);
  });
});

describe('dry run', () => {
  it('checks and converts without writing', async () => {
    const out = path.join(tmp, 'dry');
    const r = await importCheckpoint({
      from: fx('artist_tiny.bin'),
      kind: 'artist',
      out,
      vqgan: VQ,
      gpt: GPT,
      dryRun: true,
    });
    expect(r.models.map((m) => [m.model, m.dir])).toEqual([
      ['gpt', ''],
      ['vqgan', ''],
    ]);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('plans at release size (no weights allocated)', () => {
  it('VQGAN f16-16384: 343 taming keys, the same names and shapes as the vqgan package', () => {
    const rows = vqganPlan(validateVqganConfig('artist-base'));
    expect(rows.length).toBe(343); // artist.md section 9: 343 VQ keys
    expect(rows.map((r) => r.sourceKey)).toEqual(tamingKeys(validateVqganConfig('artist-base')));
    expect(rows.find((r) => r.name === 'encoder.conv_out.weight')?.sourceShape).toEqual([
      256, 512, 3, 3,
    ]);
    expect(rows.find((r) => r.name === 'decoder.up.4.attn.2.q.weight')?.sourceShape).toEqual([
      512, 512, 1, 1,
    ]);
    // names and converted shapes equal the variables the vqgan package creates (nano: small to build)
    const nano = validateVqganConfig('nano');
    const vq = Vqgan.create(nano, { init: 'zeros' });
    try {
      const ours = Object.fromEntries(Object.entries(vq.weights()).map(([k, v]) => [k, v.shape]));
      const planned = Object.fromEntries(
        vqganPlan(nano).map((r) => [r.name, transformedShape(r.sourceShape, r.transform)]),
      );
      expect(planned).toEqual(ours);
    } finally {
      vq.dispose();
    }
  });

  it('GPT_knowl base: 199 weights + 12 mask buffers = the 211 keys of pai-artist-knowl-base-zh', () => {
    const c = validateGptConfig({ ...PRESETS['artist-base'], fusion: 'easynlp' });
    const { rows, ignore } = gptPlan(c);
    expect(rows.length + c.nLayer).toBe(211);
    expect(rows.find((r) => r.sourceKey === 'transformer.blocks.11.mlp.0.weight')).toMatchObject({
      name: 'blocks.11.mlp.0.weight',
      sourceShape: [3072, 768],
      transform: 'linear_transpose',
    });
    expect(rows.find((r) => r.sourceKey === 'transformer.tok_emb.weight')?.sourceShape).toEqual([
      37512, 768,
    ]);
    expect(ignore.length).toBe(1);
  });

  it('pytorch-fid Inception: five tensors per BasicConv2d of FidInceptionV3', () => {
    const rows = inceptionPlan();
    expect(rows.length).toBe(5 * FID_INCEPTION_CONVS.length);
    expect(
      rows.find((r) => r.sourceKey === 'Mixed_7c.branch3x3_2b.conv.weight')?.sourceShape,
    ).toEqual([384, 384, 3, 1]);
  });
});
