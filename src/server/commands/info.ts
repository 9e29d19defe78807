import { Code } from '../../protocol/codes.js';
import { formatFeatReply } from '../../protocol/features.js';
import { reply } from '../../protocol/reply.js';
import type { CommandSpec } from './types.js';

/** Features that belong to no single command. */
const general = ['UTF8', 'TVFS', 'LANG EN*'];

export const infoCommands: CommandSpec[] = [
  {
    verb: 'FEAT',
    access: 'anyone',
    concurrency: 'serial',
    help: 'FEAT',
    async handle(_arg, ctx) {
      const lines = [...general];
      for (const spec of ctx.specs) {
        const f = spec.feat?.(ctx.options, ctx.session);
        if (f !== undefined) lines.push(...(typeof f === 'string' ? [f] : f));
      }
      return formatFeatReply(lines);
    },
  },
  {
    verb: 'SYST',
    access: 'anyone',
    concurrency: 'serial',
    help: 'SYST',
    async handle() {
      return reply(Code.SystemType, 'UNIX Type: L8');
    },
  },
  {
    verb: 'NOOP',
    access: 'anyone',
    concurrency: 'serial',
    help: 'NOOP',
    async handle() {
      return reply(Code.Ok, 'NOOP ok.');
    },
  },
  {
    verb: 'LANG',
    access: 'anyone',
    concurrency: 'serial',
    help: 'LANG [<sp> EN]',
    async handle(arg) {
      const tag = arg.trim().toUpperCase();
      if (tag === '' || tag === 'EN' || tag.startsWith('EN-')) return reply(Code.Ok, 'Language set to EN.');
      return reply(Code.NotImplementedForParam, `Language ${arg} not supported; EN only.`);
    },
  },
  {
    verb: 'HELP',
    access: 'anyone',
    concurrency: 'serial',
    help: 'HELP [<sp> command]',
    async handle(arg, { specs }) {
      const want = arg.trim().toUpperCase();
      if (want.length > 0) {
        const spec = specs.find((s) => s.verb === want || s.aliases?.includes(want as never));
        return spec
          ? reply(Code.Help, `Syntax: ${spec.help}`)
          : reply(Code.SyntaxErrorArgs, `Unknown command ${arg.trim()}.`);
      }
      const verbs = specs.flatMap((s) => [s.verb, ...(s.aliases ?? [])]).sort();
      const rows: string[] = [];
      for (let i = 0; i < verbs.length; i += 8) rows.push(' ' + verbs.slice(i, i + 8).join(' '));
      return reply(Code.Help, 'The following commands are recognized:', ...rows, 'Help OK.');
    },
  },
];
