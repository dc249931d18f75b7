import { initRuntime } from '@artist-ts/runtime';
import { expectArraysClose, expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import {
  buildKnowledge,
  disposeKnowledge,
  KnowlGpt,
  knowledgeTensors,
  validateGptConfig,
} from '../src';
import { easyNlpFusion, latticeFusion } from '../src/fusion';
import { latticeSpans } from '../src/knowledge';
import { flatLattice, makeTable } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

// Shared hand case (values from numpy, float64): 2 text tokens, 2 entities, d=4, e=3.
const W = [
  [0.1, -0.2, 0.3, 0.0],
  [0.4, 0.1, -0.1, 0.2],
  [-0.3, 0.2, 0.5, -0.4],
];
const B = [0.05, -0.05, 0.1, 0.0];

describe('lattice fusion', () => {
  test('2-token, 2-entity case against hand-computed values', () => {
    const out = tf.tidy(() =>
      latticeFusion(
        tf.tensor3d([
          [
            [0.5, -1.0, 0.25, 2.0],
            [1.5, 0.5, -0.5, 1.0],
          ],
        ]),
        tf.tensor3d([
          [
            [1.0, 0.0, -1.0],
            [0.5, 2.0, 1.0],
          ],
        ]),
        // slot 0 covers tokens 0-1, slot 1 covers token 1
        tf.tensor3d([
          [
            [1, 1],
            [0, 1],
          ],
        ]),
        tf.tensor2d(W),
        tf.tensor1d(B),
      ),
    );
    // token 0: only entity 0 covers it (alpha = [1, 0]); token 1: alpha = [0.51874, 0.48126]
    expectArraysClose(
      out,
      [
        0.95, -1.45, 0.15, 2.4, 2.0221888176182197, 0.3868811488850254, -0.28718179032104796,
        1.2074964863514142,
      ],
      { rtol: 1e-5, atol: 1e-6 },
    );
    out.dispose();
  });

  test('uncovered tokens and empty slots leave embeddings unchanged', () => {
    const out = tf.tidy(() =>
      latticeFusion(
        tf.tensor3d([
          [
            [0.5, -1.0, 0.25, 2.0],
            [1.5, 0.5, -0.5, 1.0],
          ],
        ]),
        tf.tensor3d([
          [
            [1.0, 0.0, -1.0],
            [0, 0, 0],
          ],
        ]),
        tf.tensor3d([
          [
            [0, 1],
            [0, 0],
          ],
        ]),
        tf.tensor2d(W),
        tf.tensor1d(B),
      ),
    );
    const v = out.arraySync()[0];
    expect(v[0]).toEqual([0.5, -1.0, 0.25, 2.0]);
    out.dispose();
  });
});

describe('easynlp fusion (EasyNLP GPT_knowl, after the last block)', () => {
  const H = [
    [
      [0.2, -0.4, 1.0, 0.5],
      [-1.0, 0.3, 0.7, 0.1],
      [0.9, 0.9, -0.2, 0.4],
    ],
  ];
  const words = () => {
    const w = new Float32Array(1 * 2 * 2 * 3);
    w.set([1.0, 0.5, -0.5], 0);
    w.set([0.2, -1.0, 0.3], 3);
    return w;
  };

  test('a slot whose score is exactly 0 is masked (zero bias, zero vector)', () => {
    const out = tf.tidy(() =>
      easyNlpFusion(
        tf.tensor3d(H),
        tf.tensor4d(words(), [1, 2, 2, 3]),
        tf.tensor2d(W),
        tf.zeros([4]),
      ),
    );
    expectArraysClose(out, [0.65, -0.65, 1.0, 0.8, -1.47, 0.22, 1.01, -0.22, 0.9, 0.9, -0.2, 0.4], {
      rtol: 1e-5,
      atol: 1e-6,
    });
    out.dispose();
  });

  test('unscaled per-slot scores over all text positions; image positions untouched', () => {
    const w = words();
    w.set([0.3, 0.3, 0.3], 9); // slot 1, token 1
    const out = tf.tidy(() =>
      easyNlpFusion(tf.tensor3d(H), tf.tensor4d(w, [1, 2, 2, 3]), tf.tensor2d(W), tf.tensor1d(B)),
    );
    expectArraysClose(
      out,
      [
        0.5681632312579232, -0.6267573506988462, 1.1, 0.7121088208386155, -1.2647255834815538,
        0.20222676569250767, 1.0807029402795385, -0.1438276447268, 0.9, 0.9, -0.2, 0.4,
      ],
      { rtol: 1e-5, atol: 1e-6 },
    );
    out.dispose();
  });
});

describe('knowledge inputs', () => {
  test("lattice-data's FLAT layout (EasyNLP TSV columns) gives the entity spans", () => {
    // artist.md worked example: 红色连衣裙女夏季, lexicon {红色:17, 连衣裙:5, 衣裙:9, 夏季:3}
    const flat = {
      tokens: ['红', '色', '连', '衣', '裙', '女', '夏', '季'],
      seqLen: 8,
      lexIds: ['17', '5', '9', '3'],
      posS: [0, 1, 2, 3, 4, 5, 6, 7, 0, 2, 3, 6],
      posE: [0, 1, 2, 3, 4, 5, 6, 7, 1, 4, 4, 7],
    };
    expect(latticeSpans(flat)).toEqual([
      { id: 17, start: 0, end: 1 },
      { id: 5, start: 2, end: 4 },
      { id: 9, start: 3, end: 4 },
      { id: 3, start: 6, end: 7 },
    ]);
  });

  test('bad lattices raise errors naming the example and field', () => {
    const c = validateGptConfig({ preset: 'nano' });
    const table = makeTable(10, c.entityDim);
    expect(() => buildKnowledge(c, [null, flatLattice([1], [2], [1], 3)], table)).toThrow(
      /batch\[1\]\.lattice: entity 0 \(id 1\) has span \[2, 1\]/,
    );
    expect(() => buildKnowledge(c, [flatLattice([12], [0], [0])], table)).toThrow(
      /entity id 12 is out of range for a table of 10 entities/,
    );
    const lat = (posS: number[], posE: number[], lexIds = ['1']) => ({
      seqLen: 2,
      lexIds,
      posS,
      posE,
    });
    expect(() => buildKnowledge(c, [lat([0, 2, 0], [0, 2, 1])], table)).toThrow(
      /FLAT layout expects character entries posS\[1\] = posE\[1\] = 1, got 2, 2/,
    );
    expect(() => buildKnowledge(c, [lat([0, 1], [0, 1])], table)).toThrow(
      /posS has 2 entries, expected seqLen \+ lexIds.length = 2 \+ 1/,
    );
    expect(() => buildKnowledge(c, [lat([0, 1, 0], [0, 1, 0], ['e7'])], table)).toThrow(
      /lexIds\[0\] must be a non-negative integer id, got "e7"/,
    );
    expect(() => buildKnowledge(c, [flatLattice([1], [0], [0])], undefined)).toThrow(
      /needs an entity table/,
    );
  });

  test('lattice mode: slots, clipping, explicit empty slots (never entity 0)', () => {
    const c = validateGptConfig({ preset: 'nano', entitySlots: 3 });
    const table = makeTable(10, c.entityDim);
    const k = buildKnowledge(c, [flatLattice([4, 0, 7, 2], [6, 20, 0, 1], [9, 21, 0, 2])], table);
    if (k?.mode !== 'lattice') throw new Error('expected lattice knowledge');
    const E = c.entityDim;
    const T = c.textLen;
    // entity 0 starts past the text (20 >= 8) and is skipped; slots: 4, 7, 2
    expect(Array.from(k.entities.subarray(0, E))).toEqual(
      Array.from(table.vectors.subarray(4 * E, 5 * E)),
    );
    expect(Array.from(k.entities.subarray(E, 2 * E))).toEqual(
      Array.from(table.vectors.subarray(7 * E, 8 * E)),
    );
    expect(Array.from(k.cover.subarray(0, T))).toEqual([0, 0, 0, 0, 0, 0, 1, 1]); // clipped at 7
    expect(Array.from(k.cover.subarray(T, 2 * T))).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(k.cover.subarray(2 * T, 3 * T))).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
    const none = buildKnowledge(c, [null], table);
    if (none?.mode !== 'lattice') throw new Error('expected lattice knowledge');
    expect(none.entities.every((x) => x === 0)).toBe(true);
    expect(none.cover.every((x) => x === 0)).toBe(true);
  });

  test('easynlp mode reproduces words_mat with entity-0 padding', () => {
    const c = validateGptConfig({ preset: 'nano', fusion: 'easynlp', entitySlots: 2 });
    const table = makeTable(10, c.entityDim);
    const k = buildKnowledge(c, [flatLattice([4, 7, 2], [6, 9, 0], [9, 9, 0])], table);
    if (k?.mode !== 'easynlp') throw new Error('expected easynlp knowledge');
    const E = c.entityDim;
    const T = c.textLen;
    const row = (s: number, t: number) =>
      Array.from(k.wordsEmb.subarray((s * T + t) * E, (s * T + t + 1) * E));
    const ent = (id: number) => Array.from(table.vectors.subarray(id * E, (id + 1) * E));
    expect(row(0, 5)).toEqual(ent(0));
    expect(row(0, 6)).toEqual(ent(4));
    expect(row(0, 7)).toEqual(ent(4));
    // slot 1 (id 7) starts past the text: all entity 0; the third entity does not get a slot
    for (let t = 0; t < T; t++) expect(row(1, t)).toEqual(ent(0));
  });
});

