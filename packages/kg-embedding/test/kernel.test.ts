import { stepLearningRate, transESchedule, validateTransEConfig } from '../src/config';
import { stepSeed } from '../src/fast_rng';
import { type Tables, Workspace } from '../src/kernel';
import { trainRange } from '../src/train_step';
import { buildTripleIndex } from '../src/triple_index';

// One update of the positive (1, r0, 2) whose only admissible tail corruption is entity 0
// (entities 1 and 3 form known triples, 2 is the true tail), so the step is deterministic.
// Expected values: an independent numpy implementation of the formulas (float64 math, float32
// storage), see the README's "Tests" section.
const E0 = [0.1, -0.2, 0.3, 0.05, 0.4, 0.1, -0.3, 0.2, -0.5, 0.6, 0.2, -0.55, 0.0, 0.3, 0.3, 0.3];
const R0 = [0.25, -0.15, 0.05, 0.35];

const REF = {
  A: {
    loss: 2.4064480242358917,
    E: [
      1.5079041348897704e-9, -0.30000001192092896, 0.4000000059604645, -0.05000000074505806,
      0.36720484495162964, 0.2917640209197998, -0.2672048509120941, 0.1672048568725586,
      -0.4000000059604645, 0.5, 0.10000000149011612, -0.45000001788139343, 0.0, 0.30000001192092896,
      0.30000001192092896, 0.30000001192092896,
    ],
    R: [0.21720485389232635, 0.04176400229334831, 0.082795150578022, 0.3172048330307007],
  },
  B: {
    loss: 1.8401858740069679,
    E: [
      0.041086345911026, -0.21561281383037567, 0.35811367630958557, -0.0034760492853820324,
      0.3931955099105835, 0.15239264070987701, -0.33278918266296387, 0.19107173383235931,
      -0.4342818260192871, 0.5622202157974243, 0.1742755025625229, -0.4869956970214844, 0.0,
      0.30000001192092896, 0.30000001192092896, 0.30000001192092896,
    ],
    R: [0.24349549412727356, -0.09710735827684402, 0.016510840505361557, 0.34077170491218567],
  },
  C: {
    loss: 3.600000035017729,
    E: [
      1.4901161415892261e-9, -0.30000001192092896, 0.4000000059604645, -0.05000000074505806,
      0.4000000059604645, 0.30000001192092896, -0.30000001192092896, 0.20000000298023224,
      -0.4000000059604645, 0.5, 0.10000000149011612, -0.45000001788139343, 0.0, 0.30000001192092896,
      0.30000001192092896, 0.30000001192092896,
    ],
    R: [0.25, 0.04999999329447746, 0.05000000074505806, 0.3499999940395355],
  },
};

const SEED_DISTINCT = 1;

function step(cfgPart: Parameters<typeof validateTransEConfig>[0]) {
  const cfg = validateTransEConfig({
    dim: 4,
    negatives: 1,
    corruption: 'bernoulli',
    filterNegatives: true,
    ...cfgPart,
  });
  const tables: Tables = {
    dim: 4,
    numEntities: 4,
    numRelations: 1,
    entity: Float32Array.from(E0),
    relation: Float32Array.from(R0),
    entityAcc: new Float32Array(4),
    relationAcc: new Float32Array(1),
  };
  const triples = Int32Array.from([1, 0, 2]);
  const known = { data: Int32Array.from([1, 0, 1, 1, 0, 2, 1, 0, 3]), count: 3 };
  const ws = new Workspace(4, 1, 4);
  ws.rng.reseed(7);
  const loss = trainRange(
    ws,
    tables,
    {
      triples,
      count: 1,
      order: Uint32Array.from([0]),
      headProb: Float64Array.from([0]), // always corrupt the tail
      blockEntities: 0,
      index: buildTripleIndex(4, 1, [known]),
    },
    cfg,
    0,
    1,
    0.1,
  );
  return { loss, tables };
}

function expectClose(actual: ArrayLike<number>, expected: number[], atol = 1e-6) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > atol) {
      throw new Error(`index ${i}: ${actual[i]} vs expected ${expected[i]}`);
    }
  }
}

describe('trainRange (one step against numpy)', () => {
  it('L1 + log-sigmoid loss + row-wise Adagrad', () => {
    const { loss, tables } = step({
      distance: 'L1',
      loss: 'logsigmoid',
      margin: 2,
      optimizer: 'adagrad',
      renorm: 'none',
      adversarialTemperature: 1,
    });
    expect(loss).toBeCloseTo(REF.A.loss, 6);
    expectClose(tables.entity, REF.A.E);
    expectClose(tables.relation, REF.A.R);
    // Adagrad accumulators: mean squared gradient of each touched row (entity 3 untouched).
    expect(tables.entityAcc[3]).toBe(0);
    expect(tables.entityAcc[0]).toBeGreaterThan(0);
  });

  it('L2 + margin loss + SGD + L2 penalty + max-norm renormalisation', () => {
    const { loss, tables } = step({
      distance: 'L2',
      loss: 'margin',
      margin: 1,
      optimizer: 'sgd',
      renorm: 'max',
      regularization: 0.01,
    });
    expect(loss).toBeCloseTo(REF.B.loss, 6);
    expectClose(tables.entity, REF.B.E);
    expectClose(tables.relation, REF.B.R);
  });
});

