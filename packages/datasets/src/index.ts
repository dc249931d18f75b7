/**
 * @artist-ts/datasets: offline dataset builders for the ARTIST pipeline's "data" stage.
 *
 * ```ts
 * import { buildDataset } from '@artist-ts/datasets';
 * await buildDataset('kg-shapes-zh', { out: 'runs/demo/data', size: 32, seed: 1 });
 * ```
 */

export type { AnyDatasetBuilder, BuildResult } from './build';
export {
  buildDataset,
  DATASET_BUILDERS,
  getDatasetBuilder,
  listDatasets,
  readDatasetManifest,
} from './build';
export {
  analyseKeywords,
  DEFAULT_EMOJI_ZH_CONFIG,
  type EmojiZhConfig,
  type EmojiZhPlan,
  emojiZhBuilder,
  type PlannedEmojiRow,
  planEmojiZh,
  validateEmojiZhConfig,
} from './emoji_zh/builder';
export { buildCatalog, type EmojiItem, normaliseHex, normaliseLabel } from './emoji_zh/catalog';
export { buildEmojiKg, EMOJI_RELATIONS, flagRegion } from './emoji_zh/emoji_kg';
export { GROUP_NAMES_ZH, SUBGROUP_NAMES_ZH } from './emoji_zh/names_zh';
export { renderEmojiPng } from './emoji_zh/render';
export { defaultThreads, type RenderPoolOptions, renderEmojiImages } from './emoji_zh/render_pool';
export {
  type EmojiHitScore,
  type EmojiHitSummary,
  scoreEmojiZhImages,
} from './emoji_zh/scorer';
export { loadEmojiSources, PINNED_SOURCES } from './emoji_zh/sources';
export { KnowledgeGraph, type NamedTriple, readOpenKe } from './kg';
export {
  DEFAULT_KG_SHAPES_ZH_CONFIG,
  type KgShapesZhConfig,
  kgShapesZhBuilder,
  loadKgShapesWorld,
  scoreKgShapesImages,
  scoreKgShapesTsv,
  validateKgShapesZhConfig,
} from './kg_shapes';
export { type DatasetRow, SPLITS, type SplitName } from './output';
export { decodePng, decodePngBase64, encodePng, type RasterImage, toRgb } from './png';
export { parseImageCell, readImageTsv, readMeta, type TsvRow } from './read';
export { resizeImage } from './resize';
export type {
  BuildOptions,
  BuildProgress,
  BuiltDataset,
  DatasetBuilder,
  DatasetManifest,
  ResolvedBuildOptions,
  SourceInfo,
} from './types';