describe('fusion inside the model', () => {
  const tokens = () => tf.tensor2d([[40, 50, 41, 60, 33, 34, 35, 36, 1, 2, 3]], [1, 11], 'int32');

  test('lattice fusion with no matched entity equals the text-only model', () => {
    const withK = new KnowlGpt({ preset: 'nano', fusion: 'lattice' }, { seed: 3 });
    const none = new KnowlGpt({ preset: 'nano', fusion: 'none' }, { seed: 3 });
    const table = makeTable(10, withK.config.entityDim);
    // no lattice, and a lattice whose only entity lies past the text
    for (const lat of [null, flatLattice([3], [9], [10])]) {
      const k = buildKnowledge(withK.config, [lat], table)!;
      const [a, b] = tf.tidy(() => {
        const kt = knowledgeTensors(k, withK.config);
        return [withK.forward(tokens(), { knowledge: kt }).logits, none.forward(tokens()).logits];
      });
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      tf.dispose([a, b]);
    }
    // and a real entity changes the logits
    const k = buildKnowledge(withK.config, [flatLattice([3], [1], [2])], table)!;
    const [a, b] = tf.tidy(() => [
      withK.forward(tokens(), { knowledge: knowledgeTensors(k, withK.config) }).logits,
      none.forward(tokens()).logits,
    ]);
    const da = a.dataSync();
    const db = b.dataSync();
    const V = withK.config.imageVocabSize;
    // position 0 is not covered: unchanged; position 1 is covered: changed
    expect(Array.from(da.subarray(0, V))).toEqual(Array.from(db.subarray(0, V)));
    expect(Array.from(da.subarray(V, 2 * V))).not.toEqual(Array.from(db.subarray(V, 2 * V)));
    tf.dispose([a, b]);
    withK.dispose();
    none.dispose();
  });

  test('easynlp fusion changes only text-position logits (as in EasyNLP)', () => {
    const m = new KnowlGpt({ preset: 'nano', fusion: 'easynlp' }, { seed: 4 });
    const table = makeTable(10, m.config.entityDim);
    const k = buildKnowledge(m.config, [flatLattice([3], [1], [2])], table)!;
    const [a, b] = tf.tidy(() => {
      const kt = knowledgeTensors(k, m.config);
      return [
        m.forward(tokens(), { knowledge: kt }).logits,
        m.forward(tokens(), { knowledge: kt, fuse: false }).logits,
      ];
    });
    const V = m.config.imageVocabSize;
    const T = m.config.textLen;
    const da = a.dataSync();
    const db = b.dataSync();
    expect(Array.from(da.subarray(T * V))).toEqual(Array.from(db.subarray(T * V)));
    expect(Array.from(da.subarray((T - 1) * V, T * V))).not.toEqual(
      Array.from(db.subarray((T - 1) * V, T * V)),
    );
    tf.dispose([a, b]);
    m.dispose();
  });

  test('no tensor leaks in fused forward passes', async () => {
    for (const fusion of ['lattice', 'easynlp'] as const) {
      const m = new KnowlGpt({ preset: 'nano', fusion });
      const table = makeTable(10, m.config.entityDim);
      const k = buildKnowledge(m.config, [flatLattice([3], [1], [2])], table)!;
      await expectNoLeakedTensors(() => {
        const kt = knowledgeTensors(k, m.config);
        const out = tf.tidy(() => m.forward(tokens(), { knowledge: kt }).logits);
        disposeKnowledge(kt);
        return out;
      }, `${fusion} forward`);
      m.dispose();
    }
  });
});
