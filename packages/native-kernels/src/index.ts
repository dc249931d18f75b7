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
