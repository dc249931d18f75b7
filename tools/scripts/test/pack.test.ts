/**
 * What `pnpm pack` would publish, for every public package: only dist, README, CHANGELOG, NOTICE and
 * package.json; `workspace:` and `catalog:` ranges rewritten; every export target present.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const packagesDir = path.join(root, 'packages');
const publicPackages = fs
  .readdirSync(packagesDir)
  .map((name) => path.join(packagesDir, name))
  .filter((dir) => fs.existsSync(path.join(dir, 'package.json')))
  .filter((dir) => !JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).private);

const ALLOWED =
  /^(dist\/.+|README\.md|CHANGELOG\.md|NOTICE(\.md)?|LICENSE|package\.json|binding\.gyp|src\/native\/.+\.(cc|h)|scripts\/.+\.js|prebuilds\/[a-z0-9-]+\/[^/]+\.node)$/;

function collectTargets(exportsField: unknown, out: string[] = []): string[] {
  if (typeof exportsField === 'string') out.push(exportsField);
  else if (exportsField && typeof exportsField === 'object') {
    for (const v of Object.values(exportsField)) collectTargets(v, out);
  }
  return out;
}

describe.each(publicPackages.map((d) => [path.basename(d), d]))('pnpm pack %s', (_name, dir) => {
  let files: string[] = [];
  let manifest: Record<string, unknown> = {};

  beforeAll(() => {
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-pack-'));
    const out = execFileSync('pnpm', ['pack', '--pack-destination', dest, '--json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    const info = JSON.parse(out.slice(out.indexOf('{'))) as {
      filename: string;
      files: { path: string }[];
    };
    files = info.files.map((f) => f.path);
    manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', info.filename, 'package/package.json'], { encoding: 'utf8' }),
    );
  });

  it('ships only built code, docs and the manifest', () => {
    const unexpected = files.filter((f) => !ALLOWED.test(f));
    expect(unexpected).toEqual([]);
    expect(files).toContain('README.md');
    expect(files.some((f) => f.startsWith('dist/'))).toBe(true);
    expect(files.filter((f) => /\.test\.|tsbuildinfo/.test(f))).toEqual([]);
  });

  it('rewrites workspace: and catalog: ranges', () => {
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      const deps = (manifest[field] ?? {}) as Record<string, string>;
      for (const [dep, range] of Object.entries(deps)) {
        expect(`${dep}@${range}`).not.toMatch(/@(workspace|catalog):/);
      }
    }
    expect(manifest.publishConfig).toEqual(expect.objectContaining({ access: 'public' }));
  });

  it('has every main/types/exports target in the tarball', () => {
    const targets = [manifest.main, manifest.types, ...collectTargets(manifest.exports)]
      .filter((t): t is string => typeof t === 'string')
      .map((t) => t.replace(/^\.\//, ''));
    const missing = targets.filter((t) => !files.includes(t));
    expect(missing).toEqual([]);
  });
});
