import { Rng } from '@artist-ts/core/rng';
import type { EntityTable, GptConfig, GptExample, LatticeFields } from '../src';

/**
 * A lattice in lattice-data's FLAT layout: `seqLen` character entries (default: just enough for
 * the spans), then one span per entity.
 */
export function flatLattice(
  ids: number[],
  starts: number[],
  ends: number[],
  seqLen = ends.length > 0 ? Math.max(...ends) + 1 : 0,
): LatticeFields {
  const chars = Array.from({ length: seqLen }, (_, i) => i);
  return {
    seqLen,
    lexIds: ids.map(String),
    posS: [...chars, ...starts],
    posE: [...chars, ...ends],
  };
}

/** A small random TransE-like table. */
export function makeTable(numEntities: number, dim: number, seed = 'table'): EntityTable {
  const rng = new Rng(seed);
  return { vectors: rng.fillNormal(new Float32Array(numEntities * dim), 0, 1), numEntities, dim };
}

/** Deterministic tiny data set: codes depend on the first text token (learnable). */
export function makeExamples(c: GptConfig, n: number, seed = 'data'): GptExample[] {
  const rng = new Rng(seed);
  const out: GptExample[] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + rng.int(c.textLen - 2);
    const text = Array.from({ length: len }, () => 1 + rng.int(c.textVocabSize - 1));
    const codes = Array.from(
      { length: c.imageLen },
      (_, k) => (text[0] * 7 + k * 3) % c.imageVocabSize,
    );
    const lattice = flatLattice([1 + (i % 5), 2], [0, 1], [1, Math.min(3, len - 1)], len);
    out.push({ text, codes, lattice });
  }
  return out;
}

/** Every variable's values, by name (for exact comparisons). */
export function variableValues(vars: Record<string, { dataSync(): ArrayLike<number> }>) {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.from(v.dataSync())]));
}
