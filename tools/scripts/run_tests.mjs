#!/usr/bin/env node
// The README's test command. Runs lint, typecheck and every package's jest suite through turbo,
// then totals all jest runs into the one line CI reads: `N passed, N failed`.
// Each jest run writes `.jest-results.json` (tools/jest-preset/summary_reporter.js); turbo
// restores that file with a cache hit, so cached runs are counted too.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const groups = ['packages', 'apps', 'tools'];
const projectDirs = groups.flatMap((g) => {
  const dir = path.join(root, g);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((d) => fs.existsSync(path.join(d, 'package.json')));
});
const resultFiles = (d) =>
  fs.readdirSync(d).filter((f) => /^\.jest-results(\.[\w-]+)?\.json$/.test(f));
for (const d of projectDirs)
  for (const f of resultFiles(d)) fs.rmSync(path.join(d, f), { force: true });

const extra = process.argv.slice(2);
// turbo runs several packages' jest workers side by side, so the native kernels' thread pool
// (default: one thread per core) would oversubscribe the machine: a fork-join pool whose workers
// wait for CPU time makes every parallel kernel wait too. Tests run single-threaded kernels unless
// the caller asks otherwise; the pool's own tests set their thread counts explicitly.
const env = { ...process.env, ARTIST_BLAS_THREADS: process.env.ARTIST_BLAS_THREADS || '1' };
const turbo = spawnSync(
  process.execPath,
  [
    path.join(root, 'tools/scripts/turbo.mjs'),
    'run',
    'lint',
    'typecheck',
    'test',
    '--continue',
    ...extra,
  ],
  { stdio: 'inherit', cwd: root, env },
);

let passed = 0;
let failed = 0;
let suites = 0;
const missing = [];
for (const d of projectDirs) {
  const pkg = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  const files = resultFiles(d);
  if (files.length === 0) {
    missing.push(pkg.name);
    continue;
  }
  for (const f of files) {
    const r = JSON.parse(fs.readFileSync(path.join(d, f), 'utf8'));
    // A suite that fails to load has no failed test but is a failure all the same.
    const broken = r.numRuntimeErrorTestSuites ?? 0;
    passed += r.numPassedTests;
    failed += r.numFailedTests + broken;
    suites += 1;
    const variant = f.replace(/^\.jest-results\.?/, '').replace(/\.?json$/, '');
    console.log(
      `${pkg.name}${variant ? ` (${variant})` : ''}: ${r.numPassedTests} passed, ${r.numFailedTests + broken} failed`,
    );
  }
}
if (missing.length > 0) {
  console.log(`no test results from: ${missing.join(', ')}`);
  failed += missing.length;
}
if (turbo.status !== 0 && failed === 0) {
  // lint or typecheck failed while every test passed: still a failure.
  console.log('a lint, typecheck or build task failed (see above)');
  failed += 1;
}
console.log(`${suites} test runs`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && turbo.status === 0 ? 0 : 1);
