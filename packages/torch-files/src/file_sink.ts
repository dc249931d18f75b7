/**
 * A streaming, atomic file write: bytes go to a temporary sibling (small writes buffered, earlier
 * bytes patchable in place), which is fsynced and renamed over the target only when everything was
 * written. On any error the temporary file is removed and the target is untouched. Writes move at
 * most `ioChunkBytes()` bytes per call (`@artist-ts/core/files`), so chunks of any size are accepted.
 */
import type * as fs from 'node:fs';
import { atomicWriteWith, writeFully } from '@artist-ts/core/files';

export interface ByteSink {
  /** Bytes written so far (the offset of the next write). */
  readonly position: number;
  write(bytes: Uint8Array): Promise<void>;
  /** Overwrites bytes already written (e.g. a CRC known only after the data). */
  writeAt(position: number, bytes: Uint8Array): Promise<void>;
}

const BUFFER_BYTES = 1 << 20;

class FileSink implements ByteSink {
  position = 0;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private buffered = 0;

  constructor(private readonly handle: fs.promises.FileHandle) {}

  async flush(): Promise<void> {
    if (this.buffered === 0) return;
    const n = this.buffered;
    this.buffered = 0;
    await writeFully(this.handle, this.buffer.subarray(0, n), this.position - n);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.buffered + bytes.length > BUFFER_BYTES) await this.flush();
    if (bytes.length >= BUFFER_BYTES) {
      await writeFully(this.handle, bytes, this.position);
    } else {
      this.buffer.set(bytes, this.buffered);
      this.buffered += bytes.length;
    }
    this.position += bytes.length;
  }

  async writeAt(position: number, bytes: Uint8Array): Promise<void> {
    if (position + bytes.length > this.position) {
      throw new Error(
        `writeAt ${position}+${bytes.length} is past the ${this.position} bytes written`,
      );
    }
    await this.flush();
    await writeFully(this.handle, bytes, position);
  }
}

/** Runs `fill` on a sink writing `target` atomically (`atomicWriteWith` of @artist-ts/core). */
export async function writeFileAtomically(
  target: string,
  fill: (sink: ByteSink) => Promise<void>,
): Promise<void> {
  await atomicWriteWith(target, async (handle) => {
    const sink = new FileSink(handle);
    await fill(sink);
    await sink.flush();
  });
}

/** A sink into memory, for small files and tests. */
export class MemorySink implements ByteSink {
  position = 0;
  private buffer = new Uint8Array(1 << 16);

  async write(bytes: Uint8Array): Promise<void> {
    if (this.position + bytes.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(2 * this.buffer.length, this.position + bytes.length));
      grown.set(this.buffer.subarray(0, this.position));
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }

  async writeAt(position: number, bytes: Uint8Array): Promise<void> {
    if (position + bytes.length > this.position) {
      throw new Error(
        `writeAt ${position}+${bytes.length} is past the ${this.position} bytes written`,
      );
    }
    this.buffer.set(bytes, position);
  }

  /** The bytes written (a copy). */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.position);
  }
}
