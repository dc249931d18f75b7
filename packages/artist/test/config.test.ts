import { resolveConfig, TRAINER_PRESETS } from '../src/config';

describe('trainer config', () => {
  it('resolves presets and dotted overrides', () => {
    const c = resolveConfig({
      preset: 'demo',
      overrides: ['gpt.model.nLayer=2', 'data.limit=50', 'name=x'],
    });
    expect(c.gpt.model.nLayer).toBe(2);
    expect(c.data.limit).toBe(50);
    expect(c.name).toBe('x');
    expect(Object.keys(TRAINER_PRESETS)).toEqual(['demo', 'artist-base', 'finetune']);
    const base = resolveConfig({ preset: 'artist-base' });
    expect(base.vqgan.model.nEmbed).toBe(16384);
    expect(base.gpt.model.nEmbd).toBe(768);
  });

  it("the finetune preset carries EasyNLP's fine-tune defaults and needs its files", () => {
    const c = resolveConfig({ preset: 'finetune' });
    expect(c.gpt.train).toMatchObject({ learningRate: 4e-5, batchSize: 8, seed: 42 });
    expect(c.gpt.checkpointEvery).toBe(200);
    expect(c.finetune.epochs).toBe(2);
    expect(c.lattice.textLen).toBe(32);
    expect(c.data.size).toBe(256);
    expect(c.eval.sample.numSamples).toBe(4);
    expect(() => resolveConfig({ preset: 'finetune', overrides: ['finetune.init=m.bin'] })).toThrow(
      "config field 'finetune.train': required when finetune.init is set",
    );
    expect(() => resolveConfig({ overrides: ['finetune.epochs=0'] })).toThrow(
      "config field 'finetune.epochs': must be null or a positive integer, got 0",
    );
  });

  it('rejects unknown keys and bad values, naming the field and the file', () => {
    expect(() =>
      resolveConfig({ file: { path: 'run.json', json: { gpt: { modle: {} } } } }),
    ).toThrow("run.json: config field 'gpt.modle': unknown key (did you mean 'model'?)");
    expect(() => resolveConfig({ overrides: ['vqgan.steps="many"'] })).toThrow(
      "config field 'vqgan.steps': must be number",
    );
    expect(() => resolveConfig({ overrides: ['backend=gpu'] })).toThrow("config field 'backend'");
    expect(() => resolveConfig({ overrides: ['gpt.model.fusion=graph'] })).toThrow(/gpt\.model/);
    expect(() => resolveConfig({ overrides: ['data.size=64'] })).toThrow(
      "config field 'vqgan.model.resolution': must equal data.size (64)",
    );
    expect(() => resolveConfig({ overrides: ['eval.realImages=1'] })).toThrow(
      "config field 'eval.realImages': must be null (all) or an integer >= 2, got 1",
    );
    expect(resolveConfig({ overrides: ['eval.realImages=null'] }).eval.realImages).toBeNull();
    expect(() => resolveConfig({ preset: 'huge' })).toThrow(
      "config field 'preset': unknown preset 'huge'",
    );
  });
});
