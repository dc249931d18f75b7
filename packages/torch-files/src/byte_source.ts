/**
 * Random-access bytes: a file read on demand (checkpoints can be GBs) or an in-memory buffer. File
 * reads go through `@artist-ts/core/files` readFullySync: at most `ioChunkBytes()` bytes per call
 * (Node refuses one read above 2 GiB), so a storage of any size reads.
 */
import * as fs from 'node:fs';
import { readFullySync } from '@artist-ts/core/files';
import { TorchFileError } from './errors';

export interface ByteSource {
  /** File name for error messages. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset`; throws when the range leaves the source. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

function checkRange(src: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new TorchFileError(`invalid read range ${offset}+${length}`, { file: src.name });
  }
  if (offset + length > src.size) {
    throw new TorchFileError(
      `truncated file: needs bytes ${offset}..${offset + length} but the file has ${src.size}`,
      { file: src.name, offset },
    );
  }
}

export class MemorySource implements ByteSource {
  readonly size: number;
  private readonly bytes: Uint8Array;
  constructor(
    bytes: Uint8Array,
    readonly name = '<memory>',
  ) {
    // A plain view (a Node Buffer's subarray would be a Buffer with its own slice semantics).
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
  close(): void {}
}

export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number | null;
  constructor(readonly name: string) {
    try {
      this.fd = fs.openSync(name, 'r');
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      throw new TorchFileError(`cannot open: ${(e as Error).message}`, { file: name });
    }
  }
  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    if (this.fd === null) throw new TorchFileError('read after close', { file: this.name });
    // Not a pooled Buffer: a plain array of exactly `length` bytes, read in bounded chunks.
    const out = new Uint8Array(length);
    const done = readFullySync(this.fd, out, offset);
    if (done < length) {
      throw new TorchFileError('unexpected end of file', {
        file: this.name,
        offset: offset + done,
      });
    }
    return out;
  }
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
