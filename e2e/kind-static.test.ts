/**
 * Static checks of the kind path (e2e/kind/cluster.yaml and e2e/kind/run.sh), which CI cannot
 * run for lack of Docker: pins present and consistent, CDI on for the plugin's CDI directory,
 * the extender wiring complete, and the KubeSchedulerConfiguration the control plane mounts
 * accepted by the real kube-scheduler binary (`--write-config-to` decodes, defaults and
 * validates it strictly, then exits without contacting any API server).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_CDI_DIR } from '../src/driver/cdi.ts';
import { kubeBinDir, REPO_ROOT } from '../test/cluster/cluster.ts';

const KIND_DIR = join(REPO_ROOT, 'e2e', 'kind');
const SCRIPT = join(KIND_DIR, 'run.sh');
const script = readFileSync(SCRIPT, 'utf8');
const clusterText = readFileSync(join(KIND_DIR, 'cluster.yaml'), 'utf8');

interface KindNode {
  role: string;
  image?: string;
  labels?: Record<string, string>;
  extraMounts?: { hostPath: string; containerPath: string; readOnly?: boolean }[];
  kubeadmConfigPatches?: string[];
}

interface KindCluster {
  kind: string;
  apiVersion: string;
  featureGates?: Record<string, boolean>;
  containerdConfigPatches?: string[];
  nodes: KindNode[];
}

interface SchedulerPatch {
  apiVersion: string;
  kind: string;
  scheduler: {
    extraArgs: { name: string; value: string }[];
    extraVolumes: { name: string; hostPath: string; mountPath: string; pathType?: string }[];
  };
}

const cluster = parse(clusterText) as KindCluster;
const controlPlane = cluster.nodes.find((n) => n.role === 'control-plane');
const workers = cluster.nodes.filter((n) => n.role === 'worker');

/** `NAME=value` assignments at the top level of run.sh. */
function scriptVariable(name: string): string {
  const match = new RegExp(`^${name}=(\\S+)$`, 'm').exec(script);
  if (match?.[1] === undefined) throw new Error(`e2e/kind/run.sh: no ${name}=<value> line`);
  return match[1];
}

function schedulerPatch(): SchedulerPatch {
  const patch = (controlPlane?.kubeadmConfigPatches ?? [])
    .map((p) => parse(p) as SchedulerPatch)
    .find((p) => p.kind === 'ClusterConfiguration');
  if (patch === undefined) throw new Error('no ClusterConfiguration patch on the control plane');
  return patch;
}

/** The repository file mounted into the control-plane node at `containerPath`. */
function mountedFile(containerPath: string): string {
  const mount = controlPlane?.extraMounts?.find((m) => m.containerPath === containerPath);
  if (mount === undefined) throw new Error(`nothing is mounted at ${containerPath}`);
  return join(REPO_ROOT, mount.hostPath);
}

const schedulerConfigPath = (): string => {
  const arg = schedulerPatch().scheduler.extraArgs.find((a) => a.name === 'config');
  if (arg === undefined) throw new Error('kube-scheduler gets no --config');
  return arg.value;
};

const tmp = mkdtempSync(join(tmpdir(), 'phalanx-kind-static-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('e2e/kind/cluster.yaml', () => {
  it('is a kind v1alpha4 Cluster with one control plane and GPU workers', () => {
    expect(cluster.kind).toBe('Cluster');
    expect(cluster.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    expect(controlPlane).toBeDefined();
    expect(workers.length).toBeGreaterThanOrEqual(3);
  });

  it('pins every node to the node image of run.sh, by tag and digest, at our default minor', () => {
    const image = scriptVariable('KIND_NODE_IMAGE');
    expect(image).toMatch(/^kindest\/node:v1\.(\d+)\.\d+@sha256:[0-9a-f]{64}$/);
    expect(cluster.nodes.map((n) => n.image)).toEqual(cluster.nodes.map(() => image));
    const kubeBins = readFileSync(join(REPO_ROOT, 'hack', 'kube-bins.sh'), 'utf8');
    const defaultVersion = /^DEFAULT_K8S_VERSION=1\.(\d+)\.\d+$/m.exec(kubeBins)?.[1];
    expect(image).toContain(`:v1.${defaultVersion}.`);
  });

  it('names the pinned kind release, which run.sh builds', () => {
    const version = scriptVariable('KIND_VERSION');
    expect(version).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(clusterText).toContain(`kind ${version}`);
    expect(script).toContain('go install "sigs.k8s.io/kind@$KIND_VERSION"');
  });

  it('lets containerd resolve CDI devices from the directory the plugin writes', () => {
    const patch = (cluster.containerdConfigPatches ?? []).join('\n');
    expect(patch).toMatch(/enable_cdi\s*=\s*true/);
    const dirs = /cdi_spec_dirs\s*=\s*\[([^\]]*)\]/.exec(patch)?.[1] ?? '';
    expect(dirs).toContain(`"${DEFAULT_CDI_DIR}"`);
  });

  it('mounts the scheduler configuration into kube-scheduler (kubeadm v1beta4)', () => {
    const patch = schedulerPatch();
    expect(patch.apiVersion).toBe('kubeadm.k8s.io/v1beta4');
    const config = schedulerConfigPath();
    const volume = patch.scheduler.extraVolumes.find((v) => v.mountPath === config);
    expect(volume?.pathType).toBe('File');
    // The node path the static pod mounts is where kind put the repository file.
    const file = mountedFile(volume?.hostPath ?? '');
    expect(file).toBe(join(REPO_ROOT, 'deploy', 'examples', 'scheduler-config.yaml'));
    expect(existsSync(file)).toBe(true);
  });

  it('labels every worker for the plugin DaemonSet and with racks the rack-gang example can use', () => {
    const values = parse(
      readFileSync(join(REPO_ROOT, 'deploy', 'helm', 'phalanx', 'values.yaml'), 'utf8'),
    ) as { kubeletPlugin: { nodeSelector: Record<string, string> } };
    const racks = new Map<string, number>();
    for (const w of workers) {
      expect(w.labels).toMatchObject(values.kubeletPlugin.nodeSelector);
      const rack = w.labels?.['topology.phalanx.dev/rack'] ?? '';
      expect(rack).not.toBe('');
      racks.set(rack, (racks.get(rack) ?? 0) + 1);
    }
    // rack-gang: 12 GPUs, more than one 8-GPU node and fitting only the rack with two nodes.
    expect([...racks.values()].sort()).toEqual([1, 2]);
  });
});

