// Token-by-token decoding attention against a key/value cache that lives outside tfjs and is
// written in place. Stock ops keep the cache as tensors and grow it by concatenation, which copies
// every layer's whole cache once per token (at 4 rows and ~160 positions of a 12-layer, 768-wide
// GPT, ~47 MB per token) and costs six more kernels per layer (head reshapes, two batched
// products, softmax). Here one kernel per layer takes the fused q|k|v projection of the new
// position, writes k and v into the cache and returns the attention output, heads side by side.
// Not a stock kernel and it has no stock-op form (tensors cannot be written in place): callers
// check `decodeAttentionSupported()` and keep their own concatenating path for other backends.
import * as tf from '@tensorflow/tfjs';
import { f32 } from '../host';
import { kernelsRegistered, requireFloat32 } from './fused_common';
import type { KernelImpl } from './types';

/**
 * Kernel: inputs {qkv} f32 [..., 3 * heads * headDim] (one row per sequence); attrs {kCache,
 * vCache (Float32Arrays [batch, heads, capacity, headDim]), batch, heads, headDim, capacity,
 * position, scale} -> y [..., heads * headDim].
 */
export const DECODE_ATTENTION_KERNEL = 'ArtistDecodeAttention';

function isCount(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= min;
}

/**
 * Keys and values of every layer for the positions decoded so far, one Float32Array per layer and
 * kind, laid out [batch, heads, capacity, headDim] (the layout of stock attention's [b, h, p, hd]
 * cache tensors), allocated once at full capacity. Plain JS memory: nothing to dispose, and
 * nothing on the wasm heap.
 */
export class KvCache {
  /** Keys per layer [batch, heads, capacity, headDim]. */
  readonly keys: Float32Array[] = [];
  /** Values per layer [batch, heads, capacity, headDim]. */
  readonly values: Float32Array[] = [];
  /** Positions written per layer. */
  private readonly filled: Int32Array;

  constructor(
    readonly layers: number,
    readonly batch: number,
    readonly heads: number,
    readonly headDim: number,
    readonly capacity: number,
  ) {
    const dims = { layers, batch, heads, headDim, capacity };
    for (const [name, v] of Object.entries(dims)) {
      if (!isCount(v, 1)) {
        throw new RangeError(`KvCache: ${name} must be a positive integer, got ${String(v)}`);
      }
    }
    const size = batch * heads * capacity * headDim;
    for (let l = 0; l < layers; l++) {
      this.keys.push(new Float32Array(size));
      this.values.push(new Float32Array(size));
    }
    this.filled = new Int32Array(layers);
  }

  /** Positions written in every layer (the position the next token takes). */
  get length(): number {
    let n = this.capacity;
    for (const f of this.filled) n = Math.min(n, f);
    return n;
  }

  /** Positions written in `layer`. */
  positions(layer: number): number {
    this.checkLayer('positions', layer);
    return this.filled[layer]!;
  }

  /**
   * Sets positions [0, p) of `layer` to keys and values [batch, heads, p, headDim] (e.g. a
   * prompt's, from a stock-op forward pass).
   */
  setPrefix(layer: number, k: ArrayLike<number>, v: ArrayLike<number>, p: number): void {
    this.checkLayer('setPrefix', layer);
    if (!isCount(p, 0) || p > this.capacity) {
      throw new RangeError(
        `KvCache.setPrefix: p must be an integer in [0, ${this.capacity}], got ${p}`,
      );
    }
    const { headDim: hd, capacity } = this;
    const rows = this.batch * this.heads;
    for (const [name, src] of [
      ['k', k],
      ['v', v],
    ] as const) {
      if (src.length !== rows * p * hd) {
        throw new RangeError(
          `KvCache.setPrefix: ${name} has ${src.length} elements, expected [${this.batch}, ${this.heads}, ${p}, ${hd}] = ${rows * p * hd}`,
        );
      }
    }
    const K = this.keys[layer]!;
    const V = this.values[layer]!;
    const view = (a: ArrayLike<number>, r: number) =>
      a instanceof Float32Array
        ? a.subarray(r * p * hd, (r + 1) * p * hd)
        : Array.prototype.slice.call(a, r * p * hd, (r + 1) * p * hd);
    for (let r = 0; r < rows; r++) {
      K.set(view(k, r), r * capacity * hd);
      V.set(view(v, r), r * capacity * hd);
    }
    this.filled[layer] = p;
  }

