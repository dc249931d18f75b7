/**
 * Crash-safe file writes: every writer goes to a temporary sibling, is fsynced, then renamed
 * over the target, so a reader sees either the old or the new content, never a torn file.
 *
 * This entry does not load tfjs (`@artist-ts/core/files`).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

function tempSibling(target: string): string {
  const dir = path.dirname(target);
  return path.join(
    dir,
    `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/** fsync a directory so a rename inside it is durable (no-op where directories can't be opened). */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Node moves at most 2 GiB - 1 bytes in one read or write call (and `readFile` refuses files above
 * 2 GiB), so every large read and write here goes through {@link readFullySync} /
 * {@link writeFully}, which split it into chunks of at most `ioChunkBytes()` bytes.
 */
export const MAX_IO_CHUNK_BYTES = 2 ** 31 - 1;

let chunkBytes = 1 << 30;

/** The current I/O chunk size (default 1 GiB). */
export function ioChunkBytes(): number {
  return chunkBytes;
}

/**
 * Sets the I/O chunk size used by checkpoint files (and `@artist-ts/torch-files`); returns the
 * previous value. Tests lower it (e.g. to 64 bytes) so small files exercise the multi-chunk paths.
 */
export function setIoChunkBytes(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > MAX_IO_CHUNK_BYTES) {
    throw new Error(
      `setIoChunkBytes: expected an integer in 1..${MAX_IO_CHUNK_BYTES}, got ${bytes}`,
    );
  }
  const previous = chunkBytes;
  chunkBytes = bytes;
  return previous;
}

/**
 * Reads `target.length` bytes at `position` of `fd` in chunks. Returns the bytes read: less than
 * `target.length` only when the file ends first (the caller names the file and offset).
 */
export function readFullySync(fd: number, target: Uint8Array, position: number): number {
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(
      fd,
      target,
      done,
      Math.min(chunkBytes, target.length - done),
      position + done,
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Async twin of {@link readFullySync} on a file handle: reads `target.length` bytes at `position`
 * in chunks; returns the bytes read, less only when the file ends first.
 */
export async function readFully(
  handle: fs.promises.FileHandle,
  target: Uint8Array,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(
      target,
      done,
      Math.min(chunkBytes, target.length - done),
      position + done,
    );
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes all of `bytes` at `position` (default: the current file position) in chunks. */
export async function writeFully(
  handle: fs.promises.FileHandle,
  bytes: Uint8Array,
  position?: number,
): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(
      bytes,
      done,
      Math.min(chunkBytes, bytes.length - done),
      position === undefined ? null : position + done,
    );
    done += bytesWritten;
  }
}

/**
 * Writes `target` atomically through `fill(handle)`: the bytes go to a temporary sibling, which is
 * fsynced and renamed over the target only when `fill` succeeded, then the folder is fsynced. On
 * any error the temporary file is removed and the target is untouched.
 */
export async function atomicWriteWith(
  target: string,
  fill: (handle: fs.promises.FileHandle) => Promise<void>,
): Promise<void> {
  const dir = path.dirname(target);
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = tempSibling(target);
  const handle = await fs.promises.open(tmp, 'w');
  try {
    await fill(handle);
    await handle.sync();
    await handle.close();
    await fs.promises.rename(tmp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Writes `data` to `target` atomically (`atomicWriteWith`). */
export async function atomicWriteFile(target: string, data: string | Uint8Array): Promise<void> {
  await atomicWriteWith(target, (handle) =>
    writeFully(handle, typeof data === 'string' ? Buffer.from(data) : data),
  );
}

export interface AtomicDirOptions {
  /** Replace an existing target folder (it is moved aside first, then removed). Default false. */
  overwrite?: boolean;
  /** Called after the temporary folder is complete and before the rename: fault injection in tests. */
  beforeRename?: (tmpDir: string) => void | Promise<void>;
}

/**
 * Builds a folder atomically: `fill(tmpDir)` writes into a fresh temporary sibling folder, every
 * file in it is fsynced, then it is renamed to `target`. If `fill` throws, nothing is left behind.
 */
export async function atomicWriteDir(
  target: string,
  fill: (tmpDir: string) => Promise<void>,
  options: AtomicDirOptions = {},
): Promise<void> {
  const parent = path.dirname(target);
  await fs.promises.mkdir(parent, { recursive: true });
  const tmp = tempSibling(target);
  await fs.promises.mkdir(tmp);
  try {
    await fill(tmp);
    await syncTree(tmp);
    await options.beforeRename?.(tmp);
  } catch (err) {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (fs.existsSync(target)) {
    if (!options.overwrite) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      throw new Error(`atomicWriteDir: ${target} already exists`);
    }
    const old = tempSibling(target);
    await fs.promises.rename(target, old);
    await fs.promises.rename(tmp, target);
    await fs.promises.rm(old, { recursive: true, force: true });
  } else {
    await fs.promises.rename(tmp, target);
  }
  await fsyncDir(parent);
}

async function syncTree(dir: string): Promise<void> {
  for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await syncTree(p);
    } else if (entry.isFile()) {
      const h = await fs.promises.open(p, 'r+');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  await fsyncDir(dir);
}

/** True for the temporary names made by this module (left behind only by a crash). */
export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/** Removes temporary files/folders a crashed writer left in `dir`. Returns how many were removed. */
export async function removeStaleTemps(dir: string): Promise<number> {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const name of await fs.promises.readdir(dir)) {
    if (isTempName(name)) {
      await fs.promises.rm(path.join(dir, name), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}
