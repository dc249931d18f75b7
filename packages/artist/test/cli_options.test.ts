import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { STAGES } from '../src/app';
import { ENVIRONMENT_VARIABLES, PACKAGE_VERSION } from '../src/cli_shared';
import { resolveConfig } from '../src/config';
import {
  buildProgram as buildGenerate,
  type GenerateCliOptions,
  generateOptionsOf,
} from '../src/generate_cli';
import { STAGE_NAMES } from '../src/run_layout';
import { buildProgram as buildTrain } from '../src/train_cli';
import { stdoutOf } from './stdout';

/** Parses `args` with the program's action replaced: the options the action would get. */
async function parsed<T>(program: Command, args: string[], sub?: string): Promise<T> {
  const cmd = sub ? program.commands.find((c) => c.name() === sub)! : program;
  let got: T | undefined;
  cmd.action((o: T) => {
    got = o;
  });
  await program.parseAsync(['node', program.name(), ...(sub ? [sub] : []), ...args]);
  return got!;
}

/** What the command prints for `args` when commander would exit (--help, --version, bad input). */
function exitOutput(program: Command, cmd: Command, args: string[]): { out: string; code: number } {
  let out = '';
  for (const c of [program, cmd]) {
    c.exitOverride().configureOutput({
      writeOut: (s) => {
        out += s;
      },
      writeErr: (s) => {
        out += s;
      },
    });
  }
  try {
    program.parse(['node', program.name(), ...args]);
  } catch (err) {
    return { out, code: (err as { exitCode: number }).exitCode };
  }
  throw new Error(`${args.join(' ')}: commander did not exit`);
}

const packageVersion = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'),
).version;

