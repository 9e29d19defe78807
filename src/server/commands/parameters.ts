import { Code } from '../../protocol/codes.js';
import {
  formatEpsvReply,
  formatPasvReply,
  netProtocolOf,
  sameHost,
  toIPv4,
  type NetProtocol,
} from '../../protocol/address.js';
import { formatMlstOptsReply } from '../../protocol/listing.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { command, type AnyCommandSpec, type CommandContext } from './types.js';

/** PORT/EPRT: only to the control connection's own peer, never to a privileged port (RFC 2577). */
function active(ctx: CommandContext, host: string, port: number): Reply {
  if (ctx.data.fromProxyItself) {
    ctx.logger.warn({ host, port }, "PORT refused: the session has the proxy's own address, not a client's");
    return reply(
      Code.NotImplementedForParam,
      'Active mode refused: this connection came through a proxy that did not name its client; use PASV or EPSV.',
    );
  }
  if (!sameHost(host, ctx.session.remoteAddress)) {
    ctx.logger.warn({ host, port }, 'PORT to a third party refused');
    return reply(Code.NotImplementedForParam, 'Active mode to another host refused.');
  }
  if (port < 1024) return reply(Code.NotImplementedForParam, 'Active mode to a privileged port refused.');
  ctx.data.active(host, port);
  return reply(Code.Ok, 'Active mode connection will be made at transfer time.');
}

/** RFC 2428 2, 3: 522 names the protocols this connection can use (one: its own family). */
const otherProtocol = (family: NetProtocol): Reply =>
  reply(Code.TlsNegotiationFailed, `Network protocol not supported, use (${family}).`);

const epsvOnly = reply(Code.BadSequence, 'EPSV ALL in effect: only EPSV may set up data connections.');

