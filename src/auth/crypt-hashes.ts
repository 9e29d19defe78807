import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * The crypt(3)-style hashes other FTP servers and /etc/shadow keep, so migrated users keep their
 * passwords: SHA-crypt ($5$, $6$; Drepper's published algorithm), MD5-crypt ($1$, Apache $apr1$)
 * and bcrypt ($2a$/$2b$/$2y$, bcryptjs). Checks are synchronous and slow: callers run them in a
 * worker (crypt-worker.ts), never on the main thread.
 */

/** Cost bounds, as for scrypt: a crafted entry must not make one login eat the machine. */
const MAX_SHA_ROUNDS = 10_000_000;
const MAX_BCRYPT_COST = 16;

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CRYPT64 = '[./0-9A-Za-z]';

const SHA = /^\$([56])\$(?:rounds=([0-9]{1,9})\$)?([^$:\n]{0,16})\$([./0-9A-Za-z]+)$/;
const MD5 = /^\$(1|apr1)\$([^$:\n]{0,8})\$([./0-9A-Za-z]{22})$/;
const BCRYPT = new RegExp(`^\\$2[aby]\\$([0-9]{2})\\$${CRYPT64}{53}$`);

const YESCRYPT_REFUSAL =
  'yescrypt hashes ($y$, $gy$, $7$) cannot be checked (no maintained JavaScript implementation): ' +
  "set a new password ('ferry users passwd', or 'ferry hash-password' for the config's users), " +
  'or have the user change password on the old system after switching it to SHA-512 ($6$; ' +
  'ENCRYPT_METHOD SHA512 in /etc/login.defs)';

/** Traditional DES crypt: 2 salt characters and 11 of hash, no `$` (old /etc/shadow, htpasswd -d). */
const DES = /^[./0-9A-Za-z]{13}$/;
const DES_REFUSAL =
  'a DES crypt hash: recognised, but refused as too weak (a 56-bit key, passwords cut at 8 characters): ' +
  "set a new password ('ferry users passwd', or 'ferry hash-password' for the config's users)";

/** The supported families by prefix: a hash with one of these that does not parse is malformed, not unknown. */
const FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/^\$(?:1|apr1)\$/, 'MD5-crypt'],
  [/^\$[56]\$/, 'SHA-crypt'],
  [/^\$2[aby]\$/, 'bcrypt'],
];

export type CryptKind = 'sha256-crypt' | 'sha512-crypt' | 'md5-crypt' | 'apr1' | 'bcrypt';

/**
 * Which crypt hash `encoded` is, or why it cannot be used (a string starting "unusable:"), or
 * undefined when it is not a crypt hash at all.
 */
export function cryptKind(encoded: string): CryptKind | `unusable: ${string}` | undefined {
  if (DES.test(encoded)) return `unusable: ${DES_REFUSAL}`;
  if (!encoded.startsWith('$')) return undefined;
  const sha = SHA.exec(encoded);
  if (sha) {
    const rounds = sha[2] === undefined ? 5000 : Number(sha[2]);
    if (rounds > MAX_SHA_ROUNDS) return `unusable: rounds above ${MAX_SHA_ROUNDS}`;
    const want = sha[1] === '5' ? 43 : 86;
    if (sha[4]?.length !== want) return 'unusable: a SHA-crypt hash of the wrong length';
    return sha[1] === '5' ? 'sha256-crypt' : 'sha512-crypt';
  }
  const md5 = MD5.exec(encoded);
  if (md5) return md5[1] === '1' ? 'md5-crypt' : 'apr1';
  const bc = BCRYPT.exec(encoded);
  if (bc) {
    const cost = Number(bc[1]);
    if (cost < 4 || cost > MAX_BCRYPT_COST) return `unusable: bcrypt cost outside 4-${MAX_BCRYPT_COST}`;
    return 'bcrypt';
  }
  if (encoded.startsWith('$y$') || encoded.startsWith('$gy$') || encoded.startsWith('$7$')) {
    return `unusable: ${YESCRYPT_REFUSAL}`;
  }
  const family = FAMILIES.find(([prefix]) => prefix.test(encoded))?.[1];
  if (family)
    return `unusable: a malformed ${family} hash (cut short, or its salt or hash of the wrong length)`;
  return 'unusable: not a supported crypt hash ($1$, $apr1$, $5$, $6$, $2a$/$2b$/$2y$)';
}

/** crypt's base64: `n` characters from the 24-bit group b2:b1:b0, least significant first. */
function b64(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++, w >>= 6) out += ITOA64[w & 0x3f];
  return out;
}

