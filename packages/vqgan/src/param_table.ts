/**
 * The VQGAN's parameter table: the one walk over taming's architecture (ARTIST reference §8, §9.1).
 * Every weight, in taming's constructor order, with its state-dict key, our (tfjs) shape, the
 * PyTorch shape, the layout change between the two and its initialiser. Model construction
 * (`Vqgan.create`), torch-import's converter, parameter counting and the taming key list all read
 * it; the forward pass reads the per-level module names (`VqganModules`) it records.
 *
 * Our names ARE taming's keys (ARTIST's `pytorch_model.bin` adds `first_stage_model.`).
 */
import type { VqganConfig } from './config';

/**
 * How the PyTorch tensor becomes ours; the names torch-import's layout converter applies.
 * `conv_oihw_to_hwio`: Conv2d weight [out, in, kh, kw] -> [kh, kw, in, out] (1x1 convs too).
 * `identity`: biases, GroupNorm affines, the codebook [n, d].
 */
export type VqganLayout = 'identity' | 'conv_oihw_to_hwio';

/** PyTorch's default init, as taming trains from: U(-bound, bound), or a constant. */
export type VqganParamInit =
  | { kind: 'uniform'; bound: number }
  | { kind: 'constant'; value: number };

export interface VqganParamSpec {
  /** taming state-dict key (without ARTIST's `first_stage_model.`); our weight name. */
  name: string;
  /** Our (tfjs, NHWC) shape. */
  shape: number[];
  /** Shape in the PyTorch state dict. */
  torchShape: number[];
  layout: VqganLayout;
  init: VqganParamInit;
}

/** The module names of one encoder or decoder level (`encoder.down.{i}` / `decoder.up.{i}`). */
export interface LevelModules {
  /** ResnetBlock prefixes, in forward order. */
  blocks: string[];
  /** AttnBlock prefixes, one after each block, or none at this level. */
  attns: string[];
  /** Downsample / Upsample conv prefix (`....downsample.conv`), or null at the last level. */
  resample: string | null;
}

export interface VqganModules {
  /** Encoder levels, highest resolution first. */
  down: LevelModules[];
  /** Decoder levels indexed as taming (`up[0]` is the highest resolution; run from the last). */
  up: LevelModules[];
}

export interface VqganTable {
  /** Every weight, in taming's constructor order (which is also our RNG draw order). */
  specs: VqganParamSpec[];
  modules: VqganModules;
}

class TableBuilder {
  readonly specs: VqganParamSpec[] = [];

  /** PyTorch Conv2d: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  conv(name: string, k: number, ci: number, co: number): void {
    const init = { kind: 'uniform', bound: 1 / Math.sqrt(ci * k * k) } as const;
    this.specs.push({
      name: `${name}.weight`,
      shape: [k, k, ci, co],
      torchShape: [co, ci, k, k],
      layout: 'conv_oihw_to_hwio',
      init,
    });
    this.specs.push({
      name: `${name}.bias`,
      shape: [co],
      torchShape: [co],
      layout: 'identity',
      init,
    });
  }

  /** GroupNorm affine: gamma = 1, beta = 0. */
  norm(name: string, c: number): void {
    for (const [part, value] of [
      ['weight', 1],
      ['bias', 0],
    ] as const) {
      this.specs.push({
        name: `${name}.${part}`,
        shape: [c],
        torchShape: [c],
        layout: 'identity',
        init: { kind: 'constant', value },
      });
    }
  }

  resBlock(name: string, cin: number, cout: number): void {
    this.norm(`${name}.norm1`, cin);
    this.conv(`${name}.conv1`, 3, cin, cout);
    this.norm(`${name}.norm2`, cout);
    this.conv(`${name}.conv2`, 3, cout, cout);
    if (cin !== cout) this.conv(`${name}.nin_shortcut`, 1, cin, cout);
  }

  attn(name: string, c: number): void {
    this.norm(`${name}.norm`, c);
    for (const m of ['q', 'k', 'v', 'proj_out']) this.conv(`${name}.${m}`, 1, c, c);
  }

