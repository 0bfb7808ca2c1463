/**
 * Settings of `phalanx webhook`: the admission webhook (pod scheduling gates, Queue and GPU config
 * validation) over HTTPS. The flag table is the single source of the defaults; the chart sets the
 * env twins.
 */
import { DEFAULT_EXCLUDED_NAMESPACES } from '../webhook/pods.ts';
import { type FlagTable, type FlagValues, VERBOSITY_FLAG } from './flags.ts';

export const WEBHOOK_FLAGS = {
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    default: '',
    description: 'Kubeconfig file; empty uses the in-cluster service account (or ~/.kube/config).',
  },
  address: {
    type: 'string',
    env: 'PHALANX_WEBHOOK_ADDRESS',
    default: '0.0.0.0:9443',
    description:
      'host:port the HTTPS webhook listens on (the Service phalanx-webhook targets 9443).',
  },
  'tls-cert-file': {
    type: 'string',
    env: 'PHALANX_WEBHOOK_TLS_CERT_FILE',
    default: '/tls/tls.crt',
    description: 'PEM certificate chain; re-read when the file changes (cert-manager rotation).',
  },
  'tls-key-file': {
    type: 'string',
    env: 'PHALANX_WEBHOOK_TLS_KEY_FILE',
    default: '/tls/tls.key',
    description: 'PEM private key of --tls-cert-file.',
  },
  'excluded-namespaces': {
    type: 'string',
    env: 'PHALANX_WEBHOOK_EXCLUDED_NAMESPACES',
    default: DEFAULT_EXCLUDED_NAMESPACES.join(','),
    description: 'Comma-separated namespaces whose pods are never gated.',
  },
  'metrics-address': {
    type: 'string',
    env: 'PHALANX_METRICS_ADDRESS',
    default: ':9403',
    description: 'host:port for Prometheus /metrics; empty disables.',
  },
  'sync-timeout': {
    type: 'number',
    env: 'PHALANX_SYNC_TIMEOUT_SECONDS',
    default: 60,
    min: 1,
    description:
      'Seconds to wait at startup for the namespace cache to list; /readyz stays 503 until it has.',
  },
  v: VERBOSITY_FLAG,
} as const satisfies FlagTable;

export type WebhookFlags = FlagValues<typeof WEBHOOK_FLAGS>;

/** The excluded namespaces from the comma list; blanks dropped. */
export function excludedNamespaces(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
