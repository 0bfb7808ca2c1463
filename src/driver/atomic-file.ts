/**
 * Crash-safe file replacement for the plugin's on-disk state (CDI specs, checkpoint).
 *
 * write temp file in the same directory → fsync it → rename over the target → fsync the directory.
 * A reader (the container runtime, the next plugin process) sees either the old or the new file,
 * never a partial one, and a completed write survives a power loss. Temp files start with `.` and
 * end in `.tmp-…`, so CDI runtimes (which load `*.json` / `*.yaml`) never pick them up.
 */
import { randomBytes } from 'node:crypto';
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

/**
 * Atomically replaces `path` with `data`. Rejects with the underlying fs error (callers add the
 * path and advice); the temp file is removed on failure.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const temp = tempPathFor(path);
  let created = false;
  try {
    const handle = await open(temp, 'wx', mode);
    created = true;
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    created = false;
    await fsyncDirectory(dirname(path));
  } catch (err) {
    if (created) await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Unlinks `path` (missing is fine) and fsyncs its directory. Returns whether a file was removed. */
export async function removeFileDurably(path: string): Promise<boolean> {
  try {
    await unlink(path);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  await fsyncDirectory(dirname(path));
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
