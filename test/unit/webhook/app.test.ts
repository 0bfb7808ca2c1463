import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { applyJsonPatch, decodePatch } from '../../../src/webhook/admission.ts';
import { buildWebhookApp } from '../../../src/webhook/app.ts';
import { WebhookMetrics } from '../../../src/webhook/metrics.ts';
import { mapNamespaceLabels, type NamespaceLabels } from '../../../src/webhook/pods.ts';
import { admissionReview, pod, podReview } from './reviews.ts';

const GATE = 'phalanx.dev/gang-planner';

interface ReviewReply {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    status?: { code?: number; message?: string; reason?: string };
    patch?: string;
    patchType?: string;
    warnings?: string[];
  };
}

let app: FastifyInstance;
let metrics: WebhookMetrics;
let ready = true;

const namespaces: NamespaceLabels = {
  ...mapNamespaceLabels(
    new Map([
      ['team-a', {}],
      ['research', { 'phalanx.dev/queue': 'research' }],
      ['kube-system', {}],
    ]),
  ),
  ready: () => ready,
};

beforeEach(async () => {
  ready = true;
  metrics = new WebhookMetrics(new Registry());
  app = Fastify();
  await app.register(buildWebhookApp({ namespaces, logger: silentLogger(), metrics }));
  await app.ready();
});

afterEach(async () => {
  await app.close();
});

async function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await app.inject({ method: 'POST', url, payload: body as object });
  return { status: res.statusCode, json: res.json() };
}

async function review(url: string, body: unknown): Promise<ReviewReply['response']> {
  const { status, json } = await post(url, body);
  expect(status).toBe(200);
  const reply = json as ReviewReply;
  expect(reply.apiVersion).toBe('admission.k8s.io/v1');
  expect(reply.kind).toBe('AdmissionReview');
  return reply.response;
}

/** Sends a pod review and returns the pod as the API server would store it after the patch. */
async function mutate(
  object: Record<string, unknown>,
  namespace = 'team-a',
): Promise<{ pod: Record<string, unknown>; response: ReviewReply['response'] }> {
  const response = await review('/mutate/pods', podReview(object, namespace));
  expect(response.allowed).toBe(true);
  if (response.patch === undefined) return { pod: object, response };
  expect(response.patchType).toBe('JSONPatch');
  const patched = applyJsonPatch(object, decodePatch(response.patch)) as Record<string, unknown>;
  return { pod: patched, response };
}

const gatesOf = (p: Record<string, unknown>): unknown =>
  (p.spec as { schedulingGates?: unknown }).schedulingGates;

