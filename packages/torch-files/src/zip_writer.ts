/**
 * A streaming zip writer for torch.save archives: stored (uncompressed) entries whose data starts
 * on a 64-byte boundary (padding in an extra field, as torch's writer does), CRC-32 computed while
 * the data streams and patched into the local header afterwards, and ZIP64 records wherever a size,
 * an offset or the entry count does not fit the classic fields.
 */
import * as zlib from 'node:zlib';
import type { ByteSink } from './file_sink';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EXTRA_ZIP64 = 0x0001;
/** torch's padding extra field id ("FB"). */
const EXTRA_PADDING = 0x4246;
const DOS_DATE_1980_01_01 = 0x0021;
const ALIGNMENT = 64;
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;

interface WrittenEntry {
  name: Buffer;
  size: number;
  crc: number;
  offset: number;
}

function le(size: number, fill: (dv: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

export class ZipWriter {
  private readonly entries: WrittenEntry[] = [];
  private readonly names = new Set<string>();

  /**
   * @param zip64From values at or above this use ZIP64 fields (0xffffffff; lower only to exercise
   *   the ZIP64 paths on small archives).
   */
  constructor(
    private readonly sink: ByteSink,
    private readonly zip64From = MAX32,
  ) {}

  private big(v: number): boolean {
    return v >= this.zip64From;
  }

  /** Writes one stored entry of exactly `size` bytes, read from `chunks`. */
  async add(name: string, size: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.names.has(name)) throw new Error(`zip entry '${name}' written twice`);
    this.names.add(name);
    const nameBytes = Buffer.from(name, 'utf8');
    const offset = this.sink.position;
    const zip64 = this.big(size);
    const zip64Len = zip64 ? 20 : 0;
    const unpadded = offset + 30 + nameBytes.length + zip64Len + 4;
    const pad = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT;
    const extraLen = zip64Len + 4 + pad;
    const header = le(30 + nameBytes.length + extraLen, (dv) => {
      dv.setUint32(0, SIG_LOCAL, true);
      dv.setUint16(4, zip64 ? 45 : 20, true);
      dv.setUint16(6, nameBytes.length > 0 && /[^\x20-\x7e]/.test(name) ? 0x800 : 0, true);
      dv.setUint16(8, 0, true); // stored
      dv.setUint16(10, 0, true);
      dv.setUint16(12, DOS_DATE_1980_01_01, true);
      dv.setUint32(14, 0, true); // CRC-32, patched after the data
      dv.setUint32(18, zip64 ? MAX32 : size, true);
      dv.setUint32(22, zip64 ? MAX32 : size, true);
      dv.setUint16(26, nameBytes.length, true);
      dv.setUint16(28, extraLen, true);
      let e = 30 + nameBytes.length;
      if (zip64) {
        dv.setUint16(e, EXTRA_ZIP64, true);
        dv.setUint16(e + 2, 16, true);
        dv.setBigUint64(e + 4, BigInt(size), true);
        dv.setBigUint64(e + 12, BigInt(size), true);
        e += 20;
      }
      dv.setUint16(e, EXTRA_PADDING, true);
      dv.setUint16(e + 2, pad, true);
    });
    header.set(nameBytes, 30);
    await this.sink.write(header);
    let crc = 0;
    let written = 0;
    for await (const chunk of chunks) {
      written += chunk.length;
      if (written > size) break;
      crc = zlib.crc32(chunk, crc);
      await this.sink.write(chunk);
    }
    if (written !== size) {
      throw new Error(`zip entry '${name}': expected ${size} bytes, got ${written}`);
    }
    await this.sink.writeAt(
      offset + 14,
      le(4, (dv) => dv.setUint32(0, crc >>> 0, true)),
    );
    this.entries.push({ name: nameBytes, size, crc: crc >>> 0, offset });
  }

  /** Writes the central directory and the end records. The writer cannot be used afterwards. */
  async finish(): Promise<void> {
    const cdOffset = this.sink.position;
    for (const e of this.entries) {
      const bigSize = this.big(e.size);
      const bigOffset = this.big(e.offset);
      const zip64Len = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
      const extraLen = zip64Len ? 4 + zip64Len : 0;
      const rec = le(46 + e.name.length + extraLen, (dv) => {
        const version = zip64Len ? 45 : 20;
        dv.setUint32(0, SIG_CENTRAL, true);
        dv.setUint16(4, version, true);
        dv.setUint16(6, version, true);
        dv.setUint16(8, /[^\x20-\x7e]/.test(e.name.toString('utf8')) ? 0x800 : 0, true);
        dv.setUint16(10, 0, true);
        dv.setUint16(12, 0, true);
        dv.setUint16(14, DOS_DATE_1980_01_01, true);
        dv.setUint32(16, e.crc, true);
        dv.setUint32(20, bigSize ? MAX32 : e.size, true);
        dv.setUint32(24, bigSize ? MAX32 : e.size, true);
        dv.setUint16(28, e.name.length, true);
        dv.setUint16(30, extraLen, true);
        dv.setUint32(42, bigOffset ? MAX32 : e.offset, true);
        if (zip64Len) {
          let x = 46 + e.name.length;
          dv.setUint16(x, EXTRA_ZIP64, true);
          dv.setUint16(x + 2, zip64Len, true);
          x += 4;
          if (bigSize) {
            dv.setBigUint64(x, BigInt(e.size), true);
            dv.setBigUint64(x + 8, BigInt(e.size), true);
            x += 16;
          }
          if (bigOffset) dv.setBigUint64(x, BigInt(e.offset), true);
        }
      });
      rec.set(e.name, 46);
      await this.sink.write(rec);
    }
    const cdSize = this.sink.position - cdOffset;
    const count = this.entries.length;
    const zip64 = count >= MAX16 || this.big(cdOffset) || this.big(cdSize);
    if (zip64) {
      const at = this.sink.position;
      await this.sink.write(
        le(56 + 20, (dv) => {
          dv.setUint32(0, SIG_ZIP64_EOCD, true);
          dv.setBigUint64(4, 44n, true);
          dv.setUint16(12, 45, true);
          dv.setUint16(14, 45, true);
          dv.setBigUint64(24, BigInt(count), true);
          dv.setBigUint64(32, BigInt(count), true);
          dv.setBigUint64(40, BigInt(cdSize), true);
          dv.setBigUint64(48, BigInt(cdOffset), true);
          dv.setUint32(56, SIG_ZIP64_LOCATOR, true);
          dv.setBigUint64(64, BigInt(at), true);
          dv.setUint32(72, 1, true);
        }),
      );
    }
    await this.sink.write(
      le(22, (dv) => {
        dv.setUint32(0, SIG_EOCD, true);
        dv.setUint16(8, zip64 ? MAX16 : count, true);
        dv.setUint16(10, zip64 ? MAX16 : count, true);
        dv.setUint32(12, zip64 ? MAX32 : cdSize, true);
        dv.setUint32(16, zip64 ? MAX32 : cdOffset, true);
      }),
    );
  }
}
