/**
 * @artist-ts/gpt-knowl: ARTIST's second stage, the knowledge-fused GPT over
 * [text tokens | image codes], with its trainer and KV-cache sampler.
 */
export { type GptExample, jointText, makeTrainBatch, type TrainBatch } from './batch';
export {
  blockSize,
  countParameters,
  DEFAULT_GPT_CONFIG,
  FUSION_MODES,
  type FusionMode,
  type GptConfig,
  ignoredTorchKeys,
  imageInputLen,
  jointVocabSize,
  type ParamInit,
  type ParamSpec,
  PRESETS,
  type PresetName,
  parameterSpecs,
  validateGptConfig,
} from './config';
export {
  buildKnowledge,
  concatKnowledge,
  type EasyNlpKnowledge,
  type EntitySpan,
  type EntityTable,
  type KnowledgeArrays,
  type Lattice,
  type LatticeKnowledge,
  latticeSpans,
} from './knowledge';
export {
  disposeKnowledge,
  disposePacked,
  easyNlpFusion,
  type ForwardOptions,
  type ForwardResult,
  gelu,
  imageCrossEntropy,
  type KnowledgeTensors,
  KnowlGpt,
  type KnowlGptOptions,
  knowledgeTensors,
  type LayerCache,
  latticeFusion,
  layerNorm,
  type PackedWeights,
} from './model';
export {
  DEFAULT_SAMPLE_CONFIG,
  kthLargest,
  type SampleConfig,
  type SampleOptions,
  type SampleProgress,
  type SampleRequest,
  type SampleResult,
  sampleCodes,
  sampleFromLogits,
  validateSampleConfig,
} from './sampler';
export {
  DEFAULT_TRAIN_CONFIG,
  evaluateLoss,
  type FitOptions,
  GptTrainer,
  gptMetadata,
  learningRateAt,
  loadGpt,
  type StepMetrics,
  saveGpt,
  type TrainConfig,
  type TrainerOptions,
  validateTrainConfig,
  warmupSteps,
} from './trainer';
