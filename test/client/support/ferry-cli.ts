/**
 * A `ferry` entry point with only the client commands, for the CLI tests (the real one is
 * src/cli/main.ts, which registers them too). Same exit-code handling as main.ts, and the same
 * bundled commands (client-bundle.ts), so the tests run what a user runs.
 */
// Commander from the bundle too, as main.ts takes it for a client command.
import { Command, CommanderError, registerClientCommands } from '../../../src/cli/client-bundle.js';

const program = new Command('ferry').exitOverride();
registerClientCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  process.stderr.write(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
