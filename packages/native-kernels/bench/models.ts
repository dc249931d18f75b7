// The two training steps of issue 3, written directly in tfjs ops so the benchmark depends on no
// other package: a tiny GPT (4 layers, 4 heads, d=128, batch 8 x 128 tokens, vocab 3512, Adam) and a
// tiny VQGAN-style conv autoencoder (batch 8, 32x32 RGB, 64 channels, 2 downsamplings, codebook 512x64).
import type * as tfjs from '@tensorflow/tfjs';
import { ADAMW_UPDATE_KERNEL } from '../src/kernels/adamw';
import { causalSelfAttention } from '../src/kernels/causal_attention';
import { fusedGelu } from '../src/kernels/gelu';
import { fusedLayerNorm } from '../src/kernels/layer_norm';
import { sparseSoftmaxCrossEntropy } from '../src/kernels/sparse_softmax_cross_entropy';

type Tf = typeof tfjs;

export interface TrainStep {
  /** Runs one optimiser step and returns the loss. */
  step(): Promise<number>;
  /** Matmul/conv FLOPs of one step (forward + backward = 3 x forward). */
  flops: number;
  dispose(): void;
}

/** What the models step with: `tf.train.adam` or the fused AdamW kernel. */
interface BenchOptimizer {
  /** One update of `vars` on the gradient of `loss`; returns the loss (the caller disposes it). */
  minimize(loss: () => tfjs.Scalar, vars: tfjs.Variable[]): tfjs.Scalar;
  dispose(): void;
}

/**
 * 'adam': tf.train.adam. 'adamw-kernel': where installKernels registered ADAMW_UPDATE_KERNEL, one
 * kernel per variable, driven as @artist-ts/runtime's AdamW (weightDecay 0, so Adam) drives it (the
 * bench cannot import the runtime, which depends on this package); tf.train.adam elsewhere (the
 * stock configurations).
 */
function makeOptimizer(tf: Tf, kind: 'adam' | 'adamw-kernel', lr: number): BenchOptimizer {
  if (kind === 'adam' || tf.getKernel(ADAMW_UPDATE_KERNEL, tf.getBackend()) === undefined) {
    const opt = tf.train.adam(lr);
    return {
      minimize: (loss, vars) => opt.minimize(loss, true, vars) as tfjs.Scalar,
      dispose: () => opt.dispose(),
    };
  }
  const beta1 = 0.9;
  const beta2 = 0.999;
  const slots = new Map<tfjs.Variable, { m: tfjs.Variable; v: tfjs.Variable }>();
  let step = 0;
  return {
    minimize(loss, vars) {
      step += 1;
      const attrs = {
        beta1,
        beta2,
        epsilon: 1e-8,
        decayFactor: 1,
        sqrtBc2: Math.sqrt(1 - beta2 ** step),
        stepSize: lr / (1 - beta1 ** step),
      };
      const { value, grads } = tf.variableGrads(loss, vars);
      for (const x of vars) {
        const g = grads[x.name];
        if (!g) continue;
        let s = slots.get(x);
        if (!s) {
          const zero = () => tf.tidy(() => tf.variable(tf.zerosLike(x), false));
          s = { m: zero(), v: zero() };
          slots.set(x, s);
        }
        const outs = tf
          .engine()
          .runKernel(ADAMW_UPDATE_KERNEL, { x, m: s.m, v: s.v, g }, attrs) as tfjs.Tensor[];
        x.assign(outs[0]!);
        s.m.assign(outs[1]!);
        s.v.assign(outs[2]!);
        tf.dispose(outs);
      }
      tf.dispose(Object.values(grads));
      return value;
    },
    dispose() {
      for (const { m, v } of slots.values()) tf.dispose([m, v]);
      slots.clear();
    },
  };
}

/** Deterministic uniform data without touching tfjs's global RNG. */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randn(rand: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}

