/**
 * The run's one Ceph gateway, for scripts/test.sh: `start` starts a cluster and prints the JSON for
 * FERRY_TEST_CEPH (the daemons keep running after it exits); `stop JSON` ends them (see ceph.ts).
 */
import { startCephCluster, stopCephCluster, type CephCluster } from './ceph.js';

// Room for every suite's objects at once (the largest writes 200 MB; a suite alone had up to 2 GiB).
const MEM_BYTES = 3 * 1024 ** 3;

const [command, json] = process.argv.slice(2);
if (command === 'start') {
  process.stdout.write(`${JSON.stringify(await startCephCluster(MEM_BYTES))}\n`);
} else if (command === 'stop' && json !== undefined) {
  await stopCephCluster((JSON.parse(json) as CephCluster).dir);
} else {
  process.stderr.write('usage: shared-ceph.js start | stop JSON\n');
  process.exitCode = 2;
}