async function metric(sample: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('POST /mutate/pods', () => {
  it('gates a native PodGroup member (spec.schedulingGroup.podGroupName)', async () => {
    const { pod: out, response } = await mutate(
      pod('worker-0', {}, { schedulingGroup: { podGroupName: 'train-a' } }),
    );
    expect(response.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(gatesOf(out)).toEqual([{ name: GATE }]);
  });

  it('gates a scheduler-plugins PodGroup member (label scheduling.x-k8s.io/pod-group)', async () => {
    const { pod: out } = await mutate(pod('worker-0', { 'scheduling.x-k8s.io/pod-group': 'pg' }));
    expect(gatesOf(out)).toEqual([{ name: GATE }]);
  });

  it('gates a phalanx.dev/gang member with a valid gang size', async () => {
    const { pod: out } = await mutate(
      pod('worker-0', { 'phalanx.dev/gang': 'train-a', 'phalanx.dev/gang-size': '8' }),
    );
    expect(gatesOf(out)).toEqual([{ name: GATE }]);
  });

  it('appends to existing scheduling gates instead of replacing them', async () => {
    const { pod: out, response } = await mutate(
      pod('worker-0', { 'phalanx.dev/queue': 'team-a' }, { schedulingGates: [{ name: 'other' }] }),
    );
    expect(decodePatch(response.patch ?? '')).toEqual([
      { op: 'add', path: '/spec/schedulingGates/-', value: { name: GATE } },
    ]);
    expect(gatesOf(out)).toEqual([{ name: 'other' }, { name: GATE }]);
  });

  it('gates a pod with a queue label', async () => {
    const { pod: out } = await mutate(pod('solo', { 'phalanx.dev/queue': 'team-a' }));
    expect(gatesOf(out)).toEqual([{ name: GATE }]);
  });

  it('gates any pod of a namespace with a default queue, namespace taken from the request', async () => {
    const object = pod('solo', {}, {}, 'research');
    delete (object.metadata as { namespace?: string }).namespace;
    const { pod: out } = await mutate(object, 'research');
    expect(gatesOf(out)).toEqual([{ name: GATE }]);
  });

  it('leaves plain pods alone', async () => {
    const { response } = await mutate(pod('web'));
    expect(response.patch).toBeUndefined();
    expect(response.patchType).toBeUndefined();
  });

  it('never gates pods in an excluded namespace', async () => {
    const { response } = await mutate(
      pod('x', { 'phalanx.dev/queue': 'team-a' }, {}, 'kube-system'),
      'kube-system',
    );
    expect(response.patch).toBeUndefined();
  });

  it('honours a configured list of excluded namespaces', async () => {
    const custom = Fastify();
    await custom.register(
      buildWebhookApp({
        namespaces,
        logger: silentLogger(),
        metrics: new WebhookMetrics(new Registry()),
        excludedNamespaces: ['research'],
      }),
    );
    const res = await custom.inject({
      method: 'POST',
      url: '/mutate/pods',
      payload: podReview(pod('solo', {}, {}, 'research'), 'research'),
    });
    expect((res.json() as ReviewReply).response).toEqual({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
    });
    const kubeSystem = await custom.inject({
      method: 'POST',
      url: '/mutate/pods',
      payload: podReview(pod('x', { 'phalanx.dev/queue': 'q' }, {}, 'kube-system'), 'kube-system'),
    });
    expect((kubeSystem.json() as ReviewReply).response.patch).toBeDefined();
    await custom.close();
  });

  it('does not gate a pod already bound to a node', async () => {
    const { response } = await mutate(
      pod('bound', { 'phalanx.dev/queue': 'team-a' }, { nodeName: 'node-a' }),
    );
    expect(response.patch).toBeUndefined();
  });

  it('does not gate a pod that already carries the gate', async () => {
    const { response } = await mutate(
      pod('again', { 'phalanx.dev/queue': 'team-a' }, { schedulingGates: [{ name: GATE }] }),
    );
    expect(response.patch).toBeUndefined();
  });

  it('does not gate a pod that is already planned', async () => {
    const { response } = await mutate(
      pod('planned', { 'phalanx.dev/queue': 'team-a' }, {}, 'team-a', {
        'phalanx.dev/plan': '{"plan":"p-1"}',
      }),
    );
    expect(response.patch).toBeUndefined();
  });

  it('does not gate mirror pods', async () => {
    const { response } = await mutate(
      pod('static', { 'phalanx.dev/queue': 'team-a' }, {}, 'team-a', {
        'kubernetes.io/config.mirror': 'abc',
      }),
    );
    expect(response.patch).toBeUndefined();
  });

  it('denies a phalanx.dev/gang pod without phalanx.dev/gang-size, saying what to add', async () => {
    const response = await review(
      '/mutate/pods',
      podReview(pod('worker-0', { 'phalanx.dev/gang': 'train-a' })),
    );
    expect(response.allowed).toBe(false);
    expect(response.patch).toBeUndefined();
    expect(response.status?.code).toBe(422);
    expect(response.status?.message).toBe(
      'pod team-a/worker-0 has label phalanx.dev/gang=train-a but no phalanx.dev/gang-size; add label phalanx.dev/gang-size set to the number of pods in the gang, a whole number from 1 to 10000',
    );
    expect(await metric('phalanx_webhook_requests_total{webhook="pods",result="denied"}')).toBe(1);
  });

  it('denies a gang size that is not a whole number from 1 to 10000', async () => {
    for (const size of ['0', '-1', '10001', '2.5', 'eight', '08']) {
      const response = await review(
        '/mutate/pods',
        podReview(pod('w', { 'phalanx.dev/gang': 'train-a', 'phalanx.dev/gang-size': size })),
      );
      expect(response.allowed, size).toBe(false);
      expect(response.status?.message).toContain(`label phalanx.dev/gang-size is "${size}"`);
    }
  });

  it('admits objects of other kinds unchanged, with a warning', async () => {
    const response = await review(
      '/mutate/pods',
      admissionReview({
        kind: 'Service',
        resource: 'services',
        namespace: 'team-a',
        object: { metadata: { name: 's' } },
      }),
    );
    expect(response.allowed).toBe(true);
    expect(response.patch).toBeUndefined();
    expect(response.warnings?.[0]).toContain('does not handle core/v1 Service');
  });

  it('admits pod UPDATEs untouched (the gate is added at creation only)', async () => {
    const response = await review(
      '/mutate/pods',
      admissionReview({
        kind: 'Pod',
        resource: 'pods',
        operation: 'UPDATE',
        namespace: 'team-a',
        object: pod('w', { 'phalanx.dev/queue': 'q' }),
        oldObject: pod('w', { 'phalanx.dev/queue': 'q' }),
      }),
    );
    expect(response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  });

  it('counts patched reviews', async () => {
    await mutate(pod('solo', { 'phalanx.dev/queue': 'team-a' }));
    expect(await metric('phalanx_webhook_requests_total{webhook="pods",result="patched"}')).toBe(1);
    expect(await metric('phalanx_webhook_request_duration_seconds_count{webhook="pods"}')).toBe(1);
  });
});

describe('malformed reviews', () => {
  it.each([
    ['a JSON array', [1, 2], 'the body must be a JSON object'],
    [
      'an AdmissionReview v1beta1',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} },
      'apiVersion must be admission.k8s.io/v1',
    ],
    [
      'a review without a request',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
      'it has no request object',
    ],
    [
      'a request without uid',
      { ...podReview(pod('p')), request: { kind: { group: '', version: 'v1', kind: 'Pod' } } },
      'request.uid must be a non-empty string',
    ],
  ])('answers 400 with a sentence for %s', async (_name, body, expected) => {
    const { status, json } = await post('/mutate/pods', body);
    expect(status).toBe(400);
    const message = (json as { message: string }).message;
    expect(message).toContain('request body is not an AdmissionReview v1');
    expect(message).toContain(expected);
  });

  it('answers 400 for a pod CREATE without an object', async () => {
    const { status, json } = await post(
      '/mutate/pods',
      admissionReview({ kind: 'Pod', resource: 'pods', namespace: 'team-a' }),
    );
    expect(status).toBe(400);
    expect((json as { message: string }).message).toBe(
      'request.object must be the Pod being created, got none',
    );
  });

  it('answers 400 for a body that is not JSON, and counts it', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/validate/queues',
      headers: { 'content-type': 'application/json' },
      payload: '{"apiVersion": "admission.k8s.io/v1", ',
    });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { message: string }).message).toMatch(/^request body is not valid JSON/);
    expect(await metric('phalanx_webhook_requests_total{webhook="queues",result="error"}')).toBe(1);
  });

  it('answers 400 for an empty body', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/validate/gpu-config',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { message: string }).message).toContain('request body is empty');
  });
});