export interface GptConfig {
  layers: number;
  heads: number;
  dModel: number;
  seqLen: number;
  batch: number;
  vocab: number;
  lr: number;
  /**
   * 'onehot': tf.losses.softmaxCrossEntropy over tf.oneHot(targets), as most tfjs code writes it;
   * 'sparse': this package's fused sparseSoftmaxCrossEntropy over the int32 targets (opt-in).
   */
  loss?: 'onehot' | 'sparse';
  /** 'adam': tf.train.adam; 'adamw-kernel': this package's AdamW kernel (see makeOptimizer). */
  optimizer?: 'adam' | 'adamw-kernel';
  /**
   * 'stock': GELU, layer norm and attention written with stock ops (split heads, masked softmax);
   * 'fused': this package's fusedGelu, fusedLayerNorm and causalSelfAttention (opt-in).
   */
  blocks?: 'stock' | 'fused';
}

export const TINY_GPT: GptConfig = {
  layers: 4,
  heads: 4,
  dModel: 128,
  seqLen: 128,
  batch: 8,
  vocab: 3512,
  lr: 1e-3,
};

export function gptFlops(c: GptConfig): number {
  const bt = c.batch * c.seqLen;
  const d = c.dModel;
  const perLayer =
    2 * bt * d * 3 * d +
    2 * 2 * c.batch * c.seqLen * c.seqLen * d +
    2 * bt * d * d +
    2 * 2 * bt * d * 4 * d;
  return 3 * (c.layers * perLayer + 2 * bt * d * c.vocab);
}

