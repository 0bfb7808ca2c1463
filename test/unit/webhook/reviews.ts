/**
 * Hand-written AdmissionReview v1 bodies as the API server sends them, for the webhook tests.
 */
export interface ReviewOptions {
  readonly uid?: string;
  readonly group?: string;
  readonly version?: string;
  readonly kind: string;
  readonly resource: string;
  readonly operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly namespace?: string;
  readonly name?: string;
  readonly object?: unknown;
  readonly oldObject?: unknown;
}

export function admissionReview(options: ReviewOptions): Record<string, unknown> {
  const group = options.group ?? '';
  const version = options.version ?? 'v1';
  const gvk = { group, version, kind: options.kind };
  const gvr = { group, version, resource: options.resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      operation: options.operation ?? 'CREATE',
      userInfo: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
      object: options.object ?? null,
      oldObject: options.oldObject ?? null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

export function podReview(
  pod: Record<string, unknown>,
  namespace = 'team-a',
): Record<string, unknown> {
  const metadata = (pod.metadata ?? {}) as { name?: string };
  return admissionReview({
    kind: 'Pod',
    resource: 'pods',
    namespace,
    ...(metadata.name === undefined ? {} : { name: metadata.name }),
    object: pod,
  });
}

/** A plain pod in `namespace` with the given labels and spec additions. */
export function pod(
  name: string,
  labels: Record<string, string> = {},
  spec: Record<string, unknown> = {},
  namespace = 'team-a',
  annotations: Record<string, string> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels, annotations },
    spec: {
      containers: [{ name: 'main', image: 'registry.example/trainer:1' }],
      ...spec,
    },
  };
}
