// Generates the static protobufjs module for proto/*.proto into src/generated/ (the `codegen`
// turbo task). --force-number makes int64 fields plain numbers instead of Long objects.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const outDir = path.join(pkgDir, 'src', 'generated');
fs.mkdirSync(outDir, { recursive: true });
const bin = path.dirname(require.resolve('protobufjs-cli/package.json'));
const js = path.join(outDir, 'trainer_state.js');
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
    // A root of our own: the default root is shared by every static module in the process, and
    // another package's `artist.*` namespace would replace ours.
    '--root',
    'artist_ts_runtime',
    '-o',
    js,
    path.join(pkgDir, 'proto', 'trainer_state.proto'),
  ],
  { stdio: 'inherit' },
);
execFileSync(
  process.execPath,
  [path.join(bin, 'bin', 'pbts'), '-o', path.join(outDir, 'trainer_state.d.ts'), js],
  {
    stdio: 'inherit',
  },
);