export function makeGpt(tf: Tf, c: GptConfig = TINY_GPT): TrainStep {
  const rand = lcg(1234);
  const { dModel: d, heads: h, seqLen: t, batch: b, vocab: v } = c;
  const hd = d / h;
  const vars: tfjs.Variable[] = [];
  const param = (shape: number[], std: number, name: string) => {
    const n = shape.reduce((x, y) => x * y, 1);
    const p = tf.tidy(() =>
      tf.variable(tf.tensor(randn(rand, n, std), shape), true, `gpt/${name}`),
    );
    vars.push(p);
    return p;
  };
  const ones = (shape: number[], name: string) => {
    const p = tf.tidy(() => tf.variable(tf.ones(shape), true, `gpt/${name}`));
    vars.push(p);
    return p;
  };
  const zeros = (shape: number[], name: string) => {
    const p = tf.tidy(() => tf.variable(tf.zeros(shape), true, `gpt/${name}`));
    vars.push(p);
    return p;
  };
  const wte = param([v, d], 0.02, 'wte');
  const wpe = param([t, d], 0.02, 'wpe');
  const blocks = Array.from({ length: c.layers }, (_, i) => ({
    ln1g: ones([d], `h${i}/ln1/g`),
    ln1b: zeros([d], `h${i}/ln1/b`),
    wqkv: param([d, 3 * d], 0.02, `h${i}/attn/wqkv`),
    bqkv: zeros([3 * d], `h${i}/attn/bqkv`),
    wo: param([d, d], 0.02 / Math.sqrt(2 * c.layers), `h${i}/attn/wo`),
    bo: zeros([d], `h${i}/attn/bo`),
    ln2g: ones([d], `h${i}/ln2/g`),
    ln2b: zeros([d], `h${i}/ln2/b`),
    w1: param([d, 4 * d], 0.02, `h${i}/mlp/w1`),
    b1: zeros([4 * d], `h${i}/mlp/b1`),
    w2: param([4 * d, d], 0.02 / Math.sqrt(2 * c.layers), `h${i}/mlp/w2`),
    b2: zeros([d], `h${i}/mlp/b2`),
  }));
  const lnfg = ones([d], 'lnf/g');
  const lnfb = zeros([d], 'lnf/b');
  const head = param([d, v], 0.02, 'lm_head');
  const tokens = Int32Array.from({ length: b * (t + 1) }, () => Math.floor(rand() * v));
  const inputIdx = new Int32Array(b * t);
  const targetIdx = new Int32Array(b * t);
  for (let i = 0; i < b; i++) {
    inputIdx.set(tokens.subarray(i * (t + 1), i * (t + 1) + t), i * t);
    targetIdx.set(tokens.subarray(i * (t + 1) + 1, (i + 1) * (t + 1)), i * t);
  }
  const x = tf.tensor2d(inputIdx, [b, t], 'int32');
  const y = tf.tensor1d(targetIdx, 'int32');
  // [t, t]: 0 on and below the diagonal, -1e9 above
  const mask = tf.tidy(() =>
    tf.linalg
      .bandPart(tf.ones([t, t]), -1, 0)
      .sub(1)
      .mul(1e9),
  );
  const opt = makeOptimizer(tf, c.optimizer ?? 'adam', c.lr);

  const layerNorm = (z: tfjs.Tensor, g: tfjs.Tensor, bb: tfjs.Tensor) => {
    const { mean, variance } = tf.moments(z, -1, true);
    return z
      .sub(mean)
      .mul(tf.rsqrt(variance.add(1e-5)))
      .mul(g)
      .add(bb);
  };
  const gelu = (z: tfjs.Tensor) => {
    const inner = z.add(z.mul(z).mul(z).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return z.mul(0.5).mul(tf.tanh(inner).add(1));
  };
  const fused = c.blocks === 'fused';
  const norm = (z: tfjs.Tensor, g: tfjs.Variable, bb: tfjs.Variable) =>
    fused ? fusedLayerNorm(z, g as tfjs.Tensor1D, bb as tfjs.Tensor1D, 1e-5) : layerNorm(z, g, bb);
  const loss = () => {
    let hdn = tf.gather(wte, x).add(wpe); // [b, t, d]
    for (const blk of blocks) {
      const a = norm(hdn, blk.ln1g, blk.ln1b).reshape([b * t, d]);
      if (fused) {
        const qkv = a
          .matMul(blk.wqkv)
          .add(blk.bqkv)
          .reshape([b, t, 3 * d]); // [b, t, 3d]
        const [q, k, vv] = tf.split(qkv, 3, 2) as tfjs.Tensor3D[]; // 3 x [b, t, d]
        const o = causalSelfAttention(q!, k!, vv!, h).reshape([b * t, d]); // [b*t, d]
        hdn = hdn.add(o.matMul(blk.wo).add(blk.bo).reshape([b, t, d]));
        const m = norm(hdn, blk.ln2g, blk.ln2b).reshape([b * t, d]);
        const act = fusedGelu(m.matMul(blk.w1).add(blk.b1), 'tanh'); // [b*t, 4d]
        hdn = hdn.add(act.matMul(blk.w2).add(blk.b2).reshape([b, t, d]));
        continue;
      }
      const qkv = a.matMul(blk.wqkv).add(blk.bqkv); // [b*t, 3d]
      const [q, k, vv] = tf
        .split(qkv, 3, 1)
        .map((m) => m.reshape([b, t, h, hd]).transpose([0, 2, 1, 3]));
      const att = tf.softmax(
        tf
          .matMul(q!, k!, false, true)
          .mul(1 / Math.sqrt(hd))
          .add(mask),
      ); // [b, h, t, t]
      const o = tf
        .matMul(att, vv!)
        .transpose([0, 2, 1, 3])
        .reshape([b * t, d]);
      hdn = hdn.add(o.matMul(blk.wo).add(blk.bo).reshape([b, t, d]));
      const m = layerNorm(hdn, blk.ln2g, blk.ln2b).reshape([b * t, d]);
      hdn = hdn.add(
        gelu(m.matMul(blk.w1).add(blk.b1)).matMul(blk.w2).add(blk.b2).reshape([b, t, d]),
      );
    }
    const logits = norm(hdn, lnfg, lnfb)
      .reshape([b * t, d])
      .matMul(head); // [b*t, v]
    if (c.loss === 'sparse') return sparseSoftmaxCrossEntropy(tf, logits, y) as tfjs.Scalar;
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, v), logits) as tfjs.Scalar;
  };
  return {
    flops: gptFlops(c),
    async step() {
      const cost = opt.minimize(loss, vars);
      const value = (await cost.data())[0]!;
      cost.dispose();
      return value;
    },
    dispose() {
      tf.dispose([...vars, x, y, mask]);
      opt.dispose();
    },
  };
}

