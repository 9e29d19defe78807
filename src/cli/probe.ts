import { Command } from 'commander';
import { EXPLICIT_PORT_HINT, NOT_TLS_FIRST } from '../client/control.js';
import { CertificateError } from '../client/errors.js';
import { NOT_TRUSTED, TLS_FAILED, stoppedAnswering, type ProbeTrust } from '../client/probe/connection.js';
import { conformanceFails, formatReport, notCleanedUp } from '../client/probe/format.js';
import type { ProbeReport } from '../client/probe/types.js';
import { INTERRUPTED_CLEANUP_MS, Made, ProbeInterrupted, runProbe } from '../client/probe/run.js';
import { KnownHostsFile } from '../client/trust.js';
import { isFtpUrl, parseFtpUrl, redactIn, redactUrl, resolveCredentials } from '../client/url.js';
import { FerryError } from '../errors.js';
import { readCaFile } from './ca-file.js';
import { logVerbose } from './verbose-log.js';
import { clientCertificateOf } from './client-certificate.js';
import { timeoutSeconds } from './timeout-seconds.js';
import { addTrustOptions, trustPolicy } from './trust-options.js';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './client-exit-codes.js';
import { exitWhenDone } from './exit-when-done.js';
import { withHint } from './hint-text.js';
import { withoutCodeHints } from './error-text.js';

/**
 * `ferry probe URL`: an FTPS conformance and security report for any server (client/probe/).
 * Exit 0 when every MS-FTPS and RFC 4217 point passes (or does not apply), 1 otherwise; 2 for
 * usage, and 3/4/5 when the probe cannot connect, secure or log in at all, 4 too when it did not
 * log in because the server's certificate is not trusted.
 */

interface ProbeFlags {
  json?: boolean;
  write?: string;
  timeout?: number;
  ca?: string;
  insecure?: boolean;
  fingerprint?: string[];
  tofu?: boolean;
  knownHosts?: string;
  cert?: string;
  key?: string;
  verbose?: boolean;
}

/**
 * 4 when the probe did not log in because the certificate is not trusted (its verdicts may be an
 * impostor's); 1 when an MS-FTPS or RFC 4217 point fails; else, for a report with points not
 * completed, 5 when the login was refused and 3 for any other reason (refused connections, a server
 * that stopped answering, refused uploads); else 0.
 */
function probeExitCode(r: ProbeReport): number {
  if (r.summary.incomplete.some((why) => why.startsWith(NOT_TRUSTED) || why.startsWith(TLS_FAILED)))
    return EXIT.tls;
  if (conformanceFails(r)) return EXIT.other;
  if (r.summary.incomplete.some((why) => !why.startsWith('login refused'))) return EXIT.connection;
  if (!r.summary.complete) return EXIT.auth;
  return r.summary.conformant ? EXIT.ok : EXIT.other;
}

/** Exit code after SIGTERM: 128 + 15, as a shell reports a process it ended. */
const TERMINATED = 143;

/** What a report refused by the server likely means, and what to do (README, "Probing a server"). */
const REFUSED_ADVICE =
  "ferry: the server refused the probe's connections: most likely a ban or a connection limit (Ferry's defender, fail2ban); allow the prober's address first (Ferry: `defender: allow:`, fail2ban: ignoreip)\n";

/** What a server or account that wants a client certificate needs (vsftpd require_cert, Ferry's pins). */
const certHint = (who: string): string =>
  `if the ${who} requires a client certificate, give --cert and --key`;

/**
 * What a report that could not be completed likely means, and what to do, on standard error: a
 * ban, a server that sent nothing (or implicit FTPS asked for as explicit), a failed TLS, files
 * --write could not delete, a refused login (that may need a client certificate).
 */
