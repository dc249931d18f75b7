// The two depthwise-conv gradients, which the wasm backend lacks, as direct JS loops (NHWC).
// Filter [fh, fw, ci, cm]; output channel c * cm + q reads input channel c with multiplier q.
import { f32 } from '../host';
import type { KernelCall, KernelImpl } from './types';

type Conv2DInfo = ReturnType<KernelCall['tf']['backend_util']['computeConv2DInfo']>;
type Pad = Parameters<KernelCall['tf']['backend_util']['computeConv2DInfo']>[4];
type Rounding = Parameters<KernelCall['tf']['backend_util']['computeConv2DInfo']>[5];

function depthwiseInfo(
  call: KernelCall,
  xShape: number[],
  filterShape: number[],
): Conv2DInfo | null {
  const { attrs, tf } = call;
  const f = attrs.dataFormat;
  if ((f !== undefined && f !== 'NHWC') || xShape.length !== 4 || filterShape.length !== 4)
    return null;
  try {
    return tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides as [number, number] | number,
      (attrs.dilations ?? 1) as [number, number] | number,
      attrs.pad as Pad,
      attrs.dimRoundingMode as Rounding,
      true,
    );
  } catch {
    return null;
  }
}

/** Visits every (b, oy, ox, ky, kx) whose input pixel lies inside the image. */
function forEachTap(
  info: Conv2DInfo,
  fn: (dyOff: number, xOff: number, wOff: number) => void,
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dwl } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ky = 0; ky < fh; ky++) {
        const iy = oy * sh - pt + ky * dh;
        if (iy < 0 || iy >= h) continue;
        for (let ox = 0; ox < ow; ox++) {
          const dyOff = ((b * oh + oy) * ow + ox) * co;
          for (let kx = 0; kx < fw; kx++) {
            const ix = ox * sw - pl + kx * dwl;
            if (ix < 0 || ix >= w) continue;
            fn(dyOff, ((b * h + iy) * w + ix) * ci, (ky * fw + kx) * co);
          }
        }
      }
    }
  }
}

export const depthwiseBackpropFilterJs: KernelImpl = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  kind: 'js',
  run(call) {
    const { x, dy } = call.inputs;
    const { host } = call;
    const filterShape = call.attrs.filterShape as number[] | undefined;
    if (!x || !dy || !filterShape || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
    const info = depthwiseInfo(call, x.shape, filterShape);
    if (!info) return null;
    const out = host.alloc(filterShape, 'float32');
    const xv = f32(host, x);
    const dyv = f32(host, dy);
    const dw = f32(host, out);
    dw.fill(0);
    const ci = info.inChannels;
    const cm = info.outChannels / ci;
    forEachTap(info, (dyOff, xOff, wOff) => {
      for (let c = 0; c < ci; c++) {
        const xval = xv[xOff + c];
        for (let q = 0; q < cm; q++) dw[wOff + c * cm + q] += xval * dyv[dyOff + c * cm + q];
      }
    });
    return out;
  },
};

export const depthwiseBackpropInputJs: KernelImpl = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  kind: 'js',
  run(call) {
    const { dy, filter } = call.inputs;
    const { host } = call;
    const inputShape = call.attrs.inputShape as number[] | undefined;
    if (!dy || !filter || !inputShape || dy.dtype !== 'float32' || filter.dtype !== 'float32')
      return null;
    const info = depthwiseInfo(call, inputShape, filter.shape);
    if (!info) return null;
    const out = host.alloc(inputShape, 'float32');
    const dyv = f32(host, dy);
    const wv = f32(host, filter);
    const dx = f32(host, out);
    dx.fill(0);
    const ci = info.inChannels;
    const cm = info.outChannels / ci;
    forEachTap(info, (dyOff, xOff, wOff) => {
      for (let c = 0; c < ci; c++) {
        let acc = 0;
        for (let q = 0; q < cm; q++) acc += dyv[dyOff + c * cm + q] * wv[wOff + c * cm + q];
        dx[xOff + c] += acc;
      }
    });
    return out;
  },
};
