import { describe, expect, it } from 'vitest';
import { commandHelp, parseCli, UsageError } from '../../../src/kubectl/args.ts';

describe('parseCli', () => {
  it('reads kubectl-style flags, short and long', () => {
    expect(
      parseCli(['gangs', '-n', 'ml', '-o', 'json', '--kubeconfig', '/k', '--context', 'c']),
    ).toEqual({
      command: 'gangs',
      args: [],
      namespace: 'ml',
      allNamespaces: false,
      output: 'json',
      kubeconfig: '/k',
      context: 'c',
      topologyLevels: '',
    });
    const all = parseCli(['gangs', '-A', '--output=wide']);
    expect(all).toMatchObject({ allNamespaces: true, namespace: undefined, output: 'wide' });
    expect(parseCli(['explain', 'pod-1', '--namespace=ml'])).toMatchObject({
      args: ['pod-1'],
      namespace: 'ml',
      output: 'table',
    });
  });

  it('answers --help per command and without a command', () => {
    expect(parseCli([])).toEqual({ help: expect.stringContaining('kubectl phalanx <command>') });
    expect(parseCli(['nodes', '--help'])).toEqual({ help: commandHelp('nodes') });
    expect(commandHelp('explain')).toMatch(/^Usage: kubectl phalanx explain POD/);
    expect(commandHelp('queues')).toContain('fair share');
  });

  it.each([
    [['nodes', '-o', 'yaml'], '-o yaml is not supported; use -o table, -o wide or -o json'],
    [['pods'], 'unknown command "pods"; use one of nodes, gangs, queues, explain'],
    [['explain'], 'explain needs exactly one pod name: kubectl phalanx explain POD -n NS'],
    [
      ['explain', 'a', 'b'],
      'explain needs exactly one pod name: kubectl phalanx explain POD -n NS',
    ],
    [['explain', 'a', '-A'], 'explain takes -n NAMESPACE, not -A'],
    [
      ['explain', 'a', '-o', 'wide'],
      'explain prints every detail already; use -o table or -o json',
    ],
    [['nodes', 'extra'], 'nodes takes no arguments, got "extra"'],
    [['gangs', '-n', 'ml', '-A'], 'give either -n NAMESPACE or -A, not both'],
  ])('rejects %j with a sentence', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(new UsageError(message));
  });

  it('rejects an unknown flag and points at --help', () => {
    expect(() => parseCli(['nodes', '--bogus'])).toThrow(/--bogus.*kubectl phalanx --help/);
  });
});
