/**
 * Crash-safe file writes for the plugin's on-disk state (CDI specs, checkpoint snapshot and journal).
 *
 * Replacing a file ({@link writeFileAtomic}): write temp file in the same directory → fsync it →
 * rename over the target → fsync the directory. A reader (the container runtime, the next plugin
 * process) sees either the old or the new file, never a partial one, and a completed write
 * survives a power loss. A caller whose file is discarded after a reboot anyway may skip the data
 * fsync (`syncData: false`): the rename still makes the replacement atomic for readers and across a
 * process crash. Temp files start with `.` and end in `.tmp-…`, so CDI runtimes (which load
 * `*.json` / `*.yaml`) never pick them up.
 *
 * Appending ({@link DurableAppendFile}): one `write(2)` to a file opened with
 * `O_APPEND | O_DSYNC`, which returns only once the data and the new file length are on stable
 * storage: what `write` + `fdatasync(2)` give, in one system call (one thread-pool round trip
 * instead of two). A failed append is cut back off the file so the next one starts at a record
 * boundary.
 */
import { randomBytes } from 'node:crypto';
import {
  close as closeCallback,
  fdatasync as fdatasyncCallback,
  constants as fsConstants,
  fsync as fsyncCallback,
  ftruncate as ftruncateCallback,
  open as openCallback,
  write as writeCallback,
} from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP_MARKER = '.tmp-';

const FS_ERROR_TEXT: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a parent of the path is not a directory',
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  EEXIST: 'file already exists',
};

/** `EACCES (permission denied)`, or the error's message when it has no errno code. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') {
    const text = FS_ERROR_TEXT[code];
    return text === undefined ? code : `${code} (${text})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The path does not exist: ENOENT, or ENOTDIR (a parent is a regular file, so it cannot exist). */
export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The temp-file name used for `path` (exported for tests and for cleanup). */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

export function isTempFileName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARKER);
}

/** fsync a directory so a rename or unlink in it is durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** How much of a {@link writeFileAtomic} is made durable. */
export interface AtomicWriteOptions {
  /**
   * fsync the temp file before the rename (default true). Without it the replacement is still
   * atomic for readers and survives a process crash (the page cache keeps the data), but after a
   * power loss or kernel crash the file may be empty or hold the old content.
   */
  readonly syncData?: boolean;
  /**
   * fsync the directory after the rename (default true), so the new name survives a power loss.
   * The same reasoning as for `syncData` decides whether a caller needs it.
   */
  readonly syncDirectory?: boolean;
}

/**
 * Atomically replaces `path` with `data`. Rejects with the underlying fs error (callers add the
 * path and advice); the temp file is removed on failure.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  mode = 0o644,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = tempPathFor(path);
  let created = false;
  try {
    const handle = await open(temp, 'wx', mode);
    created = true;
    try {
      await handle.writeFile(data, 'utf8');
      if (options.syncData ?? true) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    created = false;
    if (options.syncDirectory ?? true) await fsyncDirectory(dirname(path));
  } catch (err) {
    if (created) await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * Unlinks `path` (missing is fine) and, unless told otherwise, fsyncs its directory. Returns
 * whether a file was removed.
 */
export async function removeFileDurably(
  path: string,
  options: Pick<AtomicWriteOptions, 'syncDirectory'> = {},
): Promise<boolean> {
  try {
    await unlink(path);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  if (options.syncDirectory ?? true) await fsyncDirectory(dirname(path));
  return true;
}

/** Temp files in `dir` for targets whose name starts with `prefix`. A missing dir has none. */
export async function listTempFiles(dir: string, prefix: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return names.filter((n) => isTempFileName(n) && n.startsWith(`.${prefix}`)).sort();
}

/**
 * Removes temp files that a crashed writer left behind in `dir` for targets whose name starts
 * with `prefix` and that are at least `minAgeMs` old (a younger one may belong to a writer in
 * another plugin instance during a rolling update). Returns the names removed.
 */
export async function removeStaleTempFiles(
  dir: string,
  prefix: string,
  minAgeMs = 60_000,
  now: number = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listTempFiles(dir, prefix)) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || now - info.mtimeMs < minAgeMs) continue;
    await unlink(path).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

