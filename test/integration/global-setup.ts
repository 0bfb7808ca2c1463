/**
 * The integration project's run identity. The cluster itself is started lazily by the first
 * integration test file that needs it (test/helpers/cluster.ts `ensureCluster`), so a run that
 * selects only unit tests never touches it; teardown stops it only when this run started it.
 * PHALANX_KEEP_CLUSTER=1 leaves it running for inspection.
 */
import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { clusterOwner, DEFAULT_STATE_DIR, destroyCluster } from '../cluster/cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    phalanxRunId: string;
  }
}

const runId = randomUUID();

export function setup(project: TestProject): void {
  project.provide('phalanxRunId', runId);
}

export async function teardown(): Promise<void> {
  const stateDir = process.env.PHALANX_CLUSTER_DIR ?? DEFAULT_STATE_DIR;
  if (process.env.PHALANX_KEEP_CLUSTER === '1') return;
  if (clusterOwner(stateDir) === runId) await destroyCluster(stateDir);
}
