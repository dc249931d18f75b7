// @artist-ts/native-kernels: BLAS-backed and JS kernel overrides for the tfjs cpu and wasm backends.
// Importing this module registers nothing; call installKernels(tf, backendName) after setBackend.
export {
  BLAS_THREADS_ENV,
  type BlasInfo,
  blasInfo,
  DISABLE_NATIVE_ENV,
  GEMM_ENV,
  type GemmChoice,
  memoryReadBandwidth,
  NATIVE_ADDON_ENV,
  type NativeAvailability,
  nativeAvailable,
  nativeDisabledByEnv,
  setBlasThreads,
  useGemm,
} from './addon';
export { type Host, type HostName, hostFor } from './host';
export {
  DEFAULT_INSTALL_KERNELS_OPTIONS,
  formatInstallReport,
  type InstallKernelsOptions,
  installKernels,
  type KernelBackendName,
  type KernelInstallReport,
  TRAINING_KERNELS,
  uninstallKernels,
  validateInstallKernelsOptions,
} from './install_kernels';
export { ADAMW_UPDATE_KERNEL } from './kernels/adamw';
export {
  CAUSAL_ATTENTION_GRAD_KERNEL,
  CAUSAL_ATTENTION_KERNEL,
  causalSelfAttention,
} from './kernels/causal_attention';
export {
  DECODE_ATTENTION_KERNEL,
  decodeAttention,
  decodeAttentionSupported,
  KvCache,
} from './kernels/decode_attention';
export { FUSED_OP_KERNELS } from './kernels/fused_ops';
export { fusedGelu, GELU_GRAD_KERNEL, GELU_KERNEL, type GeluApproximate } from './kernels/gelu';
export { GROUP_NORM_KERNEL } from './kernels/group_norm';
export { fusedLayerNorm, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from './kernels/layer_norm';
export {
  SPARSE_XENT_GRAD_KERNEL,
  SPARSE_XENT_KERNEL,
  type SparseXentReduction,
  sparseSoftmaxCrossEntropy,
} from './kernels/sparse_softmax_cross_entropy';
export { adviseHugePages } from './memory_advice';
