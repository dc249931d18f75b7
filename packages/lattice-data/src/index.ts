/**
 * @artist-ts/lattice-data: the data layer of artist-ts, compatible with EasyNLP ARTIST's files.
 * Tokenizer, entity lexicon and lattice, TSV and image I/O, protobuf dataset shards. No tfjs.
 */

export { AtomicFileStream } from './atomic_stream';
export * from './entity_file';
export * from './errors';
export * from './image';
export * from './image_column';
export * from './knowledge';
export * from './lexicon_builder';
export {
  type EntityMatches,
  Lexicon,
  type LexiconStats,
  MatchBuffer,
  type MatcherKind,
} from './lexicon_match';
export {
  firstInvalidUtf8,
  type LineOrInvalid,
  type RawLine,
  type ReadLinesOptions,
  readLines,
} from './lines';
export * from './neighbours';
export * from './progress';
export * from './shards';
export * from './split_images';
export * from './text_utils';
export * from './tokenizer';
export * from './tsv';
