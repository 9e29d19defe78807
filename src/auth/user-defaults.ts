import * as z from 'zod';
import type { Account } from './account.js';
import { rate, size } from './account-schema.js';

/**
 * The config's `userDefaults:`: per-account limits every account gets unless it sets the key itself
 * (vsftpd's local_max_rate, ProFTPD's <Global>). An account opts out with an explicit 0 (no limit)
 * or `readOnly: false`.
 */
export const userDefaultsSchema = z
  .object({
    maxSessions: z.number().int().nonnegative().optional(),
    quotaSize: size.optional(),
    quotaFiles: z.number().int().nonnegative().optional(),
    uploadRate: rate.optional(),
    downloadRate: rate.optional(),
    readOnly: z.boolean().optional(),
    hash: z.boolean().optional(),
  })
  .strict();

export type UserDefaults = z.infer<typeof userDefaultsSchema>;

export const DEFAULTED_KEYS = [
  'maxSessions',
  'quotaSize',
  'quotaFiles',
  'uploadRate',
  'downloadRate',
  'readOnly',
  'hash',
] as const satisfies readonly (keyof UserDefaults & keyof Account)[];

export type DefaultedKey = (typeof DEFAULTED_KEYS)[number];

/** The keys `a` takes from `defaults` (it leaves them unset, the defaults set them). */
export function inheritedKeys(a: Account, defaults: UserDefaults | undefined): DefaultedKey[] {
  if (!defaults) return [];
  return DEFAULTED_KEYS.filter((k) => a[k] === undefined && defaults[k] !== undefined);
}

/** The account as a login gets it: each key it leaves unset taken from `defaults`. */
export function withDefaults(a: Account, defaults: UserDefaults | undefined): Account {
  const keys = inheritedKeys(a, defaults);
  if (keys.length === 0) return a;
  const out: Account = { ...a };
  for (const k of keys) Object.assign(out, { [k]: defaults?.[k] });
  return out;
}
