/**
 * Lexicon matching benchmark (issue 4): one core, 20k sentences of 24-32 characters, synthetic
 * lexicons of 300k and 10M names of 2-6 characters over a 3000-character CJK alphabet.
 * Reports build time, bytes per entry (typed-array bytes and RSS growth) and chars/s, against a
 * baseline measured in the same run: a Map-of-Maps trie with the same semantics (the shape of
 * EasyNLP's Python dict trie), at the sizes where it fits (<= 1M names).
 *
 * Usage: pnpm bench            (sizes 300000,10000000)
 *        BENCH_SIZES=300000 pnpm bench
 *        pnpm bench:thp        (the same with glibc's malloc on transparent huge pages)
 */
import fs from 'node:fs';
import os from 'node:os';
import { Rng } from '@artist-ts/core/rng';
import { LexiconBuilder, MatchBuffer } from '../src';

const ALPHABET = 3000;
const SENTENCES = 20000;
/** Sentences per call of the batched matcher. */
const BATCH = 16;
/** Timed passes per variant (after one warm-up pass). */
const PASSES = 3;
const PY_REF = { charsPerSec: 1.2e6, bytesPerEntry: 900 };

interface MapNode {
  c: Map<number, MapNode>;
  id: number;
}

function mapTrieMatch(root: MapNode, codes: Int32Array, n: number, out: number[]): void {
  for (let i = 0; i < n; i++) {
    let node: MapNode | undefined = root;
    for (let j = i; j < n; j++) {
      node = node.c.get(codes[j]!);
      if (!node) break;
      if (node.id >= 0) out.push(i, j, node.id);
    }
  }
}

