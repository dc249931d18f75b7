// Generates the static protobufjs module for proto/shard.proto into src/generated/ (the `codegen`
// turbo task; build and typecheck also run it). --force-number keeps int64 fields plain numbers.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const outDir = path.join(pkgDir, 'src', 'generated');
const proto = path.join(pkgDir, 'proto', 'shard.proto');
const js = path.join(outDir, 'shard.js');
const dts = path.join(outDir, 'shard.d.ts');
const upToDate =
  fs.existsSync(js) &&
  fs.existsSync(dts) &&
  fs.statSync(js).mtimeMs >= fs.statSync(proto).mtimeMs &&
  fs.statSync(dts).mtimeMs >= fs.statSync(js).mtimeMs;
if (!upToDate || process.argv.includes('--force')) {
  fs.mkdirSync(outDir, { recursive: true });
  const bin = path.dirname(require.resolve('protobufjs-cli/package.json'));
  execFileSync(
    process.execPath,
    [
      path.join(bin, 'bin', 'pbjs'),
      '-t',
      'static-module',
      '-w',
      'commonjs',
      '--force-number',
      '--no-beautify',
      // Our own root: protobufjs's default root is shared by every static module in a process,
      // and the runtime's `artist` namespace lives beside ours.
      '--root',
      'artist_ts_lattice_data',
      '-o',
      js,
      proto,
    ],
    { stdio: 'inherit' },
  );
  execFileSync(process.execPath, [path.join(bin, 'bin', 'pbts'), '-o', dts, js], {
    stdio: 'inherit',
  });
}
