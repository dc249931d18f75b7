import { learningRateAt, validateLrSchedule } from '../src/lr_schedule';

describe('learningRateAt', () => {
  it('warms up linearly then decays linearly to zero (EasyNLP / HF linear)', () => {
    const s = validateLrSchedule({ peak: 1, kind: 'linear', warmupSteps: 4, totalSteps: 12 });
    // Values of transformers' get_linear_schedule_with_warmup(4, 12) at steps 1..12, times the peak.
    const want = [0.25, 0.5, 0.75, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0];
    for (const [i, w] of want.entries()) expect(learningRateAt(s, i + 1)).toBeCloseTo(w, 12);
    expect(learningRateAt(s, 20)).toBe(0);
  });

  it('cosine decays to minRatio and stays there', () => {
    const s = validateLrSchedule({
      peak: 2,
      kind: 'cosine',
      warmupSteps: 0,
      totalSteps: 10,
      minRatio: 0.1,
    });
    expect(learningRateAt(s, 0)).toBeCloseTo(2, 12);
    expect(learningRateAt(s, 5)).toBeCloseTo(0.2 + 1.8 * 0.5, 12);
    expect(learningRateAt(s, 10)).toBeCloseTo(0.2, 12);
    expect(learningRateAt(s, 99)).toBeCloseTo(0.2, 12);
  });

  it('decayOffset shifts where decay starts counting', () => {
    const s = validateLrSchedule({ peak: 1, kind: 'linear', warmupSteps: 0, totalSteps: 4 });
    expect(learningRateAt(s, 1, -1)).toBe(1);
    expect(learningRateAt(s, 1)).toBeCloseTo(0.75, 12);
  });

  it('constant holds the peak after warm-up', () => {
    const s = validateLrSchedule({ peak: 3, warmupSteps: 3 });
    expect([1, 2, 3, 4, 100].map((u) => learningRateAt(s, u))).toEqual([1, 2, 3, 3, 3]);
  });

  it('names the bad field', () => {
    expect(() => validateLrSchedule({ kind: 'step' as never }, 'gpt.train')).toThrow(
      /gpt\.train\.kind/,
    );
    expect(() => validateLrSchedule({ warmupSteps: 1.5 })).toThrow(/schedule\.warmupSteps/);
    expect(() => validateLrSchedule({ minRatio: 2 })).toThrow(/minRatio/);
  });
});
