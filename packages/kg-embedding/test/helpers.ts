import type { KgDataset, TripleSet } from '../src/kg_data';

/**
 * A W x H grid: entity (x, y) = y * W + x with relations right (x + 1), up (y + 1) and their
 * inverses left and down. TransE's exact answer exists: e(x, y) = x * a + y * b, right = a,
 * up = b, left = -a, down = -b. Every 5th forward edge goes to test and the one two after it to
 * valid; their inverse edges stay in train, so the held-out edges are implied by the geometry.
 * (Without the inverses, a held-out edge is drawn as a negative during training and gets
 * pushed down: the closed-world assumption of negative sampling on a tiny graph.)
 */
export function gridDataset(W: number, H: number): KgDataset {
  const edges: [number[], number[]][] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const e = y * W + x;
      if (x + 1 < W)
        edges.push([
          [e, 0, e + 1],
          [e + 1, 2, e],
        ]);
      if (y + 1 < H)
        edges.push([
          [e, 1, e + W],
          [e + W, 3, e],
        ]);
    }
  }
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  edges.forEach(([forward, inverse], i) => {
    if (i % 5 === 3) test.push(forward);
    else if (i % 5 === 1) valid.push(forward);
    else train.push(forward);
    train.push(inverse);
  });
  const ts = (rows: number[][]): TripleSet => ({
    data: Int32Array.from(rows.flat()),
    count: rows.length,
  });
  return {
    entities: Array.from({ length: W * H }, (_, i) => `n${i % W}_${Math.floor(i / W)}`),
    relations: ['right', 'up', 'left', 'down'],
    train: ts(train),
    valid: ts(valid),
    test: ts(test),
    source: `grid ${W}x${H}`,
  };
}
