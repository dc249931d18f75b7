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
for (const d of projectDirs) fs.rmSync(path.join(d, '.jest-results.json'), { force: true });

const extra = process.argv.slice(2);
const turbo = spawnSync(
  process.execPath,
  [path.join(root, 'tools/scripts/turbo.mjs'), 'run', 'lint', 'typecheck', 'test', '--continue', ...extra],
  { stdio: 'inherit', cwd: root },
);

let passed = 0;
let failed = 0;
let suites = 0;
const missing = [];
for (const d of projectDirs) {
  const pkg = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  const file = path.join(d, '.jest-results.json');
  if (!fs.existsSync(file)) {
    missing.push(pkg.name);
    continue;
  }
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // A suite that fails to compile has no failed test but is a failure all the same.
  failed += r.numRuntimeErrorTestSuites ?? 0;
  suites += 1;
  console.log(`${pkg.name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
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
