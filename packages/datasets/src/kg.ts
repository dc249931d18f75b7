/**
 * A small named-triple knowledge graph with deterministic ids, written as OpenKE files
 * (`entity2id.txt`, `relation2id.txt`, `train2id.txt` with `head tail relation` lines) and as
 * named triples (`triples.tsv`, `head\trelation\ttail`, no header, the layout PyKEEN reads).
 *
 * Ids follow first appearance, so the same sequence of `add` calls always gives the same files.
 * Entities are identified by their surface name, exactly as EasyNLP's lexicon matcher sees them.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface NamedTriple {
  head: string;
  relation: string;
  tail: string;
}

function checkName(kind: string, name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.trim() !== name ||
    /[\t\n\r]/.test(name)
  ) {
    throw new Error(
      `knowledge graph: ${kind} name ${JSON.stringify(name)} is empty, padded, or contains a tab/newline`,
    );
  }
}

export class KnowledgeGraph {
  private readonly entityIds = new Map<string, number>();
  private readonly relationIds = new Map<string, number>();
  private readonly types = new Map<string, string>();
  private readonly seen = new Set<string>();
  private readonly list: NamedTriple[] = [];

  /** Registers an entity (optionally with a type tag) without adding a triple. */
  entity(name: string, type?: string): number {
    checkName('entity', name);
    let id = this.entityIds.get(name);
    if (id === undefined) {
      id = this.entityIds.size;
      this.entityIds.set(name, id);
    }
    if (type !== undefined && !this.types.has(name)) this.types.set(name, type);
    return id;
  }

  /** Adds a triple once (duplicates are ignored; self-loops are rejected). Returns true if new. */
  add(head: string, relation: string, tail: string, headType?: string, tailType?: string): boolean {
    checkName('relation', relation);
    if (head === tail) return false;
    this.entity(head, headType);
    this.entity(tail, tailType);
    if (!this.relationIds.has(relation)) this.relationIds.set(relation, this.relationIds.size);
    const key = `${head}\t${relation}\t${tail}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.list.push({ head, relation, tail });
    return true;
  }

  has(name: string): boolean {
    return this.entityIds.has(name);
  }

  hasTriple(head: string, relation: string, tail: string): boolean {
    return this.seen.has(`${head}\t${relation}\t${tail}`);
  }

  get numEntities(): number {
    return this.entityIds.size;
  }

  get numRelations(): number {
    return this.relationIds.size;
  }

  get numTriples(): number {
    return this.list.length;
  }

  entities(): string[] {
    return [...this.entityIds.keys()];
  }

  relations(): string[] {
    return [...this.relationIds.keys()];
  }

  triples(): readonly NamedTriple[] {
    return this.list;
  }

  typeOf(name: string): string | undefined {
    return this.types.get(name);
  }

  /** Triple counts per relation, in relation-id order. */
  relationCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.relationIds.keys()) counts[r] = 0;
    for (const t of this.list) counts[t.relation]++;
    return counts;
  }

  /** Writes the OpenKE files, `triples.tsv` and `entity_types.tsv` into `dir` (plain writes: call inside an atomic folder). */
  async writeTo(dir: string): Promise<void> {
    await fs.promises.mkdir(dir, { recursive: true });
    const ents = this.entities();
    const rels = this.relations();
    const lines = (header: number, body: string[]) =>
      `${header}\n${body.join('\n')}${body.length ? '\n' : ''}`;
    await fs.promises.writeFile(
      path.join(dir, 'entity2id.txt'),
      lines(
        ents.length,
        ents.map((e, i) => `${e}\t${i}`),
      ),
    );
    await fs.promises.writeFile(
      path.join(dir, 'relation2id.txt'),
      lines(
        rels.length,
        rels.map((r, i) => `${r}\t${i}`),
      ),
    );
    await fs.promises.writeFile(
      path.join(dir, 'train2id.txt'),
      lines(
        this.list.length,
        this.list.map(
          (t) =>
            `${this.entityIds.get(t.head)} ${this.entityIds.get(t.tail)} ${this.relationIds.get(t.relation)}`,
        ),
      ),
    );
    await fs.promises.writeFile(
      path.join(dir, 'triples.tsv'),
      this.list.map((t) => `${t.head}\t${t.relation}\t${t.tail}\n`).join(''),
    );
    await fs.promises.writeFile(
      path.join(dir, 'entity_types.tsv'),
      ents.map((e) => `${e}\t${this.types.get(e) ?? ''}\n`).join(''),
    );
  }
}

function parseCountedFile(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const count = Number(lines[0]);
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`${file}:1: expected a count line, got ${JSON.stringify(lines[0])}`);
  }
  if (lines.length - 1 !== count) {
    throw new Error(`${file}:1: header says ${count} lines, file has ${lines.length - 1}`);
  }
  return lines.slice(1);
}

function readNameIds(file: string): string[] {
  const rows = parseCountedFile(file);
  const names: string[] = new Array(rows.length);
  rows.forEach((row, i) => {
    const tab = row.lastIndexOf('\t');
    const id = Number(row.slice(tab + 1));
    if (
      tab < 1 ||
      !Number.isInteger(id) ||
      id < 0 ||
      id >= rows.length ||
      names[id] !== undefined
    ) {
      throw new Error(`${file}:${i + 2}: expected "name<TAB>id" with a unique id < ${rows.length}`);
    }
    names[id] = row.slice(0, tab);
  });
  return names;
}

/** Reads an OpenKE folder (`entity2id.txt`, `relation2id.txt`, `train2id.txt`) back to named triples. */
export function readOpenKe(dir: string): {
  entities: string[];
  relations: string[];
  triples: NamedTriple[];
} {
  const entities = readNameIds(path.join(dir, 'entity2id.txt'));
  const relations = readNameIds(path.join(dir, 'relation2id.txt'));
  const file = path.join(dir, 'train2id.txt');
  const triples = parseCountedFile(file).map((row, i) => {
    const parts = row.trim().split(/\s+/).map(Number);
    const [h, t, r] = parts;
    if (
      parts.length !== 3 ||
      !(h >= 0 && h < entities.length) ||
      !(t >= 0 && t < entities.length) ||
      !(r >= 0 && r < relations.length)
    ) {
      throw new Error(`${file}:${i + 2}: expected "head tail relation" ids in range`);
    }
    return { head: entities[h], relation: relations[r], tail: entities[t] };
  });
  return { entities, relations, triples };
}
