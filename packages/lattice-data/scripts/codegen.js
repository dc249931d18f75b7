// Static protobufjs codegen (the `codegen` turbo task; build and typecheck also run it):
//
//   node scripts/codegen.js --root <name> [--out <dir>] [--force] <file.proto>...
//
// writes <dir>/<proto basename>.js (static module, commonjs) and its .d.ts, paths relative to the
// current directory (the package root under pnpm). `--root` names the protobufjs root: the default
// root is shared by every static module in a process, and another package's `artist.*` namespace
// would replace ours. `--force-number` keeps int64 fields plain numbers instead of Long objects.
// A module newer than its .proto is left alone unless `--force`. Nothing here is package-specific.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function parseArgs(argv) {
  const opts = { root: undefined, out: path.join('src', 'generated'), force: false, protos: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') opts.force = true;
    else if (a === '--root' || a === '--out') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`codegen: ${a} needs a value`);
      opts[a.slice(2)] = v;
    } else if (a.startsWith('--')) throw new Error(`codegen: unknown option ${a}`);
    else opts.protos.push(a);
  }
  if (!opts.root) throw new Error('codegen: --root <name> is required');
  if (opts.protos.length === 0) throw new Error('codegen: no .proto file given');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const bin = path.join(path.dirname(require.resolve('protobufjs-cli/package.json')), 'bin');
const newer = (a, b) => fs.existsSync(a) && fs.statSync(a).mtimeMs >= fs.statSync(b).mtimeMs;
fs.mkdirSync(opts.out, { recursive: true });
for (const proto of opts.protos) {
  if (!fs.existsSync(proto)) throw new Error(`codegen: ${proto}: no such file`);
  const base = path.join(opts.out, path.basename(proto, '.proto'));
  const js = `${base}.js`;
  const dts = `${base}.d.ts`;
  if (!opts.force && newer(js, proto) && newer(dts, js)) continue;
  execFileSync(
    process.execPath,
    [
      path.join(bin, 'pbjs'),
      ...['-t', 'static-module', '-w', 'commonjs', '--force-number', '--no-beautify'],
      ...['--root', opts.root, '-o', js, proto],
    ],
    { stdio: 'inherit' },
  );
  execFileSync(process.execPath, [path.join(bin, 'pbts'), '-o', dts, js], { stdio: 'inherit' });
}
