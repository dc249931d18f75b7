#!/usr/bin/env node
// Provides the native addon at install time, in this order, and never downloads anything:
//  1. a system BLAS is found (OpenBLAS on Linux, Accelerate on macOS) and a compiler works: build
//     build/Release/artist_native.node from source with node-gyp, linked against the BLAS;
//  2. else a prebuilt addon for this platform ships in prebuilds/ (built without BLAS, on the
//     addon's portable SGEMM) and loads: use it, no compiler needed;
//  3. else build from source without BLAS (portable SGEMM).
// Never fails: when nothing works it writes build/native_status.json with the reason, exits 0, and
// the package falls back to its JS kernels at run time.
// By default it skips the build when the .node is newer than binding.gyp and src/native/* and was
// built for this Node ABI; a lock directory keeps concurrent installs from building at once.
// Flags: --force (always rebuild from source), --source (never use a prebuilt addon: the
// package's own build script), --if-missing (skip whenever the .node exists), --verbose.
// Env: ARTIST_SKIP_NATIVE_BUILD=1 skips the build (a prebuilt addon is still used at run time);
// ARTIST_BLAS=none builds without BLAS even where one is installed (ARTIST_BLAS=openblas|accelerate
// asks for one); ARTIST_NATIVE_NODEDIR overrides the headers dir.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build');
const addonPath = path.join(buildDir, 'Release', 'artist_native.node');
const statusPath = path.join(buildDir, 'native_status.json');
const args = new Set(process.argv.slice(2));
const verbose = args.has('--verbose') || process.env.ARTIST_NATIVE_BUILD_VERBOSE === '1';

function log(msg) {
  if (verbose) process.stderr.write(`[native-kernels] ${msg}\n`);
}

function writeStatus(ok, reason, extra) {
  try {
    fs.mkdirSync(buildDir, { recursive: true });
    const tmp = `${statusPath}.${process.pid}.tmp`;
    const body = {
      ok,
      reason,
      node: process.version,
      modules: process.versions.modules,
      platform: process.platform,
      arch: process.arch,
    };
    fs.writeFileSync(
      tmp,
      `${JSON.stringify({ ...body, ...extra, builtAt: new Date().toISOString() }, null, 2)}\n`,
    );
    fs.renameSync(tmp, statusPath);
  } catch {
    // a read-only install location: the runtime reports the missing addon itself
  }
}

function finish(ok, reason, extra) {
  writeStatus(ok, reason, extra);
  // one line on success or failure: install logs are the only place a user sees why it is off
  const gemm = extra?.blas?.gemm ? ` (GEMM: ${extra.blas.gemm})` : '';
  const what = extra?.source === 'prebuild' ? 'prebuilt, not compiled' : 'built';
  process.stderr.write(
    `[@artist-ts/native-kernels] native addon ${ok ? `${what}${gemm}` : `not built: ${reason}`}\n`,
  );
  process.exit(0);
}

function findHeaders() {
  const candidates = [
    process.env.ARTIST_NATIVE_NODEDIR,
    process.env.npm_config_nodedir,
    path.resolve(path.dirname(process.execPath), '..'),
    '/usr',
    '/usr/local',
  ].filter(Boolean);
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return null;
}

function findBlas() {
  if (process.platform === 'darwin') return { kind: 'accelerate' };
  if (process.platform !== 'linux') return null;
  const incDirs = [
    '/usr/include/x86_64-linux-gnu',
    '/usr/include/aarch64-linux-gnu',
    '/usr/include/openblas',
    '/usr/include',
    '/usr/local/include',
  ];
  const libDirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  const inc = incDirs.find(
    (d) =>
      fs.existsSync(path.join(d, 'cblas.h')) && fs.existsSync(path.join(d, 'openblas_config.h')),
  );
  const lib = libDirs.find((d) => fs.existsSync(path.join(d, 'libopenblas.so')));
  if (!inc || !lib) return null;
  return { kind: 'openblas', inc, lib };
}

// prebuilds/<platform>-<arch>/*.node that loads in this Node, or null
function usablePrebuild() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  let files = [];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    return null;
  }
  for (const f of files) {
    try {
      const info = require(path.join(dir, f)).blasInfo();
      return { path: path.join(dir, f), info };
    } catch {
      // built for another libc or Node-API version: try the next one
    }
  }
  return null;
}

