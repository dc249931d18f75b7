/**
 * @artist-ts/gpt-knowl: ARTIST's second stage, the knowledge-fused GPT over
 * [text tokens | image codes], with its trainer and KV-cache sampler.
 */

export { leanVariableGrads, WASM_HEAP_BYTES } from '@artist-ts/runtime';
export { abstractExample, type GptExample } from './batch';
export {
  blockSize,
  countParameters,
  DEFAULT_GPT_CONFIG,
  type FusionMode,
  frozenParameters,
  type GptConfig,
  ignoredTorchKeys,
  jointVocabSize,
  type ParamInit,
  type ParamSpec,
  PRESETS,
  type PresetName,
  parameterSpecs,
  validateGptConfig,
} from './config';
export { disposeKnowledge, type KnowledgeTensors, knowledgeTensors } from './fusion';
export {
  buildKnowledge,
  type EasyNlpKnowledge,
  type EntityTable,
  type KnowledgeArrays,
  type LatticeFields,
  type LatticeKnowledge,
} from './knowledge';
export type { LayerCache } from './layers';
export {
  DEFAULT_LORA_CONFIG,
  LORA_TARGETS,
  LoraAdapters,
  type LoraConfig,
  type LoraTarget,
  validateLoraConfig,
} from './lora';
export {
  type ForwardOptions,
  type ForwardResult,
  KnowlGpt,
  type KnowlGptOptions,
  type LossOptions,
} from './model';
export { disposePacked, type PackedWeights } from './packed_inference';
export {
  DEFAULT_SAMPLE_CONFIG,
  type SampleConfig,
  type SampleOptions,
  type SampleProgress,
  type SampleRequest,
  type SampleResult,
  sampleCodes,
  validateSampleConfig,
} from './sampler';
export {
  DEFAULT_TRAIN_CONFIG,
  evaluateLoss,
  type FitOptions,
  type FitResult,
  GptTrainer,
  gptMetadata,
  loadGpt,
  type StepMetrics,
  saveGpt,
  type TrainConfig,
  type TrainerOptions,
  trainSchedule,
  validateTrainConfig,
} from './trainer';
export {
  backendMemoryLimit,
  checkTrainingMemory,
  estimateTrainingMemory,
  fewestRecomputedBlocks,
  HEAD_CHUNK_ROWS,
  largestFittingBatch,
  type MemoryLimit,
  TrainingMemoryError,
  type TrainingMemoryEstimate,
  type TrainingMemoryOptions,
  WASM_HEAP_USABLE,
} from './training_memory';
