// The large-table buffers: zeroed, shared when asked, advised for huge pages only when large and
// allowed, and training that is bit-identical with and without the advice.
import { adviseHugePages as addonAdvise } from '@artist-ts/native-kernels/memory-advice';
import {
  adviseHugePages,
  allocArray,
  HUGE_PAGE_MIN_BYTES,
  HUGE_PAGES_ENV,
  hugePageBytesAdvised,
  hugePagesDisabledByEnv,
} from '../src/large_buffers';
import { allocWasmTables } from '../src/simd_kernels';

const MiB = 2 ** 20;
// Whether the addon advises here (Linux with the addon built; not with ARTIST_DISABLE_NATIVE=1).
const advising = addonAdvise(new Uint8Array(8 * MiB)) > 0;

async function withEnv<T>(value: string | undefined, f: () => T | Promise<T>): Promise<T> {
  const saved = process.env[HUGE_PAGES_ENV];
  if (value === undefined) delete process.env[HUGE_PAGES_ENV];
  else process.env[HUGE_PAGES_ENV] = value;
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env[HUGE_PAGES_ENV];
    else process.env[HUGE_PAGES_ENV] = saved;
  }
}

describe('large buffers', () => {
  it('allocates zeroed typed arrays, shared when asked, with room for an empty one', () => {
    const a = allocArray(Float64Array, 5, true);
    expect(a).toBeInstanceOf(Float64Array);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(a)).toEqual([0, 0, 0, 0, 0]);
    const b = allocArray(Int32Array, 0, false);
    expect(b.length).toBe(0);
    expect(b.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('reads ARTIST_KG_HUGE_PAGES', () => {
    expect(hugePagesDisabledByEnv({ [HUGE_PAGES_ENV]: '0' })).toBe(true);
    expect(hugePagesDisabledByEnv({ [HUGE_PAGES_ENV]: ' False ' })).toBe(true);
    expect(hugePagesDisabledByEnv({ [HUGE_PAGES_ENV]: '1' })).toBe(false);
    expect(hugePagesDisabledByEnv({})).toBe(false);
  });

  it('advises large ranges only, and none when turned off', async () => {
    const small = new SharedArrayBuffer(HUGE_PAGE_MIN_BYTES - 1);
    expect(adviseHugePages(small)).toBe(0);
    const large = new ArrayBuffer(HUGE_PAGE_MIN_BYTES + 4 * MiB);
    expect(await withEnv('0', () => adviseHugePages(large))).toBe(0);
    const before = hugePageBytesAdvised();
    const n = await withEnv(undefined, () => adviseHugePages(large, MiB));
    if (advising) {
      // The 2 MiB pages inside [1 MiB, end): at most one partial page at each end is left out.
      expect(n % (2 * MiB)).toBe(0);
      expect(n).toBeGreaterThanOrEqual(large.byteLength - MiB - 4 * MiB);
      expect(n).toBeLessThanOrEqual(large.byteLength - MiB);
    } else {
      expect(n).toBe(0);
    }
    expect(hugePageBytesAdvised() - before).toBe(n);
  });

  it('advises the WebAssembly training tables before their first write', async () => {
    // 90 k entities x dim 100: a 36 MB entity table, over the advice threshold.
    const alloc = (env: string) =>
      withEnv(env, () => {
        const before = hugePageBytesAdvised();
        const t = allocWasmTables(90_000, 20, 100, 1024, 1, 2, true);
        return { t, advised: hugePageBytesAdvised() - before };
      });
    const on = await alloc('1');
    const off = await alloc('0');
    expect(off.advised).toBe(0);
    if (advising) expect(on.advised).toBeGreaterThanOrEqual(32 * MiB);
    else expect(on.advised).toBe(0);
    for (const { t } of [on, off]) {
      expect(t.entity.length).toBe(9_000_000);
      expect(t.entity[8_999_999]).toBe(0);
    }
  });
});