/** Wall and process CPU time of `fn` in ms (CPU time is less sensitive to a busy machine). */
function timed(fn: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

function rate(chars: number, ms: number): string {
  return `${(chars / ms / 1e3).toFixed(2)}`;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Linux: the THP mode, and this process's anonymous memory on huge pages (MiB). */
function thpMode(): string {
  try {
    const mode = /\[(\w+)\]/.exec(
      fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'),
    );
    return mode?.[1] ?? 'unknown';
  } catch {
    return 'n/a';
  }
}

function hugePagesMB(): number | undefined {
  try {
    const m = /AnonHugePages:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function rssMB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function nameOf(rng: Rng): string {
  const len = 2 + rng.int(5);
  let s = '';
  for (let c = 0; c < len; c++) s += String.fromCharCode(0x4e00 + rng.int(ALPHABET));
  return s;
}

function run(size: number): void {
  const rng = new Rng(`bench-${size}`);
  const sample: string[] = [];
  gc();
  const rss0 = rssMB();
  const t0 = performance.now();
  // Sized from the expected count, as loadEntityLexicon does from entity2id.txt's header line.
  const b = new LexiconBuilder({ expectedEntries: size });
  for (let k = 0; k < size; k++) {
    const w = nameOf(rng);
    if (k % 97 === 0 && sample.length < 100000) sample.push(w);
    b.add(w, k);
  }
  const lex = b.finish();
  const buildS = (performance.now() - t0) / 1000;
  gc();
  const rss1 = rssMB();
  const st = lex.stats();

  // Two text kinds: uniform random characters, and entity-dense text (half the characters come
  // from lexicon names).
  const texts: Record<string, Int32Array[]> = { random: [], dense: [] };
  let chars = 0;
  for (let s = 0; s < SENTENCES; s++) {
    const len = 24 + rng.int(9);
    chars += len;
    const r = new Int32Array(len);
    for (let i = 0; i < len; i++) r[i] = 0x4e00 + rng.int(ALPHABET);
    texts.random!.push(r);
    const d = new Int32Array(len);
    let i = 0;
    while (i < len) {
      if (rng.uniform() < 0.5) {
        const w = sample[rng.int(sample.length)]!;
        for (let c = 0; c < w.length && i < len; c++) d[i++] = w.charCodeAt(c);
      } else d[i++] = 0x4e00 + rng.int(ALPHABET);
    }
    texts.dense!.push(d);
  }
  const line = (label: string, v: string) => console.log(`  ${label.padEnd(44)} ${v}`);
  console.log(`\nlexicon ${size.toLocaleString('en')} names (2-6 chars, alphabet ${ALPHABET})`);
  line('build', `${buildS.toFixed(2)} s (${(size / buildS / 1e6).toFixed(2)} M names/s)`);
  line(
    'nodes / capacity',
    `${st.nodes.toLocaleString('en')} / ${st.capacity.toLocaleString('en')}`,
  );
  line(
    'bytes per entry (typed arrays)',
    `${st.bytesPerEntry.toFixed(1)} B (${(st.bytes / 2 ** 20).toFixed(0)} MiB)`,
  );
  line('bytes per entry (RSS growth)', `${(((rss1 - rss0) * 2 ** 20) / size).toFixed(1)} B`);
  const huge = hugePagesMB();
  if (huge !== undefined) line('memory on huge pages', `${huge.toFixed(0)} MiB`);

  const auto = lex.matcher;
  line("matcher 'auto' picks", lex.strategy);
  // Per text kind: one sentence per call with each matcher, and batches of BATCH sentences per
  // call (interleaved). Passes of the variants alternate (best CPU time of PASSES after a
  // warm-up), so that a busy neighbour slows them all alike.
  const results: Record<string, number> = {};
  const variants = ['depth-first', 'interleaved', `interleaved, batches of ${BATCH}`] as const;
  for (const kind of ['random', 'dense'] as const) {
    const sents = texts[kind]!;
    const labels = sents.map((s) => {
      const l = new Int32Array(s.length);
      for (let i = 0; i < s.length; i++) l[i] = lex.label(s[i]!);
      return l;
    });
    const groups: Int32Array[][] = [];
    for (let s = 0; s < labels.length; s += BATCH) groups.push(labels.slice(s, s + BATCH));
    const buf = new MatchBuffer(4096);
    const counts = new Int32Array(BATCH);
    const best: Record<string, { wall: number; cpu: number }> = {};
    const found: Record<string, number> = {};
    for (let rep = 0; rep <= PASSES; rep++) {
      for (const v of variants) {
        let matches = 0;
        lex.matcher = v === 'depth-first' ? 'depth-first' : 'interleaved';
        const t = timed(() => {
          if (v === variants[2]) {
            for (const g of groups) {
              buf.count = 0;
              lex.matchLabelsBatch(g, buf, counts);
              matches += buf.count;
            }
          } else {
            for (const l of labels) {
              buf.count = 0;
              matches += lex.matchLabels(l, l.length, buf);
            }
          }
        });
        found[v] = matches;
        if (rep > 0 && !(t.cpu >= (best[v]?.cpu ?? Number.POSITIVE_INFINITY))) best[v] = t;
      }
    }
    lex.matcher = auto;
    if (new Set(Object.values(found)).size !== 1)
      throw new Error(`matchers disagree: ${JSON.stringify(found)}`);
    for (const v of variants) {
      const b = best[v]!;
      results[`${kind}/${v}`] = chars / (b.cpu / 1000);
      line(
        `match, ${kind}, ${v}`,
        `${rate(chars, b.cpu)} M chars/s CPU (${rate(chars, b.wall)} wall)`,
      );
    }
    line(`  ${kind}: matches per sentence`, (found[variants[0]]! / SENTENCES).toFixed(2));
    line(
      `  ${kind}: interleaved / depth-first`,
      `${(results[`${kind}/${variants[1]}`]! / results[`${kind}/depth-first`]!).toFixed(2)}x per sentence, ${(results[`${kind}/${variants[2]}`]! / results[`${kind}/depth-first`]!).toFixed(2)}x batched`,
    );
    results[kind] = Math.max(results[`${kind}/${variants[1]}`]!, results[`${kind}/depth-first`]!);
    // End to end from token strings (label lookup + result objects), entity-dense text only.
    if (kind === 'dense') {
      const tokenLists = sents.map((s) => Array.from(s, (c) => String.fromCharCode(c)));
      const tokenGroups: string[][][] = [];
      for (let s = 0; s < tokenLists.length; s += BATCH)
        tokenGroups.push(tokenLists.slice(s, s + BATCH));
      let bestOne = Number.POSITIVE_INFINITY;
      let bestBatch = Number.POSITIVE_INFINITY;
      for (let rep = 0; rep <= PASSES; rep++) {
        const t1 = timed(() => {
          for (const toks of tokenLists) lex.matchTokens(toks);
        });
        const t2 = timed(() => {
          for (const g of tokenGroups) lex.matchTokensBatch(g);
        });
        if (rep > 0) {
          bestOne = Math.min(bestOne, t1.cpu);
          bestBatch = Math.min(bestBatch, t2.cpu);
        }
      }
      line(
        'match, dense, from token strings',
        `${rate(chars, bestOne)} M chars/s CPU (matchTokens), ${rate(chars, bestBatch)} (matchTokensBatch of ${BATCH})`,
      );
    }
  }

  if (size <= 1_000_000) {
    // Baseline: Map-of-Maps trie, same semantics, same names (regenerated from the same seed).
    const rng2 = new Rng(`bench-${size}`);
    gc();
    const m0 = rssMB();
    const tb = performance.now();
    const root: MapNode = { c: new Map(), id: -1 };
    for (let k = 0; k < size; k++) {
      const w = nameOf(rng2);
      let node = root;
      for (let c = 0; c < w.length; c++) {
        const code = w.charCodeAt(c);
        let nx = node.c.get(code);
        if (!nx) {
          nx = { c: new Map(), id: -1 };
          node.c.set(code, nx);
        }
        node = nx;
      }
      node.id = k;
    }
    const mapBuild = (performance.now() - tb) / 1000;
    gc();
    const m1 = rssMB();
    const out: number[] = [];
    let bestM = Number.POSITIVE_INFINITY;
    for (let rep = 0; rep < 3; rep++) {
      const t = timed(() => {
        for (const s of texts.dense!) {
          out.length = 0;
          mapTrieMatch(root, s, s.length, out);
        }
      });
      if (rep > 0) bestM = Math.min(bestM, t.cpu);
    }
    const mapCps = chars / (bestM / 1000);
    line('baseline Map trie: build', `${mapBuild.toFixed(2)} s`);
    line('baseline Map trie: bytes/entry (RSS)', `${(((m1 - m0) * 2 ** 20) / size).toFixed(0)} B`);
    line('baseline Map trie: match, dense', `${(mapCps / 1e6).toFixed(2)} M chars/s CPU`);
    line('ratio vs Map trie (dense)', `${(results.dense! / mapCps).toFixed(2)}x faster`);
  }
  line(
    'ratio vs Python dict trie (ref)',
    `${(results.dense! / PY_REF.charsPerSec).toFixed(1)}x chars/s (ref 1.2 M chars/s, ~900 B/entry)`,
  );
  if (size >= 10_000_000) {
    const ok = (v: string) =>
      results[`random/${v}`]! >= 5e6 && results[`dense/${v}`]! >= 5e6 ? 'met' : 'NOT met';
    line(
      'targets at 10M',
      `>= 5 M chars/s on both texts: ${ok('interleaved')} per sentence, ${ok(variants[2])} batched; <= 100 B/entry: ${st.bytesPerEntry <= 100 ? 'met' : 'NOT met'}`,
    );
  }
}

const sizes = (process.env.BENCH_SIZES ?? '300000,10000000').split(',').map(Number);
console.log(
  `lattice-data match bench: node ${process.version}, ${os.cpus().length} cores (one used), ${os.cpus()[0]?.model ?? ''}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  'rates use process CPU time (best of 3 alternating passes after a warm-up); wall-clock in parentheses',
);
console.log(
  `transparent huge pages: ${thpMode()}; GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}`,
);
for (const s of sizes) run(s);
