/**
 * A Node object the size and shape of a real 8-GPU node's, for memory benchmarks: what the kubelet
 * reports (addresses, capacity, five conditions, node info, the images it has pulled), the labels
 * Node Feature Discovery and NVIDIA GPU feature discovery add, the usual annotations, and a
 * GPU taint. About 17 KB of JSON (managedFields left out: the informer drops them). Identifiers
 * are derived from the node name, so the same index always gives the same object.
 */
import { createHash } from 'node:crypto';
import type { NodeObject } from '../../src/scheduling/round-types.ts';

function hex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

function uuidOf(seed: string): string {
  const h = hex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Labels NFD publishes on a recent x86 server (CPU features, kernel, PCI devices, system). */
const NFD_LABELS: Readonly<Record<string, string>> = Object.fromEntries([
  ...[
    'ADX',
    'AESNI',
    'AMXBF16',
    'AMXINT8',
    'AMXTILE',
    'AVX',
    'AVX2',
    'AVX512BF16',
    'AVX512BITALG',
    'AVX512BW',
    'AVX512CD',
    'AVX512DQ',
    'AVX512F',
    'AVX512FP16',
    'AVX512IFMA',
    'AVX512VBMI',
    'AVX512VBMI2',
    'AVX512VL',
    'AVX512VNNI',
    'AVX512VPOPCNTDQ',
    'AVXVNNI',
    'CMPXCHG8',
    'FMA3',
    'FSRM',
    'FXSR',
    'FXSROPT',
    'GFNI',
    'IBPB',
    'LAHF',
    'MOVBE',
    'MOVDIR64B',
    'MOVDIRI',
    'OSXSAVE',
    'SERIALIZE',
    'SHA',
    'STIBP',
    'SYSCALL',
    'SYSEE',
    'TSXLDTRK',
    'VAES',
    'VMX',
    'VPCLMULQDQ',
    'WAITPKG',
    'X87',
    'XGETBV1',
    'XSAVE',
    'XSAVEC',
    'XSAVEOPT',
    'XSAVES',
  ].map((f) => [`feature.node.kubernetes.io/cpu-cpuid.${f}`, 'true']),
  ['feature.node.kubernetes.io/cpu-cpuid.vendor_id', 'Intel'],
  ['feature.node.kubernetes.io/cpu-hardware_multithreading', 'true'],
  ['feature.node.kubernetes.io/cpu-model.family', '6'],
  ['feature.node.kubernetes.io/cpu-model.id', '143'],
  ['feature.node.kubernetes.io/cpu-model.vendor_id', 'Intel'],
  ['feature.node.kubernetes.io/kernel-config.NO_HZ', 'true'],
  ['feature.node.kubernetes.io/kernel-config.NO_HZ_IDLE', 'true'],
  ['feature.node.kubernetes.io/kernel-version.full', '6.8.0-1015-nvidia'],
  ['feature.node.kubernetes.io/kernel-version.major', '6'],
  ['feature.node.kubernetes.io/kernel-version.minor', '8'],
  ['feature.node.kubernetes.io/kernel-version.revision', '0'],
  ['feature.node.kubernetes.io/memory-numa', 'true'],
  ['feature.node.kubernetes.io/network-sriov.capable', 'true'],
  ['feature.node.kubernetes.io/pci-10de.present', 'true'],
  ['feature.node.kubernetes.io/pci-15b3.present', 'true'],
  ['feature.node.kubernetes.io/pci-15b3.sriov.capable', 'true'],
  ['feature.node.kubernetes.io/rdma.available', 'true'],
  ['feature.node.kubernetes.io/rdma.capable', 'true'],
  ['feature.node.kubernetes.io/storage-nonrotationaldisk', 'true'],
  ['feature.node.kubernetes.io/system-os_release.ID', 'ubuntu'],
  ['feature.node.kubernetes.io/system-os_release.VERSION_ID', '22.04'],
  ['feature.node.kubernetes.io/system-os_release.VERSION_ID.major', '22'],
  ['feature.node.kubernetes.io/system-os_release.VERSION_ID.minor', '04'],
]);

/** Labels GPU feature discovery publishes for an 8 × H100 SXM node. */
const GFD_LABELS: Readonly<Record<string, string>> = {
  'nvidia.com/cuda.driver-version.full': '570.124.06',
  'nvidia.com/cuda.driver-version.major': '570',
  'nvidia.com/cuda.driver-version.minor': '124',
  'nvidia.com/cuda.driver-version.revision': '06',
  'nvidia.com/cuda.runtime-version.full': '12.8',
  'nvidia.com/cuda.runtime-version.major': '12',
  'nvidia.com/cuda.runtime-version.minor': '8',
  'nvidia.com/gfd.timestamp': '1763700000',
  'nvidia.com/gpu.compute.major': '9',
  'nvidia.com/gpu.compute.minor': '0',
  'nvidia.com/gpu.count': '8',
  'nvidia.com/gpu.deploy.container-toolkit': 'true',
  'nvidia.com/gpu.deploy.dcgm': 'true',
  'nvidia.com/gpu.deploy.dcgm-exporter': 'true',
  'nvidia.com/gpu.deploy.device-plugin': 'false',
  'nvidia.com/gpu.deploy.driver': 'pre-installed',
  'nvidia.com/gpu.deploy.gpu-feature-discovery': 'true',
  'nvidia.com/gpu.deploy.node-status-exporter': 'true',
  'nvidia.com/gpu.deploy.operator-validator': 'true',
  'nvidia.com/gpu.family': 'hopper',
  'nvidia.com/gpu.machine': 'PowerEdge-XE9680',
  'nvidia.com/gpu.memory': '81559',
  'nvidia.com/gpu.mode': 'compute',
  'nvidia.com/gpu.present': 'true',
  'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
  'nvidia.com/gpu.replicas': '1',
  'nvidia.com/gpu.sharing-strategy': 'none',
  'nvidia.com/mig.capable': 'true',
  'nvidia.com/mig.config': 'all-disabled',
  'nvidia.com/mig.config.state': 'success',
  'nvidia.com/mig.strategy': 'mixed',
  'nvidia.com/mps.capable': 'false',
};

const IMAGES: readonly [string, number][] = [
  ['nvcr.io/nvidia/pytorch:25.01-py3', 21_873_000_000],
  ['nvcr.io/nvidia/pytorch:24.12-py3', 21_402_000_000],
  ['nvcr.io/nvidia/nemo:25.02', 28_914_000_000],
  ['nvcr.io/nvidia/tritonserver:25.01-py3', 17_311_000_000],
  ['nvcr.io/nvidia/tensorrt-llm/release:0.17.0', 24_118_000_000],
  ['nvcr.io/nvidia/jax:25.01-py3', 9_224_000_000],
  ['nvcr.io/nvidia/cuda:12.8.0-devel-ubuntu22.04', 4_212_000_000],
  ['nvcr.io/nvidia/cuda:12.8.0-runtime-ubuntu22.04', 1_684_000_000],
  ['nvcr.io/nvidia/k8s/dcgm-exporter:4.1.1-4.0.4-ubuntu22.04', 389_000_000],
  ['nvcr.io/nvidia/k8s/container-toolkit:v1.17.4-ubuntu20.04', 147_000_000],
  ['nvcr.io/nvidia/gpu-operator:v24.9.2', 96_000_000],
  ['nvcr.io/nvidia/k8s-device-plugin:v0.17.0', 131_000_000],
  ['nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.7.0', 52_000_000],
  ['nvcr.io/nvidia/cloud-native/gpu-operator-validator:v24.9.2', 183_000_000],
  ['registry.k8s.io/nfd/node-feature-discovery:v0.17.1', 66_000_000],
  ['registry.k8s.io/kube-proxy:v1.36.0', 31_000_000],
  ['registry.k8s.io/pause:3.10', 320_000],
  ['docker.io/calico/node:v3.29.2', 142_000_000],
  ['docker.io/calico/cni:v3.29.2', 94_000_000],
  ['ghcr.io/phalanx-dev/phalanx:v0.1.0', 61_000_000],
  ['quay.io/prometheus/node-exporter:v1.9.0', 12_000_000],
  ['docker.io/rocm/dev-ubuntu-22.04:6.3', 3_118_000_000],
  ['mosaicml/llm-foundry:2.6.0_cu124-latest', 19_870_000_000],
  ['vllm/vllm-openai:v0.7.3', 10_932_000_000],
];

function images(name: string): { names: string[]; sizeBytes: number }[] {
  return IMAGES.map(([ref, size]) => {
    const repo = ref.slice(0, ref.lastIndexOf(':'));
    return { names: [`${repo}@sha256:${hex(ref, 64)}`, ref], sizeBytes: size + (name.length % 7) };
  });
}

function condition(type: string, status: string, reason: string, message: string) {
  return {
    type,
    status,
    lastHeartbeatTime: '2026-11-21T09:14:07Z',
    lastTransitionTime: '2026-11-02T17:40:51Z',
    reason,
    message,
  };
}

export interface KubeletNodeSpec {
  readonly name: string;
  /** Ordinal in the cluster, for addresses. */
  readonly index: number;
  /** Labels of the benchmark's own (topology); added to the realistic ones. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A Node with everything a kubelet sends besides what the core reads. */
export interface KubeletNodeObject extends NodeObject {
  metadata: NodeObject['metadata'] & Record<string, unknown>;
  spec: NonNullable<NodeObject['spec']> & Record<string, unknown>;
  status: NonNullable<NodeObject['status']> & Record<string, unknown>;
}

/** A Node as a kubelet with NFD and GPU feature discovery would publish it. */
export function kubeletNode(spec: KubeletNodeSpec): KubeletNodeObject {
  const { name, index } = spec;
  const ip = `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
  const resources = {
    cpu: '192',
    'ephemeral-storage': '3750618596Ki',
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory: '2113451412Ki',
    'nvidia.com/hostdev': '8',
    pods: '250',
  };
  return {
    metadata: {
      name,
      uid: uuidOf(`uid/${name}`),
      resourceVersion: String(100_000 + index),
      creationTimestamp: '2026-11-02T17:38:12Z',
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'xe9680-h100-sxm',
        'node-role.kubernetes.io/gpu': '',
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': 'eu-west-1a',
        ...NFD_LABELS,
        ...GFD_LABELS,
        ...spec.labels,
      },
      annotations: {
        'csi.volume.kubernetes.io/nodeid': `{"csi.tigera.io":"${name}"}`,
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
        'nfd.node.kubernetes.io/feature-labels': Object.keys(NFD_LABELS)
          .map((k) => k.slice('feature.node.kubernetes.io/'.length))
          .join(','),
        'nfd.node.kubernetes.io/master.version': 'v0.17.1',
        'node.alpha.kubernetes.io/ttl': '0',
        'projectcalico.org/IPv4Address': `${ip}/16`,
        'projectcalico.org/IPv4VXLANTunnelAddr': `192.168.${index & 255}.0`,
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      podCIDR: `192.168.${index & 255}.0/24`,
      podCIDRs: [`192.168.${index & 255}.0/24`],
      providerID: `baremetal://${uuidOf(`provider/${name}`)}`,
      taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      allocatable: resources,
      capacity: resources,
      conditions: [
        condition(
          'MemoryPressure',
          'False',
          'KubeletHasSufficientMemory',
          'kubelet has sufficient memory available',
        ),
        condition(
          'DiskPressure',
          'False',
          'KubeletHasNoDiskPressure',
          'kubelet has no disk pressure',
        ),
        condition(
          'PIDPressure',
          'False',
          'KubeletHasSufficientPID',
          'kubelet has sufficient PID available',
        ),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        condition('NetworkUnavailable', 'False', 'CalicoIsUp', 'Calico is running on this node'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      images: images(name),
      nodeInfo: {
        architecture: 'amd64',
        bootID: uuidOf(`boot/${name}`),
        containerRuntimeVersion: 'containerd://2.0.2',
        kernelVersion: '6.8.0-1015-nvidia',
        kubeProxyVersion: 'v1.36.0',
        kubeletVersion: 'v1.36.0',
        machineID: hex(`machine/${name}`, 32),
        operatingSystem: 'linux',
        osImage: 'Ubuntu 22.04.5 LTS',
        systemUUID: uuidOf(`system/${name}`),
      },
    },
  };
}
