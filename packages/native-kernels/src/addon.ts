// Loading of the optional native addon and BLAS thread control. The addon is the source build
// (build/Release/artist_native.node) when there is one, else the prebuilt one shipped for this
// platform (prebuilds/<platform>-<arch>/, found by node-gyp-build). Nothing here runs at import
// time: the addon is loaded on the first call that needs it.
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The SGEMM choice `useGemm` takes: the linked BLAS, the addon's own portable SGEMM, or the
 * portable SGEMM with its plain C++ micro-kernel even where AVX2 is available ('generic': tests).
 */
export type GemmChoice = 'blas' | 'portable' | 'generic';

/** BLAS identification reported by the addon. */
export interface BlasInfo {
  /** The BLAS the addon was linked against: 'openblas' (Linux), 'accelerate' (macOS) or 'none'. */
  vendor: string;
  /** Build string of the library, e.g. 'OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen MAX_THREADS=64'. */
  config: string;
  /** Kernel family chosen at run time, e.g. 'Zen' or 'SkylakeX'. */
  corename: string;
  /** Threads of the addon's pool (the BLAS itself runs single-threaded). */
  threads: number;
  /** Jobs of at least this many multiply-adds (M * N * K) are split across `threads`. */
  parallelThreshold: number;
  /**
   * The SGEMM every GEMM and convolution runs on: 'openblas', 'accelerate', or 'portable' (the
   * addon's own packed SGEMM: a build without BLAS, such as the prebuilt addon, or `useGemm`).
   */
  gemm: string;
  /** Micro-kernel of the portable SGEMM on this CPU: 'avx2-fma' or 'generic'. */
  gemmKernel: string;
}

