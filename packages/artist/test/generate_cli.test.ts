/**
 * artist-generate as a user runs it: a child process on a run folder, PNGs written; and Ctrl-C in
 * the middle of sampling exits 130 with the message that the same command continues.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage } from '@artist-ts/lattice-data';
import { CAPTIONS, makeRun } from './tiny_run';

function spawnGenerate(args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    [
      '-r',
      require.resolve('ts-node/register/transpile-only'),
      path.join(__dirname, '..', 'src', 'generate_cli.ts'),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_PROJECT: '' } },
  );
}

/** Exit code and output; sends SIGINT once the output contains `interruptAt`. */
function finished(
  child: ChildProcess,
  interruptAt?: string,
): Promise<{ code: number | null; output: string }> {
  let output = '';
  let sent = false;
  const take = (d: Buffer) => {
    output += String(d);
    if (interruptAt && !sent && output.includes(interruptAt)) {
      sent = true;
      child.kill('SIGINT');
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

jest.setTimeout(5 * 60 * 1000);

describe('artist-generate (child process)', () => {
  let run: string;
  beforeAll(async () => {
    run = await makeRun('lattice');
  });

  it('writes n PNGs per prompt and a grid, with the old flag names', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-gen-cli-'));
    const r = await finished(
      spawnGenerate([
        '--run',
        run,
        '--text',
        CAPTIONS[0],
        '--n',
        '2',
        '--out',
        out,
        '--device',
        'cpu',
      ]),
    );
    expect({ code: r.code, output: r.output }).toEqual({
      code: 0,
      output: expect.stringContaining(`2 images -> ${out}`),
    });
    expect(fs.readdirSync(out).sort()).toEqual(['000-0.png', '000-1.png', 'grid.png']);
    const img = await decodeImage(fs.readFileSync(path.join(out, '000-1.png')));
    expect([img.width, img.height]).toEqual([8, 8]);
  });

  it('Ctrl-C while sampling exits 130 and says the same command continues', async () => {
    const input = path.join(run, 'many.tsv');
    const rows = Array.from({ length: 64 }, (_, i) => `${i}\t${CAPTIONS[i % CAPTIONS.length]}`);
    fs.writeFileSync(input, `${rows.join('\n')}\n`);
    const output = path.join(run, 'many.pred.tsv');
    // Slow on purpose: one image per forward pass, no KV cache, 8 images per text.
    const args = [
      '--run',
      run,
      '--input',
      input,
      '--output',
      output,
      '-n',
      '8',
      '--batch-size',
      '1',
    ];
    const r = await finished(
      spawnGenerate([...args, '--no-cache', '--backend', 'cpu']),
      'artist-ts:',
    );
    expect({ code: r.code, output: r.output }).toEqual({
      code: 130,
      output: expect.stringContaining(
        'artist-generate stopped: run the same command again to continue',
      ),
    });
    expect(fs.existsSync(output)).toBe(false); // nothing partial
  });
});
