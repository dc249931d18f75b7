// Explicit registration of this package's kernels on the `cpu` or `wasm` backend of the tfjs
// instance passed in. Nothing registers on import. The stock kernel of each overridden name is kept
// and used for the cases an override declines (other dtypes, NCHW, shapes it cannot handle), and is
// put back by `uninstallKernels`.
import * as os from 'node:os';
import type * as tfjs from '@tensorflow/tfjs';
import { BLAS_THREADS_ENV, getNativeAddon, type NativeAddon, nativeAvailable } from './addon';
import { type HostName, hostFor, type Tf } from './host';
import { adamwJsKernels, adamwNativeKernels } from './kernels/adamw';
import { batchMatMulBroadcastJs, batchMatMulNative } from './kernels/batch_mat_mul';
import {
  conv2dBackpropFilterJsKernel,
  conv2dBackpropFilterNative,
  conv2dBackpropInputNative,
  conv2dNative,
  fusedConv2dNative,
} from './kernels/conv2d';
import { depthwiseBackpropFilterJs, depthwiseBackpropInputJs } from './kernels/depthwise_conv2d';
import {
  binaryHighRankJsKernels,
  binaryNativeKernels,
  castSameDtypeShared,
  identityShared,
  reduceNativeKernels,
  transposeHighRankJs,
  transposeNative,
  unaryNativeKernels,
} from './kernels/elementwise';
import { fusedMatMulJs, fusedMatMulNative } from './kernels/fused_mat_mul';
import { fusedOpsNativeKernels } from './kernels/fused_ops';
import { gatherV2Kernel } from './kernels/gather';
import { groupNormNativeKernels } from './kernels/group_norm';
import {
  resizeNearestNeighborGradKernel,
  resizeNearestNeighborNative,
} from './kernels/resize_nearest_neighbor_grad';
import {
  sparseXentJsKernels,
  sparseXentNativeKernels,
} from './kernels/sparse_softmax_cross_entropy';
import type { KernelImpl } from './kernels/types';
import { unsortedSegmentSumKernel } from './kernels/unsorted_segment_sum';

export type KernelBackendName = HostName;

/** Options of `installKernels`. */
export interface InstallKernelsOptions {
  /** Use the BLAS addon when it is available (default true; `ARTIST_DISABLE_NATIVE=1` forces false). */
  native?: boolean;
  /**
   * Threads of the addon's pool, the calling thread included (default: `ARTIST_BLAS_THREADS`,
   * else the machine's cores up to 8). Large GEMMs, convolutions and the fused kernels split their
   * work across it; the BLAS itself runs single-threaded (see `parallelThreshold`).
   */
  threads?: number;
  /**
   * Jobs of at least this many multiply-adds (M * N * K for a GEMM) are split across `threads`;
   * smaller ones run on the calling thread, where the hand-off costs more than it saves
   * (default 2^21, about 2 M: a [1024, 128] x [128, 512] MLP GEMM is split, one decoding step's
   * [1, 256] x [256, 768] is not).
   */
  parallelThreshold?: number;
}

/** The machine's cores, capped at 8 (beyond that the tiny models stop scaling). */
function defaultThreads(): number {
  const cores =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores));
}

export const DEFAULT_INSTALL_KERNELS_OPTIONS: Readonly<Required<InstallKernelsOptions>> =
  Object.freeze({ native: true, threads: defaultThreads(), parallelThreshold: 2 ** 21 });

/** What `installKernels` did. */
export interface KernelInstallReport {
  backend: KernelBackendName;
  /** Whether the BLAS addon backs BatchMatMul and the convolutions. */
  native: boolean;
  /** Why the addon is off (absent when `native` is true). */
  reason?: string;
  /** Threads of the addon's pool in effect (only when `native`). */
  blasThreads?: number;
  /** GEMM size (multiply-adds) from which `blasThreads` are used (only when `native`). */
  parallelThreshold?: number;
  /** The GEMM in use (only when `native`): BLAS and kernel family, e.g. 'openblas Zen', or
   *  'portable GEMM avx2-fma' (no BLAS linked, or `useGemm('portable')`). */
  blas?: string;
  /** Kernel names overridden or added, e.g. 'BatchMatMul' or 'UnsortedSegmentSum'. */
  kernels: string[];
  /** Every kernel a GPT and a conv autoencoder training step needs is registered. */
  canTrain: boolean;
}

/** Kernels a GPT step (embedding gather) and a VQGAN step (conv, upsample) need for their gradients. */
export const TRAINING_KERNELS: readonly string[] = [
  'BatchMatMul',
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'UnsortedSegmentSum',
  'GatherV2',
  'ResizeNearestNeighborGrad',
  'AvgPoolGrad',
  'Softmax',
];

const BACKENDS: readonly KernelBackendName[] = ['cpu', 'wasm'];

