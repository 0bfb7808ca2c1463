/**
 * Certificates and kubeconfigs for the local cluster, made with the openssl CLI: one CA, the API
 * server's serving certificate, a service-account signing key, and a client certificate per
 * identity (admin, scheduler, controller manager, each kubelet).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Identity {
  readonly name: string;
  readonly commonName: string;
  readonly organizations?: readonly string[];
}

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  clientCert(name: string): { cert: string; key: string };
}

function openssl(args: readonly string[], cwd: string): void {
  try {
    execFileSync('openssl', [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr.trim()}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function subject(identity: Identity): string {
  const orgs = (identity.organizations ?? []).map((o) => `/O=${o}`).join('');
  return `${orgs}/CN=${identity.commonName}`;
}

function signed(dir: string, base: string, subj: string, extensions: string): void {
  openssl(
    ['req', '-new', ...EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', subj],
    dir,
  );
  writeFileSync(join(dir, `${base}.ext`), extensions);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${base}.crt`,
      '-days',
      '30',
      '-sha256',
      '-extfile',
      `${base}.ext`,
    ],
    dir,
  );
}

/** Creates (or reuses) the PKI in `dir` for the given client identities. */
export function createPki(dir: string, identities: readonly Identity[]): Pki {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'ca.crt'))) {
    openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '30',
        '-subj',
        '/CN=phalanx-local-ca',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
  }
  if (!existsSync(join(dir, 'apiserver.crt'))) {
    signed(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
        '',
      ].join('\n'),
    );
  }
  if (!existsSync(join(dir, 'sa.key'))) {
    openssl(
      ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'],
      dir,
    );
    openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  }
  for (const identity of identities) {
    if (existsSync(join(dir, `${identity.name}.crt`))) continue;
    signed(
      dir,
      identity.name,
      subject(identity),
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
    );
  }
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
    clientCert: (name) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }),
  };
}

/** A kubeconfig with embedded credentials (client certificate or bearer token). */
export function writeKubeconfig(
  path: string,
  server: string,
  caCert: string,
  user: { cert: string; key: string } | { token: string },
): void {
  const ca = readFileSync(caCert).toString('base64');
  const credentials =
    'token' in user
      ? `    token: ${user.token}`
      : [
          `    client-certificate-data: ${readFileSync(user.cert).toString('base64')}`,
          `    client-key-data: ${readFileSync(user.key).toString('base64')}`,
        ].join('\n');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: local',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority-data: ${ca}`,
      'users:',
      '- name: user',
      '  user:',
      credentials,
      'contexts:',
      '- name: local',
      '  context: {cluster: local, user: user}',
      'current-context: local',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}
