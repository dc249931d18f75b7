/**
 * Byte views of the tables. Whole-array reads and writes go through @artist-ts/core/files'
 * `readFully` / `writeFully` (chunked: Node moves at most 2 GiB per call).
 */

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Whether this machine stores numbers little-endian (every file format here is little-endian). */
export function littleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
