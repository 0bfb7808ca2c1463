/**
 * Running a Phalanx process in the test cluster as the service account of its deploy manifest,
 * with only that manifest's RBAC applied: the tests then also prove the manifest grants every verb
 * the process uses.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { writeKubeconfig } from '../cluster/pki.ts';
import type { TestCluster } from './cluster.ts';

const WORKLOADS = new Set(['Deployment', 'DaemonSet', 'Service']);

/** Applies the manifest's non-workload objects and returns a kubeconfig with the SA's token. */
export function serviceAccountKubeconfig(
  c: TestCluster,
  manifest: string,
  serviceAccount: string,
  namespace = 'phalanx-system',
): string {
  const objects = parseAllDocuments(
    readFileSync(join(REPO_ROOT, 'deploy', 'manifests', manifest), 'utf8'),
  )
    .map((d) => d.toJSON() as { kind?: string })
    .filter((o) => o.kind !== undefined && !WORKLOADS.has(o.kind));
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );
  const token = c
    .kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=2h'])
    .trim();
  const file = join(c.state.stateDir, `${serviceAccount}.kubeconfig`);
  writeKubeconfig(file, c.state.server, c.state.caCert, { token });
  return file;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
