import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint } from '@artist-ts/core/checkpoint-files';
import type { RawTensor } from '@artist-ts/core/trainer-state';
import { type GptConfig, parameterSpecs, validateGptConfig } from '@artist-ts/gpt-knowl';
import { PRESETS as VQGAN_PRESETS, validateVqganConfig } from '@artist-ts/vqgan';
import {
  type ArtistWeights,
  applyLayout,
  ConversionError,
  DTYPE_SIZE,
  exportEasyNLP,
  importCheckpoint,
  loadStateDict,
  readTorchFile,
  type TorchTensor,
  transformedShape,
  undoLayout,
  vqganPlan,
} from '../src';

const fx = (n: string) => path.join(__dirname, 'fixtures', n);
const expected = JSON.parse(fs.readFileSync(fx('expected.json'), 'utf8'));

const GPT: GptConfig = validateGptConfig({
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  mlpRatio: 4,
  textLen: 4,
  imageLen: 8,
  imageVocabSize: 16,
  textVocabSize: 24,
  entityDim: 6,
  entitySlots: 3,
  fusion: 'easynlp',
});
const VQ = validateVqganConfig(VQGAN_PRESETS.nano);
/** What the weights' shapes cannot tell the importer. */
const IMPORT_OVERRIDES = {
  gpt: { nHead: GPT.nHead, textLen: GPT.textLen, entitySlots: GPT.entitySlots },
  vqgan: { resolution: VQ.resolution, numGroups: VQ.numGroups },
};

/** Deterministic values with every bit pattern class a float32 weight has (signs, tiny, large). */
function randomTensor(name: string, shape: number[], seed: number): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * 2 ** ((s % 41) - 20);
  }
  return { name, shape, dtype: 'float32', data };
}

function weights(): ArtistWeights {
  return {
    gpt: {
      config: GPT,
      tensors: parameterSpecs(GPT).map((p, i) => randomTensor(p.name, p.shape, i + 1)),
    },
    vqgan: {
      config: VQ,
      tensors: vqganPlan(VQ).map((r, i) =>
        randomTensor(r.name, transformedShape(r.sourceShape, r.transform), 1000 + i),
      ),
    },
  };
}

function bytesOf(t: { data: Float32Array | Int32Array | Uint8Array }): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function storedBytes(t: TorchTensor): Buffer {
  const size = DTYPE_SIZE[t.dtype];
  return Buffer.from(t.storage.readBytes(t.storageOffset * size, t.numel * size));
}

