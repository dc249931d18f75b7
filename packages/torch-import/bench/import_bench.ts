/**
 * Import speed on an ARTIST-shaped checkpoint: the real GPT vocabulary tables (tok_emb 37512x768,
 * head 16384x768) with BENCH_LAYERS blocks (default 2 of the real 12) and a nano VQGAN, stored as
 * float16 safetensors (the shape of a half-precision release) and as float32. Baseline measured
 * in the same run: reading the same file with fs.readFileSync (the I/O floor).
 *
 *   pnpm bench            BENCH_LAYERS=12 pnpm bench   (the full 126.7 M GPT: ~250 MB fp16 on disk)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '@artist-ts/core/rng';
import { encodeSafetensors, type SafetensorsEntry } from '@artist-ts/torch-files';
import { importCheckpoint } from '../src';

const layers = Number(process.env.BENCH_LAYERS ?? 2);
const C = 768;
const rng = new Rng('torch-import-bench');

function randn(n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, 0, std);
  return a;
}

function gptEntries(): SafetensorsEntry[] {
  const e: SafetensorsEntry[] = [];
  const add = (name: string, shape: number[], std = 0.02) =>
    e.push({
      name: `transformer.${name}`,
      shape,
      dtype: 'float32',
      data: randn(
        shape.reduce((a, b) => a * b, 1),
        std,
      ),
    });
  add('tok_emb.weight', [37512, C]);
  add('pos_emb', [1, 288, C]);
  add('ent_emb.weight', [C, 100]);
  add('ent_emb.bias', [C]);
  for (let l = 0; l < layers; l++) {
    const p = `blocks.${l}.`;
    for (const n of ['ln1', 'ln2']) {
      add(`${p}${n}.weight`, [C]);
      add(`${p}${n}.bias`, [C]);
    }
    for (const m of ['key', 'query', 'value', 'proj']) {
      add(`${p}attn.${m}.weight`, [C, C]);
      add(`${p}attn.${m}.bias`, [C]);
    }
    add(`${p}attn.mask`, [1, 1, 288, 288], 0);
    add(`${p}mlp.0.weight`, [4 * C, C]);
    add(`${p}mlp.0.bias`, [4 * C]);
    add(`${p}mlp.2.weight`, [C, 4 * C]);
    add(`${p}mlp.2.bias`, [C]);
  }
  add('ln_f.weight', [C]);
  add('ln_f.bias', [C]);
  add('head.weight', [16384, C]);
  return e;
}

/** A nano VQGAN (ch 32, 32 groups) with taming keys, so `kind: 'artist'` has both models. */
function vqganEntries(): SafetensorsEntry[] {
  const e: SafetensorsEntry[] = [];
  const conv = (n: string, o: number, i: number, k: number) => {
    e.push({
      name: `first_stage_model.${n}.weight`,
      shape: [o, i, k, k],
      dtype: 'float32',
      data: randn(o * i * k * k, 0.05),
    });
    e.push({
      name: `first_stage_model.${n}.bias`,
      shape: [o],
      dtype: 'float32',
      data: randn(o, 0.01),
    });
  };
  const norm = (n: string, c: number) => {
    e.push({
      name: `first_stage_model.${n}.weight`,
      shape: [c],
      dtype: 'float32',
      data: randn(c, 0.1),
    });
    e.push({
      name: `first_stage_model.${n}.bias`,
      shape: [c],
      dtype: 'float32',
      data: randn(c, 0.1),
    });
  };
  const res = (n: string, ci: number, co: number) => {
    norm(`${n}.norm1`, ci);
    conv(`${n}.conv1`, co, ci, 3);
    norm(`${n}.norm2`, co);
    conv(`${n}.conv2`, co, co, 3);
    if (ci !== co) conv(`${n}.nin_shortcut`, co, ci, 1);
  };
  const attn = (n: string, c: number) => {
    norm(`${n}.norm`, c);
    for (const m of ['q', 'k', 'v', 'proj_out']) conv(`${n}.${m}`, c, c, 1);
  };
  conv('encoder.conv_in', 32, 3, 3);
  res('encoder.down.0.block.0', 32, 32);
  conv('encoder.down.0.downsample.conv', 32, 32, 3);
  res('encoder.down.1.block.0', 32, 64);
  attn('encoder.down.1.attn.0', 64);
  res('encoder.mid.block_1', 64, 64);
  attn('encoder.mid.attn_1', 64);
  res('encoder.mid.block_2', 64, 64);
  norm('encoder.norm_out', 64);
  conv('encoder.conv_out', 32, 64, 3);
  conv('quant_conv', 32, 32, 1);
  e.push({
    name: 'first_stage_model.quantize.embedding.weight',
    shape: [512, 32],
    dtype: 'float32',
    data: randn(512 * 32, 0.1),
  });
  conv('post_quant_conv', 32, 32, 1);
  conv('decoder.conv_in', 64, 32, 3);
  res('decoder.mid.block_1', 64, 64);
  attn('decoder.mid.attn_1', 64);
  res('decoder.mid.block_2', 64, 64);
  for (let j = 0; j < 2; j++) {
    res(`decoder.up.1.block.${j}`, 64, 64);
    attn(`decoder.up.1.attn.${j}`, 64);
  }
  conv('decoder.up.1.upsample.conv', 64, 64, 3);
  res('decoder.up.0.block.0', 64, 32);
  res('decoder.up.0.block.1', 32, 32);
  norm('decoder.norm_out', 32);
  conv('decoder.conv_out', 3, 32, 3);
  return e;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-import-bench-'));
  try {
    const entries = [...gptEntries(), ...vqganEntries()];
    const params = entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
    console.log(
      `torch-import bench: ${layers} GPT layers, ${(params / 1e6).toFixed(1)} M values, cores=${os.cpus().length}, node ${process.version}`,
    );
    for (const dtype of ['float16', 'float32'] as const) {
      const file = path.join(tmp, `artist_${dtype}.safetensors`);
      fs.writeFileSync(file, encodeSafetensors(entries.map((e) => ({ ...e, dtype }))));
      const mb = fs.statSync(file).size / 1e6;
      let t = performance.now();
      const raw = fs.readFileSync(file);
      const readMs = performance.now() - t;
      void raw.length;
      t = performance.now();
      const stages: Record<string, number> = {};
      let stage = '';
      let since = t;
      const report = await importCheckpoint({
        from: file,
        kind: 'artist',
        out: path.join(tmp, `out_${dtype}`),
        vqgan: { resolution: 32, numGroups: 32 },
        onProgress: (p) => {
          if (p.stage === stage) return;
          const now = performance.now();
          if (stage) stages[stage] = (stages[stage] ?? 0) + now - since;
          stage = p.stage;
          since = now;
        },
      });
      const importMs = performance.now() - t;
      const n = report.models.reduce((a, m) => a + m.conversion.tensors, 0);
      console.log(
        `${dtype}: ${mb.toFixed(0)} MB, ${n} tensors; readFileSync ${readMs.toFixed(0)} ms (${(mb / (readMs / 1000)).toFixed(0)} MB/s); ` +
          `importCheckpoint ${importMs.toFixed(0)} ms (${(mb / (importMs / 1000)).toFixed(0)} MB/s, ${(importMs / readMs).toFixed(1)}x the read; ` +
          `${Object.entries(stages)
            .map(([k, v]) => `${k} ${v.toFixed(0)}`)
            .join(', ')} ms)`,
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
