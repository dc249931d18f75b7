import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { countParameters, KnowlGpt, PRESETS, parameterSpecs, validateGptConfig } from '../src';

/** Closed-form minGPT count, written independently of parameterSpecs. */
function formula(L: number, C: number, vocab: number, block: number, vImg: number, ent: number) {
  const perBlock = 2 * 2 * C + 4 * (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C);
  return vocab * C + block * C + L * perBlock + 2 * C + C * vImg + (ent > 0 ? ent * C + C : 0);
}

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

describe('parameter counts', () => {
  test('artist-base matches EasyNLP (126.67 M GPT, 126.75 M GPT_knowl)', () => {
    expect(countParameters({ preset: 'artist-base', fusion: 'none' })).toBe(126_669_312);
    expect(countParameters({ preset: 'artist-base' })).toBe(126_746_880);
    expect(countParameters({ preset: 'artist-base' })).toBe(
      formula(12, 768, 37512, 288, 16384, 100),
    );
  });

  test('artist-large matches EasyNLP (357.80 M)', () => {
    expect(countParameters({ preset: 'artist-large', fusion: 'none' })).toBe(357_795_840);
    expect(countParameters({ preset: 'artist-large', fusion: 'easynlp' })).toBe(
      formula(24, 1024, 37512, 288, 16384, 100),
    );
  });

  test('nano: built model holds exactly the counted parameters', () => {
    for (const fusion of ['lattice', 'none'] as const) {
      const model = new KnowlGpt({ preset: 'nano', fusion });
      const c = model.config;
      expect(model.numParameters()).toBe(countParameters(c));
      expect(model.numParameters()).toBe(
        formula(
          c.nLayer,
          c.nEmbd,
          c.imageVocabSize + c.textVocabSize,
          c.textLen + c.imageLen,
          c.imageVocabSize,
          fusion === 'none' ? 0 : c.entityDim,
        ),
      );
      model.dispose();
    }
  });

  test('EasyNLP key map: 211 GPT_knowl keys with the attention mask buffers', () => {
    const specs = parameterSpecs(PRESETS['artist-base']);
    // 211 keys in pytorch_model.bin's transformer.* = our parameters + 12 attn.mask buffers.
    expect(specs.length + 12).toBe(211);
    const head = specs.find((s) => s.name === 'head.weight')!;
    expect(head.torchKey).toBe('transformer.head.weight');
    expect(head.torchShape).toEqual([16384, 768]);
    expect(head.shape).toEqual([768, 16384]);
    expect(head.transpose).toBe(true);
    const ent = specs.find((s) => s.name === 'ent_emb.weight')!;
    expect(ent.torchShape).toEqual([768, 100]);
    expect(specs.find((s) => s.name === 'pos_emb')!.torchShape).toEqual([1, 288, 768]);
    expect(specs.find((s) => s.name === 'tok_emb.weight')!.torchShape).toEqual([37512, 768]);
    expect(specs.find((s) => s.name === 'blocks.11.mlp.0.weight')!.torchShape).toEqual([3072, 768]);
  });

  test('weight decay only on matrices', () => {
    const decayed = parameterSpecs(PRESETS.nano)
      .filter((s) => s.decay)
      .map((s) => s.name);
    expect(decayed.every((n) => n.endsWith('.weight') && !/ln/.test(n))).toBe(true);
    expect(decayed).not.toContain('pos_emb');
    expect(decayed).toContain('tok_emb.weight');
  });
});

describe('validateGptConfig', () => {
  test('names the bad field and the allowed values', () => {
    expect(() => validateGptConfig({ nHead: 5, nEmbd: 32 })).toThrow(
      /nHead \(5\) must divide .*nEmbd.*allowed heads: 1, 2, 4, 8, 16, 32/,
    );
    expect(() => validateGptConfig({ fusion: 'late' as never })).toThrow(
      /fusion must be one of lattice, easynlp, none/,
    );
    expect(() => validateGptConfig({ nLayer: 0 })).toThrow(/nLayer must be a positive integer/);
    expect(() => validateGptConfig({ preset: 'huge' as never })).toThrow(
      /preset must be one of nano/,
    );
    expect(() => validateGptConfig({ nlayer: 2 } as never)).toThrow(/nlayer is not a model option/);
    expect(() => validateGptConfig({ attnPdrop: 1 })).toThrow(
      /attnPdrop must be a number in \[0, 1\)/,
    );
  });

  test('presets fill defaults and overrides win', () => {
    const c = validateGptConfig({ preset: 'nano', nLayer: 3 });
    expect(c.nLayer).toBe(3);
    expect(c.nEmbd).toBe(32);
    expect(c.layerNormEps).toBe(1e-5);
  });

  test('no tensors left behind by building and disposing', () => {
    const before = tf.memory().numTensors;
    new KnowlGpt({ preset: 'nano' }).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
