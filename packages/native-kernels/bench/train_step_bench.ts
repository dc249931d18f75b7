// pnpm bench: seconds per training step of the tiny GPT and the tiny conv autoencoder of issue 3 on
// stock cpu, stock wasm, and the tuned configurations, with GFLOP/s and the ratio to stock cpu.
// Each (model, configuration) runs in its own child process so kernel registries, wasm heaps and
// peak RSS do not mix. `pnpm bench:gemm` compares the GEMMs under the default configuration: the
// source build (OpenBLAS where installed), the same build switched to the portable SGEMM, and the
// prebuilt addon (built without BLAS: `pnpm build:prebuild`), each as a ratio to the first.
//   node -r ts-node/register/transpile-only bench/train_step_bench.ts [--models gpt,ae]
//     [--configs cpu-stock,wasm-stock,cpu-tuned,wasm-js,default,default-portable,default-prebuilt]
//     [--steps 8] [--stock-steps 1]
//     [--threads n (default: installKernels' default, the cores up to 8)] [--timeout 1200] [--profile]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  DEFAULT_INSTALL_KERNELS_OPTIONS,
  formatInstallReport,
  type GemmChoice,
  installKernels,
  NATIVE_ADDON_ENV,
  useGemm,
} from '../src/index';
import { MODEL_NAMES, MODEL_TITLES, type ModelName, makeModel, type TrainStep } from './models';

type ConfigName =
  | 'cpu-stock'
  | 'wasm-stock'
  | 'cpu-tuned'
  | 'wasm-js'
  | 'default'
  | 'default-portable'
  | 'default-prebuilt';

// the prebuilt addon of this platform (scripts/prebuild.js), or undefined before it was built
function prebuiltAddon(): string | undefined {
  const dir = path.resolve(__dirname, '..', 'prebuilds', `${process.platform}-${process.arch}`);
  const f = fs.existsSync(dir) ? fs.readdirSync(dir).find((n) => n.endsWith('.node')) : undefined;
  return f ? path.join(dir, f) : undefined;
}

const CONFIGS: Record<
  ConfigName,
  {
    backend: 'cpu' | 'wasm';
    install: false | { native: boolean; gemm?: GemmChoice };
    label: string;
    /** Extra environment of the child process (undefined: the config cannot run here). */
    env?: () => Record<string, string> | undefined;
  }
> = {
  'cpu-stock': { backend: 'cpu', install: false, label: 'stock cpu' },
  'wasm-stock': { backend: 'wasm', install: false, label: 'stock wasm' },
  'cpu-tuned': { backend: 'cpu', install: { native: true }, label: 'cpu + kernels' },
  'wasm-js': { backend: 'wasm', install: { native: false }, label: 'wasm + JS kernels (no addon)' },
  default: { backend: 'wasm', install: { native: true }, label: 'default: wasm + native' },
  'default-portable': {
    backend: 'wasm',
    install: { native: true, gemm: 'portable' },
    label: 'default, portable SGEMM',
  },
  'default-prebuilt': {
    backend: 'wasm',
    install: { native: true },
    label: 'default, prebuilt (no BLAS)',
    env: () => {
      const f = prebuiltAddon();
      return f ? { [NATIVE_ADDON_ENV]: f } : undefined;
    },
  },
};

interface ChildResult {
  model: ModelName;
  config: ConfigName;
  ok: boolean;
  error?: string;
  stepSeconds?: number[];
  /** CPU seconds (user + system) of each step: less sensitive to other load on a shared machine. */
  cpuSeconds?: number[];
  losses?: number[];
  flops?: number;
  kernels?: string;
  blasThreads?: number;
  peakRssMiB?: number;
  profile?: { name: string; ms: number; calls: number }[];
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function child(
  model: ModelName,
  config: ConfigName,
  steps: number,
  threads: number,
  profile: boolean,
) {
  const cfg = CONFIGS[config];
  const res: ChildResult = { model, config, ok: false };
  try {
    await tf.setBackend(cfg.backend);
    await tf.ready();
    if (cfg.install) {
      if (cfg.install.gemm) useGemm(cfg.install.gemm);
      const report = installKernels(tf, cfg.backend, { native: cfg.install.native, threads });
      res.kernels = formatInstallReport(report);
      if (report.blasThreads !== undefined) res.blasThreads = report.blasThreads;
    }
    const net: TrainStep = makeModel(tf, model);
    res.flops = net.flops;
    const warm = steps > 1 ? 1 : 0;
    res.losses = [];
    res.stepSeconds = [];
    res.cpuSeconds = [];
    for (let i = 0; i < warm + steps; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const loss = await net.step();
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      res.losses.push(loss);
      if (i >= warm) {
        res.stepSeconds.push(dt);
        res.cpuSeconds.push((c.user + c.system) / 1e6);
      }
    }
    if (profile) {
      const prof = await tf.profile(async () => {
        await net.step();
      });
      const agg = new Map<string, { ms: number; calls: number }>();
      for (const k of prof.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        const e = agg.get(k.name) ?? { ms: 0, calls: 0 };
        e.ms += ms;
        e.calls++;
        agg.set(k.name, e);
      }
      res.profile = [...agg.entries()]
        .map(([name, e]) => ({ name, ...e }))
        .sort((a, b) => b.ms - a.ms);
    }
    net.dispose();
    res.ok = true;
  } catch (err) {
    res.error = (err as Error).message.split('\n')[0];
  }
  res.peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`@@RESULT ${JSON.stringify(res)}\n`);
}

