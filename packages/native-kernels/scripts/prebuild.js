#!/usr/bin/env node
// Builds the prebuilt addon shipped in the package (prebuilds/<platform>-<arch>/, loaded by
// node-gyp-build when there is no source build): Node-API, so one file serves every Node >= 20;
// WITHOUT BLAS, so it runs on the addon's portable SGEMM and needs no libopenblas at run time. The
// build happens in a copy of binding.gyp and src/native, leaving build/ (the source build) alone.
// Afterwards it checks that the result loads and reports GEMM 'portable', and (Linux) that `ldd`
// lists no BLAS; it prints the newest glibc / libstdc++ symbol versions the file needs (a system
// older than that gets the source build at install time instead).
// Run by `pnpm build:prebuild`, and by `prepack` with --if-stale (kept when newer than its sources);
// needs a compiler and the Node headers, never downloads.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const prebuildify = require('prebuildify');
const { findHeaders, findNodeGyp } = require('./build_native');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function die(msg) {
  process.stderr.write(`prebuild: ${msg}\n`);
  process.exit(1);
}

const dest = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

// --if-stale (prepack): keep a prebuilt addon that is newer than binding.gyp and src/native/*
function upToDate() {
  let built = 0;
  try {
    for (const f of fs.readdirSync(dest)) {
      if (f.endsWith('.node')) built = Math.max(built, fs.statSync(path.join(dest, f)).mtimeMs);
    }
  } catch {
    return false;
  }
  const nativeDir = path.join(root, 'src', 'native');
  const sources = [
    path.join(root, 'binding.gyp'),
    ...fs.readdirSync(nativeDir).map((f) => path.join(nativeDir, f)),
  ];
  return built > 0 && sources.every((f) => fs.statSync(f).mtimeMs <= built);
}
if (process.argv.includes('--if-stale') && upToDate()) {
  process.stdout.write(`prebuild: ${path.relative(root, dest)} is up to date\n`);
  process.exit(0);
}

const nodedir = findHeaders();
if (!nodedir) die('Node headers not found (set ARTIST_NATIVE_NODEDIR to a dir with include/node)');
const gyp = findNodeGyp();
if (!gyp) die('node-gyp not found (install npm or node-gyp)');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-prebuild-'));
fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(work, 'binding.gyp'));
fs.cpSync(path.join(root, 'src', 'native'), path.join(work, 'src', 'native'), { recursive: true });
Object.assign(process.env, {
  ARTIST_BLAS: 'none',
  npm_config_nodedir: nodedir,
});
fs.rmSync(dest, { recursive: true, force: true });

prebuildify(
  {
    cwd: work,
    out: root,
    name: pkg.name,
    napi: true,
    strip: true,
    tagLibc: true,
    nodeGyp: `"${process.execPath}" "${gyp}"`,
    shell: true,
    cache: path.join(work, '.cache'),
  },
  (err) => {
    fs.rmSync(work, { recursive: true, force: true });
    if (err) die(err.message || String(err));
    const files = fs.readdirSync(dest).filter((f) => f.endsWith('.node'));
    if (files.length !== 1)
      die(`expected one .node in ${dest}, found ${files.join(', ') || 'none'}`);
    const file = path.join(dest, files[0]);
    const info = require(file).blasInfo();
    if (info.vendor !== 'none' || info.gemm !== 'portable') {
      die(`${file} was linked against ${info.vendor} (GEMM ${info.gemm}); expected no BLAS`);
    }
    if (process.platform === 'linux') {
      const ldd = spawnSync('ldd', [file], { encoding: 'utf8' });
      const libs = ldd.stdout || '';
      if (/blas/i.test(libs)) die(`${file} still needs:\n${libs}`);
      process.stdout.write(`ldd ${path.relative(root, file)}:\n${libs}`);
      const syms = spawnSync('objdump', ['-T', file], { encoding: 'utf8' }).stdout || '';
      for (const lib of ['GLIBC', 'GLIBCXX']) {
        const versions = [...syms.matchAll(new RegExp(`\\(${lib}_([0-9.]+)\\)`, 'g'))].map((m) =>
          m[1].split('.').map(Number),
        );
        versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] ?? 0) - (b[2] ?? 0));
        const newest = versions.at(-1);
        if (newest) process.stdout.write(`needs ${lib} >= ${newest.join('.')}\n`);
      }
    }
    const kib = Math.round(fs.statSync(file).size / 1024);
    process.stdout.write(
      `prebuild: ${path.relative(root, file)} (${kib} KiB), GEMM portable ${info.gemmKernel}\n`,
    );
  },
);
