import { accessCommands } from './access.js';
import { fileCommands } from './files.js';
import { infoCommands } from './info.js';
import { listingCommands } from './listing.js';
import { parameterCommands } from './parameters.js';
import { securityCommands } from './security.js';
import { transferCommands } from './transfer.js';
import type { CommandSpec } from './types.js';

export const commandSpecs: readonly CommandSpec[] = [
  ...accessCommands,
  ...securityCommands,
  ...parameterCommands,
  ...transferCommands,
  ...fileCommands,
  ...listingCommands,
  ...infoCommands,
];

/** Verb (and alias) → spec. */
export function commandTable(specs: readonly CommandSpec[] = commandSpecs): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const spec of specs) for (const verb of [spec.verb, ...(spec.aliases ?? [])]) table.set(verb, spec);
  return table;
}
