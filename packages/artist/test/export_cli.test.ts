import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime } from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import { importCheckpoint, readTorchFile } from '@artist-ts/torch-import';
import { RunLayout } from '../src/run_layout';
import { buildProgram } from '../src/train_cli';
import { stdoutOf } from './stdout';
import { makeRun } from './tiny_run';
import { expectSameWeights } from './weights';

describe('artist-train export', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it.each(['easynlp', 'safetensors'] as const)(
    'exports a run; importing the files gives the same weights bit for bit (%s)',
    async (to) => {
      await expectNoLeakedTensors(async () => {
        const runDir = await makeRun('lattice');
        const out = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-export-'));
        const printed = await stdoutOf(() =>
          buildProgram().parseAsync([
            'node',
            'artist-train',
            'export',
            '--run',
            runDir,
            '--to',
            to,
            '--output',
            out,
          ]),
        );
        const file = to === 'easynlp' ? 'pytorch_model.bin' : 'model.safetensors';
        expect(printed).toContain(`wrote ${file}`);
        expect(printed).toContain('wrote entity2vec.pt');
        expect(printed).toMatch(/warning: gpt entityDim 8/);
        const run = new RunLayout(runDir);
        expect(fs.readFileSync(path.join(out, 'vocab.txt'))).toEqual(
          fs.readFileSync(run.lattice.vocab),
        );
        const ent = readTorchFile(path.join(out, 'entity2vec.pt'));
        expect(Array.from((ent.root as { shape: number[] }).shape)).toEqual([2, 8]);
        ent.close();
        const back = path.join(out, 'imported');
        await importCheckpoint({
          from: path.join(out, file),
          kind: 'artist',
          out: back,
          gpt: { textLen: 8, entitySlots: 10 },
          vqgan: { resolution: 8, numGroups: 2 },
        });
        await expectSameWeights(run.gpt.checkpoint, path.join(back, 'gpt'));
        await expectSameWeights(run.vqgan.checkpoint, path.join(back, 'vqgan'));
        fs.rmSync(runDir, { recursive: true, force: true });
        fs.rmSync(out, { recursive: true, force: true });
      });
    },
  );

  it('names a folder that holds no model', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-export-empty-'));
    await expect(
      buildProgram().parseAsync([
        'node',
        'artist-train',
        'export',
        '--run',
        empty,
        '--output',
        path.join(empty, 'out'),
      ]),
    ).rejects.toThrow(/--run.*neither a run folder/);
  });
});