const QUEUE = {
  apiVersion: 'scheduling.phalanx.dev/v1alpha1',
  kind: 'Queue',
  metadata: { name: 'team-a', uid: 'q-1', resourceVersion: '1', generation: 1 },
  spec: { weight: 2, quotas: [{ resource: 'gpu.phalanx.dev', nominal: 16 }] },
};

function queueReview(object: unknown, operation: 'CREATE' | 'UPDATE' = 'CREATE', old?: unknown) {
  return admissionReview({
    group: 'scheduling.phalanx.dev',
    version: 'v1alpha1',
    kind: 'Queue',
    resource: 'queues',
    name: 'team-a',
    operation,
    object,
    oldObject: old,
  });
}

describe('POST /validate/queues', () => {
  it('admits a valid Queue', async () => {
    const response = await review('/validate/queues', queueReview(QUEUE));
    expect(response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  });

  it('denies an invalid Queue with every problem joined by "; "', async () => {
    const bad = {
      ...QUEUE,
      spec: { weight: 0, quotas: [{ resource: 'gpu.phalanx.dev', nominal: -1 }] },
    };
    const response = await review('/validate/queues', queueReview(bad));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(422);
    expect(response.status?.message).toBe(
      'spec.weight: must be a number greater than 0, got 0; spec.quotas[0].nominal: must be a non-negative integer, got -1',
    );
  });

  it('on UPDATE denies only problems the old object did not have', async () => {
    const old = { ...QUEUE, spec: { weight: 0 } };
    const relabelled = { ...old, metadata: { ...old.metadata, labels: { a: 'b' } } };
    const kept = await review('/validate/queues', queueReview(relabelled, 'UPDATE', old));
    expect(kept.allowed).toBe(true);
    expect(kept.warnings?.[0]).toContain('still invalid: spec.weight');
    const worse = { ...old, spec: { weight: 0, priority: 1.5 } };
    const denied = await review('/validate/queues', queueReview(worse, 'UPDATE', old));
    expect(denied.allowed).toBe(false);
    expect(denied.status?.message).toMatch(/^spec\.priority: must be an integer/);
  });

  it('admits other kinds with a warning', async () => {
    const response = await review(
      '/validate/queues',
      admissionReview({ group: 'apps', kind: 'Deployment', resource: 'deployments', object: {} }),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings?.[0]).toContain('does not handle apps/v1 Deployment');
  });
});

function gpuConfig(sharing: unknown): { driver: string; parameters: unknown } {
  return {
    driver: 'gpu.phalanx.dev',
    parameters: { apiVersion: 'gpu.phalanx.dev/v1alpha1', kind: 'GpuConfig', sharing },
  };
}

const GOOD = gpuConfig({ strategy: 'TimeSlicing', timeSlicing: { interval: 'Short' } });
const BAD = gpuConfig({ strategy: 'TimeSlicing', timeSlicing: { interval: 'Fast' } });
const OTHER = { driver: 'gpu.example.com', parameters: { anything: ['goes'] } };

function claim(config: unknown[]): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name: 'c', namespace: 'team-a' },
    spec: {
      devices: {
        requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev' } }],
        config,
      },
    },
  };
}

