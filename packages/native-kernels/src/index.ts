// @artist-ts/native-kernels: BLAS-backed and JS kernel overrides for the tfjs cpu and wasm backends.
// Importing this module registers nothing; call installKernels(tf, backendName) after setBackend.
export {
  BLAS_THREADS_ENV,
  type BlasInfo,
  blasInfo,
  DISABLE_NATIVE_ENV,
  type NativeAvailability,
  nativeAvailable,
  nativeDisabledByEnv,
  setBlasThreads,
} from './addon';
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
export { ADAM_UPDATE_KERNEL, ADAMW_UPDATE_KERNEL, createFusedAdam } from './kernels/adam';
export {
  SPARSE_XENT_GRAD_KERNEL,
  SPARSE_XENT_KERNEL,
  type SparseXentReduction,
  sparseSoftmaxCrossEntropy,
} from './kernels/sparse_softmax_cross_entropy';
