/**
 * Stage `data`: a built-in dataset (emoji-zh, kg-shapes-zh) or the user's own folder, into
 * `<run>/data/{train,val,test}.tsv` + `<run>/data/kg/`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteDir } from '@artist-ts/core/files';
import { buildDataset, readDatasetManifest } from '@artist-ts/datasets';
import type { TrainerConfig } from '../config';
import type { Stage } from '../pipeline';
import { dataFolderLayout, SPLITS } from '../run_layout';
import { kgFolderFormat } from './kg';

/** Checks a user data folder: split TSVs and an OpenKE kg/ folder (or named triples). */
export function checkUserDataFolder(dir: string): void {
  const folder = dataFolderLayout(dir);
  for (const split of SPLITS) {
    const file = folder.split(split);
    if (!fs.existsSync(file))
      throw new Error(`${file}: missing (data.input needs train/val/test.tsv)`);
  }
  kgFolderFormat(folder.kg);
}

export const dataStage: Stage<TrainerConfig> = {
  name: 'data',
  after: [],
  configSlice: (c) => ({ data: c.data, seed: c.seed }),
  externalInputs: (c) => (c.data.input ? [c.data.input] : []),
  async run(ctx) {
    const { data, seed } = ctx.config;
    const out = ctx.run.data.dir;
    if (data.input) {
      checkUserDataFolder(data.input);
      ctx.progress.log(`[data] copying ${data.input}`);
      await atomicWriteDir(
        out,
        async (tmp) => {
          await fs.promises.cp(data.input!, tmp, { recursive: true });
        },
        { overwrite: true },
      );
      return { source: path.resolve(data.input) };
    }
    let phase = '';
    const result = await buildDataset(data.dataset, {
      out,
      size: data.size,
      seed,
      limit: data.limit ?? undefined,
      overwrite: true,
      onProgress: (p) => {
        if (p.stage !== phase) {
          if (phase) ctx.progress.end();
          phase = p.stage;
          ctx.progress.begin(`data:${p.stage}`, p.total, 'items');
        }
        ctx.progress.update(p.done);
      },
    });
    ctx.progress.end();
    const m = readDatasetManifest(result.out);
    return {
      dataset: m.name,
      size: m.size,
      counts: m.counts,
      kg: { entities: m.kg.entities, relations: m.kg.relations, triples: m.kg.triples },
    };
  },
};
