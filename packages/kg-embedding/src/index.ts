/**
 * @artist-ts/kg-embedding: TransE knowledge-graph embeddings for ARTIST, on Float32Arrays and
 * worker_threads (no tfjs).
 */
export {
  type Corruption,
  DEFAULT_TRANSE_CONFIG,
  type Distance,
  type EpochOrderKind,
  type LossKind,
  type LrSchedule,
  type OptimizerKind,
  PRESETS,
  presetConfig,
  type Renorm,
  stepLearningRate,
  type TransEConfig,
  transESchedule,
  validateTransEConfig,
} from './config';
export {
  type EntityVectorFormat,
  type EntityVectorTable,
  loadEntityVectorFile,
  type ReadEntityVectorsOptions,
  readEntityVectors,
  sniffEntityVectorFormat,
} from './entity_vectors';
export { HEAD_BLOCKS_AUTO_BYTES, headBlockEntities } from './epoch_order';
export {
  type EmbeddingTables,
  type EvaluateOptions,
  evaluateLinkPrediction,
  type LinkPredictionMetrics,
  type RankCounts,
  type RankSummary,
  rankOf,
  type SideSummary,
  summarize,
  summarizeRanks,
  type TiePolicy,
} from './evaluate';
export { resolveWorkerScript } from './executor';
export {
  decodeVectorFile,
  type EntityVectors,
  type ExportableEmbeddings,
  encodeVectorFile,
  formatFloat32,
  loadEntityVectors,
  loadEntityVectorsSync,
  loadRelationVectors,
  npyHeader,
  readVectorFile,
  readVectorFileSync,
  VECTOR_FORMAT,
  VECTOR_MAGIC,
  type VectorHeader,
  vectorFileHeader,
  type WriteEmbeddingsOptions,
  writeEmbeddings,
} from './export';
export {
  emptyTriples,
  forEachLine,
  type KgDataset,
  KgFormatError,
  type NamedTripleOptions,
  openKECacheDir,
  type ReadOpenKEOptions,
  readIdMap,
  readIdMapSync,
  readNamedDataset,
  readNamedTriples,
  readOpenKEFolder,
  readOpenKETriples,
  splitTriples,
  TripleBuffer,
  type TripleFileLoad,
  type TripleSet,
  Vocabulary,
} from './kg_data';
export { NameIndex, nameIndexOf } from './name_index';
export { MAX_NAMES, MAX_TRIPLES } from './openke_bytes';
export type { RankKernel } from './rank';
export { rankSampled, type SampledRankOptions } from './sampled_rank';
export { simdSupported } from './simd_kernels';
export {
  generateSyntheticGraph,
  type SyntheticGraphSpec,
  writeSyntheticOpenKE,
} from './synthetic_graph';
export {
  type EpochReport,
  fingerprintTriples,
  fitTransE,
  subsetTriples,
  type TrainCallbacks,
  type TrainKernel,
  type TrainOptions,
  type TrainResult,
  type TransECheckpointEvent,
  type TransEEmbeddings,
  trainTransE,
  type ValidationEntry,
  type ValidationReport,
} from './trainer';
export {
  readTripleCache,
  TRIPLE_CACHE_MAGIC,
  type TripleCacheHeader,
  tripleCachePath,
  writeTripleCache,
} from './triple_cache';
export {
  bernoulliHeadProbabilities,
  buildTripleIndex,
  hasTriple,
  knownHeads,
  knownTails,
  type TripleIndexData,
} from './triple_index';
