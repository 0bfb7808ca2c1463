import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClusterSource } from '../../../src/kubectl/source.ts';
import { cli, fixtureSource } from './fixture.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'src', 'cmd', 'kubectl-phalanx.ts');
const dir = mkdtempSync(join(tmpdir(), 'kubectl-phalanx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A kubeconfig naming a server on a port nothing listens on. */
function deadKubeconfig(): string {
  const file = join(dir, 'dead.kubeconfig');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'dead',
          cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true },
        },
      ],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'dead', context: { cluster: 'dead', user: 'u', namespace: 'team' } }],
      'current-context': 'dead',
    }),
  );
  return file;
}

describe('kubectl phalanx run', () => {
  it('exits 2 with a sentence on a bad command line, before reading the cluster', async () => {
    let opened = false;
    const source = fixtureSource();
    const result = await cli(['nodes', '-o', 'yaml'], {
      ...source,
      objects: () => {
        opened = true;
        return source.objects();
      },
    });
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: -o yaml is not supported; use -o table, -o wide or -o json\n',
    });
    expect(opened).toBe(false);
  });

  it('prints help on stdout and exits 0', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: kubectl phalanx <command> \[flags\]/);
  });

  it('turns an unreachable API server into one sentence naming the server', async () => {
    const source = ApiClusterSource.connect({ kubeconfig: deadKubeconfig(), context: '' });
    expect(source.defaultNamespace).toBe('team');
    const result = await cli(['gangs'], source);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\); check --kubeconfig \(KUBECONFIG\) and that the cluster is running\n$/,
    );
  });

  it('names the contexts when --context is not in the kubeconfig', () => {
    expect(() =>
      ApiClusterSource.connect({ kubeconfig: deadKubeconfig(), context: 'prod' }),
    ).toThrow('context "prod" is not in the kubeconfig; use one of dead');
  });

  it('runs as an executable (shebang, executable bit) and reports errors with exit 1', () => {
    const env = {
      ...process.env,
      PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    };
    expect(execFileSync(BIN, ['gangs', '--help'], { env, encoding: 'utf8' })).toMatch(
      /^Usage: kubectl phalanx gangs/,
    );
    const failed = spawnSync(BIN, ['queues', '--kubeconfig', deadKubeconfig()], {
      env,
      encoding: 'utf8',
    });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(
      /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:1 /,
    );
  });
});