/** Copies the options, fills defaults and throws naming the bad field. */
export function validateInstallKernelsOptions(
  options: InstallKernelsOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Required<InstallKernelsOptions> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('installKernels: options must be an object');
  }
  const native = options.native ?? DEFAULT_INSTALL_KERNELS_OPTIONS.native;
  if (typeof native !== 'boolean') {
    throw new TypeError(`installKernels: options.native must be a boolean, got ${String(native)}`);
  }
  let threads = options.threads;
  let source = 'options.threads';
  if (
    threads === undefined &&
    env[BLAS_THREADS_ENV] !== undefined &&
    env[BLAS_THREADS_ENV] !== ''
  ) {
    threads = Number(env[BLAS_THREADS_ENV]);
    source = `env ${BLAS_THREADS_ENV}`;
  }
  threads ??= DEFAULT_INSTALL_KERNELS_OPTIONS.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new RangeError(
      `installKernels: ${source} must be an integer in [1, 1024], got ${threads}`,
    );
  }
  const parallelThreshold =
    options.parallelThreshold ?? DEFAULT_INSTALL_KERNELS_OPTIONS.parallelThreshold;
  if (
    typeof parallelThreshold !== 'number' ||
    !Number.isInteger(parallelThreshold) ||
    parallelThreshold < 0 ||
    parallelThreshold > Number.MAX_SAFE_INTEGER
  ) {
    throw new RangeError(
      `installKernels: options.parallelThreshold must be a non-negative integer, got ${String(parallelThreshold)}`,
    );
  }
  return { native, threads, parallelThreshold };
}

interface Installed {
  tf: Tf;
  originals: Map<string, tfjs.KernelConfig | undefined>;
}

// Per tfjs instance (a process can hold more than one copy) and backend name.
const installed = new WeakMap<object, Map<KernelBackendName, Installed>>();

function plan(backend: KernelBackendName, native: NativeAddon | null): KernelImpl[] {
  const impls: KernelImpl[] = [];
  if (native) {
    impls.push(
      batchMatMulNative,
      fusedMatMulNative,
      conv2dNative,
      fusedConv2dNative,
      conv2dBackpropInputNative,
      conv2dBackpropFilterNative,
      ...unaryNativeKernels,
      ...binaryNativeKernels,
      ...reduceNativeKernels,
      transposeNative,
      ...sparseXentNativeKernels,
      ...adamwNativeKernels,
      ...fusedOpsNativeKernels(native),
      ...groupNormNativeKernels(native),
      resizeNearestNeighborNative,
    );
  } else {
    // wasm lacks it; cpu's own runs at ~0.01 GFLOP/s
    impls.push(
      batchMatMulBroadcastJs,
      fusedMatMulJs,
      conv2dBackpropFilterJsKernel,
      ...sparseXentJsKernels,
      ...adamwJsKernels,
    );
  }
  impls.push(unsortedSegmentSumKernel, gatherV2Kernel);
  impls.push(resizeNearestNeighborGradKernel);
  if (backend === 'wasm') {
    impls.push(
      identityShared,
      castSameDtypeShared,
      depthwiseBackpropFilterJs,
      depthwiseBackpropInputJs,
    );
    if (!native) impls.push(transposeHighRankJs, ...binaryHighRankJsKernels);
  }
  return impls;
}

/** A copy of `t` whose storage matches its dtype (cpu only; see Host.storageMatchesDtype). */
function coerceCpuStorage(host: ReturnType<typeof hostFor>, t: tfjs.TensorInfo): tfjs.TensorInfo {
  const dtype = t.dtype === 'int32' ? 'int32' : 'float32';
  const src = host.rawView(t);
  const copy = host.alloc(t.shape, dtype);
  host.view(copy).set(src);
  return copy;
}

function register(
  tf: Tf,
  backend: KernelBackendName,
  impl: KernelImpl,
  native: NativeAddon | null,
  originals: Map<string, tfjs.KernelConfig | undefined>,
): void {
  const orig = tf.getKernel(impl.kernelName, backend);
  if (orig) tf.unregisterKernel(impl.kernelName, backend);
  originals.set(impl.kernelName, orig);
  const hosts = new WeakMap<object, ReturnType<typeof hostFor>>();
  const kernelFunc: tfjs.KernelFunc = (args) => {
    const be = args.backend as object;
    let host = hosts.get(be);
    if (!host) {
      host = hostFor(backend, be);
      hosts.set(be, host);
    }
    let inputs = args.inputs as Record<string, tfjs.TensorInfo>;
    let copies: tfjs.TensorInfo[] | null = null;
    for (const t of Object.values(inputs)) {
      if (!t || host.storageMatchesDtype(t)) continue;
      // a cpu tensor that shares a cast source's Int32Array/Uint8Array under another dtype
      if (!impl.coerceStorage && orig) return orig.kernelFunc(args);
      if (!copies) {
        copies = [];
        inputs = { ...inputs };
      }
      const copy = coerceCpuStorage(host, t);
      copies.push(copy);
      for (const [k, v] of Object.entries(inputs)) if (v === t) inputs[k] = copy;
    }
    let out: tfjs.TensorInfo | tfjs.TensorInfo[] | null;
    try {
      out = impl.run({
        inputs,
        attrs: (args.attrs ?? {}) as Record<string, unknown>,
        host,
        tf,
        native,
        backend: args.backend,
      });
    } finally {
      if (copies) for (const c of copies) host.free(c);
    }
    if (out) return out;
    if (orig) return orig.kernelFunc(args);
    const shapes = Object.entries(args.inputs)
      .map(([k, t]) => `${k}: ${(t as tfjs.TensorInfo).dtype}[${(t as tfjs.TensorInfo).shape}]`)
      .join(', ');
    throw new Error(
      `@artist-ts/native-kernels: ${impl.kernelName} on '${backend}' does not support ${shapes}`,
    );
  };
  const config: tfjs.KernelConfig = {
    kernelName: impl.kernelName,
    backendName: backend,
    kernelFunc,
  };
  if (orig?.setupFunc) config.setupFunc = orig.setupFunc;
  if (orig?.disposeFunc) config.disposeFunc = orig.disposeFunc;
  tf.registerKernel(config);
}

