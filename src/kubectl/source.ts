/**
 * Where `kubectl phalanx` reads the cluster: one paginated list of every resource the scheduler
 * side caches (the informers' own list path, so the objects are exactly what the planner and the
 * extender read), PodGroups from whichever PodGroup API the server serves, and a pod's events.
 */
import {
  ApiListWatch,
  discoverPodGroupResources,
  type KubeObject,
  RESOURCES,
  type ResourceType,
} from '../kube/informer.ts';
import { KubeApiError, KubeClient, loadKubeConfig } from '../kube/rest.ts';
import type { ClusterObjects, PodGroupObject } from '../scheduling/round-types.ts';

/** The parts of a v1.Event that `explain` shows. */
export interface EventObject {
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly count?: number;
  readonly lastTimestamp?: string;
  readonly eventTime?: string;
  readonly source?: { component?: string };
  readonly reportingComponent?: string;
  readonly metadata?: { creationTimestamp?: string };
}

/** What the commands read; the API server in production, fixtures in tests. */
export interface ClusterSource {
  /** The kubeconfig context's namespace, else `default`. */
  readonly defaultNamespace: string;
  /** The API server's address, for error messages. */
  readonly server?: string;
  objects(): Promise<ClusterObjects>;
  /** Events about one pod (this pod only when `uid` is given, not an earlier one of its name), oldest first. */
  events(namespace: string, pod: string, uid?: string): Promise<EventObject[]>;
}

export interface ConnectOptions {
  readonly kubeconfig: string;
  readonly context: string;
}

/** The list timeout: a person is waiting. */
const REQUEST_TIMEOUT_MS = 15_000;

interface NamespaceObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { labels?: Record<string, string> };
}

export class ApiClusterSource implements ClusterSource {
  readonly defaultNamespace: string;
  readonly server: string;
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
    this.server = client.server.origin;
    const kc = client.kubeConfig;
    const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
    this.defaultNamespace = namespace === undefined || namespace === '' ? 'default' : namespace;
  }

  static connect(options: ConnectOptions): ApiClusterSource {
    const kc = loadKubeConfig(options.kubeconfig);
    if (options.context !== '') {
      if (kc.getContextObject(options.context) === null) {
        const known = kc.getContexts().map((c) => c.name);
        throw new Error(
          `context "${options.context}" is not in the kubeconfig; use one of ${known.join(', ')}`,
        );
      }
      kc.setCurrentContext(options.context);
    }
    return new ApiClusterSource(
      new KubeClient(kc, { userAgent: 'kubectl-phalanx', timeoutMs: REQUEST_TIMEOUT_MS }),
    );
  }

  #list<T extends KubeObject>(resource: ResourceType): Promise<readonly T[]> {
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    return new ApiListWatch<T>(this.#client, resource).list(signal).then((page) => page.items);
  }

  /** Queues, or none when the Queue CRD is not installed. */
  async #queues(): Promise<readonly unknown[]> {
    try {
      return await this.#list(RESOURCES.queues);
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return [];
      throw error;
    }
  }

  async #podGroups(): Promise<PodGroupObject[]> {
    const resources = await discoverPodGroupResources(this.#client);
    const lists = await Promise.all(
      resources.map((r) => this.#list<PodGroupObject & KubeObject>(r)),
    );
    return lists.flat();
  }

  async objects(): Promise<ClusterObjects> {
    const [pods, nodes, namespaces, slices, claims, templates, queues, podGroups] =
      await Promise.all([
        this.#list(RESOURCES.pods),
        this.#list(RESOURCES.nodes),
        this.#list<NamespaceObject>(RESOURCES.namespaces),
        this.#list(RESOURCES.resourceSlices),
        this.#list(RESOURCES.resourceClaims),
        this.#list(RESOURCES.resourceClaimTemplates),
        this.#queues(),
        this.#podGroups(),
      ]);
    return {
      pods: pods as ClusterObjects['pods'],
      nodes: nodes as ClusterObjects['nodes'],
      namespaces: new Map(
        namespaces.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]),
      ),
      slices: slices as ClusterObjects['slices'],
      claims: claims as ClusterObjects['claims'],
      templates: templates as ClusterObjects['templates'],
      queues,
      podGroups,
    };
  }

  async events(namespace: string, pod: string, uid?: string): Promise<EventObject[]> {
    const selector = [`involvedObject.kind=Pod`, `involvedObject.name=${pod}`];
    if (uid !== undefined && uid !== '') selector.push(`involvedObject.uid=${uid}`);
    const list = await this.#client.request<{ items?: EventObject[] }>(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      { query: { fieldSelector: selector.join(',') } },
    );
    return (list.items ?? []).sort((a, b) => eventTime(a).localeCompare(eventTime(b)));
  }
}

export function eventTime(e: EventObject): string {
  return e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? '';
}

/** An API failure as one sentence that says what to check. */
export function describeFailure(error: unknown, server: string | undefined): string {
  if (!(error instanceof KubeApiError))
    return error instanceof Error ? error.message : String(error);
  const where = server === undefined ? 'the API server' : `the API server at ${server}`;
  const detail = error.message.replace(/^\S+ \S+: /, '');
  if (error.status === 0) {
    const cause = error.message.replace(/^.*?: unreachable Unreachable: /, '');
    return `cannot reach ${where} (${cause}); check --kubeconfig (KUBECONFIG) and that the cluster is running`;
  }
  if (error.status === 401) {
    return `${where} did not accept the credentials (${detail}); refresh the kubeconfig's user`;
  }
  if (error.status === 403) {
    return `${where} refused ${error.method} ${error.path} (${detail}); kubectl-phalanx needs get/list on pods, nodes, namespaces, events, resourceslices, resourceclaims, resourceclaimtemplates, queues and podgroups`;
  }
  return `${where} answered ${error.method} ${error.path} with ${detail}`;
}