function main() {
  const models = arg('models', 'gpt,gpt-fused,ae,ae-fused').split(',') as ModelName[];
  for (const m of models)
    if (!MODEL_NAMES.includes(m))
      throw new Error(`--models: unknown '${m}' (${MODEL_NAMES.join(', ')})`);
  const configs = arg('configs', 'cpu-stock,wasm-stock,cpu-tuned,wasm-js,default').split(
    ',',
  ) as ConfigName[];
  const steps = Number(arg('steps', '8'));
  const stockSteps = Number(arg('stock-steps', '1'));
  const threads = Number(
    arg(
      'threads',
      process.env.ARTIST_BLAS_THREADS ?? String(DEFAULT_INSTALL_KERNELS_OPTIONS.threads),
    ),
  );
  const profile = process.argv.includes('--profile');
  const childTimeout = Number(arg('timeout', '1200'));
  for (const c of configs)
    if (!CONFIGS[c])
      throw new Error(`--configs: unknown '${c}' (${Object.keys(CONFIGS).join(', ')})`);
  const cpus = os.cpus();
  console.log(
    `machine: ${os.availableParallelism()} cores (${cpus[0]?.model ?? '?'}), node ${process.version}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, pool threads ${threads}`,
  );
  for (const model of models) {
    const results: ChildResult[] = [];
    for (const config of configs) {
      const n = config === 'cpu-stock' ? stockSteps : steps;
      const args = [
        ...process.execArgv,
        __filename,
        '--child',
        model,
        config,
        String(n),
        String(threads),
        profile && config === 'default' ? '1' : '0',
      ];
      const extraEnv = CONFIGS[config].env ? CONFIGS[config].env!() : {};
      if (!extraEnv) {
        results.push({
          model,
          config,
          ok: false,
          error: 'no prebuilt addon: run pnpm build:prebuild',
        });
        continue;
      }
      const r = spawnSync(process.execPath, args, {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        timeout: childTimeout * 1000,
        env: { ...process.env, ...extraEnv },
      });
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('@@RESULT '));
      const res: ChildResult = line
        ? JSON.parse(line.slice(9))
        : {
            model,
            config,
            ok: false,
            error: r.error
              ? `${r.error.message} (limit --timeout ${childTimeout} s)`
              : `child exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`,
          };
      results.push(res);
    }
    const base = results.find((r) => r.config === 'cpu-stock' && r.ok);
    const baseS = base ? median(base.stepSeconds!) : undefined;
    const baseCpu = base ? median(base.cpuSeconds!) : undefined;
    console.log(`\n${MODEL_TITLES[model]}`);
    console.log(
      'config                          s/step    GFLOP/s   x stock cpu   cpu s/step  (x stock)   loss first->last     peak RSS',
    );
    for (const r of results) {
      const label = CONFIGS[r.config].label.padEnd(30);
      if (!r.ok) {
        console.log(`${label}  cannot run: ${r.error}`);
        continue;
      }
      const s = median(r.stepSeconds!);
      const gf = r.flops! / s / 1e9;
      const ratio = baseS ? (baseS / s).toFixed(1) : 'n/a';
      const l = r.losses!;
      console.log(
        `${label}  ${s.toFixed(3).padStart(7)}  ${gf.toFixed(1).padStart(8)}  ${ratio.padStart(12)}  ${median(r.cpuSeconds!).toFixed(3).padStart(10)} ${(baseCpu ? (baseCpu / median(r.cpuSeconds!)).toFixed(1) : 'n/a').padStart(9)}   ${l[0]!.toFixed(3)} -> ${l[l.length - 1]!.toFixed(3)}   ${String(r.peakRssMiB).padStart(6)} MiB  (${r.stepSeconds!.length} steps, min ${Math.min(...r.stepSeconds!).toFixed(3)})`,
      );
      if (r.kernels) console.log(`${' '.repeat(32)}${r.kernels}`);
      const ref = results.find((x) => x.config === 'default' && x.ok);
      if (ref && r.config.startsWith('default-')) {
        const wall = s / median(ref.stepSeconds!);
        const cpu = median(r.cpuSeconds!) / median(ref.cpuSeconds!);
        console.log(
          `${' '.repeat(32)}x default (time per step): wall ${wall.toFixed(2)}, cpu ${cpu.toFixed(2)}`,
        );
      }
    }
    const prof = results.find((r) => r.profile)?.profile;
    if (prof) {
      const total = prof.reduce((a, p) => a + p.ms, 0);
      console.log(`profile of one default step (kernel time ${total.toFixed(0)} ms):`);
      for (const p of prof.slice(0, 12)) {
        console.log(
          `  ${p.name.padEnd(28)} ${p.ms.toFixed(1).padStart(8)} ms  ${((100 * p.ms) / total).toFixed(1).padStart(5)} %  ${p.calls} calls`,
        );
      }
    }
  }
}

if (process.argv[2] === '--child') {
  const [, , , model, config, steps, threads, profile] = process.argv;
  void child(
    model as ModelName,
    config as ConfigName,
    Number(steps),
    Number(threads),
    profile === '1',
  );
} else {
  main();
}
