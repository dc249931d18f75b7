/**
 * Stage `lattice`: the vocabulary (a user's BERT vocab.txt, or a character vocabulary built from
 * the training captions) and the EasyNLP knowledge TSV of every split, matched against the KG's
 * entity names: `<run>/lattice/vocab.txt`, `<run>/lattice/{train,val,test}.knowl.tsv`.
 */
import fs from 'node:fs';
import { atomicWriteFile } from '@artist-ts/core/files';
import {
  BertTokenizer,
  buildCharVocabFromTsv,
  loadEntityLexicon,
  Vocab,
  writeKnowledgeTsv,
} from '@artist-ts/lattice-data';
import type { TrainerConfig } from '../config';
import type { Stage } from '../pipeline';
import { SPLITS } from '../run_layout';

export const latticeStage: Stage<TrainerConfig> = {
  name: 'lattice',
  after: ['data', 'kg'],
  configSlice: (c) => c.lattice,
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
        onProgress: (e) => {
          if (e.totalBytes)
            ctx.progress.update(Math.floor((100 * e.bytes) / e.totalBytes), { rows: e.rows });
        },
      });
      ctx.progress.end();
      splits[split] = { rows: s.rows, entities: s.entities, longCaptions: s.longCaptions };
    }
    return { vocabSize: vocab.size, lexiconEntries: lex.entries, splits };
  },
};
