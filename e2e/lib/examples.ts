/**
 * The examples under deploy/examples/<name>/ as the e2e suite sees them: the main manifest
 * `<name>.yaml` (what the README tells users to `kubectl apply -f`), its other YAML files, its
 * README, and the objects and namespace it creates. Applied and deleted with kubectl, as users do.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../test/cluster/cluster.ts';
import type { TestCluster } from '../../test/helpers/cluster.ts';

export const EXAMPLES_DIR = join(REPO_ROOT, 'deploy', 'examples');

export interface ExampleObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
  };
}

export interface Example {
  readonly name: string;
  readonly dir: string;
  /** `<dir>/<name>.yaml`. */
  readonly manifest: string;
  /** Other YAML files of the directory, by file name. */
  readonly extras: Readonly<Record<string, string>>;
  readonly readme: string;
  readonly objects: readonly ExampleObject[];
  /** The Namespace the manifest creates. */
  readonly namespace: string;
}

/** Every directory under deploy/examples (scheduler-config.yaml and other files are not examples). */
export function exampleNames(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((entry) => statSync(join(EXAMPLES_DIR, entry)).isDirectory())
    .sort();
}

export function parseObjects(file: string): ExampleObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJSON() as ExampleObject | null)
    .filter((o): o is ExampleObject => o !== null);
}

export function loadExample(name: string): Example {
  const dir = join(EXAMPLES_DIR, name);
  const manifest = join(dir, `${name}.yaml`);
  if (!existsSync(manifest)) throw new Error(`example ${name}: add ${name}.yaml to ${dir}`);
  const objects = parseObjects(manifest);
  const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name;
  if (namespace === undefined) {
    throw new Error(`example ${name}: ${name}.yaml must create its own Namespace`);
  }
  const extras: Record<string, string> = {};
  for (const file of readdirSync(dir)) {
    if (/\.ya?ml$/.test(file) && file !== `${name}.yaml`) extras[file] = join(dir, file);
  }
  const readmeFile = join(dir, 'README.md');
  const readme = existsSync(readmeFile) ? readFileSync(readmeFile, 'utf8') : '';
  return { name, dir, manifest, extras, readme, objects, namespace };
}

/** `kubectl apply -f <file>`; returns kubectl's output. */
export function applyFile(c: TestCluster, file: string): string {
  return c.kubectl(['apply', '-f', file]);
}

/** `kubectl delete -f <manifest>`: the namespace with everything in it, and its cluster objects. */
export function deleteExample(c: TestCluster, example: Example): void {
  c.kubectl([
    'delete',
    '-f',
    example.manifest,
    '--ignore-not-found',
    '--wait=true',
    '--timeout=180s',
  ]);
}

/** kubectl's answer, or its error text (for outputs captured for the READMEs). */
function kubectlText(c: TestCluster, args: readonly string[]): string {
  try {
    return c.kubectl(args);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function transcript(c: TestCluster, commands: readonly (readonly string[])[]): string {
  return commands.map((args) => `$ kubectl ${args.join(' ')}\n${kubectlText(c, args)}`).join('\n');
}

/** What a person debugging a failed example needs: its pods, events and claims, and the logs. */
export function diagnostics(c: TestCluster, example: Example): string {
  const ns = example.namespace;
  const logs = c.local
    ? c.supervisor
        .records()
        .filter((r) => /^phalanx-/.test(r.name))
        .map((r) => `---- ${r.name}\n${c.supervisor.tail(r.name, 20)}`)
    : [];
  return [
    `==== diagnostics for example ${example.name}`,
    transcript(c, [
      ['get', 'pods', '-n', ns, '-o', 'wide'],
      ['get', 'events', '-n', ns, '--sort-by=.lastTimestamp'],
      ['get', 'resourceclaims', '-n', ns, '-o', 'wide'],
    ]),
    ...logs,
    '',
  ].join('\n');
}

/**
 * With PHALANX_EXAMPLES_OUT set, writes what the README's "expected output" shows (pods wide,
 * claims, and the extra commands given) to `<dir>/<example>.txt`, to refresh the READMEs from a
 * real run. No-op otherwise.
 */
export function captureOutput(
  c: TestCluster,
  example: Example,
  extra: readonly (readonly string[])[] = [],
): void {
  const out = process.env.PHALANX_EXAMPLES_OUT;
  if (out === undefined || out === '') return;
  mkdirSync(out, { recursive: true });
  const ns = example.namespace;
  const commands = [
    ['get', 'pods', '-n', ns, '-o', 'wide'],
    ['get', 'resourceclaims', '-n', ns],
    ...extra,
  ];
  writeFileSync(join(out, `${example.name}.txt`), transcript(c, commands));
}
