/**
 * `kubectl phalanx`: parse the command line, read the cluster once, run the core on it, print.
 * Exit codes: 0 done, 1 the cluster could not be read or the pod does not exist, 2 a bad command
 * line.
 */
import { loadTopologyLevels } from '../config/scheduler.ts';
import type { PlannerSettings } from '../scheduling/round-types.ts';
import { type CliRequest, parseCli, UsageError } from './args.ts';
import { explainReport, findPod, NotFoundError, renderExplain } from './explain.ts';
import { gangsReport, renderGangs } from './gangs.ts';
import { nodesReport, renderNodes } from './nodes.ts';
import { queuesReport, renderQueues } from './queues.ts';
import {
  ApiClusterSource,
  type ClusterSource,
  type ConnectOptions,
  describeFailure,
} from './source.ts';
import { clusterView } from './view.ts';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now: () => number;
  /** Opens the cluster; the API server by default. */
  readonly connect?: (options: ConnectOptions) => ClusterSource;
}

function settingsOf(request: CliRequest, now: number): PlannerSettings {
  const levels = loadTopologyLevels(request.topologyLevels);
  return levels === undefined ? { now } : { levels, now };
}

async function execute(request: CliRequest, source: ClusterSource, io: CliIo): Promise<void> {
  const now = io.now();
  const settings = settingsOf(request, now);
  const namespace = request.namespace ?? source.defaultNamespace;
  const view = clusterView(await source.objects(), settings);
  switch (request.command) {
    case 'nodes': {
      const report = nodesReport(view);
      if (report.nodes.length === 0 && request.output !== 'json') io.stderr('No nodes found.\n');
      else io.stdout(renderNodes(report, request.output));
      if (request.output !== 'json') for (const p of report.problems) io.stderr(`warning: ${p}\n`);
      return;
    }
    case 'gangs': {
      const rows = gangsReport(view, request.allNamespaces ? undefined : namespace, now);
      if (rows.length === 0 && request.output !== 'json') {
        io.stderr(
          request.allNamespaces
            ? 'No gangs found.\n'
            : `No gangs found in ${namespace} namespace.\n`,
        );
      } else io.stdout(renderGangs(rows, request.output, request.allNamespaces));
      return;
    }
    case 'queues': {
      const rows = queuesReport(view);
      if (rows.length === 0 && request.output !== 'json') io.stderr('No queues found.\n');
      else io.stdout(renderQueues(rows, request.output));
      return;
    }
    case 'explain': {
      const pod = findPod(view, namespace, request.args[0] ?? '');
      const events = await source.events(namespace, pod.metadata.name ?? '', pod.metadata.uid);
      io.stdout(renderExplain(explainReport(view, pod, events, now), request.output));
      return;
    }
  }
}

/** Runs one command line; returns the exit code. Never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let request: CliRequest;
  try {
    const parsed = parseCli(argv);
    if ('help' in parsed) {
      io.stdout(parsed.help);
      return 0;
    }
    request = parsed;
  } catch (error) {
    io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
  let source: ClusterSource | undefined;
  try {
    source = (io.connect ?? ((o) => ApiClusterSource.connect(o)))({
      kubeconfig: request.kubeconfig,
      context: request.context,
    });
    await execute(request, source, io);
    return 0;
  } catch (error) {
    const message =
      error instanceof NotFoundError ? error.message : describeFailure(error, source?.server);
    io.stderr(`error: ${message}\n`);
    return 1;
  }
}
