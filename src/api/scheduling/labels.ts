/**
 * The labels, annotations and scheduling gate through which workloads talk to Phalanx's
 * scheduler side, and through which the planner records its decisions. One place, so the webhook,
 * planner, extender, CLI and docs agree on every name.
 */

/** API group of Phalanx's scheduling objects (the Queue CRD). */
export const SCHEDULING_GROUP = 'scheduling.phalanx.dev';

/** Pod label naming the pod's queue. A namespace label with the same key sets the namespace default. */
export const LABEL_QUEUE = 'phalanx.dev/queue';

/** Plain gang labels for clusters without a PodGroup API: gang name and its member count. */
export const LABEL_GANG = 'phalanx.dev/gang';
export const LABEL_GANG_SIZE = 'phalanx.dev/gang-size';

/** The scheduler-plugins (coscheduling) PodGroup membership label. */
export const LABEL_X_K8S_POD_GROUP = 'scheduling.x-k8s.io/pod-group';

/**
 * Topology requirements, on the pod (or its PodGroup), naming a topology level (`rack`, `block`,
 * `zone`, `nvlink`, `node`): the whole gang must fit in one domain of the required level, and
 * should fit in one domain of the preferred level.
 */
export const ANNOTATION_TOPOLOGY_REQUIRED = 'phalanx.dev/topology-required';
export const ANNOTATION_TOPOLOGY_PREFERRED = 'phalanx.dev/topology-preferred';

/** The scheduling gate the webhook adds and the planner removes when the whole gang is planned. */
export const SCHEDULING_GATE = 'phalanx.dev/gang-planner';

/**
 * The planner's decision on a pod (JSON, see `PlanRecord` in scheduling/plan.ts): gang, plan id,
 * node, domain and expiry. Written while the pod is still gated, together with a required node
 * affinity to the planned node.
 */
export const ANNOTATION_PLAN = 'phalanx.dev/plan';

/** Why a gang waits, in one sentence, mirrored on its pods while they are gated. */
export const ANNOTATION_WAITING_REASON = 'phalanx.dev/waiting-reason';