function adviceFor(r: ProbeReport, certGiven: boolean): string {
  const why = r.summary.incomplete;
  const out: string[] = [];
  if (why.some((w) => w.startsWith('server refused the connection'))) out.push(REFUSED_ADVICE);
  const silent = why.find((w) => stoppedAnswering(w));
  // No greeting at all: a hung or stopped server, or an implicit FTPS port (it waits for TLS).
  if (silent !== undefined && r.greeting === '-' && r.target.security !== 'implicit')
    out.push(`ferry: ${withHint(silent, 'if the server uses implicit FTPS, use ftps://')}\n`);
  const tls = why.find((w) => w.startsWith(TLS_FAILED));
  // ftps:// at an explicit port: the server greets in clear where TLS was due (as ferry ls says).
  const explicitPort = tls !== undefined && r.target.security === 'implicit' && NOT_TLS_FIRST.test(tls);
  if (tls !== undefined) {
    const cert = certGiven || !/alert|certificate/i.test(tls) ? '' : `; ${certHint('server')}`;
    const hint = `${explicitPort ? `${EXPLICIT_PORT_HINT}; ` : ''}the report holds only the checks that need no TLS${cert}`;
    out.push(`ferry: ${withHint(tls, hint)}\n`);
  }
  if (r.write && !r.write.cleanedUp)
    out.push(`ferry: the probe's files in ${r.write.dir}: ${notCleanedUp(r.write.left)}\n`);
  const login = why.find((w) => w.startsWith('login refused'));
  // Anonymous logins have no certificate to give.
  const anonymous = ['anonymous', 'ftp'].includes(r.target.user.toLowerCase());
  if (login !== undefined && !certGiven && !anonymous)
    out.push(`ferry: ${withHint(login, certHint('account'))}\n`);
  return out.join('');
}

/**
 * The other commands' trust policy for the probe's logins, and what it tells the user on stderr
 * (once each): a certificate trusted on first use or recorded, --insecure, and a certificate not
 * trusted, with its fingerprint and the options that would trust it.
 */
function trustOf(o: ProbeFlags): ProbeTrust {
  const said = new Set<string>();
  const say = (text: string): void => {
    if (said.has(text)) return;
    said.add(text);
    process.stderr.write(`ferry: ${text}\n`);
  };
  return {
    policy: trustPolicy(o, new KnownHostsFile(o.knownHosts)),
    onDecision: (d) => {
      // The library's message names its options for code too: the command's flags are enough here.
      if (d instanceof CertificateError)
        say(
          `${withoutCodeHints(d.message)}\nThe probe did not log in: its report holds only the checks that need no login.`,
        );
      else if (d.kind === 'first-use')
        say(
          `Trusting the certificate on first use (${d.reason}; ${d.fingerprint}); recorded in ${d.location}.`,
        );
      else if (d.kind === 'ca' && d.recordedIn !== undefined)
        say(`Recorded the server as CA-verified in ${d.recordedIn}.`);
      else if (d.kind === 'insecure')
        say('Warning: not verifying the certificate before logging in (--insecure).');
    },
  };
}

/**
 * SIGINT and SIGTERM abort the probe (it then deletes what --write made, within
 * INTERRUPTED_CLEANUP_MS); a second signal ends it at once, naming the files `made` may have left.
 * The exit code the signal asks for.
 */
