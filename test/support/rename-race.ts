// A local attacker for jail tests: a child process that keeps swapping a served directory for a
// symlink to the outside (rename a → a.real, a.link → a, back again), as fast as it can, until
// stopped. Also builds the tree and checks, afterwards, that nothing outside changed.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET = 'SECRET';
export const INSIDE = 'inside content';
export const VICTIMS = 160;

export interface RaceTree {
  root: string;
  outside: string;
  /** Name, size, mode, mtime and content of every entry outside, as built. */
  outsideBefore: string;
}

/**
 * root/a/ holds f.txt and victims v-N (files) and e-N (empty dirs); outside/ holds the same names
 * (f.txt with the secret) plus only-outside.txt, so any read, listing, change or removal that lands
 * outside is visible.
 */
export async function buildRaceTree(root: string, outside: string): Promise<RaceTree> {
  for (const dir of [join(root, 'a'), outside]) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'f.txt'), dir === outside ? SECRET : INSIDE);
    for (let i = 0; i < VICTIMS; i++) {
      await writeFile(join(dir, `v-${i}`), 'victim');
      await mkdir(join(dir, `e-${i}`));
    }
  }
  await writeFile(join(outside, 'only-outside.txt'), SECRET);
  return { root, outside, outsideBefore: await snapshot(outside) };
}

export async function snapshot(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const st = await stat(join(dir, name));
    lines.push(`${name} ${st.isDirectory() ? 'd' : st.size} ${st.mode.toString(8)} ${st.mtimeMs}`);
  }
  return lines.join('\n');
}

const ATTACKER = `
const fs = require('node:fs');
const { A, OUTSIDE } = process.env;
fs.symlinkSync(OUTSIDE, A + '.link');
process.stdout.write('ready\\n');
const end = Date.now() + 120000; // a safety net only: the test stops it
let swaps = 0;
while (Date.now() < end) {
  try {
    fs.renameSync(A, A + '.real');
    fs.renameSync(A + '.link', A);
    fs.renameSync(A, A + '.link');
    fs.renameSync(A + '.real', A);
    swaps++;
  } catch {}
}
`;

export interface Attacker {
  stop(): Promise<void>;
}

export async function startAttacker(tree: RaceTree): Promise<Attacker> {
  const child: ChildProcess = spawn(process.execPath, ['-e', ATTACKER], {
    env: { ...process.env, A: join(tree.root, 'a'), OUTSIDE: tree.outside },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
