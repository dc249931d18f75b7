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

  /**
   * One encoder or decoder level `prefix` (`encoder.down.{i}` / `decoder.up.{i}`): `count`
   * ResnetBlocks cin -> cout -> cout ..., each followed by an AttnBlock when `attn`, then the
   * resample conv (`prefix.downsample` / `prefix.upsample`) unless `resample` is null.
   */
  level(
    prefix: string,
    count: number,
    cin: number,
    cout: number,
    attn: boolean,
    resample: 'downsample' | 'upsample' | null,
  ): LevelModules {
    const level: LevelModules = {
      blocks: [],
      attns: [],
      resample: resample ? `${prefix}.${resample}.conv` : null,
    };
    for (let j = 0; j < count; j++) {
      level.blocks.push(`${prefix}.block.${j}`);
      this.resBlock(`${prefix}.block.${j}`, j === 0 ? cin : cout, cout);
      if (attn) {
        level.attns.push(`${prefix}.attn.${j}`);
        this.attn(`${prefix}.attn.${j}`, cout);
      }
    }
    if (level.resample) this.conv(level.resample, 3, cout, cout);
    return level;
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
  const down: LevelModules[] = [];
  for (let i = 0; i < levels; i++) {
    const last = i === levels - 1;
    const [cin, cout] = [c.ch * inMult[i], c.ch * c.chMult[i]];
    const attn = c.attnResolutions.includes(res);
    down.push(
      t.level(`encoder.down.${i}`, c.numResBlocks, cin, cout, attn, last ? null : 'downsample'),
    );
    if (!last) res /= 2;
  }
  const top = c.ch * c.chMult[levels - 1]; // channels at the lowest resolution
  t.mid('encoder', top);
  t.norm('encoder.norm_out', top);
  t.conv('encoder.conv_out', 3, top, c.zChannels);
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
  let blockIn = top;
  t.conv('decoder.conv_in', 3, c.zChannels, top);
  t.mid('decoder', top);
  const up: LevelModules[] = new Array(levels);
  for (let i = levels - 1; i >= 0; i--) {
    const cout = c.ch * c.chMult[i];
    const attn = c.attnResolutions.includes(res);
    up[i] = t.level(
      `decoder.up.${i}`,
      c.numResBlocks + 1,
      blockIn,
      cout,
      attn,
      i ? 'upsample' : null,
    );
    blockIn = cout;
    if (i !== 0) res *= 2;
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
