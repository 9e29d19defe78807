import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import type { Logger } from '../logger.js';
import { OptionError } from './options.js';

/** How often the host names of `passive.address` are looked up again (a dynamic DNS name moves). */
export const PASSIVE_LOOKUP_EVERY_MS = 5 * 60_000;

/**
 * The IPv4 addresses of the host names in `passive.address` (vsftpd's pasv_addr_resolve, ProFTPD's
 * MasqueradeAddress): looked up before serving, at each reconfigure and every 5 minutes. A lookup
 * that fails keeps the name's last address (warned once, until it answers again); a name that was
 * never resolved fails resolve(), so a typo stops the start (or the reload) instead of PASV.
 */
export class PassiveNames {
  private names: readonly string[] = [];
  private readonly addresses = new Map<string, string>();
  private readonly failing = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly logger: Logger) {}

  /** The address to announce for `address` (an IP, or a name): undefined for a name not resolved. */
  ipOf(address: string | undefined): string | undefined {
    if (address === undefined || net.isIP(address) !== 0) return address;
    return this.addresses.get(address);
  }

  /** Looks `names` up (again) and follows them from now on; throws for one never resolved. */
  async resolve(names: readonly string[] = this.names): Promise<void> {
    (await this.lookUp(names)).apply();
  }

  /**
   * Looks `names` up and throws for one never resolved, changing nothing yet: `apply()` follows
   * them. A reload applies only once accepted: a rejected one must leave PASV's addresses alone.
   */
  async lookUp(names: readonly string[]): Promise<{ apply(): void }> {
    const answers = await Promise.all(
      names.map(async (name) => {
        try {
          return { name, address: (await lookup(name, { family: 4 })).address };
        } catch (err) {
          return { name, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
        }
      }),
    );
    const unknown = answers.find((a) => a.error !== undefined && !this.addresses.has(a.name));
    if (unknown)
      throw new OptionError(
        'passive.address',
        `cannot resolve the host name "${unknown.name}" to an IPv4 address (${unknown.error}).`,
      );
    return { apply: () => this.follow(names, answers) };
  }

  private follow(
    names: readonly string[],
    answers: readonly { name: string; address?: string; error?: string }[],
  ): void {
    this.names = names;
    for (const { name, address, error } of answers) {
      if (address === undefined) {
        if (!this.failing.has(name))
          this.logger.warn(
            { name, err: error, address: this.addresses.get(name) },
            'passive address: host name lookup failed; PASV keeps announcing the last address',
          );
        this.failing.add(name);
        continue;
      }
      const before = this.addresses.get(name);
      if (before !== undefined && before !== address)
        this.logger.info({ name, address, before }, 'passive address: host name now resolves elsewhere');
      this.failing.delete(name);
      this.addresses.set(name, address);
    }
    if (this.names.length > 0 && !this.timer && !this.stopped) {
      this.timer = setInterval(() => void this.resolve().catch(() => {}), PASSIVE_LOOKUP_EVERY_MS);
      this.timer.unref();
    }
  }

  /** No more lookups (the server closed, or only a check was wanted). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
