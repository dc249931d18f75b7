/**
 * Name -> id lookup for any number of names: V8 caps one Map at 2^24 entries (16.7 M), fewer
 * than the entities of a large graph, so names are spread over 16 Maps by a string hash
 * (268 M entries in all, beyond `MAX_NAMES`, the most one JS array of names can hold).
 */
const SHARDS = 16;

function shardOf(name: string): number {
  let h = name.length;
  const n = Math.min(name.length, 24);
  for (let i = 0; i < n; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  return (h >>> 0) % SHARDS;
}

/** A Map<string, number> without the 2^24 limit (the methods a lookup table needs). */
export class NameIndex {
  private readonly maps: Map<string, number>[] = Array.from({ length: SHARDS }, () => new Map());
  private count = 0;

  get(name: string): number | undefined {
    return this.maps[shardOf(name)].get(name);
  }

  has(name: string): boolean {
    return this.maps[shardOf(name)].has(name);
  }

  set(name: string, id: number): this {
    const m = this.maps[shardOf(name)];
    if (!m.has(name)) this.count++;
    m.set(name, id);
    return this;
  }

  get size(): number {
    return this.count;
  }
}

/** The index of `names` (id = position); a name given twice is an error naming `file`. */
export function nameIndexOf(names: readonly string[], file: string): NameIndex {
  const ids = new NameIndex();
  for (let i = 0; i < names.length; i++) {
    const prev = ids.get(names[i]);
    if (prev !== undefined)
      throw new Error(`${file}: name '${names[i]}' appears twice (ids ${prev} and ${i})`);
    ids.set(names[i], i);
  }
  return ids;
}
