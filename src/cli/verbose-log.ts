import type { ProtocolEvent } from '../client/control.js';
import { formatReply } from '../protocol/reply.js';
import { printableName } from './printable.js';

/**
 * What `--verbose` writes on stderr (the client's commands and the probe): `> command`, `< reply`
 * line by line, `* note`. Each line escaped as a file name is: a reply, and a note repeating one
 * (a 421's reason), may hold a terminal escape or a bidi override from the server.
 */
export function verboseText(e: ProtocolEvent): string {
  if (e.kind === 'command') return `> ${printableName(e.text)}\n`;
  if (e.kind === 'info') return `* ${printableName(e.text)}\n`;
  return formatReply(e.reply)
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => `< ${printableName(line)}\n`)
    .join('');
}

export function logVerbose(e: ProtocolEvent): void {
  process.stderr.write(verboseText(e));
}
