/**
 * One-hop knowledge expansion of a lattice: every matched entity brings the tails of its KG facts
 * (its neighbours: for a creature, its colour, shape, habitat...) as extra lattice entries over the
 * entity's own span. The model then sees, beside the entity's TransE vector, the vectors of what
 * the graph says about it, which are shared with every other entity that has the same facts.
 *
 * The expanded lattice is still EasyNLP's FLAT layout (more `lex_ids` over the same `pos_s`/
 * `pos_e`), so an expanded knowledge TSV trains EasyNLP's own GPT_knowl unchanged. The table is
 * stored as `neighbours.tsv`: `entity id \t neighbour ids (space-separated)`, one entity a line.
 */
import { atomicWriteFile } from '@artist-ts/core/files';
import { DataFormatError } from './errors';
import type { LatticeColumns } from './knowledge';
import { readLines } from './lines';

/** Neighbour ids (entity2id.txt ids, as strings) of each entity that has any, in fact order. */
export type NeighbourTable = ReadonlyMap<string, readonly string[]>;

/**
 * The first `perEntity` distinct tails of each head's facts, in triple order. `triples` is
 * `[h0, r0, t0, h1, r1, t1, ...]` (kg-embedding's TripleSet layout); self-loops are skipped.
 */
export function neighbourTable(
  triples: ArrayLike<number>,
  count: number,
  perEntity: number,
): Map<string, string[]> {
  if (!Number.isInteger(perEntity) || perEntity < 0) {
    throw new Error(`neighbourTable: perEntity must be an integer >= 0, got ${perEntity}`);
  }
  if (triples.length < count * 3) {
    throw new Error(
      `neighbourTable: ${count} triples need ${count * 3} ids, got ${triples.length}`,
    );
  }
  const table = new Map<string, string[]>();
  if (perEntity === 0) return table;
  for (let i = 0; i < count; i++) {
    const h = triples[3 * i]!;
    const t = triples[3 * i + 2]!;
    if (h === t) continue;
    const key = String(h);
    let list = table.get(key);
    if (!list) table.set(key, (list = []));
    const tail = String(t);
    if (list.length < perEntity && !list.includes(tail)) list.push(tail);
  }
  return table;
}

/** The table as `neighbours.tsv` text (entities in id order). */
export function formatNeighbourTable(table: NeighbourTable): string {
  const keys = [...table.keys()].sort((a, b) => Number(a) - Number(b));
  return keys.map((k) => `${k}\t${table.get(k)!.join(' ')}\n`).join('');
}

/** Writes `neighbours.tsv` atomically. */
export async function writeNeighbourTable(file: string, table: NeighbourTable): Promise<void> {
  await atomicWriteFile(file, formatNeighbourTable(table));
}

const ID = /^[0-9]+$/;

/** Reads `neighbours.tsv`; a malformed line is an error naming file and line. */
export async function readNeighbourTable(file: string): Promise<Map<string, string[]>> {
  const table = new Map<string, string[]>();
  for await (const l of readLines(file)) {
    const text = (l.text ?? '').trim();
    if (text === '') continue;
    const [key, ids, extra] = text.split('\t');
    const list = ids === undefined ? [] : ids.split(' ').filter((s) => s !== '');
    const ok =
      extra === undefined && ID.test(key!) && list.length > 0 && list.every((s) => ID.test(s));
    if (!ok) {
      throw new DataFormatError(
        { file, line: l.line },
        'expected "entity id<TAB>neighbour ids separated by spaces"',
      );
    }
    if (table.has(key!)) {
      throw new DataFormatError({ file, line: l.line }, `entity ${key} is listed twice`);
    }
    table.set(key!, list);
  }
  return table;
}

/**
 * The lattice with each matched entity's neighbours appended over its span: matched entities keep
 * their order and come first (a model with fewer entity slots than entries keeps them), then the
 * neighbours of the first match, of the second... An entry equal to one already present (same id
 * and span) is not repeated.
 */
export function expandLattice<L extends LatticeColumns>(lattice: L, table: NeighbourTable): L {
  const { seqLen } = lattice;
  const n = lattice.lexIds.length;
  const lexIds = [...lattice.lexIds];
  const posS = [...lattice.posS];
  const posE = [...lattice.posE];
  const seen = new Set<string>();
  for (let k = 0; k < n; k++) seen.add(`${lexIds[k]}@${posS[seqLen + k]}-${posE[seqLen + k]}`);
  for (let k = 0; k < n; k++) {
    const s = lattice.posS[seqLen + k]!;
    const e = lattice.posE[seqLen + k]!;
    for (const id of table.get(lattice.lexIds[k]!) ?? []) {
      const key = `${id}@${s}-${e}`;
      if (seen.has(key)) continue;
      seen.add(key);
      lexIds.push(id);
      posS.push(s);
      posE.push(e);
    }
  }
  return { ...lattice, lexIds, posS, posE };
}

/**
 * How many leading entries of an expanded `lattice` are the entities matched in the text (the
 * rest being the knowledge `expandLattice` attached to them from `table`): the smallest n whose
 * expansion gives the lattice back. The knowledge TSV's flat layout does not say; this recovers
 * it, e.g. for training that hides the matched entities but keeps what the graph says of them.
 * A lattice that no prefix expands to (not made from this table) counts as all matched.
 */
export function matchedEntries<L extends LatticeColumns>(
  lattice: L,
  table: NeighbourTable,
): number {
  const { seqLen } = lattice;
  const n = lattice.lexIds.length;
  const same = (x: L) =>
    x.lexIds.length === n &&
    x.lexIds.every((id, k) => id === lattice.lexIds[k]) &&
    x.posS.every((p, k) => p === lattice.posS[k]) &&
    x.posE.every((p, k) => p === lattice.posE[k]);
  for (let m = 0; m < n; m++) {
    const prefix = {
      ...lattice,
      lexIds: lattice.lexIds.slice(0, m),
      posS: lattice.posS.slice(0, seqLen + m),
      posE: lattice.posE.slice(0, seqLen + m),
    };
    if (same(expandLattice(prefix, table))) return m;
  }
  return n;
}
