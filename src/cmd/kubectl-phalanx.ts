#!/usr/bin/env node
/**
 * `kubectl-phalanx`: the kubectl plugin (`kubectl phalanx nodes|gangs|queues|explain`). Put it on
 * PATH and kubectl finds it; the logic lives in src/kubectl/.
 */
import { run } from '../kubectl/main.ts';

process.exitCode = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  now: Date.now,
});
