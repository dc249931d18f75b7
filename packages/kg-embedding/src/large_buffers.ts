/**
 * The buffers of the package's large tables (entity and relation tables, triples, the triple
 * index and its bitmap, the shuffled order): in a SharedArrayBuffer when worker threads share
 * them, and, on Linux with @artist-ts/native-kernels installed, advised for transparent huge
 * pages before their first write. Training reads entity rows, triples and bitmap words at random
 * over gigabytes; with 4 KiB pages nearly every such read also misses the TLB, with 2 MiB pages
 * the page walks mostly go away (the README's scale section has the measurements).
 *
 * The addon is optional: without it (or with `ARTIST_DISABLE_NATIVE=1`, on other systems, or
 * with `ARTIST_KG_HUGE_PAGES=0`) the same buffers are allocated without advice.
 */

/** Env var that turns the huge-page advice off ('0' or 'false'). */
export const HUGE_PAGES_ENV = 'ARTIST_KG_HUGE_PAGES';

/** Smaller ranges are not advised (they hold few 2 MiB pages, and small tables fit the TLB). */
export const HUGE_PAGE_MIN_BYTES = 32 * 1024 * 1024;

type Advise = (bytes: Uint8Array) => number;
let adviser: Advise | null | undefined;
let advised = 0;

function loadAdviser(): Advise | null {
  if (adviser === undefined) {
    try {
      // An optional peer dependency, loaded by name at run time (its entry point loads no tfjs).
      adviser = (require('@artist-ts/native-kernels/memory-advice') as { adviseHugePages: Advise })
        .adviseHugePages;
    } catch {
      adviser = null;
    }
  }
  return adviser;
}

/** Whether `ARTIST_KG_HUGE_PAGES` turns the advice off. */
export function hugePagesDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env[HUGE_PAGES_ENV] ?? '').trim().toLowerCase();
  return v === '0' || v === 'false' || v === 'no';
}

/**
 * Asks for transparent huge pages on `byteLength` bytes of `buffer` from `byteOffset` (only the
 * 2 MiB-aligned part counts); returns the bytes advised, 0 when the range is under
 * `HUGE_PAGE_MIN_BYTES` or advice is unavailable or off. Call it before the range is written.
 */
export function adviseHugePages(
  buffer: ArrayBufferLike,
  byteOffset = 0,
  byteLength = buffer.byteLength - byteOffset,
): number {
  if (byteLength < HUGE_PAGE_MIN_BYTES || hugePagesDisabledByEnv()) return 0;
  const advise = loadAdviser();
  if (advise === null) return 0;
  const n = advise(new Uint8Array(buffer, byteOffset, byteLength));
  advised += n;
  return n;
}

/** Bytes advised for huge pages in this process so far (benchmarks print it). */
export function hugePageBytesAdvised(): number {
  return advised;
}

/** A zeroed buffer of `bytes` (at least 1), shared between threads when `shared`, advised when large. */
export function allocBuffer(bytes: number, shared: boolean): ArrayBuffer | SharedArrayBuffer {
  const n = Math.max(1, bytes);
  const buf = shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n);
  adviseHugePages(buf);
  return buf;
}

/** A typed array of `length` in an `allocBuffer` buffer (shared when `shared`). */
export function allocArray<T extends Float32Array | Float64Array | Int32Array | Uint32Array>(
  Ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number },
  length: number,
  shared: boolean,
): T {
  return new Ctor(allocBuffer(Math.max(1, length) * Ctor.BYTES_PER_ELEMENT, shared)).subarray(
    0,
    length,
  ) as T;
}