/** The functions the compiled addon exports (see src/native/bind_*.cc). */
export interface NativeAddon {
  blasInfo(): BlasInfo;
  setThreads(n: number): number;
  /** Switches every GEMM to the linked BLAS or the portable SGEMM; returns `BlasInfo.gemm`. */
  useGemm(kind: GemmChoice): string;
  /** Jobs of at least `work` multiply-adds are split across the pool, smaller ones run inline. */
  setParallelThreshold(work: number): number;
  /** Best read bandwidth (GB/s) of `reps` passes over a `bytes` buffer with the pool's threads. */
  memoryReadBandwidth?(bytes: number, reps: number): number;
  /** lse[i] = logsumexp(logits[i, :]), loss[i] = lse[i] - logits[i, labels[i]]; RangeError on a bad label. */
  sparseXentForward(
    logits: Float32Array,
    labels: Int32Array,
    loss: Float32Array,
    lse: Float32Array,
    rows: number,
    classes: number,
  ): void;
  /** dlogits[i, j] = dy[i] (exp(logits[i, j] - lse[i]) - [j == labels[i]]). */
  sparseXentBackward(
    logits: Float32Array,
    labels: Int32Array,
    lse: Float32Array,
    dy: Float32Array,
    dlogits: Float32Array,
    rows: number,
    classes: number,
  ): void;
  /** One AdamW step in @artist-ts/runtime's order (see src/native/kernels.h); the outputs may not alias the inputs. */
  adamwUpdate(
    x: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    xOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    beta1: number,
    beta2: number,
    epsilon: number,
    decayFactor: number,
    sqrtBc2: number,
    stepSize: number,
  ): void;
  /**
   * Nearest-neighbour resize of [batch, inH, inW, depth] to [batch, outH, outW, depth] with the
   * given source rows/cols, or (grad) its adjoint from dy into a zeroed dx. Absent in addons built
   * before it existed.
   */
  resizeNearest?(
    src: Float32Array,
    dst: Float32Array,
    batch: number,
    inH: number,
    inW: number,
    outH: number,
    outW: number,
    depth: number,
    rows: Int32Array,
    cols: Int32Array,
    grad: boolean,
  ): void;
  /**
   * GroupNorm of x [batch, hw, c] (groups of c / groups channels, biased variance), then swish
   * when `swish`, into y. Absent in addons built before it existed.
   */
  groupNormForward?(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    batch: number,
    hw: number,
    c: number,
    groups: number,
    eps: number,
    swish: boolean,
  ): void;
  /** out[s, :] = sum of x[i, :] with ids[i] == s; ids outside [0, segments) are dropped. */
  segmentSum(
    x: Float32Array,
    ids: Int32Array,
    out: Float32Array,
    n: number,
    segments: number,
    inner: number,
  ): void;
  /** C[i] = alpha op(A[i]) op(B[i]) + beta C[i], row-major; offsets in elements or null for i*stride. */
  sgemmBatched(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    offA: Int32Array | null,
    offB: Int32Array | null,
    strideA: number,
    strideB: number,
    alpha?: number,
    beta?: number,
  ): void;
  /** y = f(x) element-wise; op 0 exp, 1 tanh, 2 sigmoid, 3 log. */
  unary(op: number, x: Float32Array, y: Float32Array): void;
  /** y = a (op) b with broadcasting; dims = [out shape, a strides, b strides] (rank <= 6 each). */
  binary(op: number, a: Float32Array, b: Float32Array, y: Float32Array, dims: Int32Array): void;
  /** y = transpose(x); dims = [out shape, x stride of each out dim] (rank <= 6). */
  transpose(x: Float32Array, y: Float32Array, dims: Int32Array): void;
  /** y[a, b] = scale * sum_r x[a, r, b] for x viewed as [A, R, B]. */
  reduceSum(x: Float32Array, y: Float32Array, A: number, R: number, B: number, scale: number): void;
  /** params: Int32Array [n, h, w, ci, fh, fw, co, oh, ow, sh, sw, padTop, padLeft, dh, dw]. */
  /** True when `conv2d` takes `bias` (addons built before ignore a 5th argument). */
  conv2dBias?: boolean;
  /** Forward conv; `bias` (one value per output channel, optional) is added as outputs are written. */
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    y: Float32Array,
    params: Int32Array,
    bias?: Float32Array | null,
  ): void;
  conv2dBackpropInput(
    dy: Float32Array,
    filter: Float32Array,
    dx: Float32Array,
    params: Int32Array,
  ): void;
  conv2dBackpropFilter(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    params: Int32Array,
  ): void;
  // Fused transformer kernels (src/native/fused_ops.cc); outputs must not alias inputs. Absent
  // from an addon built before they existed: installKernels then leaves them unregistered.
  /** y = gelu(x); form 0 exact (x Phi(x)), 1 tanh approximation. */
  geluForward(x: Float32Array, y: Float32Array, form: number): void;
  /** dx = dy * gelu'(x). */
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, form: number): void;
  /** LayerNorm over rows of x [rows, dim]: y, per-row mean and rstd = 1 / sqrt(var + eps). */
  layerNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    dim: number,
    eps: number,
  ): void;
  /** dx [rows, dim], dgamma [dim], dbeta [dim] (deterministic, independent of the thread count). */
  layerNormBackward(
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    dim: number,
  ): void;
  /** q, k, v, y [batch, t, heads * hd]; p [batch, heads, t, t] (softmax of the masked scores). */
  causalAttentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    y: Float32Array,
    p: Float32Array,
    batch: number,
    t: number,
    heads: number,
    hd: number,
    scale: number,
  ): void;
  /** dq, dk, dv [batch, t, heads * hd] from q, k, v, the forward's p and dy. */
  causalAttentionBackward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    p: Float32Array,
    dy: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    batch: number,
    t: number,
    heads: number,
    hd: number,
    scale: number,
  ): void;
  /**
   * madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of `bytes`; returns the bytes advised (0 off
   * Linux or when the kernel refuses). Absent in addons built before it existed.
   */
  adviseHugePages?(bytes: Uint8Array): number;
  /**
   * Decoding attention against a key/value cache written in place: qkv [batch, 3 * heads * hd],
   * caches [batch, heads, capacity, hd], y [batch, heads * hd] (src/native/decode_attention.cc).
   * Absent in addons built before it existed.
   */
  decodeAttention?(
    qkv: Float32Array,
    kCache: Float32Array,
    vCache: Float32Array,
    y: Float32Array,
    batch: number,
    heads: number,
    hd: number,
    capacity: number,
    position: number,
    scale: number,
  ): void;
  /** dst[r * dstStride + c] = src[r * srcStride + c] for r < rows, c < cols (strides >= cols). */
  copy2d(
    src: Float32Array,
    dst: Float32Array,
    rows: number,
    cols: number,
    srcStride: number,
    dstStride: number,
  ): void;
}

