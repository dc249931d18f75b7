/**
 * Whole-array file I/O in bounded pieces: Node reads or writes at most 2 GiB per call (and a
 * single call may do less), so large tables go through these loops, never through one Buffer.
 */
import type { FileHandle } from 'node:fs/promises';

const PIECE = 64 << 20;

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Writes all of `bytes` at the handle's position (appending), in pieces of 64 MiB. */
export async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, off, Math.min(PIECE, bytes.length - off));
    off += bytesWritten;
  }
}

/**
 * Fills `target` from file offset `position`, in pieces of 64 MiB; false when the file ends first.
 */
export async function readAll(
  fh: FileHandle,
  target: Uint8Array,
  position: number,
): Promise<boolean> {
  for (let off = 0; off < target.length; ) {
    const len = Math.min(PIECE, target.length - off);
    const { bytesRead } = await fh.read(target, off, len, position + off);
    if (bytesRead === 0) return false;
    off += bytesRead;
  }
  return true;
}

/** Whether this machine stores numbers little-endian (every file format here is little-endian). */
export function littleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
