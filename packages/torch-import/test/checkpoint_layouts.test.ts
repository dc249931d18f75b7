import * as path from 'node:path';
import {
  ForbiddenGlobalError,
  inspectCheckpoint,
  loadStateDict,
  PyDict,
  PyObject,
  readTorchFile,
} from '@artist-ts/torch-files';

// The reader on the model checkpoints this package converts (Lightning, ARTIST, safetensors).
const fx = (n: string) => path.join(__dirname, 'fixtures', n);

describe('safetensors metadata', () => {
  it('keeps __metadata__', () => {
    const vq = readTorchFile(fx('vqgan_tiny.safetensors'));
    expect(vq.metadata).toEqual({ format: 'pt', source: 'make_fixtures.py' });
    vq.close();
  });
});

describe('checkpoint containers', () => {
  it('finds a Lightning state_dict and reports the rest', () => {
    // The callback class used as a dict key is refused unless allowed as an inert object.
    expect(() => loadStateDict(fx('vqgan_tiny_lightning.ckpt'))).toThrow(ForbiddenGlobalError);
    const sd = loadStateDict(fx('vqgan_tiny_lightning.ckpt'), {
      allowGlobals: ['pytorch_lightning.*'],
    });
    expect(sd.container).toBe('state_dict');
    expect(sd.tensors.has('encoder.conv_in.weight')).toBe(true);
    expect(sd.tensors.has('loss.discriminator.main.0.weight')).toBe(true);
    expect(sd.skipped.map((s) => s.key)).toEqual([
      '<top>.epoch',
      '<top>.global_step',
      '<top>.pytorch-lightning_version',
      '<top>.callbacks',
      '<top>.optimizer_states',
      '<top>.lr_schedulers',
    ]);
    sd.close();
  });

  it('keeps inert objects inert and records their arguments', () => {
    const f = readTorchFile(fx('vqgan_tiny_lightning.ckpt'), {
      allowGlobals: ['pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint'],
    });
    const root = f.root as PyDict;
    expect(root.get('global_step')).toBe(1200);
    const cb = root.get('callbacks') as PyDict;
    expect(cb.size).toBe(1);
    const sd = root.get('state_dict') as PyDict;
    expect(sd.attrs).toBeInstanceOf(PyDict); // _metadata via BUILD
    expect(f.tensors.length).toBe(sd.size);
    f.close();
    expect(PyObject).toBeDefined();
  });

  it('reads the ARTIST layout with both prefixes', () => {
    const sd = loadStateDict(fx('artist_tiny.bin'));
    const keys = [...sd.tensors.keys()];
    expect(keys.filter((k) => k.startsWith('transformer.')).length).toBeGreaterThan(0);
    expect(keys.filter((k) => k.startsWith('first_stage_model.')).length).toBeGreaterThan(0);
    expect(sd.skipped).toEqual([]);
    sd.close();
  });
});

describe('inspectCheckpoint', () => {
  it('lists keys, dtypes and shapes without reading data', () => {
    const s = inspectCheckpoint(fx('artist_tiny.bin'));
    expect(s.format).toBe('torch-zip');
    expect(s.tensors[0]).toEqual({
      key: 'transformer.pos_emb',
      dtype: 'float32',
      shape: [1, 12, 16],
    });
    expect(s.bytes).toBe(4 * s.elements);
    expect(s.metadata).toEqual({ byteorder: 'little', version: '3' });
  });
});
