// Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter (NHWC) as im2col + SGEMM in the addon, plus
// a pure-JS Conv2DBackpropFilter for wasm (which has none) and for cpu (whose own is ~0.01 GFLOP/s).
import { f32 } from '../host';
import { biasActivation, checkEpilogue } from './fused_mat_mul';
import type { KernelCall, KernelImpl } from './types';

type Conv2DInfo = ReturnType<KernelCall['tf']['backend_util']['computeConv2DInfo']>;

/** [n, h, w, ci, fh, fw, co, oh, ow, sh, sw, padTop, padLeft, dh, dw] for the addon. */
export function convParams(ci: Conv2DInfo): Int32Array {
  return Int32Array.from([
    ci.batchSize,
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.filterHeight,
    ci.filterWidth,
    ci.outChannels,
    ci.outHeight,
    ci.outWidth,
    ci.strideHeight,
    ci.strideWidth,
    ci.padInfo.top,
    ci.padInfo.left,
    ci.dilationHeight,
    ci.dilationWidth,
  ]);
}

function isChannelsLast(attrs: Record<string, unknown>): boolean {
  const f = attrs.dataFormat;
  return f === undefined || f === null || f === 'NHWC' || f === 'channelsLast';
}

type Pad = Parameters<KernelCall['tf']['backend_util']['computeConv2DInfo']>[4];
type Rounding = Parameters<KernelCall['tf']['backend_util']['computeConv2DInfo']>[5];

function convInfo(
  call: KernelCall,
  xShape: number[],
  filterShape: number[],
  dilations: unknown,
): Conv2DInfo | null {
  const { attrs, tf } = call;
  if (!isChannelsLast(attrs) || xShape.length !== 4 || filterShape.length !== 4) return null;
  try {
    return tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides as [number, number] | number,
      (dilations ?? 1) as [number, number] | number,
      attrs.pad as Pad,
      attrs.dimRoundingMode as Rounding,
      false,
      'channelsLast',
    );
  } catch {
    return null; // let the stock kernel raise its own error
  }
}

export const conv2dNative: KernelImpl = {
  kernelName: 'Conv2D',
  kind: 'native',
  coerceStorage: true,
  run(call) {
    const { x, filter } = call.inputs;
    const { native, host } = call;
    if (!native || !x || !filter || x.dtype !== 'float32' || filter.dtype !== 'float32')
      return null;
    const info = convInfo(call, x.shape, filter.shape, call.attrs.dilations);
    if (!info) return null;
    const out = host.alloc(info.outShape, 'float32');
    native.conv2d(f32(host, x), f32(host, filter), f32(host, out), convParams(info));
    return out;
  },
};

/** FusedConv2D (tfjs-layers Conv2D, tf.fused.conv2d): native conv + bias/activation epilogue. */
export const fusedConv2dNative: KernelImpl = {
  kernelName: 'FusedConv2D',
  kind: 'native',
  coerceStorage: true,
  run(call) {
    const { x, filter, bias, preluActivationWeights: prelu } = call.inputs;
    const { native, host, attrs } = call;
    if (!native || !x || !filter || x.dtype !== 'float32' || filter.dtype !== 'float32')
      return null;
    const info = convInfo(call, x.shape, filter.shape, attrs.dilations);
    if (!info) return null;
    const activation = checkEpilogue(call.inputs, attrs, info.outChannels);
    if (!activation) return null;
    const out = host.alloc(info.outShape, 'float32');
    if (
      native.conv2dBias === true &&
      activation === 'linear' &&
      bias &&
      bias.shape.length === 1 &&
      bias.shape[0] === info.outChannels
    ) {
      // the addon adds the bias to each block of outputs while it is in cache (no JS pass)
      native.conv2d(
        f32(host, x),
        f32(host, filter),
        f32(host, out),
        convParams(info),
        f32(host, bias),
      );
      return out;
    }
    native.conv2d(f32(host, x), f32(host, filter), f32(host, out), convParams(info));
    biasActivation(
      f32(host, out),
      bias ? f32(host, bias) : null,
      activation,
      Number(attrs.leakyreluAlpha ?? 0.2),
      prelu && activation === 'prelu' ? f32(host, prelu) : null,
    );
    return out;
  },
};

export const conv2dBackpropInputNative: KernelImpl = {
  kernelName: 'Conv2DBackpropInput',
  kind: 'native',
  coerceStorage: true,
  run(call) {
    const { dy, filter } = call.inputs;
    const { native, host } = call;
    if (!native || !dy || !filter || dy.dtype !== 'float32' || filter.dtype !== 'float32') {
      return null;
    }
    const inputShape = call.attrs.inputShape as number[] | undefined;
    if (!inputShape) return null;
    const info = convInfo(call, inputShape, filter.shape, 1);
    if (!info || !sameShape(info.outShape, dy.shape)) return null;
    const out = host.alloc(info.inShape, 'float32');
    native.conv2dBackpropInput(f32(host, dy), f32(host, filter), f32(host, out), convParams(info));
    return out;
  },
};

export const conv2dBackpropFilterNative: KernelImpl = {
  kernelName: 'Conv2DBackpropFilter',
  kind: 'native',
  coerceStorage: true,
  run(call) {
    const { x, dy } = call.inputs;
    const { native, host } = call;
    if (!native || !x || !dy || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
    const filterShape = call.attrs.filterShape as number[] | undefined;
    if (!filterShape) return null;
    const info = convInfo(call, x.shape, filterShape, 1);
    if (!info || !sameShape(info.outShape, dy.shape)) return null;
    const out = host.alloc(filterShape, 'float32');
    native.conv2dBackpropFilter(f32(host, x), f32(host, dy), f32(host, out), convParams(info));
    return out;
  },
};

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * dW[ky, kx, c, o] = sum over (b, oy, ox) of x[b, iy, ix, c] * dy[b, oy, ox, o], written as rank-1
 * updates of contiguous [co] rows so the inner loop is a unit-stride axpy.
 */
export function conv2dBackpropFilterJs(
  info: Conv2DInfo,
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dwl } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  dw.fill(0);
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
            const xOff = ((b * h + iy) * w + ix) * ci;
            const wOff = (ky * fw + kx) * ci * co;
            for (let c = 0; c < ci; c++) {
              const xv = x[xOff + c];
              if (xv === 0) continue;
              const row = wOff + c * co;
              for (let o = 0; o < co; o++) dw[row + o] += xv * dy[dyOff + o];
            }
          }
        }
      }
    }
  }
}

export const conv2dBackpropFilterJsKernel: KernelImpl = {
  kernelName: 'Conv2DBackpropFilter',
  kind: 'js',
  coerceStorage: true,
  run(call) {
    const { x, dy } = call.inputs;
    const { host } = call;
    if (!x || !dy || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
    const filterShape = call.attrs.filterShape as number[] | undefined;
    if (!filterShape) return null;
    const info = convInfo(call, x.shape, filterShape, 1);
    if (!info || !sameShape(info.outShape, dy.shape)) return null;
    const out = host.alloc(filterShape, 'float32');
    conv2dBackpropFilterJs(info, f32(host, x), f32(host, dy), f32(host, out));
    return out;
  },
};
