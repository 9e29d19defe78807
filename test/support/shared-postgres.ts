/**
 * The run's one PostgreSQL cluster, for scripts/test.sh: `start` makes and starts one and prints its
 * directory for FERRY_TEST_POSTGRES (the server keeps running after it exits); `stop DIR` stops it
 * and removes it (see postgres.ts).
 */
import { TestPostgres } from './postgres.js';

// Two suites at a time, each with a few nodes' pools: more than one suite's 100.
const MAX_CONNECTIONS = 400;

const [command, dir] = process.argv.slice(2);
if (command === 'start') {
  process.stdout.write(
    `${(await TestPostgres.create({ own: true, maxConnections: MAX_CONNECTIONS })).dir}\n`,
  );
} else if (command === 'stop' && dir !== undefined) {
  await (await TestPostgres.ofDir(dir)).destroy();
} else {
  process.stderr.write('usage: shared-postgres.js start | stop DIR\n');
  process.exitCode = 2;
}
