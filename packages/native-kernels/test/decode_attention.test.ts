// decodeAttention against a KvCache: the kernel's outputs and cache writes over several decoded
// positions against a float64 reference of softmax(scale q K^T) V per head, on cpu and wasm; equal
// results for 1 and 2 threads; argument errors; no leaks; unavailable without the addon.
import {
  DECODE_ATTENTION_KERNEL,
  decodeAttention,
  decodeAttentionSupported,
  type InstallKernelsOptions,
  installKernels,
  KvCache,
  nativeAvailable,
  uninstallKernels,
} from '../src';
import { BACKENDS, expectClose, expectNoLeaks, randArray, seeded, tf, useBackend } from './helpers';

const NATIVE = nativeAvailable().ok;

interface Case {
  batch: number;
  heads: number;
  hd: number;
  capacity: number;
  prefix: number;
  steps: number;
  scale?: number;
}

// hd a multiple of 8 and not; an empty prefix; the last step at the last position; > 1 pool chunk
const CASES: Case[] = [
  { batch: 1, heads: 1, hd: 8, capacity: 3, prefix: 0, steps: 3 },
  { batch: 2, heads: 3, hd: 5, capacity: 9, prefix: 4, steps: 5, scale: 0.7 },
  { batch: 4, heads: 2, hd: 16, capacity: 40, prefix: 33, steps: 3 },
  { batch: 3, heads: 4, hd: 12, capacity: 12, prefix: 1, steps: 6 },
];

/** y [batch, heads * hd] per head softmax(scale q K^T) V over positions [0, n), in float64. */
function reference(
  q: Float32Array, // [batch, heads * hd] (the q part of each qkv row)
  K: Float32Array, // [batch, heads, capacity, hd]
  V: Float32Array,
  c: Case,
  n: number,
  scale: number,
): Float64Array {
  const d = c.heads * c.hd;
  const y = new Float64Array(c.batch * d);
  for (let b = 0; b < c.batch; b++) {
    for (let h = 0; h < c.heads; h++) {
      const base = (b * c.heads + h) * c.capacity * c.hd;
      const s = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let k = 0; k < c.hd; k++) dot += q[b * d + h * c.hd + k]! * K[base + j * c.hd + k]!;
        s[j] = scale * dot;
      }
      const m = Math.max(...s);
      let total = 0;
      for (let j = 0; j < n; j++) total += s[j] = Math.exp(s[j]! - m);
      for (let j = 0; j < n; j++) {
        for (let k = 0; k < c.hd; k++) {
          y[b * d + h * c.hd + k] += (s[j]! / total) * V[base + j * c.hd + k]!;
        }
      }
    }
  }
  return y;
}

/** Runs a case on layer 1 of a 2-layer cache; returns each step's y and the final cache. */
function run(c: Case, seed: number): { ys: Float32Array[]; cache: KvCache; qkvs: Float32Array[] } {
  const rand = seeded(seed);
  const d = c.heads * c.hd;
  const cache = new KvCache(2, c.batch, c.heads, c.hd, c.capacity);
  const pre = c.batch * c.heads * c.prefix * c.hd;
  cache.setPrefix(1, randArray(rand, pre), randArray(rand, pre), c.prefix);
  const ys: Float32Array[] = [];
  const qkvs: Float32Array[] = [];
  for (let s = 0; s < c.steps; s++) {
    const qkv = randArray(rand, c.batch * 3 * d, -2, 2);
    qkvs.push(qkv);
    const y = tf.tidy(() =>
      decodeAttention(tf.tensor3d(qkv, [1, c.batch, 3 * d]), cache, 1, c.prefix + s, c.scale),
    );
    expect(y.shape).toEqual([1, c.batch, d]);
    ys.push(Float32Array.from(y.dataSync()));
    y.dispose();
  }
  return { ys, cache, qkvs };
}

