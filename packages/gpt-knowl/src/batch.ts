/**
 * Examples and batches: text ids (BERT space) + image codes + optional lattice, turned into the
 * joint-id arrays the model reads. No tfjs here.
 */
import type { GptConfig } from './config';
import {
  buildKnowledge,
  type EntityTable,
  type KnowledgeArrays,
  type LatticeFields,
} from './knowledge';

/** One training example. */
export interface GptExample {
  /** Text token ids in the text vocabulary (BERT ids, no [CLS]/[SEP]); truncated/padded to textLen. */
  text: ArrayLike<number>;
  /** Image codes in [0, imageVocabSize), exactly imageLen of them (row-major over the code grid). */
  codes: ArrayLike<number>;
  /** Entities matched in the text (optional). */
  lattice?: LatticeFields | null;
  /**
   * Entries [0, matchedEntities) of `lattice` are the entities matched in the text, the rest the
   * knowledge attached to them (lattice-data's `expandLattice`; `matchedEntries` recovers the
   * count from an expanded lattice). Absent: every entry is a match.
   */
  matchedEntities?: number;
}

/** A batch as plain arrays. */
export interface TrainBatch {
  batch: number;
  /** [B, textLen + imageLen - 1] joint ids: text (offset by imageVocabSize) then codes[0..imageLen-2]. */
  tokens: Int32Array;
  /** [B, imageLen] image codes. */
  targets: Int32Array;
  knowledge: KnowledgeArrays | null;
}

/**
 * Text ids -> joint ids of the text positions [textLen]: truncated to textLen (as EasyNLP),
 * right-padded with textPadId, offset by imageVocabSize. Ids out of range raise an error naming
 * `where`.
 */
export function jointText(config: GptConfig, text: ArrayLike<number>, where = 'text'): Int32Array {
  const out = new Int32Array(config.textLen).fill(config.imageVocabSize + config.textPadId);
  const n = Math.min(text.length, config.textLen);
  for (let i = 0; i < n; i++) {
    const id = text[i];
    if (!Number.isInteger(id) || id < 0 || id >= config.textVocabSize) {
      throw new Error(
        `${where}[${i}] = ${id} is not a text id in [0, textVocabSize=${config.textVocabSize})`,
      );
    }
    out[i] = config.imageVocabSize + id;
  }
  return out;
}

function checkCodes(config: GptConfig, codes: ArrayLike<number>, where: string): void {
  if (codes.length !== config.imageLen) {
    throw new Error(`${where} has ${codes.length} codes, expected imageLen=${config.imageLen}`);
  }
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (!Number.isInteger(c) || c < 0 || c >= config.imageVocabSize) {
      throw new Error(
        `${where}[${i}] = ${c} is not an image code in [0, imageVocabSize=${config.imageVocabSize})`,
      );
    }
  }
}

/** Per-example dropout of a batch (classifier-free and knowledge-aware guidance). */
export interface BatchDropout {
  /** `dropText[b]`: example b's text becomes padding. */
  dropText?: readonly boolean[];
  /**
   * `dropKnowledge[b]`: example b's entity vectors are removed. Absent: they go with the text
   * (removed exactly where `dropText` is set).
   */
  dropKnowledge?: readonly boolean[];
  /**
   * `attributesOnly[b]`: example b's text and its matched entities' vectors are removed, the
   * attached knowledge (`GptExample.matchedEntities`) is kept on the spans it covers.
   */
  attributesOnly?: readonly boolean[];
  /**
   * `oneFact[b]`: example b is trained on one fact of its entities (`abstractExample`): a number
   * k picks attached entry k, k >= the attached count keeps none; null/absent: the example as it is.
   */
  oneFact?: ReadonlyArray<number | null>;
  /** Names the batch in errors. */
  where?: string;
}

