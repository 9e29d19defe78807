import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { FerryError } from '../errors.js';
import { cryptKind } from './crypt-hashes.js';
import { verifyCryptOffThread } from './crypt-pool.js';

/** scrypt's work factors: N (CPU and memory; a power of two), r (block size), p (parallelism). */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP-style interactive-login cost: ~16 MiB and tens of milliseconds per check. */
export const DEFAULT_SCRYPT_COST: ScryptCost = Object.freeze({ N: 16384, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds for hashes read from config, so a crafted entry cannot make one login eat the machine. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

interface Parsed {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function scryptAsync(plain: string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(plain.normalize('NFC'), salt, keylen, o, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function options(n: number, r: number, p: number): ScryptOptions {
  return { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
}

function parse(encoded: string): Parsed | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, ns, rs, ps, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  if (![ns, rs, ps].every((s) => /^[1-9][0-9]{0,7}$/.test(s))) return undefined;
  const n = Number(ns);
  const r = Number(rs);
  const p = Number(ps);
  if (scryptCostProblem({ N: n, r, p }) !== undefined) return undefined;
  if (!B64.test(saltB64) || !B64.test(hashB64)) return undefined;
  const salt = Buffer.from(saltB64, 'base64');
  const hash = Buffer.from(hashB64, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 128) return undefined;
  return { n, r, p, salt, hash };
}

/** Why `c` is no cost a hash may have (the bounds of hashes read from config), or undefined. */
export function scryptCostProblem(c: ScryptCost): string | undefined {
  const { N: n, r, p } = c;
  if (!Number.isSafeInteger(n) || n < 2 || n > MAX_N || (n & (n - 1)) !== 0)
    return `N must be a power of two from 2 to ${MAX_N}`;
  if (!Number.isSafeInteger(r) || r < 1 || r > MAX_R) return `r must be from 1 to ${MAX_R}`;
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_P) return `p must be from 1 to ${MAX_P}`;
  return undefined;
}

/** True when `encoded` is a hash verifyPassword accepts: Ferry's scrypt, or a crypt hash (crypt-hashes.ts). */
export function isPasswordHash(encoded: string): boolean {
  return passwordHashProblem(encoded) === undefined;
}

/** True for an accepted hash other than Ferry's own scrypt (replaced by one at the next login). */
export function isLegacyHash(encoded: string): boolean {
  return parse(encoded) === undefined && isPasswordHash(encoded);
}

/** Why `encoded` is not an accepted hash (never quoting it), or undefined when it is. */
export function passwordHashProblem(encoded: string): string | undefined {
  if (parse(encoded) !== undefined) return undefined;
  const kind = cryptKind(encoded);
  if (kind === undefined) {
    return encoded.startsWith('scrypt$')
      ? 'a malformed scrypt hash'
      : "not a password hash: use one from 'ferry hash-password' (scrypt$...), or a crypt hash ($6$, $5$, $2b$, $apr1$, $1$)";
  }
  return kind.startsWith('unusable: ') ? kind.slice('unusable: '.length) : undefined;
}

/**
 * `scrypt$N$r$p$saltB64$hashB64`, with a fresh 16-byte salt. A hash keeps the cost it was made
 * with: a lower `cost` than the default is for test suites, never for real accounts.
 */
export async function hashPassword(plain: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const problem = scryptCostProblem(cost);
  if (problem) throw new RangeError(`scrypt cost: ${problem}.`);
  const { N: n, r, p } = cost;
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(plain, salt, KEY_BYTES, options(n, r, p));
  return `scrypt$${n}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Constant-time comparison; rejects (ERR_INVALID_OPTION) when `encoded` is not a known format.
 * A crypt hash is checked in a worker thread (its JavaScript would stall every session).
 */
export async function verifyPassword(plain: string, encoded: string, signal?: AbortSignal): Promise<boolean> {
  const parsed = parse(encoded);
  if (!parsed) {
    if (isPasswordHash(encoded)) return verifyCryptOffThread(plain, encoded, signal);
    throw new FerryError('ERR_INVALID_OPTION', 'Unrecognized password hash format.');
  }
  const hash = await scryptAsync(
    plain,
    parsed.salt,
    parsed.hash.length,
    options(parsed.n, parsed.r, parsed.p),
  );
  return timingSafeEqual(hash, parsed.hash);
}

/** Verifying against this costs what a hash of `cost` does, and never matches (all-zero key). */
export function dummyHash(cost: ScryptCost = DEFAULT_SCRYPT_COST): string {
  const salt = Buffer.alloc(SALT_BYTES, 1).toString('base64');
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt}$${Buffer.alloc(KEY_BYTES).toString('base64')}`;
}

/** Verifying against this costs the same as a real default hash and never matches. */
export const DUMMY_HASH = dummyHash();