/** Whether the addon can be used, and why not when it cannot. */
export interface NativeAvailability {
  ok: boolean;
  reason: string;
  /** Absolute path of the .node file that was (or would have been) loaded. */
  path: string;
}

/** Env var that turns the addon off without rebuilding ('1' or 'true'). */
export const DISABLE_NATIVE_ENV = 'ARTIST_DISABLE_NATIVE';
/** Env var with the default BLAS thread count used by `installKernels`. */
export const BLAS_THREADS_ENV = 'ARTIST_BLAS_THREADS';
/** Env var read when the addon loads: 'portable' runs every GEMM on the portable SGEMM. */
export const GEMM_ENV = 'ARTIST_GEMM';
/** Env var with the path of a .node file to load instead of the source build or the prebuilt one. */
export const NATIVE_ADDON_ENV = 'ARTIST_NATIVE_ADDON';

const PACKAGE_ROOT = path.resolve(__dirname, '..');
const BUILD_PATH = path.join(PACKAGE_ROOT, 'build', 'Release', 'artist_native.node');
const STATUS_PATH = path.join(PACKAGE_ROOT, 'build', 'native_status.json');

// node-gyp-build ships no types: resolve(dir) returns the path of the .node file to load or throws
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

// The .node files to try in order: ARTIST_NATIVE_ADDON alone when set; else what node-gyp-build
// picks (the source build, else the prebuilt addon for this platform) followed, for a source build,
// by the prebuilt ones (a source build that no longer loads, e.g. after libopenblas was removed,
// falls back to them). Empty with the reason in `why` when there is none.
function addonCandidates(why: { reason: string }): string[] {
  const forced = process.env[NATIVE_ADDON_ENV]?.trim();
  if (forced) {
    if (fs.existsSync(forced)) return [path.resolve(forced)];
    why.reason = `${NATIVE_ADDON_ENV}=${forced} does not exist`;
    return [];
  }
  let first: string;
  try {
    first = nodeGypBuild.resolve(PACKAGE_ROOT);
  } catch (err) {
    why.reason = (err as Error).message.split('\n')[0] ?? 'no native build found';
    return [];
  }
  if (first !== BUILD_PATH) return [first];
  const dir = path.join(PACKAGE_ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuilt = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.node'))
        .map((f) => path.join(dir, f))
    : [];
  return [first, ...prebuilt];
}

// The addon at `file` if it loads and has the functions this version calls, else why not.
function tryLoad(file: string): { addon: NativeAddon | null; reason: string } {
  let addon: NativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(file) as NativeAddon;
  } catch (err) {
    return { addon: null, reason: `addon at ${file} failed to load: ${(err as Error).message}` };
  }
  const expected = [
    'sgemmBatched',
    'conv2d',
    'binary',
    'reduceSum',
    'transpose',
    'sparseXentForward',
    'segmentSum',
    'adamwUpdate',
    'setParallelThreshold',
    'useGemm',
  ] as const;
  if (expected.some((f) => typeof addon[f] !== 'function')) {
    return { addon: null, reason: `addon at ${file} lacks the expected functions (rebuild it)` };
  }
  return { addon, reason: 'ok' };
}

let cached: { addon: NativeAddon | null; reason: string; path: string } | undefined;

/** True when `ARTIST_DISABLE_NATIVE` asks for the JS kernels only. */
export function nativeDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env[DISABLE_NATIVE_ENV] ?? '').trim().toLowerCase();
  return v === '1' || v === 'true' || v === 'yes';
}

function buildNote(): string {
  try {
    const status = JSON.parse(fs.readFileSync(STATUS_PATH, 'utf8')) as {
      ok?: boolean;
      reason?: string;
    };
    if (status.ok === false && status.reason) return `install-time build: ${status.reason}`;
  } catch {
    // no note: the install script did not run (e.g. --ignore-scripts)
  }
  return 'run `pnpm --filter @artist-ts/native-kernels build:native` (needs a C++ compiler; links OpenBLAS where libopenblas-dev is installed)';
}