/** Every tensor of `ours` equals, bit for bit, the same name in the checkpoint at `dir`. */
async function expectSameWeights(dir: string, ours: Iterable<RawTensor>): Promise<void> {
  const ck = await readCheckpoint(dir);
  const read = new Map(ck.tensors.map((t) => [t.name, t]));
  const want = [...ours];
  expect([...read.keys()].sort()).toEqual(want.map((t) => t.name).sort());
  for (const t of want) {
    const r = read.get(t.name) as RawTensor;
    expect([t.name, r.shape]).toEqual([t.name, t.shape]);
    if (!bytesOf(r).equals(bytesOf(t))) throw new Error(`${t.name} differs after the round trip`);
  }
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-export-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('exportEasyNLP', () => {
  it.each(['easynlp', 'safetensors'] as const)(
    'import(export(weights)) is bit-identical (%s)',
    async (to) => {
      const w = weights();
      const out = path.join(tmp, `export-${to}`);
      const vocab = path.join(tmp, 'vocab.txt');
      fs.writeFileSync(vocab, `${Array.from({ length: 24 }, (_, i) => `[tok${i}]`).join('\n')}\n`);
      const report = await exportEasyNLP(w, out, { to, vocab });
      const file = to === 'easynlp' ? 'pytorch_model.bin' : 'model.safetensors';
      expect(report.files).toEqual([file, 'config.json', 'vocab.txt']);
      expect(report.tensors).toBe(parameterSpecs(GPT).length + vqganPlan(VQ).length);
      expect(fs.readFileSync(path.join(out, 'vocab.txt'))).toEqual(fs.readFileSync(vocab));
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))).toEqual({
        model_type: 'artist',
        vocab_size: 40,
        img_vocab_size: 16,
        text_vocab_size: 24,
        block_size: 12,
        n_layer: 2,
        n_head: 2,
        n_embd: 16,
        embd_pdrop: 0,
        resid_pdrop: 0,
        attn_pdrop: 0,
        n_unmasked: 0,
      });
      // The tiny sizes are not what EasyNLP's code hard-codes: said, not refused.
      expect(report.warnings).toEqual(
        expect.arrayContaining([
          "gpt entityDim 6: EasyNLP's ent_emb is nn.Linear(100, n_embd)",
          'gpt textLen 4: EasyNLP hard-codes 32',
          expect.stringMatching(/^vqgan resolution 32: EasyNLP's VQModel is taming's f16-16384/),
        ]),
      );

      const back = path.join(tmp, `import-${to}`);
      const imported = await importCheckpoint({
        from: path.join(out, file),
        kind: 'artist',
        out: back,
        ...IMPORT_OVERRIDES,
      });
      // Everything the export wrote is used or a mask buffer; nothing else.
      expect(imported.models.map((m) => m.conversion.unused)).toEqual([[], []]);
      expect(imported.models[0].conversion.ignored.map((g) => g.key)).toEqual([
        'transformer.blocks.0.attn.mask',
        'transformer.blocks.1.attn.mask',
      ]);
      await expectSameWeights(path.join(back, 'gpt'), w.gpt.tensors);
      await expectSameWeights(path.join(back, 'vqgan'), w.vqgan?.tensors ?? []);
    },
  );

  it('writes back the released layout it imported: every key, mask buffers included, bit for bit', async () => {
    const imported = path.join(tmp, 'from-artist-tiny');
    await importCheckpoint({
      from: fx('artist_tiny.bin'),
      kind: 'artist',
      out: imported,
      vqgan: { resolution: expected.vqgan.resolution, numGroups: expected.vqgan.groups },
      gpt: {
        nHead: expected.gpt.n_head,
        textLen: expected.gpt.text_len,
        entitySlots: expected.gpt.entity_slots,
      },
    });
    const out = path.join(tmp, 'artist-tiny-again');
    await exportEasyNLP(imported, out);
    const a = loadStateDict(fx('artist_tiny.bin'));
    const b = loadStateDict(path.join(out, 'pytorch_model.bin'));
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k) as TorchTensor;
      expect([k, u.dtype, u.shape]).toEqual([k, t.dtype, t.shape]);
      if (!storedBytes(u).equals(storedBytes(t))) throw new Error(`${k} differs`);
    }
    a.close();
    b.close();
  });

  it('lists every weight that does not fit, and writes nothing', async () => {
    const w = weights();
    const gpt = [...w.gpt.tensors];
    const broken: ArtistWeights = {
      gpt: {
        config: GPT,
        tensors: [
          ...gpt.filter((t) => t.name !== 'ln_f.bias' && t.name !== 'head.weight'),
          randomTensor('head.weight', [16, 17], 1),
          randomTensor('lora.A', [2, 2], 1),
        ],
      },
    };
    const out = path.join(tmp, 'broken');
    const err = await exportEasyNLP(broken, out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversionError);
    const ce = err as ConversionError;
    expect(ce.missing).toEqual(['ln_f.bias']);
    expect(ce.unexpected).toEqual(['lora.A']);
    expect(ce.misShaped).toEqual([{ name: 'head.weight', expected: [16, 16], got: [16, 17] }]);
    expect(ce.message).toMatch(/--allow-unused/);
    expect(fs.existsSync(out)).toBe(false);

    const vocab = path.join(tmp, 'short_vocab.txt');
    fs.writeFileSync(vocab, 'a\nb\n');
    await expect(exportEasyNLP(w, out, { vocab })).rejects.toThrow(
      /short_vocab.txt: 2 tokens, but the GPT's text vocabulary \(textVocabSize\) is 24/,
    );
    await expect(exportEasyNLP(w, out, { to: 'onnx' as never })).rejects.toThrow(
      /ExportOptions.to: expected easynlp \| safetensors/,
    );
    await expect(
      exportEasyNLP(w, out, {
        entityVectors: { dtype: 'float32', shape: [3, 5], data: new Float32Array(15) },
      }),
    ).rejects.toThrow(/entityVectors: shape \[3,5\], expected \[N, 6\]/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('writes entity2vec.pt as the bare float tensor EasyNLP loads, and a GPT without VQGAN', async () => {
    const w = weights();
    const table = Float32Array.from({ length: 3 * 6 }, (_, i) => i / 7 - 1);
    const out = path.join(tmp, 'gpt-only');
    const report = await exportEasyNLP({ gpt: w.gpt }, out, {
      entityVectors: { dtype: 'float32', shape: [3, 6], data: table },
    });
    expect(report.files).toEqual(['pytorch_model.bin', 'config.json', 'entity2vec.pt']);
    expect(report.warnings).toContainEqual(expect.stringMatching(/^no VQGAN/));
    const f = readTorchFile(path.join(out, 'entity2vec.pt'));
    const t = f.root as TorchTensor;
    expect(t.shape).toEqual([3, 6]);
    expect(Buffer.from(t.toFloat32().buffer).equals(Buffer.from(table.buffer))).toBe(true);
    f.close();
    const sd = loadStateDict(path.join(out, 'pytorch_model.bin'));
    expect([...sd.tensors.keys()].every((k) => k.startsWith('transformer.'))).toBe(true);
    sd.close();
  });

  it('undoes every layout change exactly', () => {
    const x = randomTensor('x', [3, 5, 2, 4], 9).data as Float32Array; // [o, i, kh, kw]
    for (const [t, shape] of [
      ['conv_oihw_to_hwio', [3, 5, 2, 4]],
      ['linear_transpose', [15, 8]],
      ['identity', [120]],
    ] as const) {
      const there = applyLayout(x, shape, t);
      expect(Buffer.from(undoLayout(there, shape, t).buffer).equals(Buffer.from(x.buffer))).toBe(
        true,
      );
    }
  });
});
