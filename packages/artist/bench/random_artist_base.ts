/**
 * The ARTIST-base folder the benches measure: GPT_knowl `artist-base` (fusion easynlp, 126.75 M)
 * and VQGAN `artist-base` (76.07 M) with seeded random weights, in the layout `artist-train import
 * --kind artist` writes (`gpt/` and `vqgan/` checkpoint roots), and a BERT-style vocab.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KnowlGpt, saveGpt } from '@artist-ts/gpt-knowl';
import { SPECIAL_TOKENS } from '@artist-ts/lattice-data';
import { Vqgan } from '@artist-ts/vqgan';

/** Writes `dir/gpt` and `dir/vqgan` (random ARTIST-base weights, seeds 1 and 2). */
export async function writeRandomArtistBase(dir: string): Promise<void> {
  const gpt = new KnowlGpt({ preset: 'artist-base', fusion: 'easynlp' }, { seed: 1 });
  try {
    await saveGpt(gpt, path.join(dir, 'gpt'));
  } finally {
    gpt.dispose();
  }
  const vq = Vqgan.create('artist-base', { seed: 2 });
  try {
    await vq.save(path.join(dir, 'vqgan'));
  } finally {
    vq.dispose();
  }
}

/** A BERT-style vocab of `size` lines: the special tokens, then CJK characters. */
export function writeVocab(file: string, size: number): void {
  const lines: string[] = Object.values(SPECIAL_TOKENS);
  for (let cp = 0x4e00; lines.length < size; cp++) lines.push(String.fromCodePoint(cp));
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}
