import type { Command } from 'commander';
import { hashPassword } from '../auth/password.js';

/** `ferry hash-password`: reads a password on stdin, prints the scrypt hash for the config file. */
export function hashPasswordCommand(program: Command): void {
  program
    .command('hash-password')
    .description('read a password from standard input and print its hash for the config file')
    .action(async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const password = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
      if (password.length === 0) throw new Error('no password on standard input');
      process.stdout.write((await hashPassword(password)) + '\n');
    });
}
