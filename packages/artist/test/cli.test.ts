import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import { initRuntime } from '@artist-ts/runtime';
import { Vqgan } from '@artist-ts/vqgan';
import { kgCommand } from '../src/standalone';
import { buildProgram } from '../src/train_cli';
import { stdoutOf } from './stdout';

const FIXTURE = path.join(
  __dirname,
  '..',
  '..',
  'torch-import',
  'test',
  'fixtures',
  'vqgan_tiny.safetensors',
);

describe('artist-train CLI', () => {
  beforeAll(async () => {
    await initRuntime({ backend: 'cpu' });
  });

  it('imports a taming VQGAN safetensors file into a loadable checkpoint', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-import-'));
    const printed = await stdoutOf(() =>
      buildProgram().parseAsync([
        'node',
        'artist-train',
        'import',
        '--from',
        FIXTURE,
        '--kind',
        'vqgan',
        '--out',
        out,
        '--vqgan-config',
        '{"numGroups":2,"resolution":8}',
      ]),
    );
    expect(printed).toMatch(
      /^vqgan: 155 tensors, \d+ parameters \(0 source keys ignored, 0 unused\)/,
    );
    const model = await Vqgan.load(out);
    expect(model.config.numGroups).toBe(2);
    model.dispose();
  });

  it('names a bad --vqgan-config', async () => {
    await expect(
      buildProgram().parseAsync([
        'node',
        'artist-train',
        'import',
        '--from',
        FIXTURE,
        '--kind',
        'vqgan',
        '--out',
        '/tmp/x',
        '--vqgan-config',
        '[1]',
      ]),
    ).rejects.toThrow("config field '--vqgan-config': must be a JSON object (not a JSON object)");
  });

  it('prints the resolved config with --dry-run', async () => {
    const printed = await stdoutOf(() =>
      buildProgram().parseAsync([
        'node',
        'artist-train',
        'run',
        '--dry-run',
        '--set',
        'gpt.model.nLayer=2',
      ]),
    );
    expect(JSON.parse(printed).gpt.model.nLayer).toBe(2);
  });
  it('kg --input: stopped, it writes nothing and says so; the same command then completes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-kg-cli-'));
    const animals = ['猫', '狗', '牛', '羊', '马', '鸡'];
    const triples = animals.flatMap((a, i) => [
      `${a}\t属于\t动物`,
      `${a}\t邻居\t${animals[(i + 1) % animals.length]}`,
    ]);
    fs.writeFileSync(path.join(dir, 'triples.tsv'), `${triples.join('\n')}\n`);
    const output = path.join(dir, 'vectors');
    const stop = new AbortController();
    stop.abort();
    const o = { input: dir, output, kgPreset: 'default' };
    await expect(stdoutOf(() => kgCommand(o, stop.signal))).rejects.toThrow(
      new TrainingInterruptedError('kg'),
    );
    expect(fs.existsSync(output)).toBe(false);
    const printed = await stdoutOf(() => kgCommand(o));
    expect(printed).toContain(`-> ${output}`);
    expect(fs.readFileSync(path.join(output, 'entity2id.txt'), 'utf8').split('\n')[0]).toBe('7');
    expect(fs.existsSync(`${output}.checkpoints`)).toBe(false);
  });
});
