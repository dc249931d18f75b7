#!/usr/bin/env node
// What `npm install` brings in for each published package of this repository, the way a user gets
// it: `pnpm pack` every package under packages/, then, per package, `npm install <its tarball>` in
// an empty folder (our other packages come from their tarballs through `overrides`; third-party
// packages from the registry). Prints one Markdown row per package: packages installed, size on
// disk, whether tfjs / the wasm backend / the native addon / tfjs-node came in, and which install
// scripts ran (none of them may download libtensorflow).
//
//   node packages/runtime/scripts/install_footprint.mjs [package-dir-name ...]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const packagesDir = path.join(root, 'packages');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-footprint-'));
const tarDir = path.join(work, 'tarballs');
fs.mkdirSync(tarDir);

const dirs = fs
  .readdirSync(packagesDir)
  .map((d) => path.join(packagesDir, d))
  .filter((d) => fs.existsSync(path.join(d, 'package.json')))
  .filter((d) => !JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).private);

// pnpm itself, or the version the root package.json pins through npx
const pinned = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).packageManager;
let pnpm = ['pnpm'];
try {
  execFileSync('pnpm', ['--version'], { stdio: 'ignore' });
} catch {
  pnpm = ['npx', '--yes', pinned];
}

const tarballs = new Map(); // package name -> tarball path
for (const dir of dirs) {
  const out = execFileSync(
    pnpm[0],
    [...pnpm.slice(1), 'pack', '--pack-destination', tarDir, '--json'],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  const info = JSON.parse(out.slice(out.indexOf('{')));
  tarballs.set(info.name, info.filename);
}

function walk(nodeModules, found) {
  if (!fs.existsSync(nodeModules)) return;
  for (const entry of fs.readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const p = path.join(nodeModules, entry);
    if (entry.startsWith('@')) {
      walk(p, found);
      continue;
    }
    const manifest = path.join(p, 'package.json');
    if (!fs.existsSync(manifest)) continue;
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    found.set(`${m.name}@${m.version}`, m);
    walk(path.join(p, 'node_modules'), found);
  }
}

function duBytes(p) {
  return Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);
}

const only = process.argv.slice(2);
const rows = [];
for (const [name, tarball] of tarballs) {
  if (only.length > 0 && !only.some((o) => name.endsWith(`/${o}`))) continue;
  const dir = path.join(work, name.replace('/', '+'));
  fs.mkdirSync(dir);
  const overrides = Object.fromEntries(
    [...tarballs].filter(([n]) => n !== name).map(([n, t]) => [n, `file:${t}`]),
  );
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'footprint', private: true, overrides }, null, 2),
  );
  const log = execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball],
    { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const found = new Map();
  walk(path.join(dir, 'node_modules'), found);
  const names = [...found.values()].map((m) => m.name);
  const has = (n) => names.includes(n);
  const scripts = [...found.values()]
    .filter(
      (m) => m.scripts && (m.scripts.preinstall || m.scripts.install || m.scripts.postinstall),
    )
    .map((m) => m.name);
  rows.push({
    name,
    packages: found.size,
    mb: (duBytes(path.join(dir, 'node_modules')) / 1e6).toFixed(1),
    tfjs: has('@tensorflow/tfjs') || has('@tensorflow/tfjs-core'),
    wasm: has('@tensorflow/tfjs-backend-wasm'),
    addon: has('@artist-ts/native-kernels'),
    tfjsNode: has('@tensorflow/tfjs-node') || has('@tensorflow/tfjs-node-gpu'),
    scripts,
    downloads: /libtensorflow|storage\.googleapis/i.test(log),
    names: [...new Set(names)].sort(),
  });
}

const yn = (b) => (b ? 'yes' : 'no');
console.log(
  `npm ${execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim()}, node ${process.version}, ${os.platform()}-${os.arch()}`,
);
console.log(
  '| package | packages installed | node_modules MB | tfjs | tfjs-backend-wasm | native addon | tfjs-node(-gpu) | install scripts run | libtensorflow download |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.packages} | ${r.mb} | ${yn(r.tfjs)} | ${yn(r.wasm)} | ${yn(r.addon)} | ${yn(r.tfjsNode)} | ${r.scripts.join(', ') || 'none'} | ${yn(r.downloads)} |`,
  );
}
console.log('');
for (const r of rows.filter((x) => !x.tfjs)) console.log(`- ${r.name}: ${r.names.join(', ')}`);
fs.rmSync(work, { recursive: true, force: true });