function gemmFromEnv(env: NodeJS.ProcessEnv): GemmChoice | null {
  const v = (env[GEMM_ENV] ?? '').trim().toLowerCase();
  if (v === '') return null;
  if (v === 'portable' || v === 'blas' || v === 'generic') return v;
  throw new RangeError(
    `${GEMM_ENV} must be 'blas', 'portable' or 'generic', got '${env[GEMM_ENV]}'`,
  );
}

function load(): { addon: NativeAddon | null; reason: string; path: string } {
  if (cached) return cached;
  const why = { reason: '' };
  const candidates = addonCandidates(why);
  if (candidates.length === 0) {
    cached = {
      addon: null,
      reason: `addon not built (${buildNote()}; ${why.reason})`,
      path: BUILD_PATH,
    };
    return cached;
  }
  const failures: string[] = [];
  for (const file of candidates) {
    const { addon, reason } = tryLoad(file);
    if (!addon) {
      failures.push(reason);
      continue;
    }
    const gemm = gemmFromEnv(process.env);
    if (gemm) addon.useGemm(gemm);
    cached = { addon, reason: 'ok', path: file };
    return cached;
  }
  cached = { addon: null, reason: failures.join('; '), path: candidates[0]! };
  return cached;
}

/**
 * Whether the native addon is usable in this process. `ARTIST_DISABLE_NATIVE=1` makes it report
 * `ok: false` without loading the library.
 */
export function nativeAvailable(): NativeAvailability {
  if (nativeDisabledByEnv()) {
    return { ok: false, reason: `disabled by ${DISABLE_NATIVE_ENV}=1`, path: BUILD_PATH };
  }
  const { addon, reason, path: loaded } = load();
  return { ok: addon !== null, reason, path: loaded };
}

/** The loaded addon, or null when it is unavailable or disabled. */
export function getNativeAddon(): NativeAddon | null {
  if (nativeDisabledByEnv()) return null;
  return load().addon;
}

/** BLAS identification, or null without the addon. */
export function blasInfo(): BlasInfo | null {
  const addon = getNativeAddon();
  return addon ? addon.blasInfo() : null;
}

/**
 * Sets the thread count of the addon's pool (calling thread included) that large GEMMs,
 * convolutions and fused kernels split across, and returns the count in effect, or null without
 * the addon. Throws a RangeError for a count outside [1, 1024].
 */
export function setBlasThreads(n: number): number | null {
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new RangeError(`setBlasThreads: threads must be an integer in [1, 1024], got ${n}`);
  }
  const addon = getNativeAddon();
  return addon ? addon.setThreads(n) : null;
}

/**
 * This machine's memory read bandwidth in GB/s (best of `reps` passes over a buffer of `bytes`,
 * default 1 GiB: far larger than any cache), read by the addon's pool threads: the ceiling of
 * bandwidth-bound work such as decoding one token at a time. Null without the addon (or with an
 * addon built before it existed).
 */
export function memoryReadBandwidth(bytes = 2 ** 30, reps = 3): number | null {
  if (!Number.isInteger(bytes) || bytes < 4096) {
    throw new RangeError(`memoryReadBandwidth: bytes must be an integer >= 4096, got ${bytes}`);
  }
  const addon = getNativeAddon();
  return addon?.memoryReadBandwidth ? addon.memoryReadBandwidth(bytes, reps) : null;
}

/**
 * Runs every GEMM and convolution of the addon on the linked BLAS ('blas') or on the addon's own
 * portable SGEMM ('portable'; 'generic' with its plain C++ micro-kernel even where AVX2 is
 * available), and returns the SGEMM now in use (`BlasInfo.gemm`), or null without the addon. In a build without BLAS (the prebuilt addon) 'blas' keeps the portable SGEMM. The
 * `ARTIST_GEMM` env var makes the same choice when the addon loads.
 */
export function useGemm(kind: GemmChoice): string | null {
  if (kind !== 'blas' && kind !== 'portable' && kind !== 'generic') {
    throw new RangeError(
      `useGemm: kind must be 'blas', 'portable' or 'generic', got '${String(kind)}'`,
    );
  }
  const addon = getNativeAddon();
  return addon ? addon.useGemm(kind) : null;
}
