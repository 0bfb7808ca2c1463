/**
 * ResourceSlices, ResourceClaims and Nodes over the REST client, as the kubelet plugin needs them.
 */
import type { ResourceClaim, ResourceSlice } from '../api/resource/v1.ts';
import type { ClaimGetter } from '../driver/types.ts';
import { KubeApiError, type KubeClient } from './rest.ts';

const RESOURCE_V1 = '/apis/resource.k8s.io/v1';

/** Where the slice publisher reads and writes its pool's slices. */
export interface SliceStore {
  list(driver: string, nodeName: string, signal?: AbortSignal): Promise<ResourceSlice[]>;
  create(slice: ResourceSlice, signal?: AbortSignal): Promise<ResourceSlice>;
  update(slice: ResourceSlice, signal?: AbortSignal): Promise<ResourceSlice>;
  /** Deletes with uid + resourceVersion preconditions; an already-deleted slice is not an error. */
  delete(slice: ResourceSlice, signal?: AbortSignal): Promise<void>;
}

function opts(signal?: AbortSignal): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

export class ApiSliceStore implements SliceStore {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }

  async list(driver: string, nodeName: string, signal?: AbortSignal): Promise<ResourceSlice[]> {
    const list = await this.#client.request<{ items?: ResourceSlice[] }>(
      'GET',
      `${RESOURCE_V1}/resourceslices`,
      {
        ...opts(signal),
        query: { fieldSelector: `spec.driver=${driver},spec.nodeName=${nodeName}` },
      },
    );
    return list.items ?? [];
  }

  create(slice: ResourceSlice, signal?: AbortSignal): Promise<ResourceSlice> {
    return this.#client.request<ResourceSlice>('POST', `${RESOURCE_V1}/resourceslices`, {
      ...opts(signal),
      body: { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', ...slice },
    });
  }

  update(slice: ResourceSlice, signal?: AbortSignal): Promise<ResourceSlice> {
    const name = slice.metadata.name ?? '';
    return this.#client.request<ResourceSlice>('PUT', `${RESOURCE_V1}/resourceslices/${name}`, {
      ...opts(signal),
      body: { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', ...slice },
    });
  }

  async delete(slice: ResourceSlice, signal?: AbortSignal): Promise<void> {
    const name = slice.metadata.name ?? '';
    const preconditions: Record<string, string> = {};
    if (slice.metadata.uid) preconditions.uid = slice.metadata.uid;
    if (slice.metadata.resourceVersion)
      preconditions.resourceVersion = slice.metadata.resourceVersion;
    try {
      await this.#client.request('DELETE', `${RESOURCE_V1}/resourceslices/${name}`, {
        ...opts(signal),
        body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions },
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return;
      throw error;
    }
  }
}

export class ApiClaimGetter implements ClaimGetter {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }

  async get(
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<ResourceClaim | undefined> {
    try {
      return await this.#client.request<ResourceClaim>(
        'GET',
        `${RESOURCE_V1}/namespaces/${encodeURIComponent(namespace)}/resourceclaims/${encodeURIComponent(name)}`,
        opts(signal),
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return undefined;
      throw error;
    }
  }
}

export interface NodeInfo {
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kubeletVersion: string;
}

export async function getNode(
  client: KubeClient,
  name: string,
  signal?: AbortSignal,
): Promise<NodeInfo> {
  const node = await client.request<{
    metadata?: { uid?: string; labels?: Record<string, string> };
    status?: { nodeInfo?: { kubeletVersion?: string } };
  }>('GET', `/api/v1/nodes/${encodeURIComponent(name)}`, opts(signal));
  return {
    name,
    uid: node.metadata?.uid ?? '',
    labels: node.metadata?.labels ?? {},
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
  };
}
