import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ServerConfig } from '../config/types.js';
import { fsyncDir } from '../files/atomic-write.js';
import { run } from '../process/run.js';
import { DisklessError } from '../errors/diskless-error.js';
import { pathExists } from '../files/path-exists.js';

/** This server's TLS identity, as listeners and pinning clients need it. */
export interface ServerCertificate {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
  /** base64 SHA-256 of the certificate's SubjectPublicKeyInfo (curl's --pinnedpubkey form). */
  spkiPin: string;
  /** SHA-256 fingerprint of the whole certificate, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
}

/** The pin of a PEM certificate's public key: what a client compares when it trusts exactly this key. */
export function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Every PEM certificate in a text (a file may hold several: a bundle of boot servers). */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export class CertificateError extends DisklessError {
  override name = 'CertificateError';

  constructor(message: string) {
    super('DL_CERTIFICATE', message);
  }
}

/**
 * Reads the server's certificate and key (server.tls_cert, server.tls_key), making a
 * self-signed pair with openssl at first start when neither file exists. The key must be
 * readable by its owner only and must belong to the certificate; anything else is refused with
 * what to do. Nodes trust this certificate because their initrd carries it, not because of
 * who signed it, so a self-signed one is as good as any, and it is valid for 20 years: a
 * node never checks its dates (its clock may be anything at boot).
 */
export async function loadServerCertificate(server: Pick<ServerConfig, 'address' | 'tlsCertFile' | 'tlsKeyFile'>): Promise<ServerCertificate> {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = server;
  const [hasCert, hasKey] = await Promise.all([pathExists(certFile), pathExists(keyFile)]);
  if (!hasCert && !hasKey) await makeSelfSigned(certFile, keyFile, server.address);
  else if (!hasCert || !hasKey) {
    throw new CertificateError(`Cannot use the TLS certificate: ${hasCert ? keyFile : certFile} is missing while ${hasCert ? certFile : keyFile} exists (give both, or remove both to have a new pair made)`);
  }
  const mode = (await stat(keyFile)).mode & 0o077;
  if (mode !== 0) throw new CertificateError(`Cannot use the TLS key ${keyFile}: others may read it (mode ${((await stat(keyFile)).mode & 0o777).toString(8)}); chmod 600 it`);
  const [certText, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  const certPem = pemCertificates(certText)[0];
  if (certPem === undefined) throw new CertificateError(`Cannot use ${certFile}: no PEM certificate in it`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not belong to the certificate');
  } catch (e) {
    throw new CertificateError(`Cannot use the TLS certificate ${certFile} with key ${keyFile}: ${(e as Error).message}`);
  }
  return { certPem, keyPem, certFile, keyFile, spkiPin: spkiPin(certPem), fingerprint: cert.fingerprint256 };
}


/** An EC P-256 key and a self-signed certificate for `address`, written together or not at all. */
async function makeSelfSigned(certFile: string, keyFile: string, address: string): Promise<void> {
  await mkdir(dirname(certFile), { recursive: true, mode: 0o755 });
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(dirname(keyFile), '.tls-'));
  try {
    const [key, cert] = [join(tmp, 'key.pem'), join(tmp, 'cert.pem')];
    await run([
      'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '7300', '-subj', `/CN=Diskless boot server ${address}`,
      '-addext', `subjectAltName=IP:${address}`,
    ], { env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
    // The key's directory is 0700 and openssl writes it 0600: never readable by others.
    await rename(key, keyFile);
    await rename(cert, certFile);
    await fsyncDir(dirname(keyFile));
    if (dirname(certFile) !== dirname(keyFile)) await fsyncDir(dirname(certFile));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
