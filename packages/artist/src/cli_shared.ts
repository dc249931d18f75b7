/**
 * What artist-train and artist-generate share as command-line programs: --version, the runtime
 * options (--backend/--device, --threads), the environment variables listed in --help, option
 * aliases (today's names kept beside the ecosystem's), Ctrl-C, and exit codes.
 *
 * Exit codes: 0 done; 1 error (message on stderr; ARTIST_DEBUG=1 adds the stack); 130 stopped by
 * Ctrl-C: the work done so far is kept and the same command continues it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TrainingInterruptedError } from '@artist-ts/core/train-loop';
import {
  BACKEND_REQUESTS,
  type BackendRequest,
  describeRuntime,
  initRuntime,
  type RuntimeInfo,
  type RuntimeOptions,
} from '@artist-ts/runtime';
import { type Command, InvalidArgumentError, Option } from 'commander';

/** This package's version (package.json sits one folder above both src/ and dist/). */
export const PACKAGE_VERSION: string = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'),
).version;

/** Environment variables the CLIs (through the runtime) read, as listed in --help. */
export const ENVIRONMENT_VARIABLES: readonly { name: string; description: string }[] = [
  {
    name: 'ARTIST_BACKEND',
    description: 'backend when --backend is not given: auto, tensorflow, wasm or cpu',
  },
  {
    name: 'ARTIST_BLAS_THREADS',
    description: 'native kernel threads when --threads is not given (default: cores, at most 8)',
  },
  { name: 'ARTIST_DISABLE_NATIVE', description: '1: no native BLAS kernels on wasm and cpu' },
  { name: 'ARTIST_DEBUG', description: '1: print the stack trace of an error' },
  {
    name: 'CUDA_VISIBLE_DEVICES',
    description: 'GPUs tfjs-node-gpu may use (backend tensorflow)',
  },
  {
    name: 'TF_CPP_MIN_LOG_LEVEL',
    description: "libtensorflow's log level, 0-3 (backend tensorflow)",
  },
];

/** The --help section that lists {@link ENVIRONMENT_VARIABLES} and the exit codes. */
export function environmentHelp(): string {
  const width = Math.max(...ENVIRONMENT_VARIABLES.map((v) => v.name.length));
  const lines = ENVIRONMENT_VARIABLES.map((v) => `  ${v.name.padEnd(width)}  ${v.description}`);
  return `\nEnvironment variables:\n${lines.join('\n')}\n\nExit status: 0 done, 1 error, 130 stopped by Ctrl-C (run the same command again to continue).\n`;
}

/** --version and the environment section of --help (this command and its subcommands). */
export function describeProgram(program: Command): Command {
  return program
    .version(PACKAGE_VERSION, '-V, --version', 'print the version and exit')
    .addHelpText('afterAll', environmentHelp())
    .showHelpAfterError();
}

/** A commander argument parser for integers >= `min`. */
export function intArg(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!(Number.isInteger(n) && n >= min) || value.trim() === '')
      throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

/** A commander argument parser for finite numbers. */
export function numberArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new InvalidArgumentError('must be a number');
  return n;
}

/**
 * Adds `alias` (e.g. '--text <text>') as a hidden second name of the option stored under
 * `canonical` (e.g. 'prompt'). Repeatable options collect both; for the others giving both is an
 * error.
 */
export function addAlias(cmd: Command, alias: string, canonical: string): Command {
  const target = cmd.options.find((o) => o.attributeName() === canonical);
  if (!target?.long) throw new Error(`addAlias: ${cmd.name()} has no option '${canonical}'`);
  const option = new Option(alias).hideHelp();
  const key = option.attributeName();
  const repeatable = Array.isArray(target.defaultValue);
  if (target.parseArg) option.argParser(target.parseArg as (v: string, prev: unknown) => unknown);
  if (repeatable) option.default([]);
  cmd.addOption(option);
  cmd.hook('preAction', (_this, action) => {
    if (action !== cmd) return;
    const value = cmd.getOptionValue(key);
    if (value === undefined || (repeatable && value.length === 0)) return;
    if (repeatable) {
      cmd.setOptionValueWithSource(canonical, [...cmd.getOptionValue(canonical), ...value], 'cli');
    } else if (cmd.getOptionValueSource(canonical) === 'cli') {
      throw new Error(`${option.long} is another name for ${target.long}; give only one of them`);
    } else {
      cmd.setOptionValueWithSource(canonical, value, 'cli');
    }
  });
  return cmd;
}

export interface RuntimeFlags {
  backend?: BackendRequest;
  threads?: number;
}

/** --backend (alias --device) with its choices, and --threads. */
export function addRuntimeOptions(cmd: Command): Command {
  cmd
    .addOption(
      new Option('--backend <name>', 'tfjs backend (default: ARTIST_BACKEND, else auto)').choices(
        BACKEND_REQUESTS,
      ),
    )
    .addOption(
      new Option(
        '--threads <n>',
        'native kernel threads, the main one included (default: ARTIST_BLAS_THREADS, else cores up to 8)',
      ).argParser(intArg(1)),
    );
  return addAlias(cmd, '--device <name>', 'backend');
}

/**
 * The runtime options of the flags. A --backend given on the command line wins over ARTIST_BACKEND
 * (the runtime lets the environment win over its option, for programs that have no flag), so it is
 * written to the environment.
 */
export function runtimeOptionsFrom(
  flags: RuntimeFlags,
  fallbackBackend: BackendRequest = 'auto',
): RuntimeOptions {
  if (flags.backend) process.env.ARTIST_BACKEND = flags.backend;
  return { backend: flags.backend ?? fallbackBackend, threads: flags.threads };
}

export function initRuntimeFrom(
  flags: RuntimeFlags,
  fallbackBackend: BackendRequest = 'auto',
): Promise<RuntimeInfo> {
  return initRuntime(runtimeOptionsFrom(flags, fallbackBackend));
}

/** One line saying what the runtime chose. */
export function runtimeLine(runtime: RuntimeInfo): string {
  return `artist-ts: ${describeRuntime(runtime)}`;
}

let sigint: AbortController | null = null;

/**
 * SIGINT: the first Ctrl-C aborts the returned signal (work stops at its next safe point, after a
 * checkpoint); a second one exits at once with 130. One controller per process.
 */
export function abortOnSigint(): AbortController {
  if (sigint) return sigint;
  const ctl = new AbortController();
  sigint = ctl;
  let pressed = false;
  process.on('SIGINT', () => {
    if (pressed) process.exit(130);
    pressed = true;
    process.stderr.write('\nstopping after the current step (press Ctrl-C again to quit now)...\n');
    ctl.abort();
  });
  return ctl;
}

/**
 * Runs a program: errors go to stderr with exit 1; a run stopped by Ctrl-C (whatever the error
 * the interrupted code threw) exits 130 with the message that the same command continues it.
 */
export async function runProgram(program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof TrainingInterruptedError || sigint?.signal.aborted) {
      const e =
        err instanceof TrainingInterruptedError
          ? err
          : new TrainingInterruptedError(program.name());
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 130;
      return;
    }
    const detail = process.env.ARTIST_DEBUG && err instanceof Error ? err.stack : undefined;
    process.stderr.write(
      `${program.name()}: ${detail ?? (err instanceof Error ? err.message : String(err))}\n`,
    );
    process.exitCode = 1;
  }
}