export interface AutoencoderConfig {
  batch: number;
  size: number;
  channels: number;
  codebook: number;
  lr: number;
  /** 'adam': tf.train.adam; 'adamw-kernel': this package's AdamW kernel (see makeOptimizer). */
  optimizer?: 'adam' | 'adamw-kernel';
  /** tfjs's fused conv (bias and relu in the conv kernel) instead of conv2d + add + relu. */
  fusedConv?: boolean;
}

export const TINY_AUTOENCODER: AutoencoderConfig = {
  batch: 8,
  size: 32,
  channels: 64,
  codebook: 512,
  lr: 1e-3,
};

export function autoencoderFlops(c: AutoencoderConfig): number {
  const { batch: b, size: s, channels: ch } = c;
  const conv = (hw: number, k: number, ci: number, co: number) => 2 * b * hw * hw * k * k * ci * co;
  const fwd =
    conv(s, 3, 3, ch) +
    conv(s / 2, 4, ch, ch) +
    conv(s / 4, 4, ch, ch) +
    conv(s / 4, 1, ch, ch) +
    2 * 2 * b * (s / 4) ** 2 * c.codebook * ch +
    conv(s / 4, 3, ch, ch) +
    conv(s / 2, 3, ch, ch) +
    conv(s, 3, ch, ch) +
    conv(s, 3, ch, 3);
  return 3 * fwd;
}

export function makeAutoencoder(tf: Tf, c: AutoencoderConfig = TINY_AUTOENCODER): TrainStep {
  const rand = lcg(99);
  const { batch: b, size: s, channels: ch } = c;
  const vars: tfjs.Variable[] = [];
  const conv = (k: number, ci: number, co: number, name: string) => {
    const init = randn(rand, k * k * ci * co, Math.sqrt(2 / (k * k * ci)));
    const w = tf.tidy(() => tf.variable(tf.tensor(init, [k, k, ci, co]), true, `${name}/w`));
    const bias = tf.tidy(() => tf.variable(tf.zeros([co]), true, `${name}/b`));
    vars.push(w, bias);
    return { w, bias };
  };
  const e1 = conv(3, 3, ch, 'enc1');
  const e2 = conv(4, ch, ch, 'enc2');
  const e3 = conv(4, ch, ch, 'enc3');
  const e4 = conv(1, ch, ch, 'enc4');
  const d1 = conv(3, ch, ch, 'dec1');
  const d2 = conv(3, ch, ch, 'dec2');
  const d3 = conv(3, ch, ch, 'dec3');
  const d4 = conv(3, ch, 3, 'dec4');
  const cbInit = Float32Array.from(
    { length: c.codebook * ch },
    () => (rand() * 2 - 1) / c.codebook,
  );
  const codebook = tf.tidy(() =>
    tf.variable(tf.tensor(cbInit, [c.codebook, ch]), true, 'vq/codebook'),
  );
  vars.push(codebook);
  const images = tf.tensor4d(
    Float32Array.from({ length: b * s * s * 3 }, () => rand() * 2 - 1),
    [b, s, s, 3],
  );
  const opt = makeOptimizer(tf, c.optimizer ?? 'adam', c.lr);
  type GradFn = Parameters<Tf['customGrad']>[0];
  const stopGradient = tf.customGrad(((z: tfjs.Tensor) => ({
    value: z.clone(),
    gradFunc: (dy: tfjs.Tensor) => tf.zerosLike(dy),
  })) as GradFn);
  // straight-through: value zq, gradient to z
  const straightThrough = tf.customGrad(((_z: tfjs.Tensor, zq: tfjs.Tensor) => ({
    value: zq.clone(),
    gradFunc: (dy: tfjs.Tensor) => [dy, tf.zerosLike(dy)],
  })) as GradFn);
  const apply = (
    x: tfjs.Tensor4D,
    p: { w: tfjs.Variable; bias: tfjs.Variable },
    stride: number,
    relu: boolean,
  ) => {
    if (c.fusedConv) {
      return tf.fused.conv2d({
        x,
        filter: p.w as tfjs.Tensor4D,
        strides: stride,
        pad: 'same',
        bias: p.bias,
        activation: relu ? 'relu' : 'linear',
      });
    }
    const yv = tf.conv2d(x, p.w as tfjs.Tensor4D, stride, 'same').add(p.bias) as tfjs.Tensor4D;
    return relu ? tf.relu(yv) : yv;
  };
  const loss = () => {
    let z = apply(images, e1, 1, true);
    z = apply(z, e2, 2, true);
    z = apply(z, e3, 2, true);
    z = apply(z, e4, 1, false); // [b, s/4, s/4, ch]
    const flat = z.reshape([-1, ch]); // [n, ch]
    const dist = flat
      .square()
      .sum(1, true)
      .sub(flat.matMul(codebook, false, true).mul(2))
      .add(codebook.square().sum(1)); // [n, K]
    const idx = dist.argMin(1);
    const zq = tf.oneHot(idx, c.codebook).matMul(codebook); // [n, ch]; gather's index gradient is int32
    const codebookLoss = zq
      .sub(stopGradient(flat) as tfjs.Tensor)
      .square()
      .mean();
    const commitLoss = flat
      .sub(stopGradient(zq) as tfjs.Tensor)
      .square()
      .mean();
    let hdn = (straightThrough(flat, zq) as tfjs.Tensor).reshape(z.shape) as tfjs.Tensor4D;
    hdn = apply(hdn, d1, 1, true);
    hdn = tf.image.resizeNearestNeighbor(hdn, [s / 2, s / 2]);
    hdn = apply(hdn, d2, 1, true);
    hdn = tf.image.resizeNearestNeighbor(hdn, [s, s]);
    hdn = apply(hdn, d3, 1, true);
    const rec = apply(hdn, d4, 1, false);
    return rec
      .sub(images)
      .square()
      .mean()
      .add(codebookLoss)
      .add(commitLoss.mul(0.25)) as tfjs.Scalar;
  };
  return {
    flops: autoencoderFlops(c),
    async step() {
      const cost = opt.minimize(loss, vars);
      const value = (await cost.data())[0]!;
      cost.dispose();
      return value;
    },
    dispose() {
      tf.dispose([...vars, images]);
      opt.dispose();
    },
  };
}

