/**
 * Backend selection. `initRuntime()` picks the fastest backend this machine can run and reports
 * what it chose, so apps can print it. Library packages never pick a backend themselves.
 *
 * `auto` order: `tensorflow` through @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (both
 * optional peer dependencies a user installs on purpose, since their install downloads
 * libtensorflow; looked for at run time and loaded with a guarded require only when present),
 * then `wasm` with @artist-ts/native-kernels (BLAS addon plus the training kernels stock wasm lacks),
 * then `cpu` (with the same package's fixes). `ARTIST_BACKEND` overrides the requested backend.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = 'auto' | BackendName;

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface RuntimeOptions {
  /** Which backend to use; default 'auto' (or the ARTIST_BACKEND environment variable). */
  backend?: BackendRequest;
  /** Native BLAS kernels on wasm/cpu; default true unless ARTIST_DISABLE_NATIVE=1. */
  native?: boolean;
  /**
   * Threads of the native kernels' pool, the calling thread included (default: the
   * ARTIST_BLAS_THREADS environment variable, else the machine's cores up to 8). Use fewer when
   * other CPU-heavy processes share the machine: pool workers that wait for CPU time stall every
   * parallel kernel.
   */
  threads?: number;
}

export const DEFAULT_RUNTIME_OPTIONS: Required<Omit<RuntimeOptions, 'threads'>> = {
  backend: 'auto',
  native: true,
};

/** What initRuntime chose, and why the faster options were skipped. */
export interface RuntimeInfo {
  backend: BackendName;
  requested: BackendRequest;
  /** Native (BLAS) kernels active. */
  nativeKernels: boolean;
  /** Why native kernels are off, when they are. */
  nativeReason?: string;
  blasThreads?: number;
  /** Kernels registered or replaced by @artist-ts/native-kernels. */
  kernels: string[];
  /** Whether every kernel our models need for training is registered on the chosen backend. */
  canTrain: boolean;
  /** Backends tried before the chosen one, with the reason each was skipped. */
  skipped: { backend: string; reason: string }[];
  cores: number;
  tfjsVersion: string;
  /** Whether tensors live on a GPU: the tensorflow backend on a GPU device, webgl or webgpu. */
  gpu: boolean;
  /** The device computing, when known: GPU model, else the CPU model. */
  device?: string;
}

/** What @artist-ts/native-kernels' installKernels returns. */
interface KernelInstallReport {
  backend: string;
  native: boolean;
  reason?: string;
  blasThreads?: number;
  kernels: string[];
  canTrain: boolean;
}

interface NativeKernelsModule {
  installKernels(
    tfjs: typeof tf,
    backendName: 'wasm' | 'cpu',
    options?: { native?: boolean; threads?: number },
  ): KernelInstallReport;
}

export function validateRuntimeOptions(
  options: RuntimeOptions = {},
): Required<Omit<RuntimeOptions, 'threads'>> & Pick<RuntimeOptions, 'threads'> {
  const envBackend = process.env.ARTIST_BACKEND;
  const backend =
    envBackend && envBackend.length > 0
      ? envBackend
      : (options.backend ?? DEFAULT_RUNTIME_OPTIONS.backend);
  if (!(BACKEND_REQUESTS as readonly string[]).includes(backend)) {
    const where = envBackend ? 'ARTIST_BACKEND' : 'backend';
    throw new Error(
      `runtime option '${where}' is '${backend}'; allowed: ${BACKEND_REQUESTS.join(', ')}`,
    );
  }
  const disabled = process.env.ARTIST_DISABLE_NATIVE === '1';
  const native = disabled ? false : (options.native ?? DEFAULT_RUNTIME_OPTIONS.native);
  if (
    options.threads !== undefined &&
    !(Number.isInteger(options.threads) && options.threads >= 1)
  ) {
    throw new Error(`runtime option 'threads' must be an integer >= 1, got ${options.threads}`);
  }
  return { backend: backend as BackendRequest, native, threads: options.threads };
}

/**
 * Guarded require of a module that may be absent or broken (tfjs-node without libtensorflow throws
 * at require time). Returns the error message instead of throwing.
 */
function tryRequire<T>(id: string): { mod?: T; error?: string } {
  try {
    return { mod: require(id) as T };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    return { error: msg };
  }
}

/**
 * tfjs-node registers its kernels before it loads its native binding, so requiring a copy whose
 * binding was never built (libtensorflow could not be downloaded at install) leaves a half-registered
 * 'tensorflow' backend behind. Look for the binding first and skip the require when it is absent.
 */
