#!/usr/bin/env node
/**
 * `phalanx <command>`: one CLI, one thin entrypoint per program. Each command module exports
 * `main(argv)` and owns its flags; this file only dispatches.
 */
import { FlagError } from '../config/flags.ts';

interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ main: (argv: readonly string[]) => Promise<number> }>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  demo: {
    summary:
      'Run the kubelet plugin on fake GPUs and walk through register, publish, prepare, faults, unprepare (no cluster needed).',
    load: () => import('./demo.ts'),
  },
  plugin: {
    summary: 'Run the DRA kubelet plugin gpu.phalanx.dev (DaemonSet on GPU nodes).',
    load: () => import('./plugin.ts'),
  },
  scheduler: {
    summary:
      'Run the scheduler extender (every replica) and the leader-elected gang planner for kube-scheduler.',
    load: () => import('./scheduler.ts'),
  },
  webhook: {
    summary:
      'Run the admission webhook: scheduling gates for gang and queue pods, Queue and GPU config validation.',
    load: () => import('./webhook.ts'),
  },
  simulate: {
    summary:
      'Replay GPU workloads through the scheduling core: the embedded gang default with no flags, or the openb trace.',
    load: () => import('./simulate.ts'),
  },
};

function help(): string {
  const lines = ['Usage: phalanx <command> [flags]', '', 'Commands:'];
  for (const [name, command] of Object.entries(COMMANDS))
    lines.push(`  ${name.padEnd(10)} ${command.summary}`);
  lines.push(
    '',
    'Run "phalanx <command> --help" for the flags of a command; every flag has an env twin.',
  );
  return `${lines.join('\n')}\n`;
}

async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`phalanx: unknown command "${name}".\n\n${help()}`);
    return 2;
  }
  const module = await command.load();
  return module.main(rest);
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof FlagError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  } else {
    // Startup failures (bad config files, unreachable paths) are for a person: the sentence, not
    // the stack. PHALANX_DEBUG=1 adds the stack.
    const message = error instanceof Error ? error.message : String(error);
    const debug = process.env.PHALANX_DEBUG === '1' && error instanceof Error;
    process.stderr.write(
      `phalanx ${process.argv[2] ?? ''}: ${message}${debug ? `\n${error.stack ?? ''}` : ''}\n`,
    );
    process.exitCode = 1;
  }
}
