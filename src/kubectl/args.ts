/**
 * The command line of `kubectl phalanx`: kubectl's own flag spellings (`-n`, `-A`, `-o`,
 * `--kubeconfig`, `--context`) so the plugin reads like the rest of kubectl, and one help text per
 * command.
 */
import { parseArgs } from 'node:util';

export const COMMANDS = ['nodes', 'gangs', 'queues', 'explain'] as const;
export type CommandName = (typeof COMMANDS)[number];

export const OUTPUTS = ['table', 'wide', 'json'] as const;
export type Output = (typeof OUTPUTS)[number];

export interface CliRequest {
  readonly command: CommandName;
  /** Positional arguments after the command (the pod name of `explain`). */
  readonly args: readonly string[];
  /** Namespace from `-n`; undefined means the kubeconfig context's namespace. */
  readonly namespace: string | undefined;
  readonly allNamespaces: boolean;
  readonly output: Output;
  readonly kubeconfig: string;
  readonly context: string;
  readonly topologyLevels: string;
}

/** A command line that cannot be run; the message says what to change. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const SUMMARIES: Readonly<Record<CommandName, { usage: string; summary: string }>> = {
  nodes: {
    usage: 'kubectl phalanx nodes [-o table|wide|json]',
    summary:
      'GPU nodes grouped by topology (zone, block, rack, NVLink domain): whole GPUs and partitions allocated, GPU share in use by the devices counters, GPUs reserved by gang plans, and the queues of the pods using them.',
  },
  gangs: {
    usage: 'kubectl phalanx gangs [-n NAMESPACE | -A] [-o table|wide|json]',
    summary:
      "Gangs and their state: source (PodGroup or labels), size, pods bound/gated/pending, queue, the planned topology domain, the waiting reason and age. The state is the planner core's verdict on the live objects.",
  },
  queues: {
    usage: 'kubectl phalanx queues [-o table|wide|json]',
    summary:
      'Queues (scheduling.phalanx.dev/v1alpha1): weight, priority, quota per device class, usage, borrowed devices, fair share, admitted and pending gangs, and conditions, as the planner core computes them now.',
  },
  explain: {
    usage: 'kubectl phalanx explain POD [-n NAMESPACE] [-o table|json]',
    summary:
      "Why a pod is where it is (node, plan and topology domain, claims and their devices, the rest of its gang) or why it waits (the planner's waiting reason, kube-scheduler's FailedScheduling events with the extender's reason, gates left, queue state, and what the core decides for it now).",
  },
};

const FLAGS_HELP = [
  'Flags:',
  '  -n, --namespace NAME     namespace (default: the kubeconfig context namespace, else "default")',
  '  -A, --all-namespaces     every namespace (gangs)',
  '  -o, --output FORMAT      table (default), wide or json',
  '      --kubeconfig PATH    kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)',
  '      --context NAME       kubeconfig context to use',
  "      --topology-levels V  the scheduler's --topology-levels (JSON or file), when it sets one",
  '  -h, --help               this help',
];

export function commandHelp(command: CommandName): string {
  const { usage, summary } = SUMMARIES[command];
  return `Usage: ${usage}\n\n${summary}\n\n${FLAGS_HELP.join('\n')}\n`;
}

export function mainHelp(): string {
  const lines = [
    'Usage: kubectl phalanx <command> [flags]',
    '',
    "Shows what Phalanx's gang scheduler sees and decides, read from the live cluster.",
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.padEnd(8)} ${SUMMARIES[c].usage}`),
    '',
    'Run "kubectl phalanx <command> --help" for what a command shows.',
  ];
  return `${lines.join('\n')}\n`;
}

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'topology-levels': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const isCommand = (word: string): word is CommandName =>
  (COMMANDS as readonly string[]).includes(word);

function outputOf(value: string | undefined): Output {
  if (value === undefined) return 'table';
  if ((OUTPUTS as readonly string[]).includes(value)) return value as Output;
  throw new UsageError(`-o ${value} is not supported; use -o table, -o wide or -o json`);
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${reason}; run "kubectl phalanx --help" for the flags`);
  }
}

/** The parsed command line, or `{ help }` with the text to print. Throws UsageError. */
export function parseCli(argv: readonly string[]): CliRequest | { help: string } {
  const { values, positionals } = parse(argv);
  const [word, ...args] = positionals;
  if (word === undefined) return { help: mainHelp() };
  if (!isCommand(word)) {
    throw new UsageError(`unknown command "${word}"; use one of ${COMMANDS.join(', ')}`);
  }
  if (values.help === true) return { help: commandHelp(word) };
  return checked({
    command: word,
    args,
    namespace: values.namespace,
    allNamespaces: values['all-namespaces'] === true,
    output: outputOf(values.output),
    kubeconfig: values.kubeconfig ?? '',
    context: values.context ?? '',
    topologyLevels: values['topology-levels'] ?? '',
  });
}

function checked(request: CliRequest): CliRequest {
  const { command, args } = request;
  if (command === 'explain') {
    if (args.length !== 1) {
      throw new UsageError('explain needs exactly one pod name: kubectl phalanx explain POD -n NS');
    }
    if (request.allNamespaces) throw new UsageError('explain takes -n NAMESPACE, not -A');
    if (request.output === 'wide') {
      throw new UsageError('explain prints every detail already; use -o table or -o json');
    }
  } else if (args.length > 0) {
    throw new UsageError(`${command} takes no arguments, got "${args.join(' ')}"`);
  }
  if (request.allNamespaces && request.namespace !== undefined) {
    throw new UsageError('give either -n NAMESPACE or -A, not both');
  }
  return request;
}
