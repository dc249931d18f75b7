/**
 * One error type for everything the reader refuses: a bad or hostile file, a limit, an unknown pickle
 * global. It names the file, the byte offset (or the tensor key) and what was wrong.
 */
export class TorchFileError extends Error {
  override readonly name = 'TorchFileError';
  /** The file being read ('<memory>' for buffers). */
  readonly file: string;
  /** Byte offset in the file or in the pickle stream where the problem was found, when known. */
  readonly offset: number | undefined;
  /** The state-dict key, zip entry or pickle global at fault, when known. */
  readonly field: string | undefined;

  constructor(message: string, where: { file: string; offset?: number; field?: string }) {
    const parts = [where.file];
    if (where.offset !== undefined) parts.push(`byte ${where.offset}`);
    if (where.field !== undefined) parts.push(where.field);
    super(`${parts.join(': ')}: ${message}`);
    this.file = where.file;
    this.offset = where.offset;
    this.field = where.field;
  }
}

/** Raised when a pickle names a global that is not on the allow-list. */
export class ForbiddenGlobalError extends TorchFileError {
  readonly global: string;
  constructor(global: string, where: { file: string; offset?: number }) {
    super(
      `pickle global '${global}' is not allowed: a checkpoint is untrusted input and only tensor-rebuild, ` +
        'storage and container globals are accepted (pass allowGlobals to treat more names as inert objects)',
      { ...where, field: global },
    );
    this.global = global;
  }
}
