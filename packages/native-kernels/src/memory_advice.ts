// Memory advice for large tables allocated in JavaScript. Its own entry point
// (`@artist-ts/native-kernels/memory-advice`) loads the addon only, not tfjs, so tfjs-free packages
// can use it.
import { getNativeAddon } from './addon';

/**
 * Asks Linux to back the 2 MiB-aligned part of `bytes` with transparent huge pages
 * (madvise MADV_HUGEPAGE, honoured where /sys/kernel/mm/transparent_hugepage/enabled is `always`
 * or `madvise`): random accesses over gigabytes then miss the TLB far less. Call it before the
 * memory is first written (pages already in place stay small). Returns the bytes advised: 0
 * without the addon (or with `ARTIST_DISABLE_NATIVE=1`), with an addon built before this function,
 * off Linux, or for a range holding no aligned 2 MiB page. Views of a SharedArrayBuffer or of a
 * WebAssembly memory work as well as ordinary ones.
 */
export function adviseHugePages(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError('adviseHugePages: bytes must be a Uint8Array');
  }
  const addon = getNativeAddon();
  return addon?.adviseHugePages ? addon.adviseHugePages(bytes) : 0;
}
