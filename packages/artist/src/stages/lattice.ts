/**
 * Stage `lattice`: the vocabulary (a user's BERT vocab.txt, or a character vocabulary built from
 * the training captions) and the EasyNLP knowledge TSV of every split, matched against the KG's
 * entity names: `<run>/lattice/vocab.txt`, `<run>/lattice/{train,val,test}.knowl.tsv`; with
 * `lattice.neighbours`, each match's KG neighbours join its span and `<run>/lattice/neighbours.tsv`
 * keeps the table for generation.
 */
import fs from 'node:fs';
import { atomicWriteFile } from '@artist-ts/core/files';
import {
  BertTokenizer,
  buildCharVocabFromTsv,
  loadEntityLexicon,
  type NeighbourTable,
  neighbourTable,
  Vocab,
  writeKnowledgeTsv,
  writeNeighbourTable,
} from '@artist-ts/lattice-data';
import type { TrainerConfig } from '../config';
import { omitWhileDefault, type Stage } from '../pipeline';
import { SPLITS } from '../run_layout';
import { readKgFolder, relationIds } from './kg';

/**
 * The one-hop neighbour table of the run's KG (every fact of train, valid and test: the graph is
 * the knowledge source; of `relations` only, when given), with ids of the TransE table the kg stage
 * wrote from the same folder.
 */
export async function kgNeighbours(
  kgDir: string,
  perEntity: number,
  relations: readonly string[] | null = null,
): Promise<NeighbourTable> {
  const kg = await readKgFolder(kgDir);
  const keep = relationIds(kg, relations, kgDir);
  const parts = [kg.train, kg.valid, kg.test];
  const all = new Int32Array(parts.reduce((a, p) => a + p.count, 0) * 3);
  let count = 0;
  for (const p of parts) {
    const d = p.data; // [h0, r0, t0, h1, ...]
    for (let i = 0; i < 3 * p.count; i += 3) {
      if (keep && !keep.includes(d[i + 1]!)) continue;
      all[3 * count] = d[i]!;
      all[3 * count + 1] = d[i + 1]!;
      all[3 * count + 2] = d[i + 2]!;
      count++;
    }
  }
  return neighbourTable(all, count, perEntity);
}

export const latticeStage: Stage<TrainerConfig> = {
  name: 'lattice',
  after: ['data', 'kg'],
  configSlice: (c) => omitWhileDefault(c.lattice, { neighbours: 0, relations: null }),
  externalInputs: (c) => (c.lattice.vocab ? [c.lattice.vocab] : []),
  async run(ctx) {
    const cfg = ctx.config.lattice;
    let vocab: Vocab;
    if (cfg.vocab) {
      vocab = Vocab.fromFile(cfg.vocab);
    } else {
      // Captions of every split: held-out captions must tokenize too (their characters get ids
      // whose embeddings stay at their initial values unless seen in training).
      const built = await buildCharVocabFromTsv(
        SPLITS.map((s) => ({ file: ctx.run.data.split(s), format: 'text-image' as const })),
        { minFreq: cfg.minFreq },
      );
      vocab = built.vocab;
    }
    await atomicWriteFile(ctx.run.lattice.vocab, vocab.toText());
    const tokenizer = new BertTokenizer(vocab, { textLen: cfg.textLen });
    const { lexicon, summary: lex } = await loadEntityLexicon(ctx.run.kg.entity2id);
    let neighbours: NeighbourTable | undefined;
    if (cfg.neighbours > 0) {
      neighbours = await kgNeighbours(ctx.run.data.kg, cfg.neighbours, cfg.relations);
      await writeNeighbourTable(ctx.run.lattice.neighbours, neighbours);
    } else {
      fs.rmSync(ctx.run.lattice.neighbours, { force: true });
    }
    const splits: Record<string, unknown> = {};
    for (const split of SPLITS) {
      const input = ctx.run.data.split(split);
      if (!fs.existsSync(input)) continue;
      ctx.progress.begin(`lattice:${split}`, 100, '%');
      const s = await writeKnowledgeTsv({
        input,
        output: ctx.run.lattice.knowledgeTsv(split),
        tokenizer,
        lexicon,
        neighbours,
        onProgress: (e) => {
          if (e.totalBytes)
            ctx.progress.update(Math.floor((100 * e.bytes) / e.totalBytes), { rows: e.rows });
        },
      });
      ctx.progress.end();
      splits[split] = { rows: s.rows, entities: s.entities, longCaptions: s.longCaptions };
    }
    return {
      vocabSize: vocab.size,
      lexiconEntries: lex.entries,
      ...(neighbours ? { expandedEntities: neighbours.size } : {}),
      splits,
    };
  },
};
