import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime } from '@artist-ts/runtime';
import { Vqgan } from '@artist-ts/vqgan';
import { buildProgram } from '../src/train_cli';

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
    const lines: string[] = [];
    const spy = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
    try {
      await buildProgram().parseAsync([
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
      ]);
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('')).toMatch(
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
    const lines: string[] = [];
    const spy = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
    try {
      await buildProgram().parseAsync([
        'node',
        'artist-train',
        'run',
        '--dry-run',
        '--set',
        'gpt.model.nLayer=2',
      ]);
    } finally {
      spy.mockRestore();
    }
    expect(JSON.parse(lines.join('')).gpt.model.nLayer).toBe(2);
  });
});
