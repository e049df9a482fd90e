/**
 * The lab's PKI: a CA and a serving certificate for 127.0.0.1 / localhost, made with @peculiar/x509 on
 * node's WebCrypto (ECDSA P-256: fast to generate, accepted by kubectl's Go TLS and by node).
 * A fresh CA per lab start: the kubeconfig carries it, so clients verify the server like a real cluster.
 *
 * `createCa` and `issueCertificate` are the pieces: a test control plane (test/helpers/control-plane.ts) issues
 * client certificates (admin in system:masters, the controller manager, the scheduler) from the same kind of CA.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

interface LabPki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A CA that can sign: its certificate (PEM) and its keys (kept in memory only). */
export interface CertificateAuthority {
  certPem: string;
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  notBefore: Date;
  notAfter: Date;
}

interface IssueOptions {
  /** Subject common name (Kubernetes: the user name). */
  commonName: string;
  /** Subject organizations (Kubernetes: the groups, e.g. system:masters). */
  organizations?: string[];
  /** IP addresses and DNS names for a serving certificate. */
  hosts?: string[];
  usage: 'server' | 'client' | 'server-and-client';
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function provider(): webcrypto.Crypto {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return webcrypto;
}

/** A new ECDSA P-256 key pair as PKCS#8 and SPKI PEM (e.g. Kubernetes service-account signing keys). */
export async function createKeyPairPem(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const crypto = provider();
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return {
    privateKeyPem: toPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
    publicKeyPem: toPem(await crypto.subtle.exportKey('spki', keys.publicKey), 'PUBLIC KEY'),
  };
}

export async function createCa(commonName = 'groundwork-lab-ca', now: Date = new Date()): Promise<CertificateAuthority> {
  const crypto = provider();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + 365 * 24 * 3600_000);
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', cert, keys, notBefore, notAfter };
}

let serial = 1;

/** A certificate signed by `ca`, with a fresh key: PEM certificate and PKCS#8 key. */
export async function issueCertificate(ca: CertificateAuthority, o: IssueOptions): Promise<{ certPem: string; keyPem: string }> {
  const crypto = provider();
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const sans = (o.hosts ?? []).map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
  const eku = [
    ...(o.usage !== 'client' ? [x509.ExtendedKeyUsage.serverAuth] : []),
    ...(o.usage !== 'server' ? [x509.ExtendedKeyUsage.clientAuth] : []),
  ];
  // RDN values are escaped by the x509 library's name parser only for a few characters; ours are plain names.
  const subject = [`CN=${o.commonName}`, ...(o.organizations ?? []).map((org) => `O=${org}`)].join(', ');
  serial += 1;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString(16).padStart(2, '0'),
    subject,
    issuer: ca.cert.subject,
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const keyDer = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: toPem(keyDer, 'PRIVATE KEY') };
}

export async function createLabPki(hosts: string[] = ['127.0.0.1', 'localhost'], now: Date = new Date()): Promise<LabPki> {
  const ca = await createCa('groundwork-lab-ca', now);
  const server = await issueCertificate(ca, { commonName: 'kube-apiserver', hosts, usage: 'server' });
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem };
}