describe('artist-generate options', () => {
  it('parses the ecosystem names into sampling options', async () => {
    const o = await parsed<GenerateCliOptions>(buildGenerate(), [
      '--run',
      'runs/demo',
      '-p',
      '一只狗脸',
      '--prompt',
      '红色的苹果',
      '-n',
      '3',
      '--guidance-scale',
      '2.5',
      '--knowledge-guidance-scale',
      '3',
      '--top-k',
      '50',
      '--top-p',
      '0.9',
      '--temperature',
      '0.7',
      '--seed',
      '11',
      '--batch-size',
      '4',
      '--no-cache',
      '--output-dir',
      'pics',
      '--backend',
      'cpu',
      '--threads',
      '2',
    ]);
    expect(o.prompt).toEqual(['一只狗脸', '红色的苹果']);
    expect([o.outputDir, o.backend, o.threads]).toEqual(['pics', 'cpu', 2]);
    expect(generateOptionsOf(o)).toEqual({
      numImages: 3,
      temperature: 0.7,
      topK: 50,
      topP: 0.9,
      guidanceScale: 2.5,
      knowledgeGuidanceScale: 3,
      composeScale: null,
      seed: 11,
      batchSize: 4,
      useCache: false,
    });
  });

  it("keeps today's names as aliases", async () => {
    const o = await parsed<GenerateCliOptions>(buildGenerate(), [
      '--text',
      'a',
      '--prompt',
      'b',
      '--text',
      'c',
      '--n',
      '2',
      '--guidance',
      '3',
      '--out',
      'old',
      '--batch',
      '5',
      '--device',
      'wasm',
    ]);
    expect(o.prompt.sort()).toEqual(['a', 'b', 'c']);
    expect([o.numImages, o.guidanceScale, o.outputDir, o.batchSize, o.backend]).toEqual([
      2,
      3,
      'old',
      5,
      'wasm',
    ]);
    const withText = (...args: string[]) =>
      parsed<GenerateCliOptions>(buildGenerate(), ['--text', 'a', ...args]);
    const defaults = await withText();
    expect([defaults.numImages, defaults.outputDir, defaults.backend]).toEqual([
      1,
      'out',
      undefined,
    ]);
    expect(generateOptionsOf(defaults).knowledgeGuidanceScale).toBeNull();
    const kg = await withText('--kg-guidance', '2');
    expect(kg.knowledgeGuidanceScale).toBe(2);
    expect(generateOptionsOf(defaults).composeScale).toBeNull();
    const composed = await withText('--compose', '1.5');
    expect(generateOptionsOf(composed).composeScale).toBe(1.5);
  });

  it('refuses an option given under both names, bad numbers and unknown backends', async () => {
    await expect(
      parsed(buildGenerate(), ['--text', 'a', '--out', 'x', '--output-dir', 'y']),
    ).rejects.toThrow('--out is another name for --output-dir; give only one of them');
    const program = buildGenerate();
    const bad = exitOutput(program, program, ['--prompt', 'a', '-n', '0']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("option '-n, --num-images <count>' argument '0' is invalid");
    expect(bad.out).toContain('must be an integer >= 1');
    const p2 = buildGenerate();
    const backend = exitOutput(p2, p2, ['--prompt', 'a', '--device', 'gpu']);
    expect(backend.out).toContain('Allowed choices are auto, tensorflow, wasm, cpu');
  });

  it('prints its version and lists the environment variables in --help', () => {
    const p = buildGenerate();
    expect(exitOutput(p, p, ['--version'])).toEqual({ out: `${packageVersion}\n`, code: 0 });
    expect(PACKAGE_VERSION).toBe(packageVersion);
    const p2 = buildGenerate();
    const help = exitOutput(p2, p2, ['--help']).out;
    for (const v of ENVIRONMENT_VARIABLES) expect(help).toContain(v.name);
    for (const flag of [
      '--prompt',
      '--num-images',
      '--guidance-scale',
      '--output-dir',
      '--backend',
    ])
      expect(help).toContain(flag);
    expect(help.replace(/\s+/g, ' ')).toContain('(choices: "auto", "tensorflow", "wasm", "cpu")');
    expect(help).toContain('130 stopped by Ctrl-C');
    expect(help).not.toMatch(/^\s+--text /m); // aliases are not listed as options of their own
  });
});

describe('artist-train options', () => {
  it('prints its version; every command lists the environment variables in --help', () => {
    const p = buildTrain();
    expect(exitOutput(p, p, ['--version']).out).toBe(`${packageVersion}\n`);
    for (const sub of ['run', 'gpt', 'eval', 'fid', 'self-check']) {
      const program = buildTrain();
      const cmd = program.commands.find((c) => c.name() === sub)!;
      const help = exitOutput(program, cmd, [sub, '--help']).out;
      expect(help).toContain('--backend <name>');
      expect(help).toContain('--threads <n>');
      for (const v of ENVIRONMENT_VARIABLES) expect(help).toContain(v.name);
    }
  });

  it('puts --backend/--device, --name and --runs-dir into the resolved config', async () => {
    const o = await parsed<{ device?: string; backend?: string; threads?: number }>(
      buildTrain(),
      ['--device', 'cpu', '--threads', '3', '--name', 'x'],
      'run',
    );
    expect([o.backend, o.threads]).toEqual(['cpu', 3]);
    const printed = await stdoutOf(() =>
      buildTrain().parseAsync([
        'node',
        'artist-train',
        'run',
        '--dry-run',
        '--backend',
        'wasm',
        '--name',
        'x',
        '--runs-dir',
        'elsewhere',
      ]),
    );
    const config = JSON.parse(printed);
    expect([config.backend, config.name, config.runsDir]).toEqual(['wasm', 'x', 'elsewhere']);
  });

  it('ablation --seeds takes a count or a list, and names the flag on bad input', async () => {
    const seedsOf = async (args: string[]) =>
      (await parsed<{ seeds?: number[] }>(buildTrain(), args, 'ablation')).seeds;
    expect(await seedsOf([])).toBeUndefined();
    const modes = await parsed<{ modes: string[] }>(buildTrain(), [], 'ablation');
    expect(modes.modes).toEqual(['lattice', 'none']);
    expect(await seedsOf(['--seeds', '3'])).toEqual([1, 2, 3]);
    expect(await seedsOf(['--seeds', '7,8,9'])).toEqual([7, 8, 9]);
    const program = buildTrain();
    const cmd = program.commands.find((c) => c.name() === 'ablation')!;
    const bad = exitOutput(program, cmd, ['ablation', '--seeds', '2,x']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(
      "option '--seeds <count|list>' argument '2,x' is invalid. expected a count (3)",
    );
  });

  it('the pipeline runs its stages in the layout order', () => {
    expect(STAGES.map((s) => s.name)).toEqual([...STAGE_NAMES]);
  });
});

describe('--set errors name the key as typed', () => {
  it.each([
    [
      'gpt.modle.nLayer=2',
      "--set gpt.modle.nLayer=2: config field 'gpt.modle.nLayer': 'gpt.modle': unknown key (did you mean 'model'?)",
    ],
    ['vqgan.steps="many"', `--set vqgan.steps="many": config field 'vqgan.steps': must be number`],
    ['gpt.model=3', "--set gpt.model=3: config field 'gpt.model': must be an object, got number"],
    ['gpt.model.fusion=graph', "--set gpt.model.fusion=graph: config field 'gpt.model.fusion': "],
    ['backend=gpu', "--set backend=gpu: config field 'backend': must be one of auto"],
    ['eval.realImages=1', "--set eval.realImages=1: config field 'eval.realImages': must be null"],
    ['gpt.nLayer', "config field 'gpt.nLayer': override must look like 'section.key=value'"],
  ])('%s', (override, message) => {
    expect(() => resolveConfig({ overrides: [override] })).toThrow(message);
  });

  it('names the flag an override came from, and the override a section error is about', () => {
    expect(() => resolveConfig({ overrides: [{ text: 'name="a b"', label: '--name' }] })).toThrow(
      "--name: config field 'name': must be a folder name",
    );
    // data.size and vqgan.model.resolution must agree: the error names the override that set it.
    expect(() =>
      resolveConfig({ overrides: ['gpt.model.nLayer=2', 'vqgan.model.resolution=64'] }),
    ).toThrow("--set vqgan.model.resolution=64: config field 'vqgan.model.resolution'");
    // Errors of a config file (no override involved) keep naming the file.
    expect(() =>
      resolveConfig({ file: { path: 'run.json', json: { data: { size: 64 } } } }),
    ).toThrow("config field 'vqgan.model.resolution': must equal data.size (64)");
  });
});
