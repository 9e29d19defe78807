import type { Command } from 'commander';
import {
  controlRequest,
  type ControlAnswer,
  type EndedSession,
  type SessionMatch,
  UNKNOWN_REQUEST,
} from '../defender/control-socket.js';
import { FerryError } from '../errors.js';
import { dataDirOf, loadConfig } from './config.js';
import { configOption } from './config-option.js';
import { defenderPaths } from './defender-config.js';
import { printableName } from './printable.js';
import { parseAddressPattern } from '../server/session-match.js';

interface KickFlags {
  config?: string;
  dataDir?: string;
  user?: string;
  address?: string;
}

/**
 * `ferry kick ID... | --user NAME | --address ADDR`: ends sessions of the running server (ProFTPD's
 * ftpwho + kill), asked over its control socket (<dataDir>/control.sock, mode 0600: only the
 * server's user may), which reaches every worker. Exit 1 when nothing matched.
 */
export function registerKick(program: Command): void {
  program
    .command('kick')
    .description(
      'end sessions of the running server (421): by id as ferry who --json lists them, user or address',
    )
    .argument('[id...]', "the sessions' ids (ferry who --json, GET /sessions)")
    .option('--user <name>', 'every session of this user')
    .option(
      '--address <addr>',
      'every session from this client address or network (192.0.2.7, [2001:db8::5], 2001:db8:1::/64; with a port, as ferry who prints it, that session)',
    )
    .addOption(configOption("the server's YAML config file (for its dataDir)"))
    .option('--data-dir <dir>', "the server's data dir (default ~/.ferry)")
    .action(async (ids: string[], flags: KickFlags) => {
      if (ids.length === 0 && flags.user === undefined && flags.address === undefined)
        throw new FerryError('ERR_USAGE', 'ferry kick: give session ids, --user NAME or --address ADDR.');
      if (flags.address !== undefined && !parseAddressPattern(flags.address))
        throw new FerryError(
          'ERR_USAGE',
          `ferry kick: --address takes an address or network (192.0.2.7, [2001:db8::5]:51234 as ferry who prints it, 2001:db8:1::/64), got "${flags.address}".`,
        );
      const match: SessionMatch = {
        ids,
        ...(flags.user === undefined ? {} : { user: flags.user }),
        ...(flags.address === undefined ? {} : { address: flags.address }),
      };
      const { ended, missingWorkers } = await kick(await socketOf(flags), match);
      for (const s of ended) process.stdout.write(`${describe(s)} closed.\n`);
      if (missingWorkers.length > 0) {
        process.stderr.write(
          `ferry kick: worker ${missingWorkers.join(', ')} did not answer: its sessions are not ended.\n`,
        );
      }
      if (ended.length === 0) throw new FerryError('ERR_NOT_FOUND', 'no session matched.');
    });
}

async function socketOf(flags: KickFlags): Promise<string> {
  const config = flags.config ? await loadConfig(flags.config) : {};
  return defenderPaths(dataDirOf(flags.dataDir, config)).controlSocket;
}

async function kick(
  socket: string,
  match: SessionMatch,
): Promise<{ ended: readonly EndedSession[]; missingWorkers: readonly number[] }> {
  let answer: ControlAnswer;
  try {
    answer = await controlRequest(socket, { op: 'kick', match });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' || code === 'ECONNREFUSED'
        ? 'no server running on this data dir'
        : (err as Error).message;
    throw new FerryError('ERR_CLOSED', `${socket}: ${why}`);
  }
  // A server older than kick refuses the op as unknown (an older one still answered as to `list`).
  if (!answer.ok && answer.error !== UNKNOWN_REQUEST)
    throw new FerryError('ERR_USAGE', `the server says: ${answer.error}`);
  if (!answer.ok || !('ended' in answer))
    throw new FerryError('ERR_CLOSED', `${socket}: the server does not know kick`);
  return answer;
}

/** `<id> (alice from 192.0.2.7:51234, worker 2)`. */
function describe(s: EndedSession): string {
  const who = s.user === null ? 'not logged in' : printableName(s.user);
  const port = s.port === null ? '' : `:${s.port}`;
  const address = s.address.includes(':') ? `[${s.address}]${port}` : `${s.address}${port}`;
  return `${s.id} (${who} from ${address}${s.worker === null ? '' : `, worker ${s.worker}`})`;
}