function tfjsNodeBindingMissing(pkg: string): string | null {
  let root: string;
  try {
    root = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return 'not installed';
  }
  const lib = path.join(root, 'lib');
  const found =
    fs.existsSync(lib) &&
    fs.readdirSync(lib).some((d) => fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
  return found
    ? null
    : 'installed without its native binding (tfjs_binding.node; libtensorflow was not downloaded)';
}

/** Overridable for tests: how optional modules are found and loaded. */
export const moduleLoader = { require: tryRequire, tfjsNodeBindingMissing };

async function trySetBackend(name: string): Promise<string | null> {
  try {
    const ok = await tf.setBackend(name);
    return ok ? null : `tf.setBackend('${name}') returned false`;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

let current: RuntimeInfo | null = null;

/** The last initRuntime() result, or null before the first call. */
export function runtimeInfo(): RuntimeInfo | null {
  return current;
}

export async function initRuntime(options: RuntimeOptions = {}): Promise<RuntimeInfo> {
  const opts = validateRuntimeOptions(options);
  const skipped: { backend: string; reason: string }[] = [];
  const order: BackendName[] =
    opts.backend === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [opts.backend];
  const native = moduleLoader.require<NativeKernelsModule>('@artist-ts/native-kernels');

  for (const name of order) {
    if (name === 'tensorflow') {
      let loaded = false;
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        const missing = moduleLoader.tfjsNodeBindingMissing(pkg);
        if (missing !== null) {
          skipped.push({ backend: pkg, reason: missing });
          continue;
        }
        const r = moduleLoader.require(pkg);
        if (r.mod) {
          loaded = true;
          break;
        }
        skipped.push({ backend: pkg, reason: r.error ?? 'not installed' });
      }
      const err = loaded
        ? await trySetBackend('tensorflow')
        : 'no tfjs-node package could be loaded';
      if (err === null) {
        current = finish('tensorflow', opts.backend, skipped, {
          native: true,
          kernels: [],
          canTrain: true,
          backend: 'tensorflow',
        });
        return current;
      }
      if (loaded) skipped.push({ backend: 'tensorflow', reason: err });
      if (opts.backend !== 'auto')
        throw new Error(
          `backend 'tensorflow' unavailable: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
        );
      continue;
    }
    if (name === 'wasm') {
      const r = moduleLoader.require('@tensorflow/tfjs-backend-wasm');
      const err = r.mod ? await trySetBackend('wasm') : (r.error ?? 'not installed');
      if (err !== null) {
        skipped.push({ backend: 'wasm', reason: err });
        if (opts.backend !== 'auto') throw new Error(`backend 'wasm' unavailable: ${err}`);
        continue;
      }
      const report = native.mod
        ? native.mod.installKernels(tf, 'wasm', { native: opts.native, threads: opts.threads })
        : {
            backend: 'wasm',
            native: false,
            reason: `@artist-ts/native-kernels: ${native.error}`,
            kernels: [],
            canTrain: false,
          };
      if (!report.canTrain && opts.backend === 'auto') {
        // Stock wasm lacks Conv2DBackpropFilter and UnsortedSegmentSum: it cannot train our models.
        skipped.push({
          backend: 'wasm',
          reason: `cannot train (${report.reason ?? 'training kernels missing'})`,
        });
        continue;
      }
      current = finish('wasm', opts.backend, skipped, report);
      return current;
    }
    const err = await trySetBackend('cpu');
    if (err !== null) throw new Error(`backend 'cpu' unavailable: ${err}`);
    const report = native.mod
      ? native.mod.installKernels(tf, 'cpu', { native: opts.native, threads: opts.threads })
      : {
          backend: 'cpu',
          native: false,
          reason: `@artist-ts/native-kernels: ${native.error}`,
          kernels: [],
          canTrain: true,
        };
    current = finish('cpu', opts.backend, skipped, report);
    return current;
  }
  throw new Error('initRuntime: no backend could be initialised');
}

function finish(
  backend: BackendName,
  requested: BackendRequest,
  skipped: { backend: string; reason: string }[],
  report: KernelInstallReport,
): RuntimeInfo {
  const info: RuntimeInfo = {
    backend,
    requested,
    nativeKernels: report.native,
    kernels: report.kernels,
    canTrain: report.canTrain,
    skipped,
    cores: os.cpus().length,
    tfjsVersion: tf.version.tfjs,
    ...deviceOf(backend, tf.findBackend(backend)),
  };
  if (report.reason !== undefined && !report.native) info.nativeReason = report.reason;
  if (report.blasThreads !== undefined) info.blasThreads = report.blasThreads;
  return info;
}

/** First NVIDIA GPU model the Linux driver lists (`/proc/driver/nvidia/gpus/<bus>/information`). */
export function nvidiaGpuModel(root = '/proc/driver/nvidia/gpus'): string | undefined {
  try {
    for (const bus of fs.readdirSync(root).sort()) {
      const text = fs.readFileSync(path.join(root, bus, 'information'), 'utf8');
      const model = /^Model:\s*(.+)$/m.exec(text)?.[1]?.trim();
      if (model) return model;
    }
  } catch {
    // no NVIDIA driver, or not Linux
  }
  return undefined;
}

/** The parts of tfjs-node's, tfjs-backend-webgl's and tfjs-backend-webgpu's backends read here. */
interface BackendDeviceProbe {
  isUsingGpuDevice?: boolean;
  gpgpu?: { gl?: { getExtension(n: string): unknown; getParameter(p: number): unknown } };
  adapterInfo?: { vendor?: string; architecture?: string };
}

/**
 * Whether backend `name` (the object tf.findBackend returns) computes on a GPU, and on which device
 * when known: tfjs-node(-gpu) reports whether TensorFlow placed ops on a GPU (its model comes from
 * the NVIDIA driver), webgl reports its renderer, webgpu its adapter; every other backend runs on
 * the CPU.
 */
export function deviceOf(
  name: string,
  backend: unknown,
  gpuModel: () => string | undefined = nvidiaGpuModel,
): { gpu: boolean; device?: string } {
  const probe = (backend ?? {}) as BackendDeviceProbe;
  const cpu = os.cpus()[0]?.model.trim();
  const withDevice = (gpu: boolean, device: string | undefined) =>
    device ? { gpu, device } : { gpu };
  if (name === 'tensorflow') {
    return probe.isUsingGpuDevice === true ? withDevice(true, gpuModel()) : withDevice(false, cpu);
  }
  if (name === 'webgl') {
    const gl = probe.gpgpu?.gl;
    let renderer: unknown;
    if (gl) {
      const ext = gl.getExtension('WEBGL_debug_renderer_info') as {
        UNMASKED_RENDERER_WEBGL: number;
      } | null;
      renderer = gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : 0x1f01 /* RENDERER */);
    }
    return withDevice(true, typeof renderer === 'string' ? renderer : undefined);
  }
  if (name === 'webgpu') {
    const a = probe.adapterInfo;
    const device = [a?.vendor, a?.architecture].filter((x) => x).join(' ');
    return withDevice(true, device || undefined);
  }
  return withDevice(false, cpu);
}

/** One line for logs: `backend=wasm device=cpu (AMD EPYC 7B13) native=yes (threads 1) train=yes cores=2 tfjs=4.22.0`. */
export function describeRuntime(info: RuntimeInfo): string {
  const nativePart = info.nativeKernels
    ? `native=yes${info.blasThreads !== undefined ? ` (threads ${info.blasThreads})` : ''}`
    : `native=no${info.nativeReason ? ` (${info.nativeReason})` : ''}`;
  const devicePart = `${info.gpu ? 'gpu' : 'cpu'}${info.device ? ` (${info.device})` : ''}`;
  return `backend=${info.backend} device=${devicePart} ${nativePart} train=${info.canTrain ? 'yes' : 'no'} cores=${info.cores} tfjs=${info.tfjsVersion}`;
}

/** tfjs-backend-wasm's linear memory stops growing at 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/** A wasm-backend abort (its heap could not grow) turned into an error that says what to change. */
export class WasmHeapExhaustedError extends Error {
  override readonly name = 'WasmHeapExhaustedError';
  constructor(
    /** Tensor bytes still allocated when the error was explained (scopes may have freed some). */
    readonly heldBytes: number,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `err` as a WasmHeapExhaustedError when it is how the wasm backend fails once its 4 GiB heap
 * cannot grow: emscripten's `RuntimeError: Aborted()`, or `memory access out of bounds` while
 * tensors fill at least half the heap (an allocation that failed, then used); else `err` itself:
 * `throw explainWasmAbort(e, 'VQGAN training step at batch 2', 'Use a smaller batch.')`. After
 * either the wasm module cannot run again in this process, so the message says so.
 */
export function explainWasmAbort(
  err: unknown,
  what: string,
  advice: string,
  backend: string = tf.getBackend(),
  held: number = tf.memory().numBytes,
): unknown {
  if (backend !== 'wasm' || !(err instanceof Error)) return err;
  const aborted = err.message.startsWith('Aborted(');
  const outOfBounds = err.message === 'memory access out of bounds' && held >= WASM_HEAP_BYTES / 2;
  if (!aborted && !outOfBounds) return err;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  return new WasmHeapExhaustedError(
    held,
    `${what}: the wasm backend aborted, most likely because its heap cannot grow past ` +
      `${gib(WASM_HEAP_BYTES)} (${gib(held)} of tensors still allocated when the error got ` +
      `here); the backend cannot run again in this process. ${advice}`,
    { cause: err },
  );
}
