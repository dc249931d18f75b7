/**
 * Stage `encode`: every split's knowledge TSV row + its image encoded by the VQGAN into protobuf
 * shards `<run>/encode/codes/{split}/` (text ids, lattice, VQ codes), so the gpt stage never decodes
 * images again.
 */
import fs from 'node:fs';
import {
  BertTokenizer,
  type EncodedExample,
  exampleFromKnowledgeRow,
  imageFromBase64,
  type KnowledgeRow,
  ShardWriter,
  TsvReader,
  Vocab,
} from '@artist-ts/lattice-data';
import { Vqgan } from '@artist-ts/vqgan';
import * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../config';
import { type Stage, throwIfAborted } from '../pipeline';
import { SPLITS } from '../run_layout';

export const encodeStage: Stage<TrainerConfig> = {
  name: 'encode',
  after: ['lattice', 'vqgan'],
  configSlice: (c) => ({ encode: c.encode, textLen: c.lattice.textLen, size: c.data.size }),
  async run(ctx) {
    const size = ctx.config.data.size;
    const vocab = Vocab.fromFile(ctx.run.lattice.vocab);
    const tokenizer = new BertTokenizer(vocab, { textLen: ctx.config.lattice.textLen });
    const model = await Vqgan.load(ctx.run.vqgan.checkpoint);
    const [gh, gw] = model.codeShape;
    const summary: Record<string, unknown> = { grid: [gh, gw], codebookSize: model.config.nEmbed };
    try {
      for (const split of SPLITS) {
        const input = ctx.run.lattice.knowledgeTsv(split);
        if (!fs.existsSync(input)) continue;
        const writer = await ShardWriter.create(ctx.run.encode.codes(split), {
          overwrite: true,
          maxRecordsPerShard: ctx.config.encode.shardSize,
          meta: {
            split,
            textLen: ctx.config.lattice.textLen,
            grid: [gh, gw],
            codebookSize: model.config.nEmbed,
          },
        });
        let rows: { row: KnowledgeRow; pixels: Uint8Array }[] = [];
        let written = 0;
        const flush = async () => {
          if (rows.length === 0) return;
          const n = rows.length;
          const per = size * size * 3;
          const data = new Uint8Array(n * per);
          for (const [i, r] of rows.entries()) data.set(r.pixels, i * per);
          const codesT = model.encode({ data, shape: [n, size, size, 3] }); // [n, gh, gw]
          const codes = (await codesT.data()) as Int32Array;
          codesT.dispose();
          for (let i = 0; i < n; i++) {
            const ex: EncodedExample = exampleFromKnowledgeRow(rows[i].row, tokenizer, {
              image: {
                kind: 'codes',
                height: gh,
                width: gw,
                codebookSize: model.config.nEmbed,
                codes: Int32Array.from(codes.subarray(i * gh * gw, (i + 1) * gh * gw)),
              },
            });
            await writer.add(ex);
          }
          written += n;
          rows = [];
          ctx.progress.update(written, { tensors: tf.memory().numTensors });
        };
        ctx.progress.begin(`encode:${split}`, 0, 'images');
        try {
          for await (const row of new TsvReader(input, 'knowledge')) {
            throwIfAborted(ctx.signal, 'encode');
            if (!row.imageBase64) throw new Error(`${input}:${row.line}: no image column`);
            const img = await imageFromBase64(row.imageBase64, {
              size,
              crop: 'center',
              kernel: 'linear',
            });
            rows.push({ row, pixels: img.data });
            if (rows.length >= ctx.config.encode.batchSize) await flush();
          }
          await flush();
          await writer.finish();
        } catch (err) {
          await writer.abort();
          throw err;
        }
        ctx.progress.end(`${written} examples`);
        summary[split] = written;
      }
    } finally {
      model.dispose();
    }
    return summary;
  },
};
