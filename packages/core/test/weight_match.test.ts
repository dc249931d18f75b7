import {
  assertWeightsMatch,
  matchWeights,
  WeightMismatchError,
  weightsMatch,
} from '../src/weight_match';

describe('matchWeights', () => {
  const model = new Map<string, number[]>([
    ['a.weight', [2, 3]],
    ['a.bias', [3]],
    ['b.weight', [4]],
  ]);

  it('accepts an exact match from any iterable', () => {
    const m = matchWeights(model, [
      ['b.weight', [4]],
      ['a.bias', [3]],
      ['a.weight', [2, 3]],
    ]);
    expect(weightsMatch(m)).toBe(true);
  });

  it('lists missing, unexpected and mis-shaped names together', () => {
    const m = matchWeights(model, [
      ['a.weight', [3, 2]],
      ['c.weight', [1]],
    ]);
    expect(m.missing).toEqual(['a.bias', 'b.weight']);
    expect(m.unexpected).toEqual(['c.weight']);
    expect(m.misShaped).toEqual([{ name: 'a.weight', expected: [2, 3], got: [3, 2] }]);
    expect(weightsMatch(m)).toBe(false);
  });

  it('ignores prefixes and predicates on both sides', () => {
    const m = matchWeights(
      model,
      [
        ['a.weight', [2, 3]],
        ['a.bias', [3]],
        ['x.num_batches_tracked', []],
      ],
      {
        ignorePrefixes: ['b.'],
        ignore: (n) => n.endsWith('num_batches_tracked'),
      },
    );
    expect(weightsMatch(m)).toBe(true);
  });

  it('throws one error naming the source and every difference', () => {
    let err: unknown;
    try {
      assertWeightsMatch(
        'w.bin',
        model,
        [
          ['a.weight', [2, 2]],
          ['z', [1]],
        ],
        { hint: 'try --allow-unused' },
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightMismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain('w.bin');
    expect(msg).toContain('a.bias, b.weight');
    expect(msg).toContain('z');
    expect(msg).toContain('a.weight [2,2] (expected [2,3])');
    expect(msg).toContain('try --allow-unused');
    expect((err as WeightMismatchError).missing).toEqual(['a.bias', 'b.weight']);
  });

  it('shortens long lists and says how many', () => {
    const want = new Map(
      Array.from({ length: 30 }, (_, i) => [`w${i}`, [1]] as [string, number[]]),
    );
    const m = matchWeights(want, []);
    expect(new WeightMismatchError('s', m).message).toContain('(30 in all)');
  });
});