function template(config: unknown[]): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name: 't', namespace: 'team-a' },
    spec: { spec: { devices: { requests: [{ name: 'gpu' }], config } } },
  };
}

function deviceClass(config: unknown[]): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'DeviceClass',
    metadata: { name: 'shared.gpu.phalanx.dev' },
    spec: { selectors: [{ cel: { expression: 'true' } }], config },
  };
}

const CARRIERS = [
  ['ResourceClaim', 'resourceclaims', claim, 'spec.devices.config'],
  ['ResourceClaimTemplate', 'resourceclaimtemplates', template, 'spec.spec.devices.config'],
  ['DeviceClass', 'deviceclasses', deviceClass, 'spec.config'],
] as const;

function carrierReview(
  kind: string,
  resource: string,
  object: unknown,
  operation: 'CREATE' | 'UPDATE' = 'CREATE',
  old?: unknown,
) {
  return admissionReview({
    group: 'resource.k8s.io',
    kind,
    resource,
    ...(kind === 'DeviceClass' ? {} : { namespace: 'team-a' }),
    operation,
    object,
    oldObject: old,
  });
}

describe('POST /validate/gpu-config', () => {
  describe.each(CARRIERS)('%s', (kind, resource, make, path) => {
    it('admits a valid gpu.phalanx.dev config', async () => {
      const response = await review(
        '/validate/gpu-config',
        carrierReview(kind, resource, make([{ opaque: GOOD }])),
      );
      expect(response.allowed).toBe(true);
    });

    it('denies an invalid gpu.phalanx.dev config, naming the field and the problem', async () => {
      const response = await review(
        '/validate/gpu-config',
        carrierReview(
          kind,
          resource,
          make([{ opaque: OTHER }, { requests: ['gpu'], opaque: BAD }]),
        ),
      );
      expect(response.allowed).toBe(false);
      expect(response.status?.message).toBe(
        `${path}[1].opaque.parameters: GpuConfig: sharing.timeSlicing.interval must be one of Default, Short, Medium, Long, got "Fast"`,
      );
    });

    it("ignores other drivers' configs", async () => {
      const response = await review(
        '/validate/gpu-config',
        carrierReview(kind, resource, make([{ opaque: OTHER }])),
      );
      expect(response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    });
  });

  it('reports every invalid config of a claim', async () => {
    const wrongKind = {
      driver: 'gpu.phalanx.dev',
      parameters: { apiVersion: 'gpu.phalanx.dev/v1alpha1', kind: 'GpuSettings' },
    };
    const response = await review(
      '/validate/gpu-config',
      carrierReview(
        'ResourceClaim',
        'resourceclaims',
        claim([{ opaque: BAD }, { opaque: wrongKind }]),
      ),
    );
    expect(response.status?.message).toBe(
      [
        'spec.devices.config[0].opaque.parameters: GpuConfig: sharing.timeSlicing.interval must be one of Default, Short, Medium, Long, got "Fast"',
        'spec.devices.config[1].opaque.parameters: GpuConfig: kind "GpuSettings" is not supported by gpu.phalanx.dev/v1alpha1; set kind to GpuConfig',
      ].join('; '),
    );
  });

  it('admits an UPDATE that leaves an existing invalid config unchanged (finalizer removal)', async () => {
    const old = claim([{ opaque: BAD }]);
    const updated = {
      ...(old as object),
      metadata: { name: 'c', namespace: 'team-a', finalizers: [] },
    };
    const response = await review(
      '/validate/gpu-config',
      carrierReview('ResourceClaim', 'resourceclaims', updated, 'UPDATE', old),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings?.[0]).toContain('still invalid');
  });

  it('denies an UPDATE that makes a config invalid', async () => {
    const response = await review(
      '/validate/gpu-config',
      carrierReview(
        'DeviceClass',
        'deviceclasses',
        deviceClass([{ opaque: BAD }]),
        'UPDATE',
        deviceClass([{ opaque: GOOD }]),
      ),
    );
    expect(response.allowed).toBe(false);
  });

  it('admits resource.k8s.io kinds that carry no config (with a warning)', async () => {
    const response = await review(
      '/validate/gpu-config',
      admissionReview({
        group: 'resource.k8s.io',
        kind: 'ResourceSlice',
        resource: 'resourceslices',
        object: {},
      }),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings?.[0]).toContain('does not handle resource.k8s.io/v1 ResourceSlice');
  });
});

describe('probes and metrics', () => {
  it('/healthz answers ok', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
  });

  it('/readyz waits for the namespace labels to sync', async () => {
    ready = false;
    const waiting = await app.inject({ method: 'GET', url: '/readyz' });
    expect(waiting.statusCode).toBe(503);
    expect(waiting.body).toContain('namespace labels not synced');
    ready = true;
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('pre-initialises every webhook and result to 0', async () => {
    for (const webhook of ['pods', 'queues', 'gpu-config'])
      for (const result of ['allowed', 'patched', 'denied', 'error'])
        expect(
          await metric(`phalanx_webhook_requests_total{webhook="${webhook}",result="${result}"}`),
        ).toBe(0);
  });
});
