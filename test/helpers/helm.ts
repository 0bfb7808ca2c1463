/**
 * The Helm chart in tests: the helm binary built by hack/helm.sh, `helm template` of
 * deploy/helm/phalanx with values, the rendered objects, stand-in CRDs for the kinds of optional
 * operators (cert-manager, Prometheus Operator) so the API server can judge those objects too, and
 * `kubectl auth can-i` as a service account.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR } from '../../hack/render-manifests.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import type { TestCluster } from './cluster.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** The helm binary (built once by hack/helm.sh, then cached). */
export function helmBinary(): string {
  const out = execFileSync('bash', [join(REPO_ROOT, 'hack', 'helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.trim().split('\n').at(-1) ?? '';
}

export interface HelmResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with arguments; never throws on a non-zero exit. */
export function helm(binary: string, args: readonly string[]): HelmResult {
  const r = spawnSync(binary, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template <release> deploy/helm/phalanx -n <namespace>` with --set-json values. */
export function template(
  binary: string,
  options: { release?: string; namespace?: string; values?: Record<string, unknown> } = {},
): HelmResult {
  const args = [
    'template',
    options.release ?? 'phalanx',
    join(REPO_ROOT, CHART_DIR),
    '--namespace',
    options.namespace ?? 'phalanx-system',
  ];
  for (const [key, value] of Object.entries(options.values ?? {})) {
    args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  }
  return helm(binary, args);
}

/** The objects of a multi-document YAML text, empty documents dropped. */
export function objectsOf(yamlText: string): KubeObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJSON() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === 'object' && 'kind' in o);
}

/** `Kind/name` of every object, for readable assertions. */
export function kindNames(objects: readonly KubeObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`);
}

/** Stand-ins for CRDs of operators the chart can use; schemaless, enough for server-side apply. */
const STAND_IN_CRDS = [
  { group: 'cert-manager.io', plural: 'certificates', kind: 'Certificate' },
  { group: 'cert-manager.io', plural: 'issuers', kind: 'Issuer' },
  { group: 'monitoring.coreos.com', plural: 'servicemonitors', kind: 'ServiceMonitor' },
] as const;

function standInCrd(spec: (typeof STAND_IN_CRDS)[number]): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${spec.plural}.${spec.group}`,
      labels: { 'phalanx.dev/test-stand-in': 'true' },
    },
    spec: {
      group: spec.group,
      scope: 'Namespaced',
      names: { plural: spec.plural, kind: spec.kind, singular: spec.kind.toLowerCase() },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      ],
    },
  };
}

/**
 * Creates the stand-in CRDs that the cluster lacks (a real operator's CRD is left alone) and
 * returns the names of those it created, for removeStandInCrds.
 */
export function addStandInCrds(c: TestCluster): string[] {
  const created: string[] = [];
  for (const spec of STAND_IN_CRDS) {
    const name = `${spec.plural}.${spec.group}`;
    const present = c.kubectl(['get', 'crd', name, '--ignore-not-found', '-o', 'name']).trim();
    if (present !== '') continue;
    c.kubectl(['create', '-f', '-'], JSON.stringify(standInCrd(spec)));
    created.push(name);
  }
  for (const name of created) {
    c.kubectl(['wait', '--for=condition=Established', `crd/${name}`, '--timeout=60s']);
  }
  return created;
}

export function removeStandInCrds(c: TestCluster, names: readonly string[]): void {
  for (const name of names)
    c.kubectl(['delete', 'crd', name, '--ignore-not-found', '--wait=false']);
}

/** Server-side apply, dry run: the API server admits and validates, nothing is stored. */
export function dryRunApply(c: TestCluster, objects: readonly KubeObject[]): string {
  return c.kubectl(
    ['apply', '--server-side', '--dry-run=server', '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );
}

/**
 * `kubectl auth can-i` as a service account: "yes" or "no". `resource` may carry more arguments
 * after a space, e.g. `queues.scheduling.phalanx.dev --subresource=status`.
 */
export function canI(
  c: TestCluster,
  serviceAccount: string,
  verb: string,
  resource: string,
  namespace?: string,
): string {
  const args = ['auth', 'can-i', verb, ...resource.split(' '), `--as=${serviceAccount}`];
  args.push(...(namespace === undefined ? ['-A'] : ['-n', namespace]));
  try {
    return c.kubectl(args).trim();
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '').trim();
  }
}

/** RBAC kinds: what must exist for real before can-i answers for a service account. */
export const RBAC_KINDS: ReadonlySet<string> = new Set([
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
]);
