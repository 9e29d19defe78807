import type { Security } from '../url.js';

/**
 * The probe report: its JSON form is an interface (`ferry probe --json`), documented in the README
 * ("Probing a server"). Add fields, never rename or remove them; `schema` changes when a meaning does.
 */
export const PROBE_SCHEMA = 'ferry-probe/1';

/**
 * `not-completed`: the check could not be done, so there is no verdict on the server: it stopped
 * letting the probe in (a 421 from a defender's ban or a connection limit, a refused connection),
 * stopped answering, refused the login, or refused protected data connections. The point's `detail`
 * says which.
 */
export type Verdict = 'pass' | 'fail' | 'not-supported' | 'not-applicable' | 'not-completed';

export type GroupId = 'ms-ftps' | 'rfc4217' | 'features' | 'tls';

export const GROUP_TITLES: Readonly<Record<GroupId, string>> = {
  'ms-ftps': 'MS-FTPS',
  rfc4217: 'RFC 4217',
  features: 'FTP features',
  tls: 'TLS',
};

/** The groups whose failures make the exit code 1 (conformance and data-connection security). */
export const CONFORMANCE_GROUPS: readonly GroupId[] = ['ms-ftps', 'rfc4217'];

/** One checked point: what was sent, what came back, and the verdict. */
export interface ProbePoint {
  /** Stable identifier, e.g. `implicit-auth-refused` (fixtures and scripts key on it). */
  readonly id: string;
  readonly title: string;
  /** The command(s) or action sent, in short ("AUTH TLS", "data: full TLS handshake"). */
  readonly sent: string;
  /** What came back, in short ("504 AUTH not allowed"). */
  readonly received: string;
  readonly verdict: Verdict;
  /** Why the verdict, when it is not obvious from `received`. */
  readonly detail?: string;
}

export interface ProbeGroup {
  readonly id: GroupId;
  readonly title: string;
  readonly points: readonly ProbePoint[];
}

export interface ProbeReport {
  readonly schema: typeof PROBE_SCHEMA;
  readonly target: {
    /** The URL without its password. */
    readonly url: string;
    readonly host: string;
    readonly port: number;
    readonly security: Security;
    readonly user: string;
  };
  /** The server's greeting (first line: `220-…` when more follow), as received; `-` when none came. */
  readonly greeting: string;
  /** Every line of the greeting, as received (empty when none came). */
  readonly greetingLines: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
  /**
   * Whether the write tests ran (`--write DIR`), and where; when not cleaned up, `left`: the files
   * that may still be there (empty when it could not be checked).
   */
  readonly write: {
    readonly dir: string;
    readonly cleanedUp: boolean;
    readonly left?: readonly string[];
  } | null;
  readonly groups: readonly ProbeGroup[];
  readonly summary: {
    readonly pass: number;
    readonly fail: number;
    readonly notSupported: number;
    readonly notApplicable: number;
    readonly notCompleted: number;
    /**
     * Every MS-FTPS and RFC 4217 point passed or did not apply (none failed, none left not
     * completed). With `complete`: exit code 0.
     */
    readonly conformant: boolean;
    /** Every point was checked (none `not-completed`). */
    readonly complete: boolean;
    /** Why points were not completed (e.g. `server refused the connection: 421 …`), one per cause. */
    readonly incomplete: readonly string[];
  };
  /** What this probe could not test from here (e.g. TLS versions the local OpenSSL cannot offer). */
  readonly limits: readonly string[];
}

export function point(
  id: string,
  title: string,
  sent: string,
  received: string,
  verdict: Verdict,
  detail?: string,
): ProbePoint {
  return detail === undefined
    ? { id, title, sent, received, verdict }
    : { id, title, sent, received, verdict, detail };
}
