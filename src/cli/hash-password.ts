import type { Command } from 'commander';
import { hashPassword } from '../auth/password.js';
import { hashCostOf } from './hash-cost.js';
import { passwordFromStdin } from './password-input.js';

/** `ferry hash-password`: reads a password on stdin, prints the scrypt hash for the config file. */
export function hashPasswordCommand(program: Command): void {
  program
    .command('hash-password')
    .description('read a password from standard input and print its hash for the config file')
    .action(async () => {
      const hash = await hashPassword(await passwordFromStdin(), hashCostOf(process.env));
      process.stdout.write(hash + '\n');
    });
}