/** The benchmark's models: the stock-op versions and the versions that opt in to the fused ops. */
export const MODEL_NAMES = ['gpt', 'gpt-xent-adam', 'gpt-fused', 'ae', 'ae-fused'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const MODEL_TITLES: Record<ModelName, string> = {
  gpt: 'tiny GPT (4L, 4H, d=128, 8x128 tokens, vocab 3512), tf.losses.softmaxCrossEntropy on one-hot + tf.train.adam',
  'gpt-xent-adam':
    'tiny GPT (4L, 4H, d=128, 8x128 tokens, vocab 3512), opt-in sparseSoftmaxCrossEntropy + AdamW kernel, stock-op blocks',
  'gpt-fused':
    'tiny GPT (4L, 4H, d=128, 8x128 tokens, vocab 3512), opt-in sparseSoftmaxCrossEntropy + AdamW kernel + fusedGelu/fusedLayerNorm/causalSelfAttention',
  ae: 'tiny conv autoencoder (8x32x32x3, 64 ch, 2 down, codebook 512x64), tf.train.adam',
  'ae-fused':
    'tiny conv autoencoder (8x32x32x3, 64 ch, 2 down, codebook 512x64), AdamW kernel + tf.fused.conv2d',
};

export function makeModel(tf: Tf, name: ModelName): TrainStep {
  switch (name) {
    case 'gpt':
      return makeGpt(tf, TINY_GPT);
    case 'gpt-xent-adam':
      return makeGpt(tf, { ...TINY_GPT, loss: 'sparse', optimizer: 'adamw-kernel' });
    case 'gpt-fused':
      return makeGpt(tf, {
        ...TINY_GPT,
        loss: 'sparse',
        optimizer: 'adamw-kernel',
        blocks: 'fused',
      });
    case 'ae':
      return makeAutoencoder(tf, TINY_AUTOENCODER);
    case 'ae-fused':
      return makeAutoencoder(tf, { ...TINY_AUTOENCODER, optimizer: 'adamw-kernel' });
  }
}
