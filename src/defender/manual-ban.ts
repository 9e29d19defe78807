import { banKeyOf, coversLoopback, type AddressCounting } from './ban-networks.js';

/** What `ferry bans add` asks for, as typed. */
export interface ManualBanInput {
  readonly address: string;
  readonly reason?: string;
  readonly force?: boolean;
}

const MAX_REASON = 200;

/**
 * The key to ban for `ferry bans add` (the server's, or the bans file's when none runs), or why
 * not: not an address or network; a reason that is no one line of text (it goes to the log and
 * the table); loopback covered without `force` (the host's own checks and admins would be refused).
 */
export function manualBan(
  r: ManualBanInput,
  counting: AddressCounting,
): { key: string; reason?: string } | { error: string } {
  const key = banKeyOf(r.address, counting);
  if (key === undefined)
    return {
      error: `"${r.address}" is not an IP address or network (192.0.2.7, 192.0.2.0/24, 2001:db8::/48).`,
    };
  const reason = r.reason?.trim();
  if (reason !== undefined && (reason.length > MAX_REASON || /[\p{Cc}]/u.test(reason)))
    return { error: `--reason: one line of at most ${MAX_REASON} characters.` };
  if (coversLoopback(key) && !r.force)
    return {
      error: `${key} covers loopback (127.0.0.0/8, ::1): local clients and health checks would be refused; add --force to ban it anyway.`,
    };
  return { key, ...(reason ? { reason } : {}) };
}