function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency here; look where npm and pnpm keep theirs
  }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefixes = [path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules')];
  const npmRoot = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['root', '-g'], {
    encoding: 'utf8',
  });
  if (npmRoot.status === 0) prefixes.push(npmRoot.stdout.trim());
  for (const p of prefixes) {
    candidates.push(path.join(p, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    candidates.push(path.join(p, 'pnpm', 'dist', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    candidates.push(path.join(p, 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((c) => c?.endsWith('.js') && fs.existsSync(c)) || null;
}

function upToDate() {
  if (!fs.existsSync(addonPath)) return false;
  const built = fs.statSync(addonPath).mtimeMs;
  const nativeDir = path.join(root, 'src', 'native');
  const sources = [
    path.join(root, 'binding.gyp'),
    ...fs.readdirSync(nativeDir).map((f) => path.join(nativeDir, f)),
  ];
  if (!sources.every((f) => fs.statSync(f).mtimeMs <= built)) return false;
  try {
    const status = JSON.parse(fs.readFileSync(statusPath, 'utf8'));
    // ARTIST_BLAS=none asks for a build without BLAS: one linked against a BLAS is not it
    const wantsNone = (process.env.ARTIST_BLAS || '').trim().toLowerCase() === 'none';
    if (wantsNone && status.blas?.vendor !== 'none') return false;
    // a build without BLAS made before a BLAS was installed: rebuild to link it
    if (!wantsNone && status.blas?.vendor === 'none' && findBlas()) return false;
    if (status.ok && status.modules === process.versions.modules) return true;
  } catch {
    // no note (e.g. the .node came from a build cache): loading it is the test
  }
  try {
    require(addonPath).blasInfo();
    return true;
  } catch {
    return false;
  }
}

const lockDir = path.join(root, '.native-build.lock');

function acquireLock() {
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      return true;
    } catch {
      // a lock older than 10 minutes is left over from a killed build
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > 600000)
          fs.rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // removed by its owner meanwhile
      }
      if (Date.now() > deadline) return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
}

function main() {
  if (process.env.ARTIST_SKIP_NATIVE_BUILD === '1') finish(false, 'ARTIST_SKIP_NATIVE_BUILD=1');
  if (args.has('--if-missing') && fs.existsSync(addonPath)) {
    log('addon present, skipping');
    process.exit(0);
  }
  if (!args.has('--force') && upToDate()) {
    log('addon up to date, skipping');
    process.exit(0);
  }
  if (!acquireLock())
    finish(false, `another build holds ${lockDir} (remove it if no build is running)`);
  process.on('exit', () => fs.rmSync(lockDir, { recursive: true, force: true }));
  // a concurrent install may have finished the same build while we waited for the lock
  if (!args.has('--force') && upToDate()) process.exit(0);
  const requested = (process.env.ARTIST_BLAS || '').trim().toLowerCase();
  const blas = requested === 'none' ? null : findBlas();
  const prebuild = args.has('--force') || args.has('--source') ? null : usablePrebuild();
  if (!blas && prebuild) {
    // a portable prebuilt addon is what a source build without BLAS would produce: use it
    fs.rmSync(addonPath, { force: true });
    finish(true, 'ok', {
      source: 'prebuild',
      path: path.relative(root, prebuild.path),
      blas: prebuild.info,
    });
  }
  const nodedir = findHeaders();
  const gyp = findNodeGyp();
  const problem = !nodedir
    ? 'Node headers not found (set ARTIST_NATIVE_NODEDIR to a dir with include/node)'
    : !gyp
      ? 'node-gyp not found (install npm or node-gyp)'
      : null;
  if (problem) {
    if (prebuild) finish(true, 'ok', { source: 'prebuild', note: problem, blas: prebuild.info });
    finish(false, problem);
  }
  const kind = blas ? blas.kind : 'none';
  log(`node-gyp ${gyp}, nodedir ${nodedir}, blas ${JSON.stringify(blas ?? { kind })}`);
  const env = { ...process.env, npm_config_nodedir: nodedir, ARTIST_BLAS: kind };
  if (blas?.inc) env.ARTIST_BLAS_INCLUDE = blas.inc;
  if (blas?.lib) env.ARTIST_BLAS_LIBDIR = blas.lib;
  const jobs = String(Math.max(1, Math.min(4, os.cpus().length)));
  const res = spawnSync(
    process.execPath,
    [gyp, 'rebuild', `--nodedir=${nodedir}`, `--jobs=${jobs}`],
    {
      cwd: root,
      env,
      encoding: 'utf8',
      stdio: verbose ? 'inherit' : 'pipe',
    },
  );
  if (res.status !== 0 || !fs.existsSync(addonPath)) {
    const tail = `${res.stdout || ''}${res.stderr || ''}`.trim().split('\n').slice(-8).join(' | ');
    const reason = `node-gyp failed (${res.error ? res.error.message : `exit ${res.status}`}): ${tail}`;
    fs.rmSync(addonPath, { force: true });
    if (prebuild) finish(true, 'ok', { source: 'prebuild', note: reason, blas: prebuild.info });
    finish(false, reason);
  }
  // Load it once here so a link error (missing .so at run time) is reported at install time.
  try {
    const addon = require(addonPath);
    finish(true, 'ok', { source: 'build', blas: addon.blasInfo() });
  } catch (err) {
    finish(false, `built but cannot load: ${err?.message}`);
  }
}

if (require.main === module) main();
module.exports = { findHeaders, findNodeGyp };
