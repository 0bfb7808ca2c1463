/**
 * A real Kubernetes cluster on this machine, from binaries built from source (`make kube-bins`):
 * etcd, kube-apiserver (Node,RBAC), kube-controller-manager, kube-scheduler, and per node a fake
 * CRI runtime, a real kubelet and a Phalanx kubelet plugin registered through the kubelet's
 * plugin watcher. State lives in one directory; every process is recorded and stopped by PID.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createPki, type Identity, type Pki, writeKubeconfig } from './pki.ts';
import { Supervisor } from './processes.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const DEFAULT_STATE_DIR = '/tmp/phalanx-cluster';

export interface NodeSpec {
  readonly name: string;
  /** Fake GPU backend of the node's plugin; written to the config file the plugin watches. */
  readonly fakeGpus: FakeGpusFile;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface FakeGpusFile {
  readonly profile: string;
  readonly rackDomain?: string;
  readonly faults?: readonly {
    gpu: number;
    kind: string;
    message?: string;
    delayMs?: number;
    count?: number;
  }[];
}

export interface NodeState extends NodeSpec {
  /** The fake GPU config file; rewrite it (writeFakeGpus) to inject faults into the running plugin. */
  readonly fakeGpusConfig: string;
  readonly kubeletRoot: string;
  readonly cdiRoot: string;
  readonly criSocket: string;
  readonly criRecord: string;
  readonly kubeletPort: number;
  readonly pluginMetricsPort: number;
  readonly pluginHealthPort: number;
  readonly pluginKubeconfig: string;
}

/** Where kube-scheduler calls the Phalanx scheduler extender (`phalanx scheduler` serves it). */
export interface ExtenderEndpoint {
  readonly port: number;
  /** The `urlPrefix` of the extender entry, e.g. `http://127.0.0.1:41234/scheduler`. */
  readonly url: string;
  readonly pathPrefix: string;
}

export interface ClusterState {
  readonly stateDir: string;
  readonly binDir: string;
  readonly version: string;
  readonly minor: number;
  readonly server: string;
  readonly kubeconfig: string;
  readonly caCert: string;
  readonly featureGates: string;
  readonly nodes: readonly NodeState[];
  /** Absent when the cluster was started without the extender entry (or before it existed). */
  readonly extender?: ExtenderEndpoint;
}

export const CLUSTER_MANIFESTS = [
  '00-namespace.yaml',
  '10-kubelet-plugin-rbac.yaml',
  '15-queue-crd.yaml',
  '20-deviceclasses.yaml',
  '21-partition-deviceclasses.yaml',
  '30-resourceslice-policy.yaml',
] as const;

export const DEFAULT_NODES: readonly NodeSpec[] = [
  {
    name: 'node-a',
    fakeGpus: { profile: 'sxm8-80g' },
    labels: { 'topology.kubernetes.io/zone': 'zone-1' },
  },
  {
    name: 'node-b',
    fakeGpus: { profile: 'nvl4-rack', rackDomain: 'rack-1' },
    labels: { 'topology.kubernetes.io/zone': 'zone-1' },
  },
  {
    name: 'node-c',
    fakeGpus: { profile: 'pcie4-48g' },
    labels: { 'topology.kubernetes.io/zone': 'zone-2' },
  },
];

export function kubeBinDir(): string {
  const fromEnv = process.env.KUBE_BIN_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return execFileSync('bash', [join(REPO_ROOT, 'hack', 'kube-bins.sh'), '--print-bin-dir'], {
    encoding: 'utf8',
  }).trim();
}

export function binaryVersion(binDir: string): string {
  const out = execFileSync(join(binDir, 'kube-apiserver'), ['--version'], { encoding: 'utf8' });
  const match = /v(\d+)\.(\d+)\.(\d+)/.exec(out);
  if (match === null)
    throw new Error(`cannot read the kube-apiserver version from "${out.trim()}"`);
  return match[0];
}

/**
 * Feature gates the DRA tests need, identical on every component. PHALANX_FEATURE_GATES
 * overrides them (e.g. empty on 1.35 to run with partitions switched off).
 */
