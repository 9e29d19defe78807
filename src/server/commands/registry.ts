import { accessCommands } from './access.js';
import { fileCommands } from './files.js';
import { infoCommands } from './info.js';
import { listingCommands } from './listing.js';
import { parameterCommands } from './parameters.js';
import { securityCommands } from './security.js';
import { transferCommands } from './transfer.js';
import type { Verb } from '../../protocol/command.js';
import type { AnyCommandSpec, CommandSpec } from './types.js';

export const commandSpecs: readonly AnyCommandSpec[] = [
  ...accessCommands,
  ...securityCommands,
  ...parameterCommands,
  ...transferCommands,
  ...fileCommands,
  ...listingCommands,
  ...infoCommands,
];

/** Verb → its spec; each entry's handler takes that verb's command. */
export type CommandTable = { readonly [V in Verb]?: CommandSpec<V> };

export function commandTable(specs: readonly AnyCommandSpec[] = commandSpecs): CommandTable {
  const table: Partial<Record<Verb, AnyCommandSpec>> = {};
  for (const spec of specs) table[spec.verb] = spec;
  return table as CommandTable;
}
