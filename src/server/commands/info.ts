import { ALIASES, canonicalVerb } from '../../protocol/command.js';
import { Code } from '../../protocol/codes.js';
import { formatFeatReply } from '../../protocol/features.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { capabilitiesOf, hashAllowed } from '../capabilities.js';
import { SITE_SYNTAX } from './files.js';
import { command, type AnyCommandSpec } from './types.js';

const siteSyntax = new Map<string, string>(Object.entries(SITE_SYNTAX));

/** Features that belong to no single command. */
const general = ['UTF8', 'TVFS', 'LANG EN*'];

export const infoCommands: AnyCommandSpec[] = [
  command({
    verb: 'FEAT',
    access: 'anyone',
    concurrency: 'serial',
    help: 'FEAT',
    async handle(_cmd, ctx) {
      const lines = [...general];
      const c = {
        options: ctx.options,
        implicit: ctx.session.implicit,
        can: capabilitiesOf(ctx.session.login),
        hashAlgorithm: ctx.session.hashAlgorithm,
        hash: hashAllowed(ctx.session.login),
      };
      for (const spec of ctx.specs) {
        const f = spec.feat?.(c);
        if (f !== undefined) lines.push(...(typeof f === 'string' ? [f] : f));
      }
      return formatFeatReply(lines);
    },
  }),
  command({
    verb: 'SYST',
    access: 'anyone',
    concurrency: 'serial',
    help: 'SYST',
    async handle() {
      return reply(Code.SystemType, 'UNIX Type: L8');
    },
  }),
  command({
    verb: 'CLNT',
    access: 'anyone',
    concurrency: 'serial',
    help: 'CLNT <sp> client name',
    async handle({ client }, { logger, session }) {
      // FileZilla and curl -Q send it; the name helps read a session's log (its lines carry the session).
      // Logged a few times per session at most: CLNT needs no login, not even TLS.
      const logged = session.clientNamed(client);
      if (logged !== undefined) logger.info({ client: logged }, 'client');
      return reply(Code.Ok, 'Noted.');
    },
  }),
  command({
    verb: 'NOOP',
    access: 'anyone',
    concurrency: 'serial',
    help: 'NOOP',
    async handle() {
      return reply(Code.Ok, 'NOOP ok.');
    },
  }),
  command({
    verb: 'LANG',
    access: 'anyone',
    concurrency: 'serial',
    help: 'LANG [<sp> EN]',
    async handle({ tag }) {
      const t = tag.toUpperCase();
      if (t === '' || t === 'EN' || t.startsWith('EN-')) return reply(Code.Ok, 'Language set to EN.');
      return reply(Code.NotImplementedForParam, `Language ${tag} not supported; EN only.`);
    },
  }),
  command({
    verb: 'HELP',
    access: 'anyone',
    concurrency: 'serial',
    help: 'HELP [<sp> command]',
    async handle({ topic }, ctx) {
      // What policy refuses this session (CCC unless allowed) is left out, as FEAT leaves it out.
      const policy = { options: ctx.options, implicit: ctx.session.implicit };
      const specs = ctx.specs.filter((s) => s.offered?.(policy) ?? true);
      const refused = ctx.specs.find((s) => !specs.includes(s) && s.verb === canonicalVerb(topic));
      if (refused) return reply(Code.SyntaxErrorArgs, `${refused.verb} is not offered by this server.`);
      if (topic.length > 0) return helpFor(topic, specs);
      const known = new Set<string>(specs.map((s) => s.verb));
      const aliases = Object.entries(ALIASES).filter(([, v]) => known.has(v));
      const verbs = [...known, ...aliases.map(([a]) => a)].sort();
      const rows: string[] = [];
      for (let i = 0; i < verbs.length; i += 8) rows.push(' ' + verbs.slice(i, i + 8).join(' '));
      return reply(Code.Help, 'The following commands are recognized:', ...rows, 'Help OK.');
    },
  }),
];

/**
 * HELP's answer for `topic` (a verb, upper case, single spaces): an alias is named as itself (XPWD
 * is not PWD to the client that asked), a SITE subcommand by its own syntax. A known verb with
 * more words is a wrong argument, not an unknown command.
 */
function helpFor(topic: string, specs: readonly AnyCommandSpec[]): Reply {
  const [word = '', ...rest] = topic.split(' ');
  const verb = canonicalVerb(word);
  const spec = specs.find((s) => s.verb === verb);
  if (!spec) return reply(Code.SyntaxErrorArgs, `Unknown command ${topic}.`);
  if (rest.length > 0) {
    if (verb !== 'SITE') return reply(Code.SyntaxErrorArgs, 'HELP takes one command name.');
    const site = siteSyntax.get(rest.join(' '));
    return site
      ? reply(Code.Help, `Syntax: ${site}`)
      : reply(Code.SyntaxErrorArgs, `Unknown command ${topic}.`);
  }
  // Each help text starts with its verb.
  const syntax =
    word === spec.verb ? spec.help : `${word}${spec.help.slice(spec.verb.length)} (alias of ${spec.verb})`;
  return reply(Code.Help, `Syntax: ${syntax}`);
}
