/**
 * Hashing of device passwords, service-account passwords and API keys. Stored forms:
 *   sha256$<salt-hex>$<hash-hex>            for generated 256-bit tokens (fast: brute force is hopeless anyway)
 *   scrypt$<N>$<r>$<p>$<salt-hex>$<hash-hex> for secrets a person chose (slow on purpose)
 * Comparison is constant-time. Plain secrets are never stored by the services.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/** A new random secret: 32 bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string, scheme: 'sha256' | 'scrypt' = 'sha256'): string {
  const salt = randomBytes(16);
  if (scheme === 'sha256') {
    const h = createHash('sha256').update(salt).update(secret, 'utf8').digest('hex');
    return `sha256$${salt.toString('hex')}$${h}`;
  }
  const N = 16384, r = 8, p = 1;
  const h = scryptSync(secret, salt, 32, { N, r, p }).toString('hex');
  return `scrypt$${N}$${r}$${p}$${salt.toString('hex')}$${h}`;
}

export function verifySecret(secret: string, stored: string): boolean {
  const parts = stored.split('$');
  let expected: Buffer, actual: Buffer;
  if (parts[0] === 'sha256' && parts.length === 3) {
    expected = Buffer.from(parts[2]!, 'hex');
    actual = createHash('sha256').update(Buffer.from(parts[1]!, 'hex')).update(secret, 'utf8').digest();
  } else if (parts[0] === 'scrypt' && parts.length === 6) {
    const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    expected = Buffer.from(parts[5]!, 'hex');
    try {
      actual = scryptSync(secret, Buffer.from(parts[4]!, 'hex'), expected.length, { N, r, p, maxmem: 256 * N * r });
    } catch {
      return false;
    }
  } else {
    return false;
  }
  return expected.length === actual.length && expected.length > 0 && timingSafeEqual(expected, actual);
}

/**
 * A secret from the environment: `NAME`, or the content of the file named by `NAME_FILE`
 * (the Docker/Kubernetes secrets convention). Undefined when neither is set.
 */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string, readFile: (path: string) => string): string | undefined {
  if (env[name]) return env[name];
  const file = env[`${name}_FILE`];
  return file ? readFile(file).trim() : undefined;
}
