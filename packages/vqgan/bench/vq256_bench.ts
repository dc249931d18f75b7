/**
 * VQGAN at ARTIST-base size (`pnpm bench`; issue 19 item 4): taming f16-16384 (76.07 M), 256x256,
 * encode (images -> 16x16 codes) and decode of a batch of 4, best of two passes, peak RSS of this
 * process (the model, the backend, both passes). PyTorch peer in the same run when `python3`
 * imports torch and `ARTIST_EASYNLP_SRC` names a folder with EasyNLP's `vqgan.py`
 * (`bench/torch_vq256.py`), else the figures measured on the project machine (issue 19).
 * Options: --batch N (default 4), --skip-peer.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { initRuntime } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';
import { Vqgan } from '../src';

/** PyTorch 2.13 CPU, 2 threads, batch 4, on the project machine (issue 19). */
const PYTORCH_FIXED = { encode_s: 6.6, decode_s: 10.3, peak_rss_mib: 1300 };

function peer(batch: number): typeof PYTORCH_FIXED | null {
  const src = process.env.ARTIST_EASYNLP_SRC;
  if (process.argv.includes('--skip-peer') || !src || !fs.existsSync(path.join(src, 'vqgan.py'))) {
    return null;
  }
  const r = spawnSync('python3', [path.join(__dirname, 'torch_vq256.py'), String(batch), '2'], {
    env: { ...process.env, SRC: src },
    encoding: 'utf8',
  });
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

async function main() {
  const i = process.argv.indexOf('--batch');
  const batch = i >= 0 ? Number(process.argv[i + 1]) : 4;
  const info = await initRuntime();
  const vq = Vqgan.create('artist-base', { seed: 1 });
  const x = tf.tidy(() =>
    tf.sub(tf.mul(tf.randomUniform([batch, 256, 256, 3], 0, 1, 'float32', 1), 2), 1),
  );
  let enc = Number.POSITIVE_INFINITY;
  let dec = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 2; rep++) {
    let t = performance.now();
    const codes = vq.encode(x as tf.Tensor4D);
    await codes.data();
    enc = Math.min(enc, (performance.now() - t) / 1000);
    t = performance.now();
    const y = vq.decode(codes);
    await y.data();
    dec = Math.min(dec, (performance.now() - t) / 1000);
    tf.dispose([codes, y]);
  }
  const rss = process.resourceUsage().maxRSS / 1024;
  tf.dispose(x);
  vq.dispose();
  const p = peer(batch);
  const ref = p ?? PYTORCH_FIXED;
  const where = p ? 'same run' : 'issue 19, batch 4';
  console.log(
    `VQGAN artist-base 256x256, batch ${batch}, backend ${info.backend} (native ${info.nativeKernels ? `on, ${info.blasThreads} thread(s)` : 'off'}), ${os.cpus().length} cores: encode ${enc.toFixed(2)} s, decode ${dec.toFixed(2)} s, peak RSS ${rss.toFixed(0)} MiB; PyTorch (${where}) encode ${ref.encode_s.toFixed(2)} s, decode ${ref.decode_s.toFixed(2)} s, ${ref.peak_rss_mib.toFixed(0)} MiB: speed-up ${(ref.encode_s / enc).toFixed(2)}x / ${(ref.decode_s / dec).toFixed(2)}x, memory ${(rss / ref.peak_rss_mib).toFixed(2)}x (target <= 1: ${rss <= ref.peak_rss_mib ? 'met' : 'NOT met'}); load average ${os.loadavg()[0].toFixed(2)}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
