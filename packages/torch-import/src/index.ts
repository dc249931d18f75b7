/**
 * @artist-ts/torch-import: run released PyTorch checkpoints (taming VQGAN, EasyNLP ARTIST,
 * pytorch-fid Inception) with artist-ts, without Python. It re-exports the file reader and writers
 * of `@artist-ts/torch-files` (no tfjs, no model packages), which can also be used alone.
 */

export * from '@artist-ts/torch-files';
export {
  easynlpConfig,
  easynlpDifferences,
  GPT_SHAPE_FREE_DEFAULTS,
  GPT_TORCH_PREFIX,
  gptPlan,
  gptTorchBuffers,
  inferGptConfig,
} from './convert/gpt';
export { INCEPTION_IGNORE, type InceptionConvSpec, inceptionPlan } from './convert/inception';
export {
  applyLayout,
  type LayoutTransform,
  oihwToHwio,
  transformedShape,
  transpose2d,
} from './convert/layout';
export {
  type ApplyOptions,
  applyPlan,
  ConversionError,
  type ConversionReport,
  checkPlan,
  type IgnoreRule,
  invertPlan,
  type MappingRow,
  undoLayout,
} from './convert/plan';
export {
  inferVqganConfig,
  VQGAN_SHAPE_FREE_DEFAULTS,
  vqganIgnore,
  vqganPlan,
} from './convert/vqgan';
export {
  type ArtistWeights,
  DEFAULT_EXPORT_OPTIONS,
  EASYNLP_FILES,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  type ExportReport,
  type ExportSource,
  exportEasyNLP,
  type ModelWeights,
  validateExportOptions,
} from './export';
export {
  ARTIST_VQGAN_PREFIX,
  DEFAULT_ALLOWED_GLOBALS,
  IMPORT_KINDS,
  type ImportedModel,
  type ImportKind,
  type ImportOptions,
  type ImportProgress,
  type ImportReport,
  importCheckpoint,
  validateImportOptions,
} from './import';
