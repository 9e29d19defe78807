import { Option } from 'commander';

/**
 * `--config FILE`, else the FERRY_CONFIG environment variable (a service's unit sets it once, and
 * `ferry users`, `ferry bans` and `ferry db` then work on the server's files without the flag).
 */
export function configOption(description: string): Option {
  return new Option('--config <file>', description).env('FERRY_CONFIG');
}
