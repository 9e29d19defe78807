import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { FerryError } from '../errors.js';

export type SessionMode = 'explicit' | 'implicit';
export type TransferDirection = 'upload' | 'download' | 'listing';
export type TransferResult = 'ok' | 'aborted' | 'failed';
export type LoginResult = 'success' | 'failure';
/** Why a data connection was turned away (ferry_data_connections_refused_total{reason}). */
export type DataRefusal = 'foreign-address' | 'no-session-reuse' | 'tls-failed' | 'too-many';

/** Command durations: a NOOP takes microseconds, a STOR of a large file minutes. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300];

/** Waits for a passive port: a port freed soon, or one a client's own expiring PASV frees (30 s). */
const PASSIVE_WAIT_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60];

/**
 * The server's Prometheus metrics, on a registry the embedder owns (never prom-client's global
 * default). Two servers given the same registry share the metrics (get-or-create), so their
 * numbers add up as one.
 */
export class ServerMetrics {
  readonly sessions: Gauge<'mode'>;
  readonly logins: Counter<'result'>;
  readonly commands: Counter<'verb' | 'class'>;
  readonly commandDuration: Histogram<'verb'>;
  readonly transferBytes: Counter<'direction'>;
  readonly transfers: Counter<'direction' | 'result'>;
  readonly tlsHandshakes: Counter<'channel' | 'version' | 'resumed'>;
  readonly dataRefused: Counter<'reason'>;
  readonly passiveWait: Histogram<'result'>;
  readonly quotaRejections: Counter;
  readonly bans: Gauge;

  /** `bans` reports the current number of banned addresses when scraped (the defender's owner). */
  constructor(registry: Registry, bans?: () => number) {
    const registers = [registry];
    const get = <M>(name: string, make: () => M): M =>
      (registry.getSingleMetric(name) as M | undefined) ?? make();
    // Series that exist from the start (at 0), so that rate() and alerts see them before the first event.
    const zero = <L extends string>(m: Counter<L> | Gauge<L>, labels: Record<L, string>[]): void => {
      for (const l of labels) m.inc(l as never, 0);
    };
    this.sessions = get(
      'ferry_sessions',
      () =>
        new Gauge({
          name: 'ferry_sessions',
          help: 'Control connections open, by mode',
          labelNames: ['mode'],
          registers,
        }),
    );
    this.logins = get(
      'ferry_logins_total',
      () =>
        new Counter({
          name: 'ferry_logins_total',
          help: 'Login attempts (PASS), by result (success, anonymous: an anonymous FTP login, failure)',
          labelNames: ['result'],
          registers,
        }),
    );
    zero(this.sessions, [{ mode: 'explicit' }, { mode: 'implicit' }]);
    zero(this.logins, [{ result: 'success' }, { result: 'anonymous' }, { result: 'failure' }]);
    this.commands = get(
      'ferry_commands_total',
      () =>
        new Counter({
          name: 'ferry_commands_total',
          help: 'Commands answered, by verb and reply class (2xx…5xx)',
          labelNames: ['verb', 'class'],
          registers,
        }),
    );
    this.commandDuration = get(
      'ferry_command_duration_seconds',
      () =>
        new Histogram({
          name: 'ferry_command_duration_seconds',
          help: 'Time from a command to its reply, by verb',
          labelNames: ['verb'],
          buckets: DURATION_BUCKETS,
          registers,
        }),
    );
    this.transferBytes = get(
      'ferry_transfer_bytes_total',
      () =>
        new Counter({
          name: 'ferry_transfer_bytes_total',
          help: 'Bytes moved over data connections, by direction (upload, download, listing)',
          labelNames: ['direction'],
          registers,
        }),
    );
    this.transfers = get(
      'ferry_transfers_total',
      () =>
        new Counter({
          name: 'ferry_transfers_total',
          help: 'Transfers finished, by direction and result (ok, aborted, failed)',
          labelNames: ['direction', 'result'],
          registers,
        }),
    );
    this.tlsHandshakes = get(
      'ferry_tls_handshakes_total',
      () =>
        new Counter({
          name: 'ferry_tls_handshakes_total',
          help: 'TLS handshakes, by channel (control, data), protocol version (or "failed") and resumption',
          labelNames: ['channel', 'version', 'resumed'],
          registers,
        }),
    );
    this.dataRefused = get(
      'ferry_data_connections_refused_total',
      () =>
        new Counter({
          name: 'ferry_data_connections_refused_total',
          help: 'Data connections refused, by reason',
          labelNames: ['reason'],
          registers,
        }),
    );
    this.passiveWait = get(
      'ferry_passive_wait_seconds',
      () =>
        new Histogram({
          name: 'ferry_passive_wait_seconds',
          help: 'PASV/EPSV that found every port of the range taken and waited, by result (port, refused: 425, gone: the client left)',
          labelNames: ['result'],
          buckets: PASSIVE_WAIT_BUCKETS,
          registers,
        }),
    );
    for (const result of ['port', 'refused', 'gone']) this.passiveWait.zero({ result });
    this.quotaRejections = get(
      'ferry_quota_rejections_total',
      () =>
        new Counter({
          name: 'ferry_quota_rejections_total',
          help: 'Requests refused because a quota was exceeded (552)',
          registers,
        }),
    );
    this.bans = get('ferry_bans', () => {
      const gauge: Gauge = new Gauge({
        name: 'ferry_bans',
        help: 'Addresses banned by the defender now',
        registers,
        collect() {
          if (bans) gauge.set(bans());
        },
      });
      return gauge;
    });
  }

  command(verb: string, code: number, seconds: number): void {
    this.commands.inc({ verb, class: `${Math.floor(code / 100)}xx` });
    this.commandDuration.observe({ verb }, seconds);
  }

  tlsHandshake(channel: 'control' | 'data', version: string | null, resumed: boolean): void {
    this.tlsHandshakes.inc({ channel, version: version ?? 'failed', resumed: String(resumed) });
  }

  transfer(direction: TransferDirection, bytes: number, result: TransferResult): void {
    this.transferBytes.inc({ direction }, bytes);
    this.transfers.inc({ direction, result });
  }

  /** An error about to become a reply (errors.ts' table): counts the quota refusals. */
  errorReplied(err: unknown): void {
    if (err instanceof FerryError && err.code === 'ERR_QUOTA_EXCEEDED') this.quotaRejections.inc();
  }
}