/** The byte orders of the published SHA-crypt and MD5-crypt encodings (groups of three). */
const SHA256_ORDER = [
  [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14],
  [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29],
] as const; // prettier-ignore
const SHA512_ORDER = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
] as const; // prettier-ignore
const MD5_ORDER = [[0, 6, 12], [1, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 5]] as const; // prettier-ignore

function encode(d: Buffer, order: readonly (readonly [number, number, number])[]): string {
  return order.map(([a, b, c]) => b64(d[a] ?? 0, d[b] ?? 0, d[c] ?? 0, 4)).join('');
}

/** `take` bytes of `block` repeated. */
function repeat(block: Buffer, take: number): Buffer {
  const out = Buffer.alloc(take);
  for (let i = 0; i < take; i += block.length) block.copy(out, i, 0, Math.min(block.length, take - i));
  return out;
}

/** The encoded digest part of a SHA-crypt hash (after the last `$`). */
export function shaCrypt(alg: 'sha256' | 'sha512', key: Buffer, salt: Buffer, rounds: number): string {
  const size = alg === 'sha256' ? 32 : 64;
  const h = () => createHash(alg);
  const b = h().update(key).update(salt).update(key).digest();
  const ctxA = h().update(key).update(salt);
  let cnt = key.length;
  for (; cnt > size; cnt -= size) ctxA.update(b);
  ctxA.update(b.subarray(0, cnt));
  for (cnt = key.length; cnt > 0; cnt >>= 1) ctxA.update(cnt & 1 ? b : key);
  const a = ctxA.digest();
  const dp = h();
  for (let i = 0; i < key.length; i++) dp.update(key);
  const p = repeat(dp.digest(), key.length);
  const ds = h();
  for (let i = 0; i < 16 + (a[0] ?? 0); i++) ds.update(salt);
  const s = repeat(ds.digest(), salt.length);
  let c = a;
  for (let i = 0; i < rounds; i++) {
    const ctx = h().update(i & 1 ? p : c);
    if (i % 3) ctx.update(s);
    if (i % 7) ctx.update(p);
    c = ctx.update(i & 1 ? c : p).digest();
  }
  return alg === 'sha256'
    ? encode(c, SHA256_ORDER) + b64(0, c[31] ?? 0, c[30] ?? 0, 3)
    : encode(c, SHA512_ORDER) + b64(0, 0, c[63] ?? 0, 2);
}

/** The encoded digest part of an MD5-crypt hash; `magic` is `$1$` or `$apr1$`. */
export function md5Crypt(magic: string, pw: Buffer, salt: Buffer): string {
  const md5 = () => createHash('md5');
  const alt = md5().update(pw).update(salt).update(pw).digest();
  const ctx = md5().update(pw).update(magic).update(salt);
  for (let n = pw.length; n > 0; n -= 16) ctx.update(alt.subarray(0, Math.min(n, 16)));
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.alloc(1) : pw.subarray(0, 1));
  let f = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = md5().update(i & 1 ? pw : f);
    if (i % 3) c.update(salt);
    if (i % 7) c.update(pw);
    f = c.update(i & 1 ? f : pw).digest();
  }
  return encode(f, MD5_ORDER) + b64(0, 0, f[11] ?? 0, 2);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `plain` matches the crypt hash `encoded` (synchronous and slow: run it in a worker). */
export function verifyCrypt(plain: string, encoded: string): boolean {
  const kind = cryptKind(encoded);
  if (kind === undefined || kind.startsWith('unusable:')) throw new Error(`cannot check this hash (${kind})`);
  const key = Buffer.from(plain, 'utf8');
  if (kind === 'bcrypt') return bcrypt.compareSync(plain, encoded);
  const digest = encoded.slice(encoded.lastIndexOf('$') + 1);
  if (kind === 'md5-crypt' || kind === 'apr1') {
    const m = MD5.exec(encoded);
    const magic = kind === 'apr1' ? '$apr1$' : '$1$';
    return same(md5Crypt(magic, key, Buffer.from(m?.[2] ?? '', 'utf8')), digest);
  }
  const m = SHA.exec(encoded);
  // glibc clamps rounds to 1000..999,999,999.
  const rounds = m?.[2] === undefined ? 5000 : Math.max(1000, Number(m[2]));
  const alg = kind === 'sha256-crypt' ? 'sha256' : 'sha512';
  return same(shaCrypt(alg, key, Buffer.from(m?.[3] ?? '', 'utf8'), rounds), digest);
}