export function featureGatesFor(minor: number): string {
  const override = process.env.PHALANX_FEATURE_GATES;
  if (override !== undefined) return override;
  if (minor >= 36) return '';
  if (minor === 35)
    return 'DRAPartitionableDevices=true,DRADeviceTaints=true,DRAConsumableCapacity=true';
  return 'DRAPartitionableDevices=true,DRADeviceTaints=true';
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

function httpsGet(
  url: string,
  pki: Pki,
  identity: string,
): Promise<{ status: number; body: string }> {
  const client = pki.clientCert(identity);
  return new Promise((resolveGet, reject) => {
    const req = https.get(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(client.cert),
        key: readFileSync(client.key),
        timeout: 3000,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** The run that started the cluster (written by `ensureCluster`), if any. */
export function clusterOwner(stateDir: string): string | undefined {
  const file = join(stateDir, 'owner');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export function loadClusterState(
  stateDir = process.env.PHALANX_CLUSTER_DIR ?? DEFAULT_STATE_DIR,
): ClusterState {
  const file = join(stateDir, 'cluster.json');
  if (!existsSync(file)) throw new Error(`no cluster at ${stateDir}: run "make cluster-up" first`);
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
}

export interface LocalClusterOptions {
  readonly stateDir?: string;
  readonly binDir?: string;
  /** Configure kube-scheduler with the Phalanx extender entry (default true). */
  readonly extender?: boolean;
  /**
   * Start the cluster's own kube-scheduler (default true). Benchmarks that run schedulers of
   * their own ({@link LocalCluster.startKubeScheduler}) switch it off.
   */
  readonly scheduler?: boolean;
  /** Extra kube-controller-manager flags, e.g. a higher `--kube-api-qps` (default none). */
  readonly controllerManagerArgs?: readonly string[];
}

export class LocalCluster {
  readonly stateDir: string;
  readonly supervisor: Supervisor;
  readonly binDir: string;
  readonly version: string;
  readonly minor: number;
  readonly featureGates: string;
  /** Configure kube-scheduler with the Phalanx extender entry (default true). */
  readonly withExtender: boolean;
  /** Start the cluster's own kube-scheduler in `up` (default true). */
  readonly withScheduler: boolean;
  /** Extra kube-controller-manager flags, after the harness's own (default none). */
  readonly controllerManagerArgs: readonly string[];
  #pki: Pki | undefined;
  #server = '';
  #extender: ExtenderEndpoint | undefined;

  constructor(options: LocalClusterOptions = {}) {
    this.stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    this.withExtender = options.extender ?? true;
    this.withScheduler = options.scheduler ?? true;
    this.controllerManagerArgs = options.controllerManagerArgs ?? [];
    this.binDir = options.binDir ?? kubeBinDir();
    this.version = binaryVersion(this.binDir);
    this.minor = Number(this.version.split('.')[1]);
    this.featureGates = featureGatesFor(this.minor);
    mkdirSync(this.stateDir, { recursive: true });
    this.supervisor = new Supervisor(this.stateDir);
  }

  get pki(): Pki {
    if (this.#pki === undefined) throw new Error('PKI not created yet');
    return this.#pki;
  }

  bin(name: string): string {
    return join(this.binDir, name);
  }

  /**
   * API versions to switch on: with DRADeviceTaints on a release where DeviceTaintRule is still
   * v1alpha3 (1.34, 1.35), the scheduler and controller manager watch it, so it must be served or
   * their DRA informers never sync.
   */
  runtimeConfigArgs(): string[] {
    return this.minor <= 35 && this.featureGates.includes('DRADeviceTaints=true')
      ? ['--runtime-config=resource.k8s.io/v1alpha3=true']
      : [];
  }

  gateArgs(): string[] {
    return this.featureGates === '' ? [] : [`--feature-gates=${this.featureGates}`];
  }

  /** Runs kubectl as admin; returns stdout. */
  kubectl(args: readonly string[], input?: string): string {
    return execFileSync(
      this.bin('kubectl'),
      ['--kubeconfig', join(this.stateDir, 'admin.kubeconfig'), ...args],
      {
        encoding: 'utf8',
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
  }

  async up(nodes: readonly NodeSpec[] = DEFAULT_NODES): Promise<ClusterState> {
    const identities: Identity[] = [
      { name: 'admin', commonName: 'phalanx-admin', organizations: ['system:masters'] },
      { name: 'scheduler', commonName: 'system:kube-scheduler' },
      { name: 'controller-manager', commonName: 'system:kube-controller-manager' },
      {
        name: 'apiserver-kubelet-client',
        commonName: 'kube-apiserver-kubelet-client',
        organizations: ['system:masters'],
      },
      ...nodes.map((n) => ({
        name: `kubelet-${n.name}`,
        commonName: `system:node:${n.name}`,
        organizations: ['system:nodes'],
      })),
    ];
    this.#pki = createPki(join(this.stateDir, 'pki'), identities);
    await this.#startEtcd();
    await this.#startApiserver();
    for (const identity of [
      'admin',
      'scheduler',
      'controller-manager',
      ...nodes.map((n) => `kubelet-${n.name}`),
    ]) {
      writeKubeconfig(
        join(this.stateDir, `${identity}.kubeconfig`),
        this.#server,
        this.pki.caCert,
        this.pki.clientCert(identity),
      );
    }
    await this.#startControllerManager();
    if (this.withScheduler) await this.#startScheduler();
    // Everything but the DaemonSet: here the plugins run as host processes next to each kubelet.
    for (const manifest of CLUSTER_MANIFESTS) {
      this.kubectl([
        'apply',
        '--server-side',
        '-f',
        join(REPO_ROOT, 'deploy', 'manifests', manifest),
      ]);
    }
    const nodeStates: NodeState[] = [];
    for (const node of nodes) nodeStates.push(await this.#startNode(node));
    const state: ClusterState = {
      stateDir: this.stateDir,
      binDir: this.binDir,
      version: this.version,
      minor: this.minor,
      server: this.#server,
      kubeconfig: join(this.stateDir, 'admin.kubeconfig'),
      caCert: this.pki.caCert,
      featureGates: this.featureGates,
      nodes: nodeStates,
      ...(this.#extender === undefined ? {} : { extender: this.#extender }),
    };
    writeFileSync(join(this.stateDir, 'cluster.json'), `${JSON.stringify(state, null, 2)}\n`);
    for (const node of nodeStates) await this.startPlugin(node);
    return state;
  }

  async #startEtcd(): Promise<void> {
    const client = await freePort();
    const peer = await freePort();
    const dataDir = join(this.stateDir, 'etcd');
    this.supervisor.start({
      name: 'etcd',
      command: this.bin('etcd'),
      args: [
        '--name=local',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=http://127.0.0.1:${client}`,
        `--advertise-client-urls=http://127.0.0.1:${client}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=local=http://127.0.0.1:${peer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
    });
    writeFileSync(join(this.stateDir, 'etcd.url'), `http://127.0.0.1:${client}`);
    await this.supervisor.waitWhileAlive(
      'etcd',
      'etcd /health',
      async () => (await fetch(`http://127.0.0.1:${client}/health`)).ok,
      30_000,
    );
  }

  async #startApiserver(): Promise<void> {
    const port = await freePort();
    const etcd = readFileSync(join(this.stateDir, 'etcd.url'), 'utf8');
    const kubeletClient = this.pki.clientCert('apiserver-kubelet-client');
    this.#server = `https://127.0.0.1:${port}`;
    this.supervisor.start({
      name: 'kube-apiserver',
      command: this.bin('kube-apiserver'),
      args: [
        `--etcd-servers=${etcd}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--tls-cert-file=${this.pki.serverCert}`,
        `--tls-private-key-file=${this.pki.serverKey}`,
        `--client-ca-file=${this.pki.caCert}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${this.pki.saPub}`,
        `--service-account-signing-key-file=${this.pki.saKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        // No kubernetes Service endpoints on a loopback address (1.37+ refuses them otherwise).
        '--endpoint-reconciler-type=none',
        `--kubelet-client-certificate=${kubeletClient.cert}`,
        `--kubelet-client-key=${kubeletClient.key}`,
        `--cert-dir=${join(this.stateDir, 'apiserver-certs')}`,
        ...this.gateArgs(),
        ...this.runtimeConfigArgs(),
      ],
    });
    await this.supervisor.waitWhileAlive(
      'kube-apiserver',
      'kube-apiserver /readyz',
      async () => (await httpsGet(`${this.#server}/readyz`, this.pki, 'admin')).status === 200,
      120_000,
      500,
    );
  }

  async #startControllerManager(): Promise<void> {
    const port = await freePort();
    const kubeconfig = join(this.stateDir, 'controller-manager.kubeconfig');
    this.supervisor.start({
      name: 'kube-controller-manager',
      command: this.bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        '--leader-elect=false',
        '--controllers=*',
        '--use-service-account-credentials',
        `--service-account-private-key-file=${this.pki.saKey}`,
        `--root-ca-file=${this.pki.caCert}`,
        `--cluster-signing-cert-file=${this.pki.caCert}`,
        `--cluster-signing-key-file=${this.pki.caKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        ...this.gateArgs(),
        ...this.controllerManagerArgs,
      ],
    });
    await this.supervisor.waitWhileAlive(
      'kube-controller-manager',
      'kube-controller-manager /healthz',
      () => this.#insecureHealthy(port),
      60_000,
      500,
    );
  }

  /** The kubeconfig kube-scheduler processes use (identity system:kube-scheduler), after `up`. */
  get schedulerKubeconfig(): string {
    return join(this.stateDir, 'scheduler.kubeconfig');
  }

  /**
   * Starts another kube-scheduler process, recorded as `name`, with `config` (a whole
   * KubeSchedulerConfiguration in YAML; its `clientConnection.kubeconfig` is usually
   * {@link schedulerKubeconfig}), and waits for its /healthz. For benchmarks that run several
   * schedulers, each with its own schedulerName, side by side.
   */
  async startKubeScheduler(name: string, config: string): Promise<void> {
    const file = join(this.stateDir, `${name}-config.yaml`);
    writeFileSync(file, config);
    await this.#launchScheduler(name, file);
  }

  async #launchScheduler(name: string, config: string): Promise<void> {
    const port = await freePort();
    const kubeconfig = this.schedulerKubeconfig;
    this.supervisor.start({
      name,
      command: this.bin('kube-scheduler'),
      args: [
        `--config=${config}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        ...this.gateArgs(),
      ],
    });
    await this.supervisor.waitWhileAlive(
      name,
      `${name} /healthz`,
      () => this.#insecureHealthy(port),
      60_000,
      500,
    );
  }

  async #startScheduler(): Promise<void> {
    const kubeconfig = this.schedulerKubeconfig;
    const config = join(this.stateDir, 'scheduler-config.yaml');
    if (this.withExtender) {
      const extenderPort = await freePort();
      const pathPrefix = '/scheduler';
      this.#extender = {
        port: extenderPort,
        pathPrefix,
        url: `http://127.0.0.1:${extenderPort}${pathPrefix}`,
      };
    }
    writeFileSync(
      config,
      [
        'apiVersion: kubescheduler.config.k8s.io/v1',
        'kind: KubeSchedulerConfiguration',
        'clientConnection:',
        `  kubeconfig: ${kubeconfig}`,
        'leaderElection:',
        '  leaderElect: false',
        ...(this.#extender === undefined ? [] : extenderEntry(this.#extender.url)),
        '',
      ].join('\n'),
    );
    await this.#launchScheduler('kube-scheduler', config);
  }

  #insecureHealthy(port: number): Promise<boolean> {
    return new Promise((resolveHealth) => {
      const req = https.get(
        `https://127.0.0.1:${port}/healthz`,
        { rejectUnauthorized: false, timeout: 2000 },
        (res) => {
          res.resume();
          resolveHealth(res.statusCode === 200);
        },
      );
      req.on('error', () => resolveHealth(false));
      req.on('timeout', () => req.destroy());
    });
  }

  async #startNode(node: NodeSpec): Promise<NodeState> {
    const dir = join(this.stateDir, 'nodes', node.name);
    const kubeletRoot = join(dir, 'kubelet');
    const cdiRoot = join(dir, 'cdi');
    for (const d of [kubeletRoot, cdiRoot, join(dir, 'certs')]) mkdirSync(d, { recursive: true });
    const criSocket = join(dir, 'fakecri.sock');
    const criRecord = join(dir, 'cri-calls.jsonl');
    this.supervisor.start({
      name: `fakecri-${node.name}`,
      command: this.bin('fakecri'),
      args: [`--listen=${criSocket}`, `--record=${criRecord}`],
    });
    await this.supervisor.waitWhileAlive(
      `fakecri-${node.name}`,
      `fake CRI socket of ${node.name}`,
      () => existsSync(criSocket),
      20_000,
    );
    const kubeletPort = await freePort();
    const healthzPort = await freePort();
    const config = join(dir, 'kubelet-config.yaml');
    writeFileSync(
      config,
      kubeletConfig({ criSocket, caCert: this.pki.caCert, kubeletPort, healthzPort }),
    );
    const labels = Object.entries({ 'phalanx.dev/gpu-node': 'true', ...node.labels })
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    this.supervisor.start({
      name: `kubelet-${node.name}`,
      command: this.bin('kubelet'),
      args: [
        `--config=${config}`,
        `--kubeconfig=${join(this.stateDir, `kubelet-${node.name}.kubeconfig`)}`,
        `--hostname-override=${node.name}`,
        '--node-ip=127.0.0.1',
        `--root-dir=${kubeletRoot}`,
        `--cert-dir=${join(dir, 'certs')}`,
        `--node-labels=${labels}`,
        '--v=2',
        ...this.gateArgs(),
      ],
    });
    await this.supervisor.waitWhileAlive(
      `kubelet-${node.name}`,
      `node ${node.name} Ready`,
      () =>
        this.kubectl([
          'get',
          'node',
          node.name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]) === 'True',
      120_000,
      1000,
    );
    const fakeGpusConfig = join(dir, 'fake-gpus.json');
    writeFileSync(fakeGpusConfig, `${JSON.stringify(node.fakeGpus, null, 2)}\n`);
    const pluginKubeconfig = join(dir, 'plugin.kubeconfig');
    writeKubeconfig(pluginKubeconfig, this.#server, this.pki.caCert, {
      token: this.pluginToken(node.name),
    });
    return {
      ...node,
      kubeletRoot,
      cdiRoot,
      criSocket,
      criRecord,
      kubeletPort,
      pluginMetricsPort: await freePort(),
      pluginHealthPort: await freePort(),
      pluginKubeconfig,
      fakeGpusConfig,
    };
  }

  /**
   * A service-account token for the node's plugin, bound to a pod on that node, so the API server
   * knows which node the plugin runs on (the ResourceSlice admission policy relies on it).
   */
  pluginToken(nodeName: string): string {
    const pod = `phalanx-kubelet-plugin-${nodeName}`;
    this.kubectl(
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: pod,
          namespace: 'phalanx-system',
          labels: { 'phalanx.dev/role': 'plugin-identity' },
        },
        spec: {
          nodeName,
          serviceAccountName: 'phalanx-kubelet-plugin',
          automountServiceAccountToken: false,
          containers: [{ name: 'plugin', image: 'phalanx:dev', imagePullPolicy: 'IfNotPresent' }],
        },
      }),
    );
    return this.kubectl([
      'create',
      'token',
      'phalanx-kubelet-plugin',
      '-n',
      'phalanx-system',
      '--duration=24h',
      '--bound-object-kind=Pod',
      `--bound-object-name=${pod}`,
    ]).trim();
  }

  /** Starts (or restarts) the Phalanx kubelet plugin of a node and waits until it registered. */
  async startPlugin(node: NodeState, extraArgs: readonly string[] = []): Promise<void> {
    // The new process reports the kubelet's NotifyRegistrationStatus on its own metrics endpoint.
    const registered = async (): Promise<boolean> => {
      const res = await fetch(`http://127.0.0.1:${node.pluginMetricsPort}/metrics`);
      return /^phalanx_driver_kubelet_registered 1$/m.test(await res.text());
    };
    this.supervisor.start({
      name: `plugin-${node.name}`,
      command: join(REPO_ROOT, 'node_modules', '.bin', 'node'),
      args: [
        join(REPO_ROOT, 'src', 'cmd', 'phalanx.ts'),
        'plugin',
        `--node-name=${node.name}`,
        `--kubelet-root=${node.kubeletRoot}`,
        `--cdi-root=${node.cdiRoot}`,
        `--kubeconfig=${node.pluginKubeconfig}`,
        `--fake-gpus-config=${node.fakeGpusConfig}`,
        `--metrics-address=127.0.0.1:${node.pluginMetricsPort}`,
        `--healthcheck-address=127.0.0.1:${node.pluginHealthPort}`,
        '--v=4',
        ...extraArgs,
      ],
    });
    await this.supervisor.waitWhileAlive(
      `plugin-${node.name}`,
      `plugin of ${node.name} registered with its kubelet`,
      registered,
      60_000,
      500,
    );
  }

  async down(): Promise<void> {
    await this.supervisor.stopAll();
  }
}

/**
 * The Phalanx extender entry of KubeSchedulerConfiguration. `ignorable: true` is safe here, and
 * lets every test that does not start `phalanx scheduler` run as if there were no extender: a pod
 * the planner manages is invisible to kube-scheduler while it carries the Phalanx scheduling gate,
 * and the planner removes the gate only in the same update that gives the pod a required node
 * affinity to its planned node, so even with the extender unreachable such a pod can only be bound
 * where the plan put it. What the extender adds on top (keeping other pods off capacity reserved
 * for plans, scores, gang-safe preemption) is best effort. Weight 20: the default score plugins
 * add up to about 1200 and an extender's 0..10 counts ×10, so 20 lets its packing preference win.
 */
function extenderEntry(url: string): string[] {
  return [
    'extenders:',
    `  - urlPrefix: ${url}`,
    '    filterVerb: filter',
    '    prioritizeVerb: prioritize',
    '    preemptVerb: preempt',
    '    weight: 20',
    '    nodeCacheCapable: true',
    '    ignorable: true',
    '    httpTimeout: 5s',
  ];
}

function kubeletConfig(o: {
  criSocket: string;
  caCert: string;
  kubeletPort: number;
  healthzPort: number;
}): string {
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    `containerRuntimeEndpoint: unix://${o.criSocket}`,
    `imageServiceEndpoint: unix://${o.criSocket}`,
    'cgroupDriver: cgroupfs',
    'failCgroupV1: false',
    'failSwapOn: false',
    'cgroupsPerQOS: false',
    'enforceNodeAllocatable: []',
    'address: 127.0.0.1',
    `port: ${o.kubeletPort}`,
    `healthzPort: ${o.healthzPort}`,
    'healthzBindAddress: 127.0.0.1',
    'readOnlyPort: 0',
    'rotateCertificates: false',
    'serializeImagePulls: false',
    'resolvConf: /etc/resolv.conf',
    'authentication:',
    '  anonymous: {enabled: false}',
    '  webhook: {enabled: true}',
    `  x509: {clientCAFile: ${o.caCert}}`,
    'authorization: {mode: Webhook}',
    'evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}',
    'imageGCHighThresholdPercent: 100',
    'imageGCLowThresholdPercent: 99',
    'protectKernelDefaults: false',
    'makeIPTablesUtilChains: false',
    'nodeStatusReportFrequency: 10s',
    '',
  ].join('\n');
}

/** Removes the state directory after stopping its processes. */
export async function destroyCluster(stateDir = DEFAULT_STATE_DIR): Promise<void> {
  const supervisor = new Supervisor(stateDir);
  await supervisor.stopAll();
  // Volumes the kubelet mounted for pods (tmpfs for projected volumes) must go before the files.
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${stateDir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // Already gone; nothing to do.
    }
  }
  // The logs outlive the cluster, for whoever debugs a failed run.
  const logs = join(stateDir, 'logs');
  if (existsSync(logs)) {
    rmSync(`${stateDir}-last-logs`, { recursive: true, force: true });
    cpSync(logs, `${stateDir}-last-logs`, { recursive: true });
  }
  rmSync(stateDir, { recursive: true, force: true });
}
