#!/usr/bin/env node
/**
 * `artist-datasets`: build and score datasets from the command line.
 *
 *   artist-datasets list
 *   artist-datasets build <name> --out <dir> [--size px] [--seed s] [--limit n] [--threads n] [--overwrite] [--config json]
 *   artist-datasets score <kg-shapes-data-dir> <images.tsv> [--split test]
 *
 * `runCli` does the work and writes to the streams it is given; the bin wrapper at the bottom
 * owns the process.
 */
import { buildDataset, listDatasets } from './build';
import { scoreKgShapesTsv } from './kg_shapes';
import { SPLITS, type SplitName } from './output';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const USAGE = `usage:
  artist-datasets list
  artist-datasets build <name> --out <dir> [--size px] [--seed s] [--limit n] [--overwrite] [--config json]
  artist-datasets score <kg-shapes-data-dir> <images.tsv> [--split train|val|test]
`;

function parseFlags(args: string[]): { positional: string[]; flags: Map<string, string | true> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else if (a === '--overwrite') flags.set('overwrite', true);
      else {
        const v = args[i + 1];
        if (v === undefined || v.startsWith('--')) throw new Error(`flag ${a} needs a value`);
        flags.set(a.slice(2), v);
        i++;
      }
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

function intFlag(flags: Map<string, string | true>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n))
    throw new Error(`--${name} must be an integer, got ${v}`);
  return n;
}

/** Runs one command; returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const [command, ...rest] = argv;
    const { positional, flags } = parseFlags(rest);
    if (command === 'list') {
      for (const d of listDatasets())
        io.out(`${d.name}\t${d.defaultSize}px\t${d.license}\t${d.description}\n`);
      return 0;
    }
    if (command === 'build') {
      const name = positional[0];
      const out = flags.get('out');
      if (!name || typeof out !== 'string') throw new Error('build needs <name> and --out <dir>');
      const seedFlag = flags.get('seed');
      const seed =
        typeof seedFlag === 'string'
          ? /^-?\d+$/.test(seedFlag)
            ? Number(seedFlag)
            : seedFlag
          : undefined;
      const configFlag = flags.get('config');
      let config: Record<string, unknown> | undefined;
      if (typeof configFlag === 'string') {
        try {
          config = JSON.parse(configFlag) as Record<string, unknown>;
        } catch (err) {
          throw new Error(`--config is not valid JSON (${(err as Error).message})`);
        }
      }
      const started = Date.now();
      const { manifest } = await buildDataset(name, {
        out,
        size: intFlag(flags, 'size'),
        seed,
        limit: intFlag(flags, 'limit'),
        threads: intFlag(flags, 'threads'),
        overwrite: flags.get('overwrite') === true,
        config,
        onProgress: (p) => {
          if (p.stage === 'images' && p.done !== p.total) return;
          io.err(`${p.dataset}: ${p.stage} ${p.done}/${p.total}\n`);
        },
      });
      io.out(
        `${manifest.name} -> ${out}: train ${manifest.counts.train}, val ${manifest.counts.val}, test ${manifest.counts.test} rows at ${manifest.size}px; KG ${manifest.kg.entities} entities, ${manifest.kg.relations} relations, ${manifest.kg.triples} triples (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
      );
      return 0;
    }
    if (command === 'score') {
      const [dataDir, tsv] = positional;
      if (!dataDir || !tsv) throw new Error('score needs <kg-shapes-data-dir> <images.tsv>');
      const split = flags.get('split');
      if (split !== undefined && !SPLITS.includes(split as SplitName)) {
        throw new Error(`--split must be one of ${SPLITS.join(', ')}, got ${split}`);
      }
      const result = scoreKgShapesTsv(dataDir, tsv, split as SplitName | undefined);
      io.out(`${JSON.stringify({ overall: result.overall, byGroup: result.byGroup }, null, 2)}\n`);
      return 0;
    }
    io.err(USAGE);
    return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  } catch (err) {
    io.err(`artist-datasets: ${(err as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  }).then((code) => {
    process.exitCode = code;
  });
}
