/**
 * @artist-ts/runtime: what every model package uses instead of touching backends or files directly.
 */
export {
  BACKEND_REQUESTS,
  type BackendName,
  type BackendRequest,
  DEFAULT_RUNTIME_OPTIONS,
  describeRuntime,
  initRuntime,
  type RuntimeInfo,
  type RuntimeOptions,
  runtimeInfo,
  validateRuntimeOptions,
} from './backend';
export {
  type AssignWeightsOptions,
  assignWeights,
  CheckpointMismatchError,
  type LoadedTensorCheckpoint,
  loadCheckpoint,
  type NamedTensor,
  type NamedTensors,
  type OptimizerLike,
  rawToTensor,
  restoreOptimizer,
  type SaveCheckpointInput,
  saveCheckpoint,
  tensorToRaw,
} from './checkpoint';
export * from './checkpoint_files';
export * from './files';
export { causalSelfAttention, fusedGelu, fusedLayerNorm, type GeluApproximate } from './fused_ops';
export { randomNormalTensor, randomUniformTensor, truncatedNormalTensor } from './init';
export { sparseSoftmaxCrossEntropy } from './losses';
export {
  AdamW,
  type AdamWConfig,
  clipByGlobalNorm,
  DEFAULT_ADAMW_CONFIG,
  validateAdamWConfig,
} from './optim';
export { RNG_ALGORITHM, Rng, type RngState } from './rng';
export { runSelfCheck, type SelfCheckReport } from './self_check';
export * from './trainer_state';
