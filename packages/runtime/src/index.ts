/**
 * @artist-ts/runtime: what every model package uses instead of touching backends or files directly.
 */

export * from '@artist-ts/core/checkpoint-files';
export * from '@artist-ts/core/files';
export { RNG_ALGORITHM, Rng, type RngState } from '@artist-ts/core/rng';
export * from '@artist-ts/core/trainer-state';
export {
  type MisShapedWeight,
  matchWeights,
  type WeightMatch,
  WeightMismatchError,
} from '@artist-ts/core/weight-match';
export {
  BACKEND_REQUESTS,
  type BackendName,
  type BackendRequest,
  DEFAULT_RUNTIME_OPTIONS,
  describeRuntime,
  deviceOf,
  explainWasmAbort,
  initRuntime,
  type RuntimeInfo,
  type RuntimeOptions,
  runtimeInfo,
  validateRuntimeOptions,
  WASM_HEAP_BYTES,
  WasmHeapExhaustedError,
} from './backend';
export {
  type AssignWeightsOptions,
  assignWeights,
  deferredTensor,
  type LoadedTensorCheckpoint,
  loadCheckpoint,
  type NamedTensor,
  type NamedTensors,
  type OptimizerLike,
  rawToTensor,
  readStoredTensor,
  restoreOptimizer,
  type SaveCheckpointInput,
  saveCheckpoint,
  tensorToRaw,
} from './checkpoint';
export * from './fused_ops';
export { randomNormalTensor, randomUniformTensor } from './init';
export { leanVariableGrads } from './lean_gradients';
export { linearSoftmaxCrossEntropy, sparseSoftmaxCrossEntropy } from './losses';
export {
  AdamW,
  type AdamWConfig,
  clipByGlobalNorm,
  clipScale,
  DEFAULT_ADAMW_CONFIG,
  globalNorm,
  validateAdamWConfig,
} from './optim';
export { recomputed } from './recompute';
export { runSelfCheck, type SelfCheckReport } from './self_check';
