#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { FerryError } from '../errors.js';
import { registerBans } from './bans.js';
import { registerClientCommands } from './client-commands.js';
import { registerProbe } from './probe.js';
import { hashPasswordCommand } from './hash-password.js';
import { registerServe } from './serve.js';
import { registerUsers } from './users.js';

/** The only place that reads argv and decides exit codes for the server side. */
const program = new Command('ferry')
  .description('Ferry: FTPS server and client (implicit and explicit FTPS, MS-FTPS / RFC 4217)')
  .version('0.1.0')
  .exitOverride();
registerServe(program);
registerUsers(program);
hashPasswordCommand(program);
registerBans(program);
registerClientCommands(program);
registerProbe(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ferry: ${message}\n`);
  const usage = err instanceof FerryError && (err.code === 'ERR_USAGE' || err.code === 'ERR_INVALID_OPTION');
  process.exit(usage ? 2 : 1);
}
