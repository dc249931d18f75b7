// UnsortedSegmentSum (the gradient of gather, i.e. of every embedding table) as an O(N * D)
// scatter-add (in the addon when it is loaded, else JS). wasm has no such kernel; cpu's builds one mask per segment (O(S * N * D) time and
// memory). Ids outside [0, numSegments) are dropped, as in TensorFlow.
import { f32 } from '../host';
import type { KernelImpl } from './types';

export function unsortedSegmentSumJs(
  x: Float32Array | Int32Array,
  ids: Int32Array | Float32Array,
  numSegments: number,
  inner: number,
  out: Float32Array | Int32Array,
): void {
  out.fill(0);
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

export const unsortedSegmentSumKernel: KernelImpl = {
  kernelName: 'UnsortedSegmentSum',
  kind: 'js',
  coerceStorage: true,
  run({ inputs, attrs, host, native }) {
    const { x, segmentIds } = inputs;
    if (!x || !segmentIds) return null;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
    if (segmentIds.dtype !== 'int32' && segmentIds.dtype !== 'float32') return null;
    const numSegments = Number(attrs.numSegments);
    if (!Number.isInteger(numSegments) || numSegments < 0) return null;
    const idRank = segmentIds.shape.length;
    // segment ids index the leading dims of x
    if (idRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) return null;
    const innerShape = x.shape.slice(idRank);
    const inner = innerShape.reduce((a, b) => a * b, 1);
    const out = host.alloc([numSegments, ...innerShape], x.dtype);
    const ids = host.view(segmentIds);
    if (
      native &&
      x.dtype === 'float32' &&
      Object.prototype.toString.call(ids) === '[object Int32Array]'
    ) {
      const n = ids.length;
      native.segmentSum(f32(host, x), ids as Int32Array, f32(host, out), n, numSegments, inner);
      return out;
    }
    unsortedSegmentSumJs(host.view(x), ids, numSegments, inner, host.view(out));
    return out;
  },
};
