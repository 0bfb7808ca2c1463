/**
 * `phalanx scheduler` as a person meets it: help, and startup errors that are one sentence with a
 * non-zero exit and no stack.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', '..', 'src', 'cmd', 'phalanx.ts');
const dir = mkdtempSync(join(tmpdir(), 'phalanx-sched-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: dir },
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A kubeconfig pointing at a port where nothing listens. */
function deadKubeconfig(): string {
  const file = join(dir, 'dead.kubeconfig');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]',
      'users: [{name: u, user: {}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
      '',
    ].join('\n'),
  );
  return file;
}

describe('phalanx scheduler CLI', () => {
  it('prints its flags with --help', () => {
    const { status, stdout } = run(['scheduler', '--help']);
    expect(status).toBe(0);
    expect(stdout).toContain(
      '--extender-address  [PHALANX_EXTENDER_ADDRESS]  default: 127.0.0.1:8888',
    );
    expect(stdout).toContain('--leader-elect  [PHALANX_LEADER_ELECT]  default: true');
  });

  it.each([
    [['--tls-cert-file', '/x.pem'], '--tls-cert-file and --tls-key-file must be given together'],
    [['--extender-address', 'nowhere'], '--extender-address: "nowhere" is not host:port'],
  ])('%j → %s', (args, message) => {
    const { status, stderr } = run(['scheduler', ...args]);
    expect(status).not.toBe(0);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says which API server it could not reach', () => {
    const { status, stderr } = run(['scheduler', '--kubeconfig', deadKubeconfig()]);
    expect(status).toBe(1);
    expect(stderr).toMatch(
      /^phalanx scheduler: cannot read API discovery from http:\/\/127\.0\.0\.1:9 \(.*\); check --kubeconfig\n$/,
    );
  });
});
