/**
 * The CLI as a person meets it: bad input ends with one sentence that says what to change and a
 * non-zero exit, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', '..', 'src', 'cmd', 'phalanx.ts');

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env },
    timeout: 20_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe('phalanx CLI errors', () => {
  it.each([
    [['plugin'], {}, 'phalanx plugin: --node-name (NODE_NAME) is required'],
    [
      ['plugin', '--prepare-timeout', '99'],
      {},
      '--prepare-timeout (flag): must be at most 44, got 99',
    ],
    [
      ['plugin', '--fake-gpus', 'profile=nope'],
      { NODE_NAME: 'n' },
      'profile "nope" is unknown; use one of sxm8-80g',
    ],
    [
      ['plugin', '--kubeconfig', '/nonexistent/kubeconfig'],
      { NODE_NAME: 'n' },
      'cannot load kubeconfig /nonexistent/kubeconfig',
    ],
    [['plugin', '--bogus'], {}, 'Run "phalanx plugin --help" for flags.'],
    [['frobnicate'], {}, 'phalanx: unknown command "frobnicate"'],
  ])('%j → %s', (args, env, message) => {
    const { status, stderr } = run(args, env as Record<string, string>);
    expect(status).not.toBe(0);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('names the file and the field of an invalid fake GPU config', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'phalanx-cli-')), 'fake.yaml');
    writeFileSync(file, 'profile: sxm8-80g\nfaults:\n  - {gpu: 1, kind: melted}\n');
    const { status, stderr } = run(['plugin', '--fake-gpus-config', file], { NODE_NAME: 'n' });
    expect(status).toBe(1);
    expect(stderr).toContain(`${file}: faults[0].kind must be one of`);
  });
});