describe.each(BACKENDS)('decodeAttention on %s', (backend) => {
  const options: InstallKernelsOptions = { native: true, threads: 2, parallelThreshold: 0 };
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend, options);
  });
  afterAll(() => uninstallKernels(tf, backend));

  it(`is supported exactly when the addon is available (${NATIVE})`, () => {
    expect(decodeAttentionSupported()).toBe(NATIVE);
    expect(tf.getKernel(DECODE_ATTENTION_KERNEL, backend) !== undefined).toBe(NATIVE);
  });

  (NATIVE ? it : it.skip).each(CASES)(
    'b $batch, h $heads, hd $hd, prefix $prefix + $steps steps: outputs and cache writes',
    (c) => {
      const { ys, cache, qkvs } = run(c, 7 + c.hd);
      const d = c.heads * c.hd;
      const scale = c.scale ?? 1 / Math.sqrt(c.hd);
      expect(cache.positions(1)).toBe(c.prefix + c.steps);
      expect(cache.positions(0)).toBe(0);
      const K = cache.keys[1]!;
      const V = cache.values[1]!;
      for (let s = 0; s < c.steps; s++) {
        const pos = c.prefix + s;
        const q = new Float32Array(c.batch * d);
        for (let b = 0; b < c.batch; b++) {
          q.set(qkvs[s]!.subarray(b * 3 * d, b * 3 * d + d), b * d);
          for (let h = 0; h < c.heads; h++) {
            const at = ((b * c.heads + h) * c.capacity + pos) * c.hd;
            const src = b * 3 * d + h * c.hd;
            // the kernel wrote this row's k and v at `pos`
            expect(Array.from(K.subarray(at, at + c.hd))).toEqual(
              Array.from(qkvs[s]!.subarray(src + d, src + d + c.hd)),
            );
            expect(Array.from(V.subarray(at, at + c.hd))).toEqual(
              Array.from(qkvs[s]!.subarray(src + 2 * d, src + 2 * d + c.hd)),
            );
          }
        }
        // later steps write later positions only, so the final cache serves every step's reference
        expectClose(ys[s]!, reference(q, K, V, c, pos + 1, scale), 2e-6);
      }
    },
  );

  (NATIVE ? it : it.skip)('gives the same bits on 1 and 2 threads', () => {
    const c = CASES[2]!;
    installKernels(tf, backend, { ...options, threads: 1 });
    const one = run(c, 3).ys;
    installKernels(tf, backend, options);
    const two = run(c, 3).ys;
    expect(two).toEqual(one);
  });

  (NATIVE ? it : it.skip)('errors name the argument', () => {
    const cache = new KvCache(1, 2, 2, 4, 5);
    const qkv = tf.zeros([2, 24]);
    try {
      expect(() => decodeAttention(qkv, cache, 0, 1)).toThrow(
        /position must be an integer in \[0, 0\]/,
      );
      expect(() => decodeAttention(qkv, cache, 1, 0)).toThrow(
        /layer must be an integer in \[0, 1\)/,
      );
      expect(() => decodeAttention(tf.zeros([3, 24]), cache, 0, 0)).toThrow(/qkv \[3,24\].*2 rows/);
      expect(() => decodeAttention(qkv, {} as KvCache, 0, 0)).toThrow(/cache must be a KvCache/);
      expect(() => decodeAttention(qkv, cache, 0, 0, Number.NaN)).toThrow(/scale/);
      expect(() => new KvCache(1, 0, 2, 4, 5)).toThrow(/batch must be a positive integer/);
      expect(() => cache.setPrefix(0, new Float32Array(3), new Float32Array(3), 1)).toThrow(
        /k has 3 elements, expected \[2, 2, 1, 4\] = 16/,
      );
      expect(() => cache.setPrefix(0, new Float32Array(0), new Float32Array(0), 6)).toThrow(
        /p must be an integer in \[0, 5\]/,
      );
    } finally {
      qkv.dispose();
    }
  });

  (NATIVE ? it : it.skip)('leaks nothing', () => {
    const cache = new KvCache(1, 2, 2, 8, 4);
    expectNoLeaks(() => {
      const qkv = tf.ones([2, 48]);
      decodeAttention(qkv, cache, 0, 0).dispose();
      qkv.dispose();
    });
  });

  it('throws where the kernel is not registered', () => {
    uninstallKernels(tf, backend);
    try {
      expect(decodeAttentionSupported()).toBe(false);
      const qkv = tf.zeros([1, 6]);
      expect(() => decodeAttention(qkv, new KvCache(1, 1, 1, 2, 2), 0, 0)).toThrow(
        /not registered on backend/,
      );
      qkv.dispose();
    } finally {
      installKernels(tf, backend, options);
    }
  });
});
