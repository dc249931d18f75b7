import { DEFAULT_TRANSE_CONFIG, PRESETS, presetConfig, validateTransEConfig } from '../src/config';

describe('TransEConfig', () => {
  it('fills defaults without mutating them', () => {
    const c = validateTransEConfig({ dim: 32 });
    expect(c.dim).toBe(32);
    expect(c.margin).toBe(DEFAULT_TRANSE_CONFIG.margin);
    expect(Object.isFrozen(DEFAULT_TRANSE_CONFIG)).toBe(true);
  });

  it('names the bad field and the allowed values', () => {
    expect(() => validateTransEConfig({ distance: 'L3' as never })).toThrow(
      'TransEConfig.distance must be one of L1, L2; got L3',
    );
    expect(() => validateTransEConfig({ negatives: 0 })).toThrow(
      'TransEConfig.negatives must be an integer >= 1; got 0',
    );
    expect(() => validateTransEConfig({ learningRate: -1 })).toThrow(
      /TransEConfig.learningRate must be a finite number > 0/,
    );
    expect(() => validateTransEConfig({ minLrRatio: 2 })).toThrow(
      /TransEConfig.minLrRatio must be in \[0, 1\]/,
    );
    expect(() => validateTransEConfig({ workers: 1.5 })).toThrow(
      /TransEConfig.workers must be an integer >= 0/,
    );
    expect(() => validateTransEConfig({ dimension: 3 } as never)).toThrow(
      /unknown field 'dimension'/,
    );
  });

  it('has valid presets, including ARTIST-sized default vectors', () => {
    for (const name of Object.keys(PRESETS)) expect(() => presetConfig(name)).not.toThrow();
    expect(presetConfig('default').dim).toBe(100);
    expect(presetConfig('fb15k237-best', { epochs: 3 }).epochs).toBe(3);
    expect(() => presetConfig('nope')).toThrow(
      /unknown TransE preset 'nope' \(available: tiny, default/,
    );
  });
});
