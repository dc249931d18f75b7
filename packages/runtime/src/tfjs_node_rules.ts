/**
 * The rules @tensorflow/tfjs-node 4.22 enforces on kernel calls, as written in its kernel sources
 * (tfjs-node/src/kernels/*.ts and register_all_kernels.ts), so that a model can be checked on cpu
 * or wasm for what would fail on the `tensorflow` backend (a GPU machine) without one:
 * - only the kernels it registers exist (no custom kernels; none of tfjs-backend-cpu's extras such
 *   as SearchSorted or SparseSegmentSum);
 * - convolutions and pools hand their padding to TensorFlow as a string: 'VALID' or 'SAME', plus
 *   'EXPLICIT' (with explicit_paddings) for the forward Conv2D and depthwise convolutions only.
 *   A numeric pad other than 0 ('NUMBER') is rejected everywhere, explicit pads are rejected by
 *   Conv2DBackpropInput / Conv2DBackpropFilter (conv2dTranspose and every conv gradient), the
 *   depthwise gradients, the pools and the 3-D ops;
 * - `dimRoundingMode` is dropped (TensorFlow computes its own output size), so it only matters
 *   with a numeric pad, which is already rejected;
 * - FusedConv2D takes NHWC only; the conv gradients run in float32 only (T is fixed);
 * - the fused ops (_FusedMatMul, FusedConv2D, FusedDepthwiseConv2D) apply only the activations
 *   its applyActivation knows: linear, relu, prelu, leakyrelu, elu, relu6, sigmoid;
 * - Conv3D and its gradients reject a depth dilation above 1 on the CPU package;
 * - Multinomial rejects `normalized` probabilities;
 * - GatherV2 throws on an index outside [0, size of the gathered axis).
 * Functions of (kernel name, inputs, attrs) only; kernel_rule_check.ts hooks them into the engine.
 */
import * as tf from '@tensorflow/tfjs';

/** The tfjs-node release whose kernel sources these rules were read from. */
export const TFJS_NODE_RULES_VERSION = '4.22.0';

/** Every kernel tfjs-node 4.22 registers for the `tensorflow` backend. */
export const TFJS_NODE_KERNELS: ReadonlySet<string> = new Set([
  'Abs',
  'Acos',
  'Acosh',
  'Add',
  'AddN',
  'All',
  'Any',
  'ArgMax',
  'ArgMin',
  'Asin',
  'Asinh',
  'Atan',
  'Atan2',
  'Atanh',
  'AvgPool',
  'AvgPool3D',
  'AvgPool3DGrad',
  'AvgPoolGrad',
  'BatchMatMul',
  'BatchToSpaceND',
  'Bincount',
  'BroadcastArgs',
  'Cast',
  'Ceil',
  'ClipByValue',
  'Complex',
  'ComplexAbs',
  'Concat',
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'Conv3D',
  'Conv3DBackpropFilterV2',
  'Conv3DBackpropInputV2',
  'Cos',
  'Cosh',
  'CropAndResize',
  'Cumprod',
  'Cumsum',
  'DepthToSpace',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Diag',
  'Dilation2D',
  'Dilation2DBackpropFilter',
  'Dilation2DBackpropInput',
  'Einsum',
  'Elu',
  'EluGrad',
  'Equal',
  'Erf',
  'Exp',
  'ExpandDims',
  'Expm1',
  'FFT',
  'Fill',
  'FlipLeftRight',
  'Floor',
  'FloorDiv',
  'FusedBatchNorm',
  'FusedConv2D',
  'FusedDepthwiseConv2D',
  'GatherNd',
  'GatherV2',
  'Greater',
  'GreaterEqual',
  'IFFT',
  'Identity',
  'Imag',
  'IsFinite',
  'IsInf',
  'IsNan',
  'LRN',
  'LRNGrad',
  'LeakyRelu',
  'Less',
  'LessEqual',
  'LinSpace',
  'Log',
  'Log1p',
  'LogicalAnd',
  'LogicalNot',
  'LogicalOr',
  'Max',
  'MaxPool',
  'MaxPool3D',
  'MaxPool3DGrad',
  'MaxPoolGrad',
  'Maximum',
  'Mean',
  'Min',
  'Minimum',
  'MirrorPad',
  'Mod',
  'Multinomial',
  'Multiply',
  'Neg',
  'NonMaxSuppressionV3',
  'NonMaxSuppressionV4',
  'NonMaxSuppressionV5',
  'NotEqual',
  'OneHot',
  'OnesLike',
  'Pack',
  'PadV2',
  'Pow',
  'Prelu',
  'Prod',
  'Range',
  'Real',
  'RealDiv',
  'Reciprocal',
  'Relu',
  'Relu6',
  'Reshape',
  'ResizeBilinear',
  'ResizeBilinearGrad',
  'ResizeNearestNeighbor',
  'ResizeNearestNeighborGrad',
  'Reverse',
  'Round',
  'Rsqrt',
  'ScatterNd',
  'Select',
  'Selu',
  'Sigmoid',
  'Sign',
  'Sin',
  'Sinh',
  'Slice',
  'Softmax',
  'Softplus',
  'SpaceToBatchND',
  'SparseToDense',
  'SplitV',
  'Sqrt',
  'Square',
  'SquaredDifference',
  'StaticRegexReplace',
  'Step',
  'StridedSlice',
  'Sub',
  'Sum',
  'Tan',
  'Tanh',
  'TensorScatterUpdate',
  'Tile',
  'TopK',
  'Transpose',
  'Unique',
  'Unpack',
  'UnsortedSegmentSum',
  'ZerosLike',
  '_FusedMatMul',
]);