export const parameterCommands: AnyCommandSpec[] = [
  command({
    verb: 'TYPE',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'TYPE <sp> A|I|L 8',
    async handle(cmd, { session }) {
      if (cmd.type === 'A' && (cmd.format ?? 'N') === 'N') session.setType('A');
      else if (cmd.type === 'I' || (cmd.type === 'L' && cmd.byteSize === 8)) session.setType('I');
      else return reply(Code.NotImplementedForParam, `TYPE ${cmd.arg.trim()} not supported.`);
      return reply(Code.Ok, `Type set to ${session.type === 'A' ? 'ASCII' : 'binary'}.`);
    },
  }),
  command({
    verb: 'MODE',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'MODE <sp> S',
    async handle({ mode }) {
      return mode === 'S'
        ? reply(Code.Ok, 'Mode set to Stream.')
        : reply(Code.NotImplementedForParam, 'Only MODE S is supported.');
    },
  }),
  command({
    verb: 'STRU',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'STRU <sp> F',
    async handle({ structure }) {
      return structure === 'F'
        ? reply(Code.Ok, 'Structure set to File.')
        : reply(Code.NotImplementedForParam, 'Only STRU F is supported.');
    },
  }),
  command({
    verb: 'PASV',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'PASV',
    async handle(_cmd, ctx) {
      if (ctx.session.epsvAll) return epsvOnly;
      const { session } = ctx;
      // An IPv6 control connection has IPv6 data connections: an IPv4 passive address (NAT) is not theirs.
      const arrived = toIPv4(session.arrivedOn);
      const host = arrived && toIPv4(ctx.options.passive.addressFor(session.remoteAddress) ?? arrived);
      if (!host) return reply(Code.CantOpenData, 'PASV cannot express an IPv6 address; use EPSV.');
      return reply(Code.EnteringPassive, formatPasvReply(host, await ctx.data.passive()));
    },
  }),
  command({
    verb: 'EPSV',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    feat: () => 'EPSV',
    help: 'EPSV [<sp> 1|2|ALL]',
    async handle({ epsv: parsed }, ctx) {
      if (parsed.kind === 'all') {
        ctx.session.enterEpsvAll();
        return reply(Code.Ok, 'EPSV ALL ok.');
      }
      // The family of the address the client connected to (a proxy in front may speak the other).
      const family = netProtocolOf(ctx.session.arrivedOn);
      if (
        (parsed.kind === 'protocol' && parsed.protocol !== family) ||
        parsed.kind === 'unsupported-protocol'
      ) {
        return otherProtocol(family);
      }
      return reply(Code.EnteringExtendedPassive, formatEpsvReply(await ctx.data.passive()));
    },
  }),
  command({
    verb: 'PORT',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'PORT <sp> h1,h2,h3,h4,p1,p2',
    async handle({ host, port }, ctx) {
      if (ctx.session.epsvAll) return epsvOnly;
      return active(ctx, host, port);
    },
  }),
  command({
    verb: 'EPRT',
    preparesTransfer: true,
    access: 'logged-in',
    concurrency: 'serial',
    feat: () => 'EPRT',
    help: 'EPRT <sp> |proto|address|port|',
    async handle({ eprt: parsed }, ctx) {
      if (ctx.session.epsvAll) return epsvOnly;
      // The data connection goes to the client's own address (active()), so only its family can
      // work: the client's real one behind a PROXY-protocol proxy. An IPv4-mapped address given as
      // protocol 2 (a client on a dual-stack socket) is that IPv4 address, and is taken.
      const family = netProtocolOf(ctx.session.remoteAddress);
      if (parsed.kind === 'unsupported-protocol' || netProtocolOf(parsed.host) !== family)
        return otherProtocol(family);
      return active(ctx, parsed.host, parsed.port);
    },
  }),
  command({
    verb: 'REST',
    access: 'logged-in',
    concurrency: 'serial',
    feat: ({ can }) =>
      can('restart-read', 'download') || can('restart-write', 'upload') ? 'REST STREAM' : undefined,
    help: 'REST <sp> offset',
    async handle({ offset }, { session }) {
      session.setRestart(offset);
      // Under TYPE A only a download restarts (transfer.ts): the 350 must not invite a STOR.
      if (offset > 0 && session.type === 'A')
        return reply(
          Code.PendingFurtherInfo,
          `Restarting at ${offset}. Send RETR (STOR and APPE restart in TYPE I only).`,
        );
      return reply(Code.PendingFurtherInfo, `Restarting at ${offset}. Send STOR or RETR.`);
    },
  }),
  command({
    verb: 'ALLO',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'ALLO <sp> bytes',
    async handle() {
      return reply(Code.NotImplementedSuperfluous, 'ALLO not needed.');
    },
  }),
  command({
    verb: 'OPTS',
    access: 'anyone',
    concurrency: 'serial',
    help: 'OPTS <sp> UTF8 ON | MLST facts | HASH [algorithm]',
    async handle({ option }, { session }) {
      switch (option.name) {
        case 'UTF8':
          // Names are always UTF-8 (RFC 2640): a 2xx to OFF would tell a Latin-1 client it may
          // send Latin-1, which is then refused (501).
          if (!option.on) {
            return reply(
              Code.NotImplementedForParam,
              'UTF8 cannot be turned off: names are UTF-8 (RFC 2640).',
            );
          }
          session.askedUtf8();
          return reply(Code.Ok, 'UTF8 mode is always on.');
        case 'MLST':
          session.selectMlstFacts(option.facts);
          return reply(Code.Ok, formatMlstOptsReply(session.mlstFacts));
        case 'HASH':
          if (option.algorithm) session.selectHashAlgorithm(option.algorithm);
          return reply(Code.Ok, session.hashAlgorithm);
      }
    },
  }),
  command({
    verb: 'HOST',
    access: 'anyone',
    concurrency: 'serial',
    feat: () => 'HOST',
    help: 'HOST <sp> hostname',
    async handle(_cmd, { session }) {
      if (session.loggedIn) return reply(Code.BadSequence, 'HOST must come before login.');
      return reply(Code.ServiceReady, 'Host accepted.');
    },
  }),
];
