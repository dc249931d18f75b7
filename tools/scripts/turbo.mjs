#!/usr/bin/env node
// Runs turbo with telemetry off (turbo otherwise contacts its telemetry host on every run)
// and with concurrency matched to this 2-core class of machine unless the caller says otherwise.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const turboBin = path.join(path.dirname(require.resolve('turbo/package.json')), 'bin', 'turbo');
const args = process.argv.slice(2);
if (!args.some((a) => a.startsWith('--concurrency'))) args.push('--concurrency=2');
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
const res = spawnSync(process.execPath, [turboBin, ...args], { stdio: 'inherit', env });
process.exit(res.status ?? 1);
