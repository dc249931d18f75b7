/**
 * @artist-ts/vqgan: ARTIST's image tokenizer (taming-transformers VQGAN) on TensorFlow.js.
 */
export {
  type AttnParams,
  attnBlock,
  downsample,
  type NormSpec,
  type ResBlockParams,
  resBlock,
  upsample,
  upsampleNearest2x,
  upsampleReference,
} from './blocks';
export {
  type CodebookStats,
  codebookStats,
  countCodes,
  type KMeansOptions,
  kmeans,
  LatentReservoir,
  restartDeadCodes,
} from './codebook';
export {
  codeGridShape,
  DEFAULT_VQGAN_CONFIG,
  downsamplingFactor,
  PRESETS,
  type VqganConfig,
  type VqganPresetName,
  validateVqganConfig,
} from './config';
export {
  type ConvGradMode,
  conv1x1,
  conv2d,
  convFilterGrad,
  foldUpsampleKernel,
  getConvGradMode,
  type Pad4,
  resolvedConvGradMode,
  setConvGradMode,
  upsampleConv2d,
} from './conv';
export { type ImageDataset, InMemoryImageDataset } from './dataset';
export {
  DEFAULT_DISCRIMINATOR_CONFIG,
  type DiscriminatorConfig,
  hingeDLoss,
  NLayerDiscriminator,
  validateDiscriminatorConfig,
} from './discriminator';
export { groupNorm, groupNormSwish, swish } from './group_norm';
export { type ImageBatch, type ImageInput, psnr, toModelInput, toUint8Pixels } from './images';
export { LPIPS_VGG_SLICES, Lpips, lpipsWeightSpecs, type PerceptualLoss } from './lpips';
export {
  countVqganParameters,
  type VqganLayout,
  type VqganParamInit,
  type VqganParamSpec,
  vqganParameterSpecs,
} from './param_table';
export { ParamStore } from './params';
export {
  codeDistances,
  nearestCodes,
  oneHotFloat,
  type QuantizeOutput,
  quantize,
  stopGradient,
  straightThrough,
} from './quantizer';
export { generateShapeImages, syntheticShapesDataset } from './synthetic';
export { ARTIST_VQGAN_PREFIX, tamingKeys } from './taming_keys';
export {
  DEFAULT_VQGAN_TRAIN_CONFIG,
  VQGAN_TRAIN_PRESETS,
  type VqganTrainConfig,
  validateVqganTrainConfig,
} from './train_config';
export {
  type EpochStats,
  type StepMetrics,
  type TrainerOptions,
  type VqganFitOptions,
  type VqganFitResult,
  VqganTrainer,
} from './trainer';
export {
  type InferenceOptions,
  inferenceBatch,
  isAuxWeight,
  type TrainForwardOutput,
  VQGAN_MODEL_TYPE,
  Vqgan,
  type VqganCreateOptions,
} from './vqgan';
