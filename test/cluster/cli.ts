/**
 * `make cluster-up` / `make cluster-down` / `make cluster-logs`: the local real cluster.
 *   node test/cluster/cli.ts up|down|logs|status
 * PHALANX_CLUSTER_DIR picks the state directory (default /tmp/phalanx-cluster); KUBE_BIN_DIR the
 * binaries (default: the `make kube-bins` cache for K8S_VERSION).
 */
import { DEFAULT_STATE_DIR, destroyCluster, LocalCluster, loadClusterState } from './cluster.ts';
import { Supervisor } from './processes.ts';

const stateDir = process.env.PHALANX_CLUSTER_DIR ?? DEFAULT_STATE_DIR;
const command = process.argv[2] ?? 'status';

function printLogs(lines: number): void {
  const supervisor = new Supervisor(stateDir);
  for (const record of supervisor.records()) {
    process.stdout.write(
      `==== ${record.name} (pid ${record.pid}) ${record.log}\n${supervisor.tail(record.name, lines)}\n`,
    );
  }
}

async function main(): Promise<number> {
  switch (command) {
    case 'up': {
      await destroyCluster(stateDir);
      const cluster = new LocalCluster({ stateDir });
      const started = Date.now();
      try {
        const state = await cluster.up();
        process.stdout.write(
          `cluster ${state.version} up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${state.nodes.map((n) => n.name).join(', ')}\n` +
            `export KUBECONFIG=${state.kubeconfig}\n`,
        );
        return 0;
      } catch (error) {
        process.stderr.write(
          `cluster-up failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        printLogs(30);
        await destroyCluster(stateDir);
        return 1;
      }
    }
    case 'down':
      await destroyCluster(stateDir);
      process.stdout.write(`cluster at ${stateDir} stopped and removed\n`);
      return 0;
    case 'logs':
      printLogs(Number(process.argv[3] ?? 60));
      return 0;
    case 'status': {
      const state = loadClusterState(stateDir);
      const supervisor = new Supervisor(stateDir);
      for (const record of supervisor.records()) {
        process.stdout.write(
          `${record.name.padEnd(28)} pid ${record.pid} ${supervisor.alive(record.name) ? 'running' : 'exited'}\n`,
        );
      }
      process.stdout.write(`version ${state.version}; KUBECONFIG=${state.kubeconfig}\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command "${command}"; use up, down, logs or status\n`);
      return 2;
  }
}

process.exitCode = await main();
