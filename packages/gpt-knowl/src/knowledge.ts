/**
 * Turning per-example entity lattices and the frozen TransE table into the model's knowledge
 * inputs. Plain typed arrays only: the TransE table stays outside the model (it is frozen, as in
 * EasyNLP), so no gather gradient over the entity table is ever needed.
 *
 * Lattices are `@artist-ts/lattice-data`'s, as it produces them (EasyNLP's FLAT layout, from
 * `preprocess_data_knowl.py`): `seqLen` character entries `0..seqLen-1` first in `posS`/`posE`,
 * then one 0-based, inclusive BERT-token span (no [CLS] offset) per entity of `lexIds`, whose ids
 * (decimal strings, as in entity2id.txt) are rows of the TransE table.
 */
import type { Lattice } from '@artist-ts/lattice-data';
import type { GptConfig } from './config';

/** The fields of a `Lattice` the model reads (its WordPiece tokens are not needed). */
export type LatticeFields = Pick<Lattice, 'seqLen' | 'lexIds' | 'posS' | 'posE'>;

/** The frozen TransE table: row k is entity k. */
export interface EntityTable {
  /** Row-major [numEntities, dim]. */
  vectors: Float32Array;
  numEntities: number;
  dim: number;
}

export interface EntitySpan {
  id: number;
  start: number;
  end: number;
}

/** Validates a lattice and returns its entity spans (FLAT character entries dropped). */
export function latticeSpans(lattice: LatticeFields, where = 'lattice'): EntitySpan[] {
  const { seqLen, lexIds, posS, posE } = lattice;
  if (!Array.isArray(lexIds)) throw new Error(`${where}.lexIds must be an array of entity ids`);
  if (!(Number.isInteger(seqLen) && seqLen >= 0)) {
    throw new Error(`${where}.seqLen must be an integer >= 0, got ${JSON.stringify(seqLen)}`);
  }
  if (posS.length !== posE.length) {
    throw new Error(
      `${where}: posS has ${posS.length} entries but posE has ${posE.length}; they must match`,
    );
  }
  if (posS.length !== seqLen + lexIds.length) {
    throw new Error(
      `${where}: posS has ${posS.length} entries, expected seqLen + lexIds.length = ${seqLen} + ${lexIds.length}`,
    );
  }
  for (let i = 0; i < seqLen; i++) {
    if (posS[i] !== i || posE[i] !== i) {
      throw new Error(
        `${where}: FLAT layout expects character entries posS[${i}] = posE[${i}] = ${i}, got ${posS[i]}, ${posE[i]}`,
      );
    }
  }
  const spans: EntitySpan[] = [];
  for (let k = 0; k < lexIds.length; k++) {
    const raw = lexIds[k];
    const id = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
    const start = posS[seqLen + k];
    const end = posE[seqLen + k];
    if (!Number.isSafeInteger(id)) {
      throw new Error(
        `${where}.lexIds[${k}] must be a non-negative integer id, got ${JSON.stringify(raw)}`,
      );
    }
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
      throw new Error(
        `${where}: entity ${k} (id ${id}) has span [${start}, ${end}]; need integers 0 <= posS <= posE`,
      );
    }
    spans.push({ id, start, end });
  }
  return spans;
}

/** Knowledge for `lattice` fusion: one projected vector per slot and the tokens each slot covers. */
export interface LatticeKnowledge {
  mode: 'lattice';
  batch: number;
  /** [B, S, E] TransE vectors of the slot entities; zeros for empty slots. */
  entities: Float32Array;
  /** [B, S, textLen] 1 where slot s covers token t, else 0 (empty slots are all 0). */
  cover: Float32Array;
}

/** Knowledge for `easynlp` fusion: EasyNLP's `words_emb`, entity 0 as padding. */
export interface EasyNlpKnowledge {
  mode: 'easynlp';
  batch: number;
  /** [B, S, textLen, E] TransE vector of `words_mat[s][t]` (0 outside spans). */
  wordsEmb: Float32Array;
}

