// Hardening of the addon found in review: sizes whose products overflow int64 must raise instead
// of passing the length checks, an empty GEMM batch must not touch C, and pool jobs submitted
// while another thread (a worker_thread) holds the pool must give the same results as the pool.
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { nativeAvailable } from '../src';
import { getNativeAddon } from '../src/addon';
import { randArray, seeded } from './helpers';

const avail = nativeAvailable();
const describeNative = avail.ok ? describe : describe.skip;

const I32_MAX = 2147483647;

/** The `code` of the error `call` throws (addon errors come from another realm than jest's). */
function errorCode(call: () => void): string {
  try {
    call();
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
  return 'did not throw';
}

describeNative('native addon hardening', () => {
  const addon = getNativeAddon()!;

  afterAll(() => {
    addon.setThreads(1);
    addon.setParallelThreshold(2 ** 21);
  });

  it('leaves C alone for an empty batch with non-empty matrices', () => {
    // C is an empty view at the start of a larger array: a write through it lands in `guard`
    const guard = new Float32Array(64).fill(7);
    const c = guard.subarray(0, 0);
    const ab = new Float32Array(64).fill(1);
    addon.sgemmBatched(ab, ab, c, 0, 8, 8, 8, false, false, null, null, 0, 0);
    expect(Array.from(guard)).toEqual(new Array(64).fill(7));
  });

  // Each call passes 1-element buffers and sizes whose product wraps around int64 (to 0 or a
  // negative number): the old length checks passed and the kernels ran over memory.
  const overflowing: [string, () => void][] = [
    [
      'sgemmBatched (batch * M * N)',
      () => {
        const one = new Float32Array(1);
        addon.sgemmBatched(one, one, one, 4, I32_MAX, I32_MAX, 0, false, false, null, null, 0, 0);
      },
    ],
    [
      'binary (shape product)',
      () => {
        const one = new Float32Array(1);
        addon.binary(0, one, one, one, Int32Array.of(I32_MAX, I32_MAX, 3, 0, 0, 0, 0, 0, 0));
      },
    ],
    [
      'transpose (shape product)',
      () => {
        const one = new Float32Array(1);
        addon.transpose(one, one, Int32Array.of(I32_MAX, I32_MAX, 3, 0, 0, 0));
      },
    ],
    [
      'conv2d (n * h * w * ci)',
      () => {
        const one = new Float32Array(4);
        // x [1, 2^31-1, 2^31-1, 4], 1x1 filter 4 -> 1, output 2x1 with stride 2^30
        const params = Int32Array.of(1, I32_MAX, I32_MAX, 4, 1, 1, 1, 2, 1, 2 ** 30, 1, 0, 0, 1, 1);
        addon.conv2d(one, one, one, params);
      },
    ],
    [
      'causalAttentionForward (batch * t * heads * hd)',
      () => {
        const one = new Float32Array(1);
        addon.causalAttentionForward(one, one, one, one, one, 1, 2 ** 32, 1, 2 ** 32, 1);
      },
    ],
    [
      'copy2d ((rows - 1) * stride + cols)',
      () => {
        const one = new Float32Array(1);
        addon.copy2d(one, one, 2 ** 33 + 1, 1, 2 ** 31, 2 ** 31);
      },
    ],
    [
      'reduceSum (A * R * B)',
      () => {
        addon.reduceSum(new Float32Array(1), new Float32Array(2048), 1, 2 ** 53, 2048, 1);
      },
    ],
    [
      'resizeNearest (batch * h * w * depth)',
      () => {
        const one = new Float32Array(1);
        const zero = Int32Array.of(0);
        addon.resizeNearest!(one, one, 2 ** 32, 1, 1, 1, 1, 2 ** 32, zero, zero, false);
      },
    ],
  ];
  it.each(overflowing)('rejects sizes that overflow int64: %s', (_, call) => {
    expect(errorCode(call)).toBe('ERR_ARTIST_NATIVE_RANGE');
  });

  it('rejects non-boolean flags instead of returning without computing', () => {
    const a = Float32Array.of(1, 2, 3, 4);
    const c = new Float32Array(4);
    const gemm = () => addon.sgemmBatched(a, a, c, 1, 2, 2, 2, 0 as never, false, null, null, 4, 4);
    expect(errorCode(gemm)).toBe('ERR_ARTIST_NATIVE_ARG');
    const zero = Int32Array.of(0);
    const resize = () => addon.resizeNearest!(a, c, 1, 1, 1, 1, 1, 1, zero, zero, 1 as never);
    expect(errorCode(resize)).toBe('ERR_ARTIST_NATIVE_ARG');
  });

  it('rejects a conv bias that is not one value per output channel, and a GroupNorm that does not divide its channels', () => {
    const x = new Float32Array(2 * 3 * 3 * 4);
    const f = new Float32Array(9 * 4 * 5);
    const y = new Float32Array(2 * 3 * 3 * 5);
    const params = Int32Array.of(2, 3, 3, 4, 3, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1);
    expect(errorCode(() => addon.conv2d(x, f, y, params, new Float32Array(4)))).toBe(
      'ERR_ARTIST_NATIVE_RANGE',
    );
    expect(errorCode(() => addon.conv2d(x, f, y, params, new Float32Array(5)))).toBe(
      'did not throw',
    );
    const g = new Float32Array(4);
    const norm = (groups: number, yLen: number) => () =>
      addon.groupNormForward!(x, g, g, new Float32Array(yLen), 2, 9, 4, groups, 1e-6, true);
    expect(errorCode(norm(3, x.length))).toBe('ERR_ARTIST_NATIVE_RANGE');
    expect(errorCode(norm(2, x.length - 1))).toBe('ERR_ARTIST_NATIVE_RANGE');
    expect(errorCode(norm(2, x.length))).toBe('did not throw');
  });

  it('rejects integers beyond 2^53 and non-finite sizes', () => {
    const one = new Float32Array(1);
    for (const bad of [2 ** 64, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(errorCode(() => addon.reduceSum(one, one, 1, bad, 1, 1))).toBe(
        'ERR_ARTIST_NATIVE_ARG',
      );
    }
  });

  // x [2, 12, 12, 5] * 3x3 filter 5 -> 6, stride 2, no padding: the im2col filter gradient with
  // per-chunk partial sums; x [3, 8, 8, 16] * 3x3 16 -> 3, 'same': the direct filter gradient.
  const cases = [
    { x: [2, 12, 12, 5], params: [2, 12, 12, 5, 3, 3, 6, 5, 5, 2, 2, 0, 0, 1, 1] },
    { x: [3, 8, 8, 16], params: [3, 8, 8, 16, 3, 3, 3, 8, 8, 1, 1, 1, 1, 1, 1] },
  ];
  const inputs = cases.map((c, i) => {
    const [n, , , , fh, fw, co, oh, ow] = c.params as number[];
    const rand = seeded(100 + i);
    return {
      params: Int32Array.from(c.params),
      x: randArray(
        rand,
        c.x.reduce((a, b) => a * b, 1),
      ),
      dy: randArray(rand, n! * oh! * ow! * co!),
      size: fh! * fw! * c.x[3]! * co!,
    };
  });

  it('gives the pool results when a worker_thread holds the pool at the same time', async () => {
    addon.setThreads(2);
    addon.setParallelThreshold(0);
    const expected = inputs.map((c) => {
      const df = new Float32Array(c.size);
      addon.conv2dBackpropFilter(c.x, c.dy, df, c.params);
      return df;
    });
    // The worker and this thread both run the same filter gradients for `ms`; whichever does not
    // get the pool runs the chunks inline. Every result must equal the pool's bit for bit.
    const ms = 600;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.path);
      parentPort.postMessage('ready');
      let runs = 0, bad = 0;
      const end = Date.now() + workerData.ms;
      while (Date.now() < end) {
        workerData.inputs.forEach((c, i) => {
          const df = new Float32Array(c.size);
          addon.conv2dBackpropFilter(c.x, c.dy, df, c.params);
          runs++;
          if (!df.every((v, j) => Object.is(v, workerData.expected[i][j]))) bad++;
        });
      }
      parentPort.postMessage({ runs, bad });
    `;
    const worker = new Worker(code, {
      eval: true,
      workerData: { path: avail.path, ms, inputs, expected },
    });
    const result = new Promise<{ runs: number; bad: number }>((resolve, reject) => {
      worker.on('message', (m) => {
        if (m !== 'ready') resolve(m);
      });
      worker.on('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    let runs = 0;
    let bad = 0;
    const end = Date.now() + ms;
    while (Date.now() < end) {
      inputs.forEach((c, i) => {
        const df = new Float32Array(c.size);
        addon.conv2dBackpropFilter(c.x, c.dy, df, c.params);
        runs++;
        if (!df.every((v, j) => Object.is(v, expected[i]![j]))) bad++;
      });
    }
    const theirs = await result;
    await worker.terminate();
    expect(runs).toBeGreaterThan(0);
    expect(theirs.runs).toBeGreaterThan(0);
    expect({ mine: bad, theirs: theirs.bad }).toEqual({ mine: 0, theirs: 0 });
  });

  it('keeps results when the thread count shrinks and grows between jobs', () => {
    addon.setParallelThreshold(0);
    const c = inputs[0]!;
    const run = (threads: number): Float32Array => {
      addon.setThreads(threads);
      const df = new Float32Array(c.size);
      addon.conv2dBackpropFilter(c.x, c.dy, df, c.params);
      return df;
    };
    const two = run(2);
    for (const t of [4, 2, 3, 2, 1, 2]) {
      const df = run(t);
      if (t === 2) expect(Array.from(df)).toEqual(Array.from(two));
      else expect(df.every(Number.isFinite)).toBe(true);
    }
  });

  // Linux only: CPU ticks (utime + stime) of every thread of this process, from /proc.
  const threadTicks = (): Map<string, number> => {
    const ticks = new Map<string, number>();
    for (const tid of fs.readdirSync('/proc/self/task')) {
      try {
        const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks.set(tid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // the thread exited
      }
    }
    return ticks;
  };
  const itLinux = process.platform === 'linux' ? it : it.skip;

  itLinux('keeps workers beyond a lowered thread count off the CPU', () => {
    addon.setParallelThreshold(0);
    const x = randArray(seeded(3), 1 << 16);
    const y = new Float32Array(x.length);
    const before = new Set(threadTicks().keys());
    // starts the workers up to index 14; earlier tests (threads <= the cores, at most 8) started
    // at most 7, so at least 8 parked workers are new here
    addon.setThreads(16);
    addon.unary(1, x, y);
    const started = [...threadTicks().keys()].filter((tid) => !before.has(tid));
    addon.setThreads(2); // only worker 0 may take chunks now
    addon.unary(1, x, y);
    const t0 = threadTicks();
    const end = Date.now() + 500;
    while (Date.now() < end) addon.unary(1, x, y);
    const t1 = threadTicks();
    // the old pool let every parked worker spin after each job and take chunks: each of them used
    // tens of ticks (10 ms each) here; parked workers now sleep through the jobs
    const used = started.map((tid) => (t1.get(tid) ?? 0) - (t0.get(tid) ?? 0));
    expect(started.length).toBeGreaterThanOrEqual(5);
    expect(used.filter((t) => t >= 5).length).toBeLessThanOrEqual(1);
  });
});
