// The chunked whole-array I/O every large file goes through (checkpoints, torch files, the
// knowledge-graph tables): with a 7-byte chunk, a 1,000-byte array takes many calls each way.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  atomicWriteFile,
  atomicWriteWith,
  readFully,
  readFullySync,
  setIoChunkBytes,
  writeFully,
} from '../src/files';

describe('chunked file I/O', () => {
  let previous = 0;
  beforeAll(() => {
    previous = setIoChunkBytes(7);
  });
  afterAll(() => setIoChunkBytes(previous));

  it('writes and reads back every byte, sync and async, and reports a short file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-files-test-'));
    const file = path.join(dir, 'data.bin');
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) % 256);
    const fh = await fs.promises.open(file, 'w');
    try {
      await writeFully(fh, bytes.subarray(0, 600)); // at the current position
      await writeFully(fh, bytes.subarray(600)); // appended
    } finally {
      await fh.close();
    }
    expect(Array.from(fs.readFileSync(file))).toEqual(Array.from(bytes));

    const rh = await fs.promises.open(file, 'r');
    try {
      const a = new Uint8Array(500);
      expect(await readFully(rh, a, 300)).toBe(500);
      expect(Array.from(a)).toEqual(Array.from(bytes.subarray(300, 800)));
      const past = new Uint8Array(50);
      expect(await readFully(rh, past, 980)).toBe(20); // the file ends first
      expect(Array.from(past.subarray(0, 20))).toEqual(Array.from(bytes.subarray(980)));
      const b = new Uint8Array(500);
      expect(readFullySync(rh.fd, b, 300)).toBe(500);
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(readFullySync(rh.fd, new Uint8Array(50), 980)).toBe(20);
    } finally {
      await rh.close();
    }
  });
});

describe('atomic writes', () => {
  it('replace the target only when the whole write succeeded, and leave no temporary file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-atomic-test-'));
    const file = path.join(dir, 'sub', 'out.txt');
    await atomicWriteFile(file, 'first');
    expect(fs.readFileSync(file, 'utf8')).toBe('first');
    await expect(
      atomicWriteWith(file, async (handle) => {
        await writeFully(handle, Buffer.from('half of the sec'));
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(fs.readFileSync(file, 'utf8')).toBe('first');
    await atomicWriteWith(file, (handle) => writeFully(handle, Buffer.from('second')));
    expect(fs.readFileSync(file, 'utf8')).toBe('second');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['out.txt']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