describe('the KubeSchedulerConfiguration the kind control plane mounts', () => {
  const file = mountedFile(schedulerConfigPath());
  const config = parse(readFileSync(file, 'utf8')) as {
    clientConnection: { kubeconfig: string };
    extenders: { urlPrefix: string }[];
  };

  it('is accepted by the real kube-scheduler (strict decoding and validation)', () => {
    // The kubeadm kubeconfig path exists only on the node; point it at a placeholder.
    const kubeconfig = join(tmp, 'scheduler.conf');
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
        'users: [{name: u, user: {token: placeholder}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
    );
    expect(config.clientConnection.kubeconfig).toBe('/etc/kubernetes/scheduler.conf');
    const input = join(tmp, 'config.yaml');
    writeFileSync(
      input,
      readFileSync(file, 'utf8').replace('/etc/kubernetes/scheduler.conf', kubeconfig),
    );
    const out = join(tmp, 'written.yaml');
    const run = spawnSync(
      join(kubeBinDir(), 'kube-scheduler'),
      [`--config=${input}`, `--write-config-to=${out}`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const written = parse(readFileSync(out, 'utf8')) as { extenders: { urlPrefix: string }[] };
    expect(written.extenders.map((e) => e.urlPrefix)).toEqual(
      config.extenders.map((e) => e.urlPrefix),
    );
  });

  it('calls the extender at the scheduler Service address run.sh installs the chart with', () => {
    const values = parse(
      readFileSync(join(REPO_ROOT, 'deploy', 'helm', 'phalanx', 'values.yaml'), 'utf8'),
    ) as { scheduler: { extenderPort: number; urlPrefix: string } };
    const ip = scriptVariable('SCHEDULER_CLUSTER_IP');
    expect(config.extenders.map((e) => e.urlPrefix)).toEqual([
      `http://${ip}:${values.scheduler.extenderPort}${values.scheduler.urlPrefix}`,
    ]);
    // kind's default service range, which cluster.yaml keeps.
    expect(ip).toMatch(/^10\.96\.\d+\.\d+$/);
    expect(clusterText).not.toContain('serviceSubnet');
  });
});

describe('e2e/kind/run.sh', () => {
  it('parses (bash -n) and passes shellcheck where it is installed', () => {
    execFileSync('bash', ['-n', SCRIPT]);
    const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
    if (shellcheck.status === 0) {
      const run = spawnSync('shellcheck', ['-x', SCRIPT], { encoding: 'utf8' });
      expect(run.status, run.stdout).toBe(0);
    }
  });

  it('uses the project tools, the chart values that exist, and cleans up on exit', () => {
    expect(script).toContain('bash hack/helm.sh');
    expect(script).toContain('npm run --silent image -- --tar');
    expect(script).toContain('load image-archive');
    expect(script).toContain('install "$RELEASE" deploy/helm/phalanx');
    expect(script).toContain('trap cleanup EXIT');
    expect(script).toContain('PHALANX_KUBECONFIG=');
    expect(script).toMatch(/docker is not installed/);
    const values = parse(
      readFileSync(join(REPO_ROOT, 'deploy', 'helm', 'phalanx', 'values.yaml'), 'utf8'),
    ) as Record<string, unknown>;
    const keys = [...script.matchAll(/--set ([a-zA-Z.]+)=/g)].map((m) => m[1] ?? '');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      let node: unknown = values;
      for (const part of key.split('.')) {
        node = (node as Record<string, unknown> | undefined)?.[part];
      }
      expect(node, `chart value ${key}`).not.toBeUndefined();
    }
  });
});
