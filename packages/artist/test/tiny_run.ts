/** A run folder with untrained tiny models, for generator tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atomicWriteFile } from '@artist-ts/core/files';
import { type FusionMode, PRESETS as GPT_PRESETS, KnowlGpt, saveGpt } from '@artist-ts/gpt-knowl';
import { writeEmbeddings } from '@artist-ts/kg-embedding';
import { buildCharVocab } from '@artist-ts/lattice-data';
import { Vqgan } from '@artist-ts/vqgan';

export const CAPTIONS = ['一只狗脸', '红色的苹果', '狗脸和苹果'];

/** A run folder with untrained tiny models: enough to exercise every file the generator reads. */
export async function makeRun(fusion: 'lattice' | 'none'): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-gen-test-'));
  const vocab = buildCharVocab(CAPTIONS);
  await atomicWriteFile(path.join(dir, 'lattice', 'vocab.txt'), vocab.toText());
  await writeEmbeddings(path.join(dir, 'kg', 'vectors'), {
    dim: 8,
    entities: ['狗脸', '苹果'],
    relations: ['属于'],
    entity: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)),
    relation: new Float32Array(8),
  });
  const vqgan = tinyVqgan();
  await vqgan.save(path.join(dir, 'vqgan', 'checkpoint'));
  const gpt = tinyGpt(vqgan, fusion, vocab.size);
  await saveGpt(gpt, path.join(dir, 'gpt', 'checkpoint'));
  vqgan.dispose();
  gpt.dispose();
  return dir;
}

/** An untrained 8x8 VQGAN (4x4 codes of 16). */
export function tinyVqgan(): Vqgan {
  return Vqgan.create(
    {
      resolution: 8,
      ch: 4,
      chMult: [1, 2],
      numResBlocks: 1,
      attnResolutions: [],
      zChannels: 4,
      embedDim: 4,
      nEmbed: 16,
      numGroups: 2,
    },
    { seed: 1 },
  );
}

/** An untrained nano GPT for `vqgan`'s codes (8 text tokens, 8-dim entities). */
export function tinyGpt(vqgan: Vqgan, fusion: FusionMode, textVocabSize: number): KnowlGpt {
  const [gh, gw] = vqgan.codeShape;
  return new KnowlGpt(
    {
      ...GPT_PRESETS.nano,
      fusion,
      textLen: 8,
      textVocabSize,
      imageLen: gh * gw,
      imageVocabSize: 16,
      entityDim: 8,
    },
    { seed: 2 },
  );
}
