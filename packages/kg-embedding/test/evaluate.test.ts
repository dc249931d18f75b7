import { Rng } from '@artist-ts/core/rng';
import { evaluateLinkPrediction, rankOf } from '../src/evaluate';
import type { TripleSet } from '../src/kg_data';

const ts = (rows: number[][]): TripleSet => ({
  data: Int32Array.from(rows.flat()),
  count: rows.length,
});

// dim 1: entity positions 0, 1, 2, 1, 5; relation +1. Worked out by hand:
// (0, r, 1) tail query q = 1: e1 = target (d 0), e3 ties (d 0)       -> better 0, ties 1
// (0, r, 1) head query q = 0: e0 = target, nothing closer or equal   -> better 0, ties 0
// (2, r, 4) tail query q = 3: target d 2; e2 (d 1) better; e1, e3 tie -> better 1, ties 2
// (2, r, 4) head query q = 4: target e2 d 2; e4 (d 1) better          -> better 1, ties 0
const emb = {
  dim: 1,
  numEntities: 5,
  numRelations: 1,
  entity: Float32Array.from([0, 1, 2, 1, 5]),
  relation: Float32Array.from([1]),
};
const test = ts([
  [0, 0, 1],
  [2, 0, 4],
]);

describe('evaluateLinkPrediction', () => {
  it('ranks ties three ways (raw)', async () => {
    const m = await evaluateLinkPrediction(emb, test, { workers: 0 });
    expect(m.filtered).toBe(false);
    expect(m.triples).toBe(2);
    // realistic ranks 1.5, 1, 3, 2; optimistic 1, 1, 2, 2; pessimistic 2, 1, 4, 2
    expect(m.realistic.both.mr).toBeCloseTo(1.875, 12);
    expect(m.realistic.both.mrr).toBeCloseTo((1 / 1.5 + 1 + 1 / 3 + 1 / 2) / 4, 12);
    expect(m.optimistic.both.mrr).toBeCloseTo(0.75, 12);
    expect(m.pessimistic.both.mrr).toBeCloseTo(0.5625, 12);
    expect(m.realistic.both.hits1).toBe(0.25);
    expect(m.optimistic.both.hits1).toBe(0.5);
    expect(m.pessimistic.both.hits3).toBe(0.75);
    expect(m.realistic.tail.mr).toBeCloseTo(2.25, 12);
    expect(m.realistic.head.mr).toBeCloseTo(1.5, 12);
    expect(m.realistic.both.hits10).toBe(1);
  });

  it('filters other known answers', async () => {
    // (0, r, 3) is known: e3 no longer ties with the answer of the first tail query.
    const m = await evaluateLinkPrediction(emb, test, { workers: 0, filter: [ts([[0, 0, 3]])] });
    expect(m.filtered).toBe(true);
    // realistic ranks 1, 1, 3, 2
    expect(m.realistic.both.mr).toBeCloseTo(1.75, 12);
    expect(m.optimistic.both.mrr).toBeCloseTo(0.75, 12);
    expect(m.pessimistic.both.mrr).toBeCloseTo((1 + 1 + 0.25 + 0.5) / 4, 12);
  });

  it('agrees with a brute-force ranking, on the calling thread and on 2 workers', async () => {
    const rng = new Rng(5);
    const N = 40;
    const R = 3;
    const dim = 11; // exercises the 8-wide unrolled loop and its remainder
    const entity = new Float32Array(N * dim);
    const relation = new Float32Array(R * dim);
    // Coarse values so that ties happen.
    for (let i = 0; i < entity.length; i++) entity[i] = rng.int(3) - 1;
    for (let i = 0; i < relation.length; i++) relation[i] = rng.int(3) - 1;
    const rows: number[][] = [];
    for (let i = 0; i < 60; i++) rows.push([rng.int(N), rng.int(R), rng.int(N)]);
    const all = ts(rows);
    const testSet = ts(rows.slice(0, 25));
    for (const distance of ['L1', 'L2'] as const) {
      const e = { dim, numEntities: N, numRelations: R, entity, relation };
      const a = await evaluateLinkPrediction(e, testSet, { workers: 0, filter: [all], distance });
      const b = await evaluateLinkPrediction(e, testSet, { workers: 2, filter: [all], distance });
      expect(b.realistic).toEqual(a.realistic);
      const c = await evaluateLinkPrediction(e, testSet, {
        workers: 0,
        filter: [all],
        distance,
        lowerBound: false,
      });
      expect(c.realistic).toEqual(a.realistic);
      expect(b.pessimistic).toEqual(a.pessimistic);
      // Brute force: score every candidate, drop known answers other than the target.
      const known = new Set(rows.map((r) => r.join(',')));
      const dist = (x: number[]) =>
        distance === 'L1'
          ? x.reduce((s, v) => s + Math.abs(v), 0)
          : Math.sqrt(x.reduce((s, v) => s + v * v, 0));
      const vec = (h: number, r: number, t: number) =>
        Array.from(
          { length: dim },
          (_, k) => entity[h * dim + k] + relation[r * dim + k] - entity[t * dim + k],
        );
      let mrr = 0;
      let n = 0;
      for (const [h, r, t] of rows.slice(0, 25)) {
        for (const side of ['tail', 'head']) {
          const target = dist(vec(h, r, t));
          let better = 0;
          let ties = 0;
          for (let c = 0; c < N; c++) {
            const [hh, tt] = side === 'tail' ? [h, c] : [c, t];
            if ((side === 'tail' ? c === t : c === h) || known.has(`${hh},${r},${tt}`)) continue;
            const d = dist(vec(hh, r, tt));
            if (Math.abs(d - target) < 1e-9) ties++;
            else if (d < target) better++;
          }
          mrr += 1 / rankOf(better, ties, 'realistic');
          n++;
        }
      }
      expect(a.realistic.both.mrr).toBeCloseTo(mrr / n, 10);
    }
  });

  it('rejects out-of-range ids and bad options', async () => {
    await expect(evaluateLinkPrediction(emb, ts([[0, 0, 9]]), { workers: 0 })).rejects.toThrow(
      /outside 5 entities/,
    );
    await expect(evaluateLinkPrediction(emb, test, { workers: -1 })).rejects.toThrow(/workers/);
  });
});
