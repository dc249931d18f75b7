// ResizeNearestNeighborGrad as the exact adjoint of the forward kernel: every dy pixel is added to
// the input pixel the forward pass copied it from (same alignCorners / halfPixelCenters rules).
// Replaces the tfjs-backend-cpu 4.22 kernel, which indexes dy with the image batch offset (wrong
// for batch > 1) and ignores halfPixelCenters, and the wasm one, which also ignores
// halfPixelCenters and is several times slower than these loops. With the addon, the gradient and
// the forward resize run natively on the same source-index maps (split across the pool by image).
import type { NativeAddon } from '../addon';
import { f32 } from '../host';
import type { KernelImpl } from './types';

/** Source index along one axis for output index `o`, as in the forward nearest-neighbour resize. */
export function sourceIndices(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): Int32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const idx = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
    let s = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) s = Math.max(0, s);
    idx[o] = s;
  }
  return idx;
}

export function resizeNearestNeighborGradJs(
  imagesShape: number[],
  dyShape: number[],
  dy: Float32Array,
  dx: Float32Array,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): void {
  const [batch, xh, xw, depth] = imagesShape as [number, number, number, number];
  const [, yh, yw] = dyShape as [number, number, number, number];
  const rows = sourceIndices(xh, yh, alignCorners, halfPixelCenters);
  const cols = sourceIndices(xw, yw, alignCorners, halfPixelCenters);
  dx.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < yh; r++) {
      const dxRow = (b * xh + rows[r]) * xw;
      const dyRow = (b * yh + r) * yw;
      for (let c = 0; c < yw; c++) {
        const d0 = (dxRow + cols[c]) * depth;
        const s0 = (dyRow + c) * depth;
        for (let d = 0; d < depth; d++) dx[d0 + d] += dy[s0 + d];
      }
    }
  }
}

export const resizeNearestNeighborGradKernel: KernelImpl = {
  kernelName: 'ResizeNearestNeighborGrad',
  kind: 'js',
  coerceStorage: true,
  run({ inputs, attrs, host, native }) {
    const { images, dy } = inputs;
    // also on wasm where its kernel is right: it took 10-24 ms for [8, 32, 32, 64], this ~3 ms
    if (!images || !dy || dy.dtype !== 'float32') return null;
    if (images.shape.length !== 4 || dy.shape.length !== 4) return null;
    if (images.shape[0] !== dy.shape[0] || images.shape[3] !== dy.shape[3]) return null;
    const out = host.alloc(images.shape, 'float32');
    const alignCorners = Boolean(attrs.alignCorners);
    const halfPixelCenters = Boolean(attrs.halfPixelCenters);
    if (native?.resizeNearest) {
      const [, yh, yw] = dy.shape as [number, number, number, number];
      resizeNative(native, f32(host, dy), f32(host, out), images.shape, [yh, yw], attrs, true);
      return out;
    }
    const dyv = host.view(dy) as Float32Array;
    resizeNearestNeighborGradJs(
      images.shape,
      dy.shape,
      dyv,
      host.view(out) as Float32Array,
      alignCorners,
      halfPixelCenters,
    );
    return out;
  },
};

/**
 * The addon's resize of `imageShape` images to `outSize` (or, with `grad`, its adjoint from dy
 * into dx), on the source-index maps of the forward op.
 */
function resizeNative(
  native: NativeAddon,
  src: Float32Array,
  dst: Float32Array,
  imageShape: number[],
  outSize: [number, number],
  attrs: Record<string, unknown>,
  grad: boolean,
): void {
  const [batch, xh, xw, depth] = imageShape as [number, number, number, number];
  const [yh, yw] = outSize;
  const alignCorners = Boolean(attrs.alignCorners);
  const halfPixelCenters = Boolean(attrs.halfPixelCenters);
  native.resizeNearest?.(
    src,
    dst,
    batch,
    xh,
    xw,
    yh,
    yw,
    depth,
    sourceIndices(xh, yh, alignCorners, halfPixelCenters),
    sourceIndices(xw, yw, alignCorners, halfPixelCenters),
    grad,
  );
}

/** The forward resize on the addon (stock wasm's took ~0.7 ms for [8, 16, 16, 64] -> 32 x 32). */
export const resizeNearestNeighborNative: KernelImpl = {
  kernelName: 'ResizeNearestNeighbor',
  kind: 'native',
  run({ inputs, attrs, host, native }) {
    const { images } = inputs;
    if (!native?.resizeNearest || !images || images.dtype !== 'float32') return null;
    if (images.shape.length !== 4) return null;
    const [batch, , , depth] = images.shape as [number, number, number, number];
    const [yh, yw] = attrs.size as [number, number];
    const out = host.alloc([batch, yh, yw, depth], 'float32');
    if (batch * yh * yw * depth === 0) return out;
    resizeNative(native, f32(host, images), f32(host, out), images.shape, [yh, yw], attrs, false);
    return out;
  },
};