/** One call tfjs-node would reject, naming the kernel and the attribute (or input) at fault. */
export interface KernelRuleViolation {
  kernel: string;
  /** The attribute or input at fault ('(kernel)' when the kernel itself does not exist). */
  attribute: string;
  /** What tfjs-node accepts, and what was passed. */
  rule: string;
}

type Attrs = Record<string, unknown>;
type Inputs = Record<string, tf.TensorInfo | undefined>;

/** tfjs-core's padInfo.type for a `pad` attribute (conv_util getPadAndOutInfo). */
export function padType(pad: unknown): 'VALID' | 'SAME' | 'NUMBER' | 'EXPLICIT' | 'UNKNOWN' {
  if (pad === 'same') return 'SAME';
  if (pad === 'valid') return 'VALID';
  if (typeof pad === 'number') return pad === 0 ? 'VALID' : 'NUMBER';
  if (Array.isArray(pad)) {
    const flat = (pad as unknown[]).flat(2) as number[];
    return flat.every((p) => p === 0) ? 'VALID' : 'EXPLICIT';
  }
  return 'UNKNOWN';
}

const EXPLICIT_OK = new Set([
  'Conv2D',
  'FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2D',
]);

const STRING_PAD_ONLY = new Set([
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'AvgPool',
  'AvgPoolGrad',
  'MaxPool',
  'MaxPoolGrad',
  'AvgPool3D',
  'AvgPool3DGrad',
  'MaxPool3D',
  'MaxPool3DGrad',
  'Conv3D',
  'Conv3DBackpropInputV2',
  'Conv3DBackpropFilterV2',
  'Dilation2D',
  'Dilation2DBackpropInput',
  'Dilation2DBackpropFilter',
]);

const FLOAT32_ONLY = new Set([
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
]);

const FUSED = new Set(['_FusedMatMul', 'FusedConv2D', 'FusedDepthwiseConv2D']);
const ACTIVATIONS = new Set(['linear', 'relu', 'prelu', 'leakyrelu', 'elu', 'relu6', 'sigmoid']);

const CONV3D = new Set(['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2']);

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