  mid(prefix: string, c: number): void {
    this.resBlock(`${prefix}.mid.block_1`, c, c);
    this.attn(`${prefix}.mid.attn_1`, c);
    this.resBlock(`${prefix}.mid.block_2`, c, c);
  }
}

/** The table and module names for `c` (see the module comment). */
export function vqganTable(c: VqganConfig): VqganTable {
  const t = new TableBuilder();
  const levels = c.chMult.length;
  const inMult = [1, ...c.chMult];
  // Encoder (taming Encoder.__init__ order).
  t.conv('encoder.conv_in', 3, c.inChannels, c.ch);
  let res = c.resolution;
  let blockIn = c.ch;
  const down: LevelModules[] = [];
  for (let i = 0; i < levels; i++) {
    const level: LevelModules = { blocks: [], attns: [], resample: null };
    blockIn = c.ch * inMult[i];
    const blockOut = c.ch * c.chMult[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      const name = `encoder.down.${i}.block.${j}`;
      t.resBlock(name, blockIn, blockOut);
      level.blocks.push(name);
      blockIn = blockOut;
      if (c.attnResolutions.includes(res)) {
        const a = `encoder.down.${i}.attn.${j}`;
        t.attn(a, blockIn);
        level.attns.push(a);
      }
    }
    if (i !== levels - 1) {
      level.resample = `encoder.down.${i}.downsample.conv`;
      t.conv(level.resample, 3, blockIn, blockIn);
      res /= 2;
    }
    down.push(level);
  }
  t.mid('encoder', blockIn);
  t.norm('encoder.norm_out', blockIn);
  t.conv('encoder.conv_out', 3, blockIn, c.zChannels);
  // Quantizer. taming: embedding.weight.data.uniform_(-1/n_e, 1/n_e).
  t.conv('quant_conv', 1, c.zChannels, c.embedDim);
  t.specs.push({
    name: 'quantize.embedding.weight',
    shape: [c.nEmbed, c.embedDim],
    torchShape: [c.nEmbed, c.embedDim],
    layout: 'identity',
    init: { kind: 'uniform', bound: 1 / c.nEmbed },
  });
  t.conv('post_quant_conv', 1, c.embedDim, c.zChannels);
  // Decoder: created from the lowest resolution up, as taming's constructor does.
  blockIn = c.ch * c.chMult[levels - 1];
  res = c.resolution / 2 ** (levels - 1);
  t.conv('decoder.conv_in', 3, c.zChannels, blockIn);
  t.mid('decoder', blockIn);
  const up: LevelModules[] = new Array(levels);
  for (let i = levels - 1; i >= 0; i--) {
    const level: LevelModules = { blocks: [], attns: [], resample: null };
    const blockOut = c.ch * c.chMult[i];
    for (let j = 0; j < c.numResBlocks + 1; j++) {
      const name = `decoder.up.${i}.block.${j}`;
      t.resBlock(name, blockIn, blockOut);
      level.blocks.push(name);
      blockIn = blockOut;
      if (c.attnResolutions.includes(res)) {
        const a = `decoder.up.${i}.attn.${j}`;
        t.attn(a, blockIn);
        level.attns.push(a);
      }
    }
    if (i !== 0) {
      level.resample = `decoder.up.${i}.upsample.conv`;
      t.conv(level.resample, 3, blockIn, blockIn);
      res *= 2;
    }
    up[i] = level;
  }
  t.norm('decoder.norm_out', blockIn);
  t.conv('decoder.conv_out', 3, blockIn, c.outChannels);
  return { specs: t.specs, modules: { down, up } };
}

/** Every weight of the VQGAN for `c` (see `vqganTable`). */
export function vqganParameterSpecs(c: VqganConfig): VqganParamSpec[] {
  return vqganTable(c).specs;
}

/** Learned parameters a model of config `c` holds (no building needed). */
export function countVqganParameters(c: VqganConfig): number {
  let n = 0;
  for (const s of vqganParameterSpecs(c)) n += s.shape.reduce((a, d) => a * d, 1);
  return n;
}