function interruptible(
  writeDir: string | undefined,
  made: Made,
): {
  signal: AbortSignal;
  code: () => number;
  stop: () => void;
} {
  const abort = new AbortController();
  let code: number = EXIT.interrupted;
  const on = (sig: NodeJS.Signals): void => {
    if (abort.signal.aborted) {
      const names = made.left;
      const left =
        writeDir === undefined
          ? ''
          : names.length === 0
            ? `; none of its files is left in ${writeDir}`
            : `; these may be left on the server: ${names.join(', ')}`;
      process.stderr.write(`ferry: interrupted again: stopped without cleaning up${left}\n`);
      process.exit(code);
    }
    code = sig === 'SIGTERM' ? TERMINATED : EXIT.interrupted;
    if (writeDir !== undefined)
      process.stderr.write(
        `ferry: interrupted: deleting the probe's files in ${writeDir} (at most ${INTERRUPTED_CLEANUP_MS / 1000} s)\n`,
      );
    abort.abort();
  };
  const onInt = (): void => on('SIGINT');
  const onTerm = (): void => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: abort.signal,
    code: () => code,
    stop: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

export function registerProbe(program: Command): void {
  const probe = program
    .command('probe')
    .description('report how an FTPS server does MS-FTPS, RFC 4217, FTP features and TLS')
    .argument(
      '<url>',
      'ftps://HOST[:990]/ (implicit), ftpes://HOST[:21]/ (explicit) or ftp://HOST/ (is TLS offered?)',
    )
    .option('--json', 'the report as JSON (schema ferry-probe/1, see the README)')
    .option(
      '--write <dir>',
      'also run the checks that upload (truncated upload, REST STOR, replace) in this remote directory; their files are deleted',
    )
    .option('--timeout <seconds>', 'connect, handshake and reply timeout (default 10)', timeoutSeconds)
    .option(
      '--ca <file>',
      'trust (and judge the certificate chain against) the CA certificates in this PEM file instead of the system CAs',
    )
    .option(
      '--cert <file>',
      'client certificate (PEM) every TLS handshake presents, for servers that ask for one',
    )
    .option('--key <file>', 'private key (PEM) of --cert');
  addTrustOptions(probe, {
    insecure: 'log in whatever certificate the server presents (its points still judge it)',
    fingerprint:
      'log in only if the certificate has this SHA-256 fingerprint (repeatable; CAs are not consulted)',
  })
    .option('-v, --verbose', 'print the command/reply dialogue on stderr (password masked)')
    .addHelpText(
      'after',
      `\nThe probe changes nothing on the server unless --write is given. Password: in the URL,
FERRY_PASSWORD, or ~/.netrc. An ftp:// URL asks whether TLS is offered (AUTH TLS), then is probed
as ftpes:// (no login in clear; without TLS, only the checks in clear, exit 4).
The password is sent only once the server's certificate is trusted, as by the other commands
(system CAs or --ca, --fingerprint, known hosts/--tofu, --insecure); otherwise the probe does not
log in, reports what needs no login (TLS, certificate, checks before login), marks the rest n/c and
exits 4. An anonymous login (no user in the URL) has no secret: it goes whatever the certificate.

Exit codes:
  0    every MS-FTPS and RFC 4217 point passes or does not apply, and every point was checked
  1    at least one MS-FTPS or RFC 4217 point fails
${EXIT_CODES_HELP.split('\n').slice(3, 7).join('\n')}
A report whose points could not all be checked exits 3 when the server refused the probe's
connections (a 421: banned, too many connections), stopped answering or is not an FTP server, 5 when
it refused the login, and 4 when TLS failed (only the checks in clear were done) or the probe did not
log in because the certificate is not trusted (whatever else failed).
130 (SIGINT) and 143 (SIGTERM): interrupted; what --write made is deleted first (at most ${INTERRUPTED_CLEANUP_MS / 1000} s).`,
    )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage))
    .action(async (urlText: string, o: ProbeFlags) => {
      let code: number;
      const made = new Made();
      const interrupt = interruptible(o.write, made);
      try {
        if (!isFtpUrl(urlText))
          throw new FerryError(
            'ERR_USAGE',
            `URL must be an ftps://, ftpes:// or ftp:// URL, got ${JSON.stringify(redactUrl(urlText))}.`,
          );
        const u = parseFtpUrl(urlText);
        const ca = o.ca === undefined ? undefined : await readCaFile(o.ca);
        const clientCertificate = await clientCertificateOf(o);
        // No user in the URL: the probe runs as anonymous (its report says so), whatever FERRY_PASSWORD
        // holds for the other commands' URLs.
        const env = { ...process.env };
        if (u.user === undefined) delete env['FERRY_PASSWORD'];
        const creds = await resolveCredentials(u, { env });
        const trust = trustOf(o);
        const ip = /^[\d.]+$/.test(u.host) || u.host.includes(':');
        const r = await runProbe({
          url: redactUrl(urlText),
          target: {
            host: u.host,
            port: u.port,
            security: u.security,
            user: creds.user,
            password: creds.password,
            servername: ip ? undefined : u.host,
            ca,
            // Anonymous: no password of the user's to give away (today's behaviour, see the README).
            trust: creds.source === 'anonymous' ? undefined : trust,
            timeoutMs: Math.round((o.timeout ?? 10) * 1000),
            log: o.verbose ? logVerbose : undefined,
            signal: interrupt.signal,
            ...(clientCertificate ? { clientCertificate } : {}),
          },
          ...(o.write !== undefined ? { writeDir: o.write } : {}),
          made,
        });
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatReport(r));
        const advice = adviceFor(r, clientCertificate !== undefined);
        code = probeExitCode(r);
        // An incomplete report always says why on stderr too, where scripts look first.
        const why = r.summary.incomplete.join('; ');
        process.stderr.write(advice !== '' || why === '' ? advice : `ferry: incomplete: ${why}\n`);
      } catch (err) {
        if (err instanceof ProbeInterrupted) {
          process.stderr.write(
            err.left.length === 0
              ? `ferry: interrupted${o.write === undefined ? '' : `; the probe's files in ${o.write} were deleted`}\n`
              : `ferry: interrupted; could not finish deleting the probe's files, these may be left on the server: ${err.left.join(', ')}\n`,
          );
          process.exit(interrupt.code());
        }
        process.stderr.write(
          `ferry: ${redactIn(err instanceof Error ? err.message : String(err), process.argv)}\n`,
        );
        code = exitCodeFor(err);
      } finally {
        interrupt.stop();
      }
      // The probe provokes servers (abandoned transfers, broken handshakes): a connection one of
      // them keeps open must not keep the command running after its report.
      exitWhenDone(code);
    });
}