export type KnowledgeArrays = LatticeKnowledge | EasyNlpKnowledge;

function checkTable(table: EntityTable, config: GptConfig): void {
  if (table.dim !== config.entityDim) {
    throw new Error(
      `entity table has dim ${table.dim} but the model's entityDim is ${config.entityDim}`,
    );
  }
  if (table.vectors.length !== table.numEntities * table.dim) {
    throw new Error(
      `entity table vectors hold ${table.vectors.length} floats, expected numEntities*dim = ${table.numEntities * table.dim}`,
    );
  }
}

function checkId(id: number, table: EntityTable, where: string): void {
  if (id >= table.numEntities) {
    throw new Error(
      `${where}: entity id ${id} is out of range for a table of ${table.numEntities} entities`,
    );
  }
}

/**
 * Builds the knowledge inputs of a batch. `lattices[b]` may be null/undefined (no knowledge for
 * that example: all slots empty). Returns null for `fusion: 'none'`.
 *
 * - `lattice` mode keeps the first `entitySlots` entities whose span starts inside the text;
 *   spans are clipped to the text.
 * - `easynlp` mode reproduces `TextImageKnowlDataset`: the first `entitySlots` entities, spans
 *   clipped at the text end (a span past it leaves its slot empty), every other cell entity 0.
 */
export function buildKnowledge(
  config: GptConfig,
  lattices: ReadonlyArray<LatticeFields | null | undefined>,
  table: EntityTable | undefined,
  where = 'batch',
): KnowledgeArrays | null {
  if (config.fusion === 'none') return null;
  const B = lattices.length;
  const S = config.entitySlots;
  const T = config.textLen;
  const E = config.entityDim;
  const needsTable = config.fusion === 'easynlp' || lattices.some((l) => l && l.lexIds.length > 0);
  if (needsTable) {
    if (!table) {
      throw new Error(
        `${where}: fusion '${config.fusion}' needs an entity table (TransE vectors) for its lattices`,
      );
    }
    checkTable(table, config);
  }
  if (config.fusion === 'lattice') {
    const entities = new Float32Array(B * S * E);
    const cover = new Float32Array(B * S * T);
    for (let b = 0; b < B; b++) {
      const lat = lattices[b];
      if (!lat) continue;
      const spans = latticeSpans(lat, `${where}[${b}].lattice`);
      let s = 0;
      for (const span of spans) {
        if (s >= S) break;
        if (span.start >= T) continue;
        checkId(span.id, table!, `${where}[${b}].lattice`);
        entities.set(table!.vectors.subarray(span.id * E, (span.id + 1) * E), (b * S + s) * E);
        const end = Math.min(span.end, T - 1);
        for (let t = span.start; t <= end; t++) cover[(b * S + s) * T + t] = 1;
        s++;
      }
    }
    return { mode: 'lattice', batch: B, entities, cover };
  }
  // easynlp: words_mat [S, T] of entity ids, default 0, then one TransE lookup per cell.
  const t0 = table!;
  const wordsEmb = new Float32Array(B * S * T * E);
  const row0 = t0.vectors.subarray(0, E);
  for (let b = 0; b < B; b++) {
    const ids = new Int32Array(S * T);
    const lat = lattices[b];
    if (lat) {
      const spans = latticeSpans(lat, `${where}[${b}].lattice`).slice(0, S);
      spans.forEach((span, s) => {
        checkId(span.id, t0, `${where}[${b}].lattice`);
        const end = Math.min(span.end, T - 1);
        for (let t = span.start; t <= end; t++) ids[s * T + t] = span.id;
      });
    }
    for (let c = 0; c < S * T; c++) {
      const id = ids[c];
      const src = id === 0 ? row0 : t0.vectors.subarray(id * E, (id + 1) * E);
      wordsEmb.set(src, (b * S * T + c) * E);
    }
  }
  return { mode: 'easynlp', batch: B, wordsEmb };
}
