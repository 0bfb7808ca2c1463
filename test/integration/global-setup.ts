/**
 * Brings the local real cluster up once for the integration project and tears it down after.
 * With PHALANX_REUSE_CLUSTER=1 an already running cluster (`make cluster-up`) is used and left
 * running.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR, destroyCluster, LocalCluster } from '../cluster/cluster.ts';
import { Supervisor } from '../cluster/processes.ts';

const stateDir = process.env.PHALANX_CLUSTER_DIR ?? DEFAULT_STATE_DIR;
const reuse = process.env.PHALANX_REUSE_CLUSTER === '1';

export async function setup(): Promise<void> {
  if (reuse && existsSync(join(stateDir, 'cluster.json'))) return;
  await destroyCluster(stateDir);
  const cluster = new LocalCluster({ stateDir });
  try {
    const state = await cluster.up();
    process.stdout.write(
      `integration: cluster ${state.version} up with ${state.nodes.length} nodes\n`,
    );
  } catch (error) {
    const supervisor = new Supervisor(stateDir);
    for (const record of supervisor.records()) {
      process.stderr.write(`==== ${record.name}\n${supervisor.tail(record.name, 30)}\n`);
    }
    await destroyCluster(stateDir);
    throw error;
  }
}

export async function teardown(): Promise<void> {
  if (reuse) return;
  if (process.env.PHALANX_KEEP_CLUSTER === '1') return;
  await destroyCluster(stateDir);
}