// ---- durable appends -----------------------------------------------------------------------------

// Plain numeric descriptors (callback API) rather than FileHandle: a long-lived handle that its
// owner never closes would be closed, with a warning, by the garbage collector.
const fdOpen = (path: string, flags: number, mode: number): Promise<number> =>
  new Promise((resolve, reject) => {
    openCallback(path, flags, mode, (err, fd) => (err === null ? resolve(fd) : reject(err)));
  });
const fdWrite = (fd: number, data: Uint8Array, offset: number): Promise<number> =>
  new Promise((resolve, reject) => {
    writeCallback(fd, data, offset, data.length - offset, null, (err, written) =>
      err === null ? resolve(written) : reject(err),
    );
  });
const fdCall = (
  fn: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void,
  fd: number,
): Promise<void> =>
  new Promise((resolve, reject) => {
    fn(fd, (err) => (err === null ? resolve() : reject(err)));
  });
const fdTruncate = (fd: number, size: number): Promise<void> =>
  new Promise((resolve, reject) => {
    ftruncateCallback(fd, size, (err) => (err === null ? resolve() : reject(err)));
  });

/** O_DSYNC where the platform has it; elsewhere each append is followed by fdatasync. */
const DSYNC: number | undefined = fsConstants.O_DSYNC;
const APPEND_FLAGS =
  fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | (DSYNC ?? 0);

/**
 * A file that only grows by durable appends, kept open between them (a write-ahead journal).
 * Not safe for concurrent calls: the owner serialises appends and truncations.
 */
export class DurableAppendFile {
  readonly path: string;
  readonly #mode: number;
  #fd: number | undefined;
  #exists: boolean;
  #size: number | undefined;

  /** `size`: the file's current length, or undefined when it does not exist yet. */
  constructor(path: string, options: { readonly size?: number; readonly mode?: number } = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#exists = options.size !== undefined;
    this.#size = options.size ?? 0;
  }

  /** Length in bytes; undefined when a failed append could not be cut back off. */
  get size(): number | undefined {
    return this.#size;
  }

  /**
   * Appends `data` with one synchronous-data write (see the file comment). The first append creates the file and fsyncs its
   * directory. On failure the file is cut back to its previous length (when that fails too,
   * {@link size} becomes undefined) and the fs error is rethrown.
   */
  async append(data: Uint8Array): Promise<void> {
    const fd = await this.#open();
    const before = this.#size;
    try {
      let offset = 0;
      while (offset < data.length) offset += await fdWrite(fd, data, offset);
      if (DSYNC === undefined) await fdCall(fdatasyncCallback, fd);
    } catch (err) {
      this.#size = undefined;
      if (before !== undefined)
        await fdTruncate(fd, before).then(
          () => {
            this.#size = before;
          },
          () => undefined,
        );
      throw err;
    }
    if (before !== undefined) this.#size = before + data.length;
  }

  /** Empties the file and fsyncs it (a missing file is left missing). */
  async truncate(): Promise<void> {
    if (!this.#exists) return;
    const fd = await this.#open();
    await fdTruncate(fd, 0);
    await fdCall(fsyncCallback, fd);
    this.#size = 0;
  }

  /** Closes the descriptor; a later append reopens it. */
  async close(): Promise<void> {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    await fdCall(closeCallback, fd);
  }

  async #open(): Promise<number> {
    const fd = this.#fd ?? (await fdOpen(this.path, APPEND_FLAGS, this.#mode));
    this.#fd = fd;
    if (!this.#exists) {
      // The new directory entry must be durable before any appended record counts as such.
      await fsyncDirectory(dirname(this.path));
      this.#exists = true;
    }
    return fd;
  }
}
