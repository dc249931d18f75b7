import { Rng } from '@artist-ts/core/rng';
import {
  DECODE_ATTENTION_KERNEL,
  decodeAttentionSupported,
  initRuntime,
  KvCache,
} from '@artist-ts/runtime';
import { expectNoLeakedTensors } from '@artist-ts/runtime/testing';
import * as tf from '@tensorflow/tfjs';
import {
  abstractExample,
  KnowlGpt,
  type SampleProgress,
  sampleCodes,
  validateSampleConfig,
} from '../src';
import { blockSize } from '../src/config';
import type { LayerCache } from '../src/layers';
import { disposePacked } from '../src/packed_inference';
import { guide, sampleFromLogits } from '../src/sampler';
import { flatLattice, makeTable } from './helpers';

beforeAll(async () => {
  await initRuntime({ backend: 'cpu' });
});

const texts = [[5, 6, 7], [9, 10, 11, 12, 13], [3]];
const lattices = [flatLattice([1, 2], [0, 1], [1, 2]), null, flatLattice([4], [0], [0])];

describe('sampleFromLogits', () => {
  test('top-k keeps exactly the k best (ties kept), top-p the nucleus, temperature 0 is argmax', () => {
    const logits = new Float32Array([0, 3, 1, 3, 2, -1]);
    const counts = (cfg: { temperature: number; topK: number; topP: number }) => {
      const rng = new Rng(7);
      const seen = new Array(6).fill(0);
      for (let i = 0; i < 2000; i++) seen[sampleFromLogits(logits.slice(), cfg, rng)]++;
      return seen;
    };
    const k2 = counts({ temperature: 1, topK: 2, topP: 1 });
    expect(k2[0] + k2[2] + k2[4] + k2[5]).toBe(0);
    expect(k2[1]).toBeGreaterThan(850);
    expect(k2[3]).toBeGreaterThan(850);
    const k3 = counts({ temperature: 1, topK: 3, topP: 1 });
    expect(k3[4]).toBeGreaterThan(0);
    expect(k3[0] + k3[2] + k3[5]).toBe(0);
    // probabilities: codes 1, 3 0.389 each (sum 0.778), code 4 0.143: topP 0.75 keeps {1, 3}
    const p = counts({ temperature: 1, topK: 0, topP: 0.75 });
    expect(p[0] + p[2] + p[4] + p[5]).toBe(0);
    expect(
      sampleFromLogits(
        new Float32Array([0, 1, 5, 2]),
        { temperature: 0, topK: 0, topP: 1 },
        new Rng(1),
      ),
    ).toBe(2);
  });

  test('draws what a pass over all V codes draws (visiting only the kept codes)', () => {
    // the straightforward sampler: every code's probability (0 when cut), cumulative in index order
    const reference = (
      row: Float32Array,
      cfg: { temperature: number; topK: number; topP: number },
      rng: Rng,
    ) => {
      const V = row.length;
      const sorted = Float32Array.from(row).sort();
      const threshold = cfg.topK > 0 && cfg.topK < V ? sorted[V - cfg.topK] : -Infinity;
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (row[i] >= threshold) max = Math.max(max, row[i]);
      const p = Array.from(row, (x) =>
        x >= threshold ? Math.exp((x - max) / cfg.temperature) : 0,
      );
      let total = p.reduce((a, b) => a + b, 0);
      if (cfg.topP < 1) {
        const order = p.map((_, i) => i).filter((i) => p[i] > 0);
        order.sort((a, b) => p[b] - p[a] || a - b);
        let cum = 0;
        let cut = order.length;
        for (let r = 0; r < order.length; r++) {
          cum += p[order[r]] / total;
          if (cum >= cfg.topP) {
            cut = r + 1;
            break;
          }
        }
        for (let r = cut; r < order.length; r++) p[order[r]] = 0;
        total = order.slice(0, cut).reduce((a, i) => a + p[i], 0);
      }
      let u = rng.uniform() * total;
      let last = 0;
      for (let i = 0; i < V; i++) {
        if (p[i] <= 0) continue;
        last = i;
        u -= p[i];
        if (u < 0) return i;
      }
      return last;
    };
    const data = new Rng('rows');
    const V = 16384;
    for (const cfg of [
      { temperature: 1, topK: 100, topP: 1 },
      { temperature: 0.7, topK: 0, topP: 1 },
      { temperature: 1.3, topK: 500, topP: 0.9 },
    ]) {
      const a = new Rng(3);
      const b = new Rng(3);
      for (let trial = 0; trial < 20; trial++) {
        const row = data.fillNormal(new Float32Array(V), 0, 3);
        expect(sampleFromLogits(row.slice(), cfg, a)).toBe(reference(row, cfg, b));
      }
    }
  });

  test('validateSampleConfig names the bad field', () => {
    expect(() => validateSampleConfig({ topK: -1 })).toThrow(/topK must be an integer >= 0/);
    expect(() => validateSampleConfig({ topP: 0 })).toThrow(/topP must be in \(0, 1\]/);
    expect(() => validateSampleConfig({ top_k: 5 } as never)).toThrow(
      /top_k is not a sampling option/,
    );
    expect(validateSampleConfig().topK).toBe(100);
  });
});