describe('trainRange, classic fused path', () => {
  it('L1 + margin + one negative + SGD + max-norm (the OpenKE / Fast-TransE step)', () => {
    const { loss, tables } = step({
      distance: 'L1',
      loss: 'margin',
      margin: 2,
      optimizer: 'sgd',
      renorm: 'max',
    });
    expect(loss).toBeCloseTo(REF.C.loss, 6);
    expectClose(tables.entity, REF.C.E);
    expectClose(tables.relation, REF.C.R);
  });
});

describe('trainRange, self-adversarial weights', () => {
  // Five entities; the admissible tail corruptions of (1, r0, 2) are 0 and 4. With this seed the
  // two negatives are 0 and 4 (in some order): weights softmax(-d_neg) = [0.3659, 0.6341].
  const REF_ADV = {
    loss: 2.6253270420104307,
    E: [
      1.538735250328216e-9, -0.30000001192092896, 0.4000000059604645, -0.05000000074505806,
      0.38303226232528687, 0.2616077661514282, -0.28303226828575134, 0.08464348316192627,
      -0.4000000059604645, 0.5, 0.10000000149011612, -0.45000001788139343, 0.0, 0.30000001192092896,
      0.30000001192092896, 0.30000001192092896, 0.10000000149011612, -0.5, 0.20000000298023224,
      0.7000000476837158,
    ],
    R: [0.2330322563648224, 0.011607744731009007, 0.06696774065494537, 0.23464347422122955],
  };
  it('weights two negatives by softmax(-alpha d) (L1, log-sigmoid, Adagrad)', () => {
    const cfg = validateTransEConfig({
      dim: 4,
      negatives: 2,
      distance: 'L1',
      loss: 'logsigmoid',
      margin: 2,
      adversarialTemperature: 1,
      optimizer: 'adagrad',
      renorm: 'none',
    });
    const tables: Tables = {
      dim: 4,
      numEntities: 5,
      numRelations: 1,
      entity: Float32Array.from([...E0, 0.2, -0.4, 0.1, 0.6]),
      relation: Float32Array.from(R0),
      entityAcc: new Float32Array(5),
      relationAcc: new Float32Array(1),
    };
    const ws = new Workspace(4, 2, 5);
    ws.rng.reseed(SEED_DISTINCT);
    const known = { data: Int32Array.from([1, 0, 1, 1, 0, 2, 1, 0, 3]), count: 3 };
    const loss = trainRange(
      ws,
      tables,
      {
        triples: Int32Array.from([1, 0, 2]),
        count: 1,
        order: Uint32Array.from([0]),
        headProb: Float64Array.from([0]),
        blockEntities: 0,
        index: buildTripleIndex(5, 1, [known]),
      },
      cfg,
      0,
      1,
      0.1,
    );
    expect(Array.from(ws.negEnt).sort()).toEqual([0, 4]);
    expect(loss).toBeCloseTo(REF_ADV.loss, 6);
    expectClose(tables.entity, REF_ADV.E);
    expectClose(tables.relation, REF_ADV.R);
  });
});

describe('learning-rate schedule', () => {
  const base = validateTransEConfig({ learningRate: 1, minLrRatio: 0.1 });
  const lr = (kind: 'constant' | 'linear' | 'cosine', step: number, total: number, warm: number) =>
    stepLearningRate(transESchedule({ ...base, lrSchedule: kind }, total, warm), step);
  it('warms up linearly, then decays to the floor', () => {
    expect(lr('constant', 0, 100, 4)).toBeCloseTo(0.25);
    expect(lr('constant', 50, 100, 4)).toBe(1);
    expect(lr('linear', 0, 100, 0)).toBe(1);
    expect(lr('linear', 100, 100, 0)).toBeCloseTo(0.1);
    expect(lr('cosine', 50, 100, 0)).toBeCloseTo(0.55);
    expect(lr('cosine', 100, 100, 0)).toBeCloseTo(0.1);
  });

  it('step seeds depend on seed, epoch and step', () => {
    const seeds = new Set([
      stepSeed(1, 0, 0),
      stepSeed(1, 0, 1),
      stepSeed(1, 1, 0),
      stepSeed(2, 0, 0),
    ]);
    expect(seeds.size).toBe(4);
    expect(stepSeed(1, 3, 5)).toBe(stepSeed(1, 3, 5));
  });
});
