// /proc helpers (process trees, RSS/PSS, CPU time): the same module as the tests' peer supervision,
// compiled to the root's dist/ (build the root package first: `npm run build`).
export {
  cpuSecondsOfTree,
  descendants,
  memoryOf,
  memoryOfAll,
  openFilesSoftLimit,
  readStat,
} from '../../dist/test/support/proc.js';