describe('sampleCodes', () => {
  for (const fusion of ['lattice', 'easynlp', 'none'] as const) {
    test(`${fusion}: cached and uncached paths give identical tokens`, async () => {
      const m = new KnowlGpt({ preset: 'nano', fusion }, { seed: 11 });
      const entityTable = makeTable(10, m.config.entityDim);
      // texts 0 and 2 (with entities) and 1 (without); lattice: 2 samples each, batches of 4 and 2
      const req = { texts, lattices, entityTable };
      const n = fusion === 'lattice' ? 2 : 1;
      const cfg = { topK: 20, numSamples: n, batchSize: 4, seed: 5 };
      const a = await sampleCodes(m, req, { ...cfg, useCache: true });
      const b = await sampleCodes(m, req, { ...cfg, useCache: false });
      expect(a.codes.length).toBe(3 * n);
      expect(a.textIndex).toEqual(n === 2 ? [0, 0, 1, 1, 2, 2] : [0, 1, 2]);
      expect(a.sampleIndex).toEqual(n === 2 ? [0, 1, 0, 1, 0, 1] : [0, 0, 0]);
      expect(a.codes.map((x) => Array.from(x))).toEqual(b.codes.map((x) => Array.from(x)));
      for (const row of a.codes) {
        expect(row.length).toBe(m.config.imageLen);
        expect(row.every((x) => x >= 0 && x < m.config.imageVocabSize)).toBe(true);
      }
      // two samples of one text differ (independent streams)
      if (n === 2) expect(Array.from(a.codes[0])).not.toEqual(Array.from(a.codes[1]));
      m.dispose();
    });
  }

  test('KvCache decoding (native kernel) == the concatenating tensor cache: logits and tokens', async () => {
    const m = new KnowlGpt({ preset: 'nano', fusion: 'easynlp' }, { seed: 13 });
    const c = m.config;
    const entityTable = makeTable(10, c.entityDim);
    const req = { texts, lattices: [lattices[0], null, null], entityTable };
    const cfg = { topK: 20, numSamples: 2, batchSize: 3, seed: 4 };
    const withKernel = await sampleCodes(m, req, cfg);
    // the same sampling with the kernel unregistered takes the stock-op path (as on tfjs-node)
    const backend = tf.getBackend();
    const kernel = tf.getKernel(DECODE_ATTENTION_KERNEL, backend);
    expect(kernel !== undefined).toBe(decodeAttentionSupported());
    if (kernel) tf.unregisterKernel(DECODE_ATTENTION_KERNEL, backend);
    try {
      const stock = await sampleCodes(m, req, cfg);
      expect(withKernel.codes.map((x) => Array.from(x))).toEqual(
        stock.codes.map((x) => Array.from(x)),
      );
    } finally {
      if (kernel) tf.registerKernel(kernel);
    }
    if (!kernel) return m.dispose(); // no addon: nothing more to compare
    // logits of three decoded positions, both caches fed the same codes
    const packed = m.packWeights();
    const B = 2;
    const kv = new KvCache(c.nLayer, B, c.nHead, c.nEmbd / c.nHead, blockSize(c));
    // [k0, v0, k1, v1, ...] <-> LayerCache[]
    const layers = (ts: tf.Tensor[]): LayerCache[] =>
      Array.from({ length: c.nLayer }, (_, l) => ({
        k: ts[2 * l] as tf.Tensor4D,
        v: ts[2 * l + 1] as tf.Tensor4D,
      }));
    const flat = (cs: LayerCache[]) => cs.flatMap((x) => [x.k, x.v]);
    let cache = layers(
      tf.tidy(() => {
        const row = (r: number) => Array.from({ length: c.textLen }, (_, i) => (3 * i + r) % 50);
        const ids = tf.tensor2d([row(1), row(2)], undefined, 'int32'); // [2, textLen] joint ids
        return flat(m.forward(ids, { returnCache: true, packed }).cache!);
      }),
    );
    for (let l = 0; l < c.nLayer; l++) {
      kv.setPrefix(l, cache[l].k.dataSync(), cache[l].v.dataSync(), c.textLen);
    }
    for (let step = 0; step < 3; step++) {
      const codes = [step, 2 * step + 1];
      const pos = c.textLen + step;
      const [fast, slow, ...next] = tf.tidy(() => {
        const a = m.forwardEmbedded(m.embedCodes(codes, pos, packed), { kvCache: kv, packed });
        const opts = { cache, returnCache: true, packed };
        const b = m.forwardEmbedded(m.embedCodes(codes, pos, packed), opts);
        return [a.logits, b.logits, ...flat(b.cache!)];
      });
      expect(kv.length).toBe(pos + 1);
      const want = slow.dataSync();
      const got = fast.dataSync();
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
      expect(err).toBeLessThan(1e-4);
      tf.dispose([fast, slow, ...flat(cache)]);
      cache = layers(next);
    }
    // the call rules name what is wrong
    const x = m.embedCodes([1, 2], c.textLen + 3, packed);
    expect(() => m.forwardEmbedded(x, { kvCache: kv })).toThrow(/with kvCache, pass packed/);
    expect(() => m.forwardEmbedded(x, { kvCache: kv, packed, returnCache: true })).toThrow(
      /cache and returnCache must be unset/,
    );
    const two = m.embedCodes([1, 2, 3, 4], c.textLen + 3, packed).reshape([2, 2, c.nEmbd]);
    expect(() => m.forwardEmbedded(two as tf.Tensor3D, { kvCache: kv, packed })).toThrow(
      /one token per row, got 2/,
    );
    tf.dispose([x, two, ...flat(cache)]);
    disposePacked(packed);
    m.dispose();
  });

  test('classifier-free guidance: cached == uncached, and guidance changes the result', async () => {
    const m = new KnowlGpt({ preset: 'nano' }, { seed: 12 });
    const req = {
      texts: texts.slice(0, 2),
      lattices: lattices.slice(0, 2),
      entityTable: makeTable(10, m.config.entityDim),
    };
    const cfg = { topK: 0, guidanceScale: 3, seed: 9, batchSize: 2 };
    const a = await sampleCodes(m, req, { ...cfg, useCache: true });
    const b = await sampleCodes(m, req, { ...cfg, useCache: false });
    const plain = await sampleCodes(m, req, { ...cfg, guidanceScale: 1 });
    expect(a.codes.map((x) => Array.from(x))).toEqual(b.codes.map((x) => Array.from(x)));
    expect(a.codes.map((x) => Array.from(x))).not.toEqual(plain.codes.map((x) => Array.from(x)));
    m.dispose();
  });

  test('knowledge-aware guidance: u + s_text (c_text - u) + s_kg (c_text+kg - c_text)', () => {
    const c = new Float32Array([1, 2, 3]); // text + knowledge
    const t = new Float32Array([0, 2, 1]); // text alone
    const u = new Float32Array([1, 0, 1]); // neither
    const row = c.slice();
    guide(row, { sText: 2, sKg: 3 }, t, u);
    // u + 2 (t - u) + 3 (c - t)
    expect(Array.from(row)).toEqual([1 - 2 + 3, 4 + 0, 1 + 0 + 6]);
    const noU = c.slice();
    guide(noU, { sText: 1, sKg: 0.5 }, t, null); // s_text 1: t + s_kg (c - t)
    expect(Array.from(noU)).toEqual([0.5, 2, 2]);
    const classic = c.slice();
    guide(classic, { sText: 3, sKg: null }, null, u); // one condition: u + s (c - u)
    expect(Array.from(classic)).toEqual([1, 6, 7]);
  });

  test('knowledge-aware guidance: s_kg 0 samples the text alone; cached == uncached', async () => {
    const m = new KnowlGpt({ preset: 'nano' }, { seed: 14 });
    const entityTable = makeTable(10, m.config.entityDim);
    const req = { texts, lattices, entityTable };
    const codes = (r: { codes: Int32Array[] }) => r.codes.map((x) => Array.from(x));
    const textOnly = await sampleCodes(m, { ...req, lattices: [null, null, null] }, { seed: 4 });
    const kg0 = await sampleCodes(m, req, { seed: 4, knowledgeGuidanceScale: 0 });
    expect(codes(kg0)).toEqual(codes(textOnly));
    const cfg = { seed: 4, topK: 0, guidanceScale: 2, knowledgeGuidanceScale: 3, batchSize: 2 };
    const a = await sampleCodes(m, req, { ...cfg, useCache: true });
    const b = await sampleCodes(m, req, { ...cfg, useCache: false });
    expect(codes(a)).toEqual(codes(b));
    const strong = await sampleCodes(m, req, { ...cfg, knowledgeGuidanceScale: 100 });
    expect(codes(a)).not.toEqual(codes(strong));
    expect(() => validateSampleConfig({ knowledgeGuidanceScale: Number.NaN })).toThrow(
      /SampleConfig.knowledgeGuidanceScale must be a finite number or null/,
    );
    await expectNoLeakedTensors(() => sampleCodes(m, req, cfg).then(() => null));
    m.dispose();
    // Without fusion the entities change nothing, so the knowledge scale is a no-op.
    const none = new KnowlGpt({ preset: 'nano', fusion: 'none' }, { seed: 14 });
    const plain = await sampleCodes(none, { texts }, { seed: 4, guidanceScale: 2 });
    const kg = await sampleCodes(
      none,
      { texts },
      { seed: 4, guidanceScale: 2, knowledgeGuidanceScale: 5 },
    );
    expect(codes(kg)).toEqual(codes(plain));
    none.dispose();
  });

  test('compositional sampling: u + s sum_i (c_i - u) over one-fact conditions', async () => {
    const m = new KnowlGpt({ preset: 'nano' }, { seed: 15 });
    const c = m.config;
    const entityTable = makeTable(10, c.entityDim);
    const codes = (r: { codes: Int32Array[] }) => r.codes.map((x) => Array.from(x));
    // text 0: entity 1 matched over [0, 1], facts 4 and 5 attached; text 1: one fact (6) on
    // entity 2; text 2: a match with no fact (sampled as it is).
    const composed = {
      texts,
      lattices: [
        flatLattice([1, 4, 5], [0, 0, 0], [1, 1, 1], 3),
        flatLattice([2, 6], [1, 1], [2, 2], 5),
        flatLattice([4], [0], [0]),
      ],
      matchedEntities: [1, 1, 1],
      entityTable,
    };
    // With one fact and scale 1, u + (c_1 - u) = c_1: the same as sampling the one-fact example.
    const one = abstractExample(texts[1], composed.lattices[1], 1, 0, c.textPadId);
    const single = await sampleCodes(
      m,
      { texts: [one.text], lattices: [one.lattice], entityTable },
      { seed: 3, topK: 0, temperature: 0 },
    );
    const cfg = { seed: 3, topK: 0, temperature: 0, composeScale: 1, batchSize: 2 };
    const a = await sampleCodes(m, composed, cfg);
    expect(codes(a)[1]).toEqual(codes(single)[0]);
    // A text without attached facts is sampled as it is.
    const plain = await sampleCodes(m, composed, { seed: 3, topK: 0, temperature: 0 });
    expect(codes(a)[2]).toEqual(codes(plain)[2]);
    expect(codes(a)[0]).not.toEqual(codes(plain)[0]);
    // cached == uncached, and the scale acts
    const b = await sampleCodes(m, composed, { ...cfg, useCache: false });
    expect(codes(a)).toEqual(codes(b));
    const strong = await sampleCodes(m, composed, { ...cfg, composeScale: 30 });
    expect(codes(strong)[0]).not.toEqual(codes(a)[0]);
    // Without matchedEntities every entry is a match: no facts, nothing composed.
    const unmarked = await sampleCodes(m, { ...composed, matchedEntities: undefined }, cfg);
    expect(codes(unmarked)).toEqual(codes(plain));
    expect(() => validateSampleConfig({ composeScale: 1, guidanceScale: 2 })).toThrow(
      /SampleConfig.guidanceScale must be 1 with composeScale/,
    );
    expect(() => validateSampleConfig({ composeScale: 1, knowledgeGuidanceScale: 2 })).toThrow(
      /SampleConfig.knowledgeGuidanceScale must be null with composeScale/,
    );
    expect(() => validateSampleConfig({ composeScale: Number.POSITIVE_INFINITY })).toThrow(
      /SampleConfig.composeScale must be a finite number or null/,
    );
    await expectNoLeakedTensors(() => sampleCodes(m, composed, cfg).then(() => null));
    m.dispose();
    // Without fusion there is no knowledge to compose: texts are sampled as they are.
    const none = new KnowlGpt({ preset: 'nano', fusion: 'none' }, { seed: 15 });
    const nonePlain = await sampleCodes(none, composed, { seed: 3 });
    const noneComposed = await sampleCodes(none, composed, { seed: 3, composeScale: 1 });
    expect(codes(noneComposed)).toEqual(codes(nonePlain));
    none.dispose();
  });

  test('seeded, independent of batching, progress per token', async () => {
    const m = new KnowlGpt({ preset: 'nano' }, { seed: 13 });
    const req = { texts, lattices, entityTable: makeTable(10, m.config.entityDim) };
    const events: SampleProgress[] = [];
    const a = await sampleCodes(
      m,
      req,
      { seed: 1, batchSize: 3 },
      { onToken: (p) => events.push(p) },
    );
    const b = await sampleCodes(m, req, { seed: 1, batchSize: 1 });
    const c = await sampleCodes(m, req, { seed: 2, batchSize: 3 });
    expect(a.codes.map((x) => Array.from(x))).toEqual(b.codes.map((x) => Array.from(x)));
    expect(a.codes.map((x) => Array.from(x))).not.toEqual(c.codes.map((x) => Array.from(x)));
    expect(events.length).toBe(m.config.imageLen);
    expect(events[events.length - 1]).toMatchObject({
      token: 16,
      imageLen: 16,
      batch: 0,
      numBatches: 1,
      images: 3,
    });
    expect(a.tokensPerSecond).toBeGreaterThan(0);
    m.dispose();
  });

  test('greedy sampling of a text is reproduced by argmax over forward logits', async () => {
    const m = new KnowlGpt({ preset: 'nano', fusion: 'none' }, { seed: 14 });
    const r = await sampleCodes(m, { texts: [[4, 5]] }, { temperature: 0 });
    const again = await sampleCodes(m, { texts: [[4, 5]] }, { temperature: 0, seed: 99 });
    expect(Array.from(r.codes[0])).toEqual(Array.from(again.codes[0]));
    m.dispose();
  });

  test('no tensor leaks (cached, uncached, guided)', async () => {
    const m = new KnowlGpt({ preset: 'nano' });
    const req = {
      texts: texts.slice(0, 2),
      lattices: lattices.slice(0, 2),
      entityTable: makeTable(10, m.config.entityDim),
    };
    await expectNoLeakedTensors(() => sampleCodes(m, req, { useCache: true }).then(() => null));
    await expectNoLeakedTensors(() => sampleCodes(m, req, { useCache: false }).then(() => null));
    await expectNoLeakedTensors(() => sampleCodes(m, req, { guidanceScale: 2 }).then(() => null));
    m.dispose();
  });

  test('abort stops after the current token and frees the cache', async () => {
    const m = new KnowlGpt({ preset: 'nano', fusion: 'none' });
    await sampleCodes(m, { texts: [[1, 2]] }); // builds the model's cached causal mask
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    let tokens = 0;
    await expect(
      sampleCodes(
        m,
        { texts: [[1, 2]] },
        {},
        {
          signal: ctrl.signal,
          onToken: (p) => {
            tokens = p.token;
            if (p.token === 3) ctrl.abort();
          },
        },
      ),
    ).rejects.toThrow(/aborted/);
    expect(tokens).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  test('errors: lattice count and text ids', async () => {
    const m = new KnowlGpt({ preset: 'nano' });
    await expect(sampleCodes(m, { texts: [[1]], lattices: [null, null] })).rejects.toThrow(
      /2 lattices for 1 texts/,
    );
    await expect(sampleCodes(m, { texts: [[1, 64]] })).rejects.toThrow(/texts\[0\]\[1\] = 64/);
    m.dispose();
  });
});
