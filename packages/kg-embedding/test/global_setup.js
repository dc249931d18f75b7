// Builds dist/ (the worker script the tests spawn) when it is missing or older than src/.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

module.exports = async () => {
  const root = path.join(__dirname, '..');
  const worker = path.join(root, 'dist', 'worker.js');
  const src = path.join(root, 'src');
  const stale =
    !fs.existsSync(worker) ||
    fs
      .readdirSync(src)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .some((f) => fs.statSync(path.join(src, f)).mtimeMs > fs.statSync(worker).mtimeMs);
  if (stale) {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
  }
};
