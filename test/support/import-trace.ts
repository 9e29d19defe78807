/**
 * `node --import <this file>`: every module the process resolves through the ESM loader (static
 * imports and import()) is appended to the file named by FERRY_IMPORT_TRACE, one URL a line, by
 * the hooks in import-trace-hooks.ts. For tests of what a process loads (a server without S3 homes
 * never loads the AWS SDK).
 */
import { register } from 'node:module';

register('./import-trace-hooks.js', import.meta.url);