/** `lattice` with only its entries [start, end) (slice bounds: past the end keeps none). */
function latticeEntries(lattice: LatticeFields, start: number, end?: number): LatticeFields {
  const { seqLen } = lattice;
  const to = end === undefined ? undefined : seqLen + end;
  return {
    seqLen,
    lexIds: lattice.lexIds.slice(start, end),
    posS: [...lattice.posS.slice(0, seqLen), ...lattice.posS.slice(seqLen + start, to)],
    posE: [...lattice.posE.slice(0, seqLen), ...lattice.posE.slice(seqLen + start, to)],
  };
}

/**
 * An example reduced to one fact of its entities: the text of its matched entities' spans becomes
 * padding (the rest of the caption stays, so the layout it names is kept), the matched entities'
 * own vectors are removed, and of the knowledge attached to them (entries from `matched` on) only
 * entry `matched + fact` is kept; `fact` >= the attached count keeps none. Training on these and
 * sampling with one condition per fact (`SampleConfig.composeScale`) is what lets the model draw
 * an entity it never saw from what the graph says about it. Training and sampling both build them
 * here.
 */
export function abstractExample(
  text: ArrayLike<number>,
  lattice: LatticeFields,
  matched: number,
  fact: number,
  textPadId: number,
): { text: number[]; lattice: LatticeFields } {
  const { seqLen } = lattice;
  const out = Array.from(text);
  for (let k = 0; k < matched; k++) {
    const end = Math.min(lattice.posE[seqLen + k], out.length - 1);
    for (let t = lattice.posS[seqLen + k]; t <= end; t++) out[t] = textPadId;
  }
  const k = matched + fact;
  return { text: out, lattice: latticeEntries(lattice, k, k + 1) };
}

/** How many entries of an example's lattice are knowledge attached to its matches. */
export function attachedFacts(ex: GptExample): number {
  const n = ex.lattice?.lexIds.length ?? 0;
  return n - Math.min(n, ex.matchedEntities ?? n);
}

/**
 * Builds a training batch. Dropping the text but keeping the knowledge leaves the entity vectors
 * on the (now padding) positions their spans cover.
 */
export function makeTrainBatch(
  config: GptConfig,
  examples: readonly GptExample[],
  table?: EntityTable,
  options: BatchDropout = {},
): TrainBatch {
  const { dropText, where = 'batch' } = options;
  const dropKnowledge = options.dropKnowledge ?? dropText;
  const B = examples.length;
  if (B === 0) throw new Error(`${where}: empty batch`);
  const X = config.textLen;
  const L = X + config.imageLen - 1;
  const tokens = new Int32Array(B * L);
  const targets = new Int32Array(B * config.imageLen);
  const lattices: (LatticeFields | null)[] = [];
  examples.forEach((ex0, b) => {
    let ex = ex0;
    const fact = options.oneFact?.[b];
    if (fact !== null && fact !== undefined && ex.lattice) {
      const matched = ex.matchedEntities ?? ex.lattice.lexIds.length;
      const a = abstractExample(ex.text, ex.lattice, matched, fact, config.textPadId);
      ex = { ...ex, text: a.text, lattice: a.lattice, matchedEntities: 0 };
    }
    const attributes = options.attributesOnly?.[b] === true;
    const text = jointText(
      config,
      dropText?.[b] || attributes ? [] : ex.text,
      `${where}[${b}].text`,
    );
    checkCodes(config, ex.codes, `${where}[${b}].codes`);
    tokens.set(text, b * L);
    for (let i = 0; i < config.imageLen - 1; i++) tokens[b * L + X + i] = ex.codes[i];
    for (let i = 0; i < config.imageLen; i++) targets[b * config.imageLen + i] = ex.codes[i];
    const lattice = ex.lattice ?? null;
    if (dropKnowledge?.[b]) lattices.push(null);
    else if (attributes && lattice)
      lattices.push(latticeEntries(lattice, ex.matchedEntities ?? lattice.lexIds.length));
    else lattices.push(lattice);
  });
  return {
    batch: B,
    tokens,
    targets,
    knowledge: buildKnowledge(config, lattices, table, where),
  };
}
