/**
 * Minimal zip reader for torch.save archives: central directory (zip64 too), stored or deflated
 * entries, read on demand from a ByteSource. torch writes stored (uncompressed) entries, 64-byte aligned.
 */
import * as zlib from 'node:zlib';
import type { ByteSource } from './byte_source';
import { TorchFileError } from './errors';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, at: number, src: ByteSource): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new TorchFileError(`zip field too large (${v})`, { file: src.name });
  }
  return Number(v);
}

/** True when the source starts with a zip local-file header. */
export function isZip(src: ByteSource): boolean {
  return src.size >= 4 && view(src.read(0, 4)).getUint32(0, true) === SIG_LOCAL;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();

  constructor(
    readonly src: ByteSource,
    maxEntries: number,
  ) {
    const tailLen = Math.min(src.size, 22 + 65535);
    const tail = src.read(src.size - tailLen, tailLen);
    const tv = view(tail);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0)
      throw new TorchFileError('not a zip archive (no end-of-central-directory record)', {
        file: src.name,
      });
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    const eocdAbs = src.size - tailLen + eocd;
    if (eocdAbs >= 20) {
      const loc = view(src.read(eocdAbs - 20, 20));
      if (loc.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
        const z64at = u64(loc, 8, src);
        const z = view(src.read(z64at, 56));
        if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) {
          throw new TorchFileError('bad zip64 end-of-central-directory record', {
            file: src.name,
            offset: z64at,
          });
        }
        count = u64(z, 32, src);
        cdSize = u64(z, 40, src);
        cdOffset = u64(z, 48, src);
      }
    }
    if (count > maxEntries) {
      throw new TorchFileError(`zip has ${count} entries, more than the limit ${maxEntries}`, {
        file: src.name,
      });
    }
    const cd = src.read(cdOffset, cdSize);
    const dv = view(cd);
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (p + 46 > cd.length || dv.getUint32(p, true) !== SIG_CENTRAL) {
        throw new TorchFileError(`bad central directory entry ${n}`, {
          file: src.name,
          offset: cdOffset + p,
        });
      }
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) {
        throw new TorchFileError(`central directory entry ${n} overruns the directory`, {
          file: src.name,
        });
      }
      const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
      // zip64 extended information: the 0xffffffff fields, in order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = dv.getUint16(e, true);
        const len = dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = u64(dv, q, src);
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = u64(dv, q, src);
            q += 8;
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(dv, q, src);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** Offset of an entry's data (after its local header). */
  private dataOffset(entry: ZipEntry): number {
    const h = view(this.src.read(entry.localHeaderOffset, 30));
    if (h.getUint32(0, true) !== SIG_LOCAL) {
      throw new TorchFileError('bad local file header', {
        file: this.src.name,
        offset: entry.localHeaderOffset,
        field: entry.name,
      });
    }
    return entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
  }

  /**
   * `length` bytes at `offset` inside the entry's uncompressed data. Stored entries are read in place;
   * deflated ones are inflated (bounded by the declared size).
   */
  readEntry(entry: ZipEntry, offset = 0, length = entry.size - offset): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > entry.size) {
      throw new TorchFileError(`read ${offset}+${length} outside entry of ${entry.size} bytes`, {
        file: this.src.name,
        field: entry.name,
      });
    }
    const start = this.dataOffset(entry);
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) {
        throw new TorchFileError('stored entry with different compressed and plain sizes', {
          file: this.src.name,
          field: entry.name,
        });
      }
      return this.src.read(start + offset, length);
    }
    if (entry.method === 8) {
      const raw = this.src.read(start, entry.compressedSize);
      let out: Buffer;
      try {
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (e) {
        throw new TorchFileError(`cannot inflate: ${(e as Error).message}`, {
          file: this.src.name,
          field: entry.name,
        });
      }
      if (out.length !== entry.size) {
        throw new TorchFileError(`inflated to ${out.length} bytes, header says ${entry.size}`, {
          file: this.src.name,
          field: entry.name,
        });
      }
      return new Uint8Array(out.buffer, out.byteOffset + offset, length);
    }
    throw new TorchFileError(`unsupported zip compression method ${entry.method}`, {
      file: this.src.name,
      field: entry.name,
    });
  }
}