  /** Records that `layer` now holds positions [0, n) (after the kernel wrote position n - 1). */
  markWritten(layer: number, n: number): void {
    this.filled[layer] = n;
  }

  private checkLayer(op: string, layer: number): void {
    if (!isCount(layer, 0) || layer >= this.layers) {
      throw new RangeError(
        `KvCache.${op}: layer must be an integer in [0, ${this.layers}), got ${layer}`,
      );
    }
  }
}

const decodeAttentionNative: KernelImpl = {
  kernelName: DECODE_ATTENTION_KERNEL,
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const { qkv } = inputs;
    const { kCache, vCache, batch, heads, headDim, capacity, position, scale } = attrs;
    if (!native?.decodeAttention || !qkv || qkv.dtype !== 'float32') return null;
    if (!(kCache instanceof Float32Array) || !(vCache instanceof Float32Array)) return null;
    if (![batch, heads, headDim, capacity, position].every((x) => isCount(x, 0))) return null;
    if (typeof scale !== 'number') return null;
    const d = (heads as number) * (headDim as number);
    const y = host.alloc([...qkv.shape.slice(0, -1), d], 'float32');
    native.decodeAttention(
      f32(host, qkv),
      kCache,
      vCache,
      f32(host, y),
      batch as number,
      heads as number,
      headDim as number,
      capacity as number,
      position as number,
      scale,
    );
    return y;
  },
};

export const decodeAttentionNativeKernels: KernelImpl[] = [decodeAttentionNative];

/** Whether `decodeAttention` runs on the active backend (installKernels registered it: the addon). */
export function decodeAttentionSupported(): boolean {
  return kernelsRegistered(DECODE_ATTENTION_KERNEL);
}

/**
 * Attention of one new position per sequence against `cache`: `qkv` [..., 3d] holds each row's
 * query, key and value (d = heads * headDim columns each, heads side by side; the rows' count,
 * the product of the leading dims, is `cache.batch`). Writes the keys and values into `layer` of
 * the cache at `position` (positions [0, position) must be there already), then returns
 * y [..., d], per head softmax(scale q K[0..position]^T) V[0..position]. `scale` defaults to
 * 1 / sqrt(headDim) (pass 1 when q already carries it). Only where `decodeAttentionSupported()`.
 */
export function decodeAttention(
  qkv: tf.Tensor,
  cache: KvCache,
  layer: number,
  position: number,
  scale?: number,
): tf.Tensor {
  const op = 'decodeAttention';
  requireFloat32(op, 'qkv', qkv);
  if (!(cache instanceof KvCache)) throw new TypeError(`${op}: cache must be a KvCache`);
  const { batch, heads, headDim, capacity } = cache;
  const d = heads * headDim;
  if (qkv.rank < 1 || qkv.shape[qkv.rank - 1] !== 3 * d || qkv.size !== batch * 3 * d) {
    throw new RangeError(
      `${op}: qkv [${qkv.shape}] must be [..., ${3 * d}] with ${batch} rows (the cache's batch)`,
    );
  }
  const filled = cache.positions(layer);
  if (!isCount(position, 0) || position > filled || position >= capacity) {
    throw new RangeError(
      `${op}: position must be an integer in [0, ${Math.min(filled, capacity - 1)}] (layer ${layer} holds ${filled} of ${capacity} positions), got ${position}`,
    );
  }
  const s = scale ?? 1 / Math.sqrt(headDim);
  if (typeof s !== 'number' || !Number.isFinite(s)) {
    throw new RangeError(`${op}: scale must be a finite number, got ${String(scale)}`);
  }
  if (!decodeAttentionSupported()) {
    throw new Error(
      `${op}: kernel ${DECODE_ATTENTION_KERNEL} is not registered on backend '${tf.getBackend()}' (installKernels with the native addon); check decodeAttentionSupported() first`,
    );
  }
  const attrs = {
    kCache: cache.keys[layer],
    vCache: cache.values[layer],
    batch,
    heads,
    headDim,
    capacity,
    position,
    scale: s,
  } as unknown as tf.NamedAttrMap;
  const y = tf.engine().runKernel(DECODE_ATTENTION_KERNEL, { qkv }, attrs) as tf.Tensor;
  cache.markWritten(layer, position + 1);
  return y;
}
