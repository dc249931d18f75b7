// adviseHugePages: the aligned range it reports, and its fallbacks. Whether the kernel then backs
// the range with huge pages depends on the machine (THP setting, free contiguous memory), so only
// the advice itself is checked.
import { adviseHugePages, nativeAvailable } from '../src';
import { getNativeAddon } from '../src/addon';

const HUGE = 2 * 1024 * 1024;
const advising = nativeAvailable().ok && process.platform === 'linux';

describe('adviseHugePages', () => {
  it('rejects anything but a Uint8Array', () => {
    expect(() => adviseHugePages(new Float32Array(4) as unknown as Uint8Array)).toThrow(
      /bytes must be a Uint8Array/,
    );
  });

  it('advises nothing in a range holding no aligned 2 MiB page', () => {
    expect(adviseHugePages(new Uint8Array(4096))).toBe(0);
    expect(adviseHugePages(new Uint8Array(0))).toBe(0);
  });

  (advising ? it : it.skip)('advises the aligned 2 MiB pages inside the range', () => {
    for (const bytes of [
      new Uint8Array(new ArrayBuffer(9 * HUGE)),
      new Uint8Array(new SharedArrayBuffer(9 * HUGE), 12345, 7 * HUGE),
    ]) {
      const n = adviseHugePages(bytes);
      expect(n % HUGE).toBe(0);
      // At most one partial page at each end is left out.
      expect(n).toBeGreaterThanOrEqual(Math.floor(bytes.byteLength / HUGE) * HUGE - HUGE);
      expect(n).toBeLessThanOrEqual(bytes.byteLength);
      bytes[bytes.length - 1] = 7;
      expect(bytes[bytes.length - 1]).toBe(7);
    }
  });

  (advising ? it : it.skip)('the addon checks its argument itself', () => {
    const addon = getNativeAddon()!;
    expect(() => addon.adviseHugePages!(new Int32Array(4) as unknown as Uint8Array)).toThrow(
      /bytes must be a Uint8Array/,
    );
  });
});
