import { Code } from '../../protocol/codes.js';
import {
  formatEpsvReply,
  formatPasvReply,
  normalizeAddress,
  parseEprtArg,
  parseEpsvArg,
  parsePortArg,
  sameHost,
  toIPv4,
} from '../../protocol/address.js';
import { formatMlstOptsReply, parseMlstOpts } from '../../protocol/listing.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { ActiveEndpoint, PassiveEndpoint } from '../data-connection.js';
import type { CommandContext, CommandSpec } from './types.js';

async function passive(ctx: CommandContext): Promise<PassiveEndpoint> {
  ctx.session.setData(undefined);
  const endpoint = await PassiveEndpoint.create(ctx.passivePorts, ctx.dataPolicy());
  ctx.session.setData(endpoint);
  return endpoint;
}

/** PORT/EPRT: only to the control connection's own peer, never to a privileged port (RFC 2577). */
function active(ctx: CommandContext, host: string, port: number): Reply {
  if (!sameHost(host, ctx.session.remoteAddress)) {
    ctx.logger.warn({ host, port }, 'PORT to a third party refused');
    return reply(Code.NotImplementedForParam, 'Active mode to another host refused.');
  }
  if (port < 1024) return reply(Code.NotImplementedForParam, 'Active mode to a privileged port refused.');
  ctx.session.setData(new ActiveEndpoint(host, port, ctx.dataPolicy()));
  return reply(Code.Ok, 'Active mode connection will be made at transfer time.');
}

const epsvOnly = reply(Code.BadSequence, 'EPSV ALL in effect: only EPSV may set up data connections.');

export const parameterCommands: CommandSpec[] = [
  {
    verb: 'TYPE',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'TYPE <sp> A|I|L 8',
    async handle(arg, { session }) {
      const t = arg.trim().toUpperCase().replace(/\s+/g, ' ');
      if (t === 'A' || t === 'A N') session.type = 'A';
      else if (t === 'I' || t === 'L 8') session.type = 'I';
      else return reply(Code.NotImplementedForParam, `TYPE ${arg} not supported.`);
      return reply(Code.Ok, `Type set to ${session.type === 'A' ? 'ASCII' : 'binary'}.`);
    },
  },
  {
    verb: 'MODE',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'MODE <sp> S',
    async handle(arg) {
      return arg.trim().toUpperCase() === 'S'
        ? reply(Code.Ok, 'Mode set to Stream.')
        : reply(Code.NotImplementedForParam, 'Only MODE S is supported.');
    },
  },
  {
    verb: 'STRU',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'STRU <sp> F',
    async handle(arg) {
      return arg.trim().toUpperCase() === 'F'
        ? reply(Code.Ok, 'Structure set to File.')
        : reply(Code.NotImplementedForParam, 'Only STRU F is supported.');
    },
  },
  {
    verb: 'PASV',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'PASV',
    async handle(_arg, ctx) {
      if (ctx.session.epsvAll) return epsvOnly;
      const host = toIPv4(ctx.options.passive.address ?? ctx.session.localAddress);
      if (!host) return reply(Code.CantOpenData, 'PASV cannot express an IPv6 address; use EPSV.');
      const endpoint = await passive(ctx);
      return reply(Code.EnteringPassive, formatPasvReply(host, endpoint.port));
    },
  },
  {
    verb: 'EPSV',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    feat: () => 'EPSV',
    help: 'EPSV [<sp> 1|2|ALL]',
    async handle(arg, ctx) {
      const parsed = parseEpsvArg(arg);
      if (!parsed) return reply(Code.SyntaxErrorArgs, 'EPSV argument must be 1, 2 or ALL.');
      if (parsed.kind === 'all') {
        ctx.session.epsvAll = true;
        return reply(Code.Ok, 'EPSV ALL ok.');
      }
      const family = normalizeAddress(ctx.session.localAddress).includes(':') ? 2 : 1;
      if (
        (parsed.kind === 'protocol' && parsed.protocol !== family) ||
        parsed.kind === 'unsupported-protocol'
      ) {
        return reply(Code.TlsNegotiationFailed, `Network protocol not supported, use (${family}).`);
      }
      const endpoint = await passive(ctx);
      return reply(Code.EnteringExtendedPassive, formatEpsvReply(endpoint.port));
    },
  },
  {
    verb: 'PORT',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'PORT <sp> h1,h2,h3,h4,p1,p2',
    async handle(arg, ctx) {
      if (ctx.session.epsvAll) return epsvOnly;
      const hp = parsePortArg(arg);
      if (!hp) return reply(Code.SyntaxErrorArgs, 'PORT argument must be h1,h2,h3,h4,p1,p2.');
      return active(ctx, hp.host, hp.port);
    },
  },
  {
    verb: 'EPRT',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    feat: () => 'EPRT',
    help: 'EPRT <sp> |proto|address|port|',
    async handle(arg, ctx) {
      if (ctx.session.epsvAll) return epsvOnly;
      const parsed = parseEprtArg(arg);
      if (!parsed) return reply(Code.SyntaxErrorArgs, 'EPRT argument must be |proto|address|port|.');
      if (parsed.kind === 'unsupported-protocol')
        return reply(Code.TlsNegotiationFailed, 'Network protocol not supported, use (1,2).');
      return active(ctx, parsed.host, parsed.port);
    },
  },
  {
    verb: 'REST',
    access: 'logged-in',
    concurrency: 'serial',
    feat: () => 'REST STREAM',
    help: 'REST <sp> offset',
    async handle(arg, { session }) {
      if (!/^\d{1,15}$/.test(arg.trim())) return reply(Code.SyntaxErrorArgs, 'REST needs a byte offset.');
      const offset = Number(arg.trim());
      session.setRestart(offset);
      return reply(Code.PendingFurtherInfo, `Restarting at ${offset}. Send STOR or RETR.`);
    },
  },
  {
    verb: 'ALLO',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'ALLO <sp> bytes',
    async handle() {
      return reply(Code.NotImplementedSuperfluous, 'ALLO not needed.');
    },
  },
  {
    verb: 'OPTS',
    access: 'anyone',
    concurrency: 'serial',
    help: 'OPTS <sp> UTF8 ON | MLST facts',
    async handle(arg, { session }) {
      const [name = '', ...rest] = arg.trim().split(/\s+/);
      switch (name.toUpperCase()) {
        case 'UTF8':
        case 'UTF-8':
          // Paths are always UTF-8 (RFC 2640); OFF is accepted but changes nothing.
          return reply(Code.Ok, 'UTF8 mode is always on.');
        case 'MLST':
          session.mlstFacts = parseMlstOpts(rest.join(' '));
          return reply(Code.Ok, formatMlstOptsReply(session.mlstFacts));
        default:
          return reply(Code.SyntaxErrorArgs, `OPTS ${name} not understood.`);
      }
    },
  },
  {
    verb: 'HOST',
    access: 'anyone',
    concurrency: 'serial',
    feat: () => 'HOST',
    help: 'HOST <sp> hostname',
    async handle(arg, { session }) {
      if (session.loggedIn) return reply(Code.BadSequence, 'HOST must come before login.');
      if (arg.trim().length === 0) return reply(Code.SyntaxErrorArgs, 'HOST needs a host name.');
      return reply(Code.ServiceReady, 'Host accepted.');
    },
  },
];