function padRules(kernel: string, attrs: Attrs, out: KernelRuleViolation[]): void {
  const explicitOk = EXPLICIT_OK.has(kernel);
  if (!explicitOk && !STRING_PAD_ONLY.has(kernel)) return;
  const type = padType(attrs.pad);
  const allowed = explicitOk ? ['VALID', 'SAME', 'EXPLICIT'] : ['VALID', 'SAME'];
  if (!allowed.includes(type)) {
    out.push({
      kernel,
      attribute: 'pad',
      rule: `tfjs-node accepts ${explicitOk ? "'valid', 'same' or explicit [[0,0],[t,b],[l,r],[0,0]] pads" : "'valid' or 'same' only (pad first with tf.pad)"}; got ${show(attrs.pad)} (${type})`,
    });
  }
  if (attrs.dimRoundingMode != null && typeof attrs.pad === 'number' && attrs.pad !== 0) {
    out.push({
      kernel,
      attribute: 'dimRoundingMode',
      rule: `tfjs-node ignores dimRoundingMode (TensorFlow computes its own output size); got ${show(attrs.dimRoundingMode)} with numeric pad ${attrs.pad}`,
    });
  }
}

/** Every rule of tfjs-node 4.22 that this call breaks (empty when it would run there). */
export function tfjsNodeViolations(
  kernel: string,
  inputs: Inputs,
  attrs: Attrs = {},
): KernelRuleViolation[] {
  const out: KernelRuleViolation[] = [];
  if (!TFJS_NODE_KERNELS.has(kernel)) {
    out.push({
      kernel,
      attribute: '(kernel)',
      rule: `not registered by tfjs-node ${TFJS_NODE_RULES_VERSION}: a custom or cpu-only kernel needs a stock fallback`,
    });
    return out;
  }
  padRules(kernel, attrs, out);
  if (kernel === 'FusedConv2D' && attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    out.push({
      kernel,
      attribute: 'dataFormat',
      rule: `tfjs-node's FusedConv2D takes 'NHWC' only; got ${show(attrs.dataFormat)}`,
    });
  }
  if (
    FUSED.has(kernel) &&
    attrs.activation != null &&
    !ACTIVATIONS.has(attrs.activation as string)
  ) {
    out.push({
      kernel,
      attribute: 'activation',
      rule: `tfjs-node applies ${[...ACTIVATIONS].join(', ')} only; got ${show(attrs.activation)}`,
    });
  }
  if (FLOAT32_ONLY.has(kernel)) {
    for (const [name, t] of Object.entries(inputs)) {
      if (t && t.dtype !== 'float32') {
        out.push({
          kernel,
          attribute: name,
          rule: `tfjs-node runs ${kernel} in float32 only (T is fixed); input '${name}' is ${t.dtype}`,
        });
      }
    }
  }
  if (CONV3D.has(kernel)) {
    const d = attrs.dilations;
    const depth = typeof d === 'number' ? d : Array.isArray(d) ? (d[0] as number) : 1;
    if (depth > 1) {
      out.push({
        kernel,
        attribute: 'dilations',
        rule: `tfjs-node (CPU package) requires a depth dilation of 1; got ${show(d)}`,
      });
    }
  }
  if (kernel === 'Multinomial' && attrs.normalized === true) {
    out.push({
      kernel,
      attribute: 'normalized',
      rule: 'tfjs-node does not support normalized probabilities: pass logits',
    });
  }
  if (kernel === 'GatherV2') gatherRule(inputs, attrs, out);
  return out;
}

function gatherRule(inputs: Inputs, attrs: Attrs, out: KernelRuleViolation[]): void {
  const x = inputs.x;
  const indices = inputs.indices;
  if (!x || !indices) return;
  const rank = x.shape.length;
  const axis =
    ((attrs.axis as number) ?? 0) < 0 ? (attrs.axis as number) + rank : (attrs.axis as number);
  const size = x.shape[axis ?? 0] ?? 0;
  const values = tf.engine().readSync(indices.dataId) as ArrayLike<number>;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v <= size - 1)) {
      out.push({
        kernel: 'GatherV2',
        attribute: 'indices',
        rule: `tfjs-node throws on an index outside [0, ${size - 1}]; got ${v} at position ${i}`,
      });
      return;
    }
  }
}
