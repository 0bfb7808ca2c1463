/**
 * Process supervision for the local cluster: every process is started by us with its log in the
 * state directory and its PID recorded; stopping only ever signals recorded PIDs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  readonly command: readonly string[];
}

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export class Supervisor {
  readonly stateDir: string;
  readonly logDir: string;
  readonly #children = new Map<string, ChildProcess>();

  constructor(stateDir: string) {
    this.stateDir = stateDir;
    this.logDir = join(stateDir, 'logs');
    mkdirSync(this.logDir, { recursive: true });
  }

  get pidFile(): string {
    return join(this.stateDir, 'pids.json');
  }

  records(): ProcessRecord[] {
    if (!existsSync(this.pidFile)) return [];
    return JSON.parse(readFileSync(this.pidFile, 'utf8')) as ProcessRecord[];
  }

  #save(records: readonly ProcessRecord[]): void {
    writeFileSync(this.pidFile, `${JSON.stringify(records, null, 2)}\n`);
  }

  /** Starts a detached process (its own process group) with stdout+stderr appended to its log. */
  start(options: StartOptions): ProcessRecord {
    const log = join(this.logDir, `${options.name}.log`);
    const fd = openSync(log, 'a');
    // Each process gets an empty working directory of its own. A kubelet on the fake CRI empties
    // its working directory when it cleans up deleted pods (seen here: the state directory lost
    // files while pods were deleted); with a private one nothing it does can touch the state.
    const cwd = options.cwd ?? join(this.stateDir, 'cwd', options.name);
    mkdirSync(cwd, { recursive: true });
    const child = spawn(options.command, [...options.args], {
      cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    if (child.pid === undefined)
      throw new Error(`could not start ${options.name}: ${options.command}`);
    child.unref();
    this.#children.set(options.name, child);
    const record: ProcessRecord = {
      name: options.name,
      pid: child.pid,
      log,
      command: [options.command, ...options.args],
    };
    this.#save([...this.records().filter((r) => r.name !== options.name), record]);
    return record;
  }

  /** True while the recorded process is alive. */
  alive(name: string): boolean {
    const record = this.records().find((r) => r.name === name);
    return record !== undefined && isAlive(record.pid);
  }

  /** Sends `signal` to the recorded process and waits for it to exit (SIGKILL after the grace). */
  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    const record = this.records().find((r) => r.name === name);
    if (record === undefined) return;
    await stopPid(record.pid, signal, graceMs);
    this.#save(this.records().filter((r) => r.name !== name));
    this.#children.delete(name);
  }

  /** Stops the recorded process (signal, then SIGKILL after the grace) and starts it again the same way. */
  async restart(
    name: string,
    signal: NodeJS.Signals = 'SIGTERM',
    graceMs = 10_000,
  ): Promise<ProcessRecord> {
    const record = this.records().find((r) => r.name === name);
    if (record === undefined) throw new Error(`no recorded process named ${name}`);
    await this.stop(name, signal, graceMs);
    const [command, ...args] = record.command;
    return this.start({ name, command: command ?? '', args });
  }

  /** Stops every recorded process, in reverse start order. */
  async stopAll(graceMs = 10_000): Promise<void> {
    for (const record of [...this.records()].reverse())
      await this.stop(record.name, 'SIGTERM', graceMs);
  }

  /** Waits for `check` while the named process stays alive; fails at once, with its log, if it exits. */
  async waitWhileAlive(
    name: string,
    what: string,
    check: () => Promise<boolean> | boolean,
    timeoutMs: number,
    intervalMs = 200,
  ): Promise<void> {
    await waitFor(
      what,
      async () => {
        if (!this.alive(name)) {
          throw new FatalWaitError(
            `${name} exited while waiting for ${what}:\n${this.tail(name, 20)}`,
          );
        }
        return check();
      },
      timeoutMs,
      intervalMs,
    );
  }

  tail(name: string, lines = 40): string {
    const record = this.records().find((r) => r.name === name);
    const log = record?.log ?? join(this.logDir, `${name}.log`);
    if (!existsSync(log)) return `(no log for ${name})`;
    return readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n');
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopPid(pid: number, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    while (isAlive(pid)) await sleep(20);
  }
}

/** Ends a wait at once instead of retrying until the timeout. */
export class FatalWaitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatalWaitError';
  }
}

/** Polls `check` until it returns true or the timeout passes; the error names what was awaited. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      if (error instanceof FatalWaitError) throw error;
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}