/**
 * Restores the stock kernels replaced by `installKernels` on `backendName` and removes the kernels it
 * added. Returns the names it touched (empty when nothing was installed).
 */
export function uninstallKernels(tf: Tf, backendName: KernelBackendName): string[] {
  const perTf = installed.get(tf);
  const state = perTf?.get(backendName);
  if (!perTf || !state) return [];
  for (const [name, orig] of state.originals) {
    if (tf.getKernel(name, backendName)) tf.unregisterKernel(name, backendName);
    if (orig) tf.registerKernel(orig);
  }
  perTf.delete(backendName);
  return [...state.originals.keys()];
}

/**
 * Registers the kernel overrides and additions on `backendName` ('cpu' or 'wasm') of the tfjs
 * instance `tf`. Call it once after `tf.setBackend(name)` (calling again reinstalls with the new
 * options). Native BLAS kernels are used when the addon is built and not disabled; the JS kernels
 * that wasm lacks and the cpu defect fixes are installed either way.
 */
export function installKernels(
  tf: Tf,
  backendName: KernelBackendName,
  options: InstallKernelsOptions = {},
): KernelInstallReport {
  if (!BACKENDS.includes(backendName)) {
    throw new RangeError(
      `installKernels: backendName must be one of ${BACKENDS.join(', ')}, got '${String(backendName)}'`,
    );
  }
  const opts = validateInstallKernelsOptions(options);
  if (!tf.findBackendFactory(backendName)) {
    // registering first would be overwritten (with a warning) when the backend package loads
    throw new Error(
      `installKernels: backend '${backendName}' is not registered; import ${
        backendName === 'wasm' ? "'@tensorflow/tfjs-backend-wasm'" : "'@tensorflow/tfjs'"
      } before installing kernels`,
    );
  }
  uninstallKernels(tf, backendName);

  let native: NativeAddon | null = null;
  let reason: string | undefined;
  if (!opts.native) {
    reason = 'disabled by options.native = false';
  } else {
    const avail = nativeAvailable();
    if (avail.ok) native = getNativeAddon();
    else reason = avail.reason;
  }

  const originals = new Map<string, tfjs.KernelConfig | undefined>();
  const impls = plan(backendName, native);
  for (const impl of impls) register(tf, backendName, impl, native, originals);
  let perTf = installed.get(tf);
  if (!perTf) {
    perTf = new Map();
    installed.set(tf, perTf);
  }
  perTf.set(backendName, { tf, originals });

  const report: KernelInstallReport = {
    backend: backendName,
    native: native !== null,
    kernels: impls.map((k) => k.kernelName),
    canTrain: TRAINING_KERNELS.every((k) => tf.getKernel(k, backendName) !== undefined),
  };
  if (native) {
    report.blasThreads = native.setThreads(opts.threads);
    report.parallelThreshold = native.setParallelThreshold(opts.parallelThreshold);
    const info = native.blasInfo();
    report.blas =
      info.gemm === 'portable'
        ? `portable GEMM ${info.gemmKernel}`
        : `${info.vendor}${info.corename ? ` ${info.corename}` : ''}`;
  } else {
    report.reason = reason ?? 'native addon unavailable';
  }
  return report;
}

/** One line for logs, e.g. `kernels wasm: native openblas Zen, 2 threads for jobs of >= 2097152 multiply-adds; 6 kernels [...]; can train`. */
export function formatInstallReport(r: KernelInstallReport): string {
  const nat = r.native
    ? `native ${r.blas ?? 'BLAS'}, ${r.blasThreads} thread${r.blasThreads === 1 ? '' : 's'}${
        r.blasThreads !== undefined && r.blasThreads > 1 && r.parallelThreshold !== undefined
          ? ` for jobs of >= ${r.parallelThreshold} multiply-adds`
          : ''
      }`
    : `JS kernels only (native off: ${r.reason})`;
  return `kernels ${r.backend}: ${nat}; ${r.kernels.length} kernels [${r.kernels.join(', ')}]; ${
    r.canTrain ? 'can train' : 'cannot train'
  }`;
}
