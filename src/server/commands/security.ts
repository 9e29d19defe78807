import { Code } from '../../protocol/codes.js';
import { reply } from '../../protocol/reply.js';
import { command, type AnyCommandSpec } from './types.js';

export const securityCommands: AnyCommandSpec[] = [
  command({
    verb: 'AUTH',
    access: 'anyone',
    concurrency: 'serial',
    // MS-FTPS 3.2.5.5: SSL is listed because AUTH SSL is accepted as a synonym of AUTH TLS.
    feat: () => 'AUTH TLS;SSL;',
    help: 'AUTH <sp> TLS|SSL',
    async handle({ mechanism: mech }, ctx) {
      const { session } = ctx;
      // MS-FTPS 3.2.5.6: on implicit FTPS the AUTH was implied already.
      if (session.implicit) return reply(Code.BadSequence, 'Implicit FTPS: TLS is already established.');
      // RFC 2228 lets a server refuse a second AUTH; accepting one would have to drop the login and
      // every PBSZ/PROT, and the commands since CCC came unprotected. ProFTPD refuses it too.
      if (ctx.cleared) {
        return reply(
          Code.PolicyRequiresProtection,
          'AUTH after CCC refused: reconnect to protect the control connection.',
        );
      }
      if (ctx.secure) return reply(Code.BadSequence, 'TLS is already active.');
      if (mech === 'TLS-P') {
        session.pbszAccepted();
        session.protect('P');
      }
      return { reply: reply(Code.SecurityExchangeComplete, `AUTH ${mech} successful.`), after: 'start-tls' };
    },
  }),
  command({
    verb: 'PBSZ',
    access: 'anyone',
    concurrency: 'serial',
    feat: () => 'PBSZ',
    help: 'PBSZ <sp> 0',
    async handle(_cmd, ctx) {
      // RFC 4217 9: any size is answered with PBSZ=0 (TLS needs no buffer size).
      // After CCC the security exchange still stands (RFC 2228): only the control channel is clear.
      if (!ctx.secure && !ctx.cleared) return reply(Code.BadSequence, 'PBSZ needs TLS: send AUTH TLS first.');
      ctx.session.pbszAccepted();
      return reply(Code.Ok, 'PBSZ=0');
    },
  }),
  command({
    verb: 'PROT',
    access: 'anyone',
    concurrency: 'serial',
    feat: () => 'PROT C;P;',
    help: 'PROT <sp> C|P',
    async handle({ level }, ctx) {
      const { session, options } = ctx;
      if (!ctx.secure && !session.implicit && !ctx.cleared)
        return reply(Code.BadSequence, 'PROT needs TLS: send AUTH TLS first.');
      if (!session.pbsz) return reply(Code.BadSequence, 'Send PBSZ 0 before PROT.');
      switch (level) {
        case 'P':
          session.protect('P');
          return reply(Code.Ok, 'Data protection level set to Private.');
        case 'C':
          if (!options.allowClearData) {
            return reply(
              Code.PolicyRequiresProtection,
              'PROT C refused: this server requires protected data connections.',
            );
          }
          session.protect('C');
          return reply(Code.Ok, 'Data protection level set to Clear.');
        case 'S':
        case 'E':
          return reply(Code.ProtLevelNotSupported, `PROT ${level} not supported; use C or P.`);
      }
    },
  }),
  command({
    verb: 'CCC',
    access: 'anyone',
    concurrency: 'serial',
    // Never on implicit sessions: there CCC is always refused (MS-FTPS 3.2.5.2).
    offered: ({ options, implicit }) => options.allowCcc && !implicit,
    feat: ({ options, implicit }) => (options.allowCcc && !implicit ? 'CCC' : undefined),
    help: 'CCC (clear the control connection)',
    async handle(_cmd, ctx) {
      // MS-FTPS 3.2.5.2: on implicit FTPS, CCC is refused as if policy forbade it.
      if (ctx.session.implicit || !ctx.options.allowCcc) {
        return reply(Code.CccDenied, 'CCC refused by server policy.');
      }
      if (!ctx.secure) return reply(Code.BadSequence, 'The control connection is not protected.');
      // Without TLS no login is possible (USER needs it), so CCC only makes sense once logged in.
      if (!ctx.session.loggedIn) return reply(Code.BadSequence, 'Log in before CCC.');
      return { reply: reply(Code.Ok, 'Control connection returning to clear text.'), after: 'stop-tls' };
    },
  }),
];
