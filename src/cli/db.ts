import type { Command } from 'commander';
import { readUsersFile } from '../auth/users-file.js';
import { FerryError } from '../errors.js';
import { UsageFile } from '../auth/usage-file.js';
import { databaseUrlOf, dataDirOf, loadConfig, usageFileOf } from './config.js';
import { openSharedState } from './shared-state.js';
import { configOption } from './config-option.js';
import { importConflicts } from './users-shadowed.js';

interface DbFlags {
  config?: string;
  dataDir?: string;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function urlOf(f: DbFlags): Promise<string> {
  const url = databaseUrlOf(f.config ? await loadConfig(f.config) : {});
  if (!url)
    throw new FerryError(
      'ERR_USAGE',
      'no database: set accounts.postgres in the config (--config) or FERRY_DATABASE_URL.',
    );
  return url;
}

/** The PostgreSQL modules, loaded when a command needs them (the driver costs every process ~15 MB). */
async function postgres(): Promise<
  typeof import('../db/database.js') & typeof import('../db/migrations.js')
> {
  const [database, migrations] = await Promise.all([
    import('../db/database.js'),
    import('../db/migrations.js'),
  ]);
  return { ...database, ...migrations };
}

/** `ferry db migrate|status|import`: the PostgreSQL schema, and moving an embedded setup over. */
export function registerDb(program: Command): void {
  const db = program.command('db').description('the PostgreSQL database several nodes share');
  const where = (c: Command): Command =>
    c
      .addOption(configOption("the server's YAML config (its accounts.postgres)"))
      .option('--data-dir <dir>', 'data directory of the embedded setup (for import: usage.json)');

  where(db.command('migrate').description('bring the schema up to date (servers also do at start)')).action(
    async (f: DbFlags) => {
      const url = await urlOf(f);
      const { migrateDatabase, redact, SCHEMA_VERSION } = await postgres();
      let applied;
      try {
        applied = await migrateDatabase(url);
      } catch (err) {
        if (err instanceof FerryError) throw err;
        throw new FerryError('ERR_INVALID_OPTION', `database ${redact(url)}: ${(err as Error).message}`);
      }
      for (const m of applied) say(`applied migration ${m.version}: ${m.name}`);
      const nothing = applied.length === 0 ? ' (nothing to do)' : '';
      say(`${redact(url)}: schema at version ${SCHEMA_VERSION}${nothing}`);
    },
  );

  // A report, read only: exit 0 whatever version it finds (the line says what to do); a database
  // it cannot reach fails as every db command does.
  where(db.command('status').description('the schema version of the database (changes nothing)')).action(
    async (f: DbFlags) => {
      const url = await urlOf(f);
      const { Database, describeSchema, redact, schemaVersion } = await postgres();
      const database = await Database.open(url, { migrate: false });
      try {
        say(`${redact(url)}: ${describeSchema(await schemaVersion(database.pool)).text}`);
      } finally {
        await database.close();
      }
    },
  );

  where(
    db
      .command('import')
      .argument('<users.yaml>', 'the users file of an embedded setup')
      .description('copy the accounts of a users file (hashes as they are) and their quota usage'),
  )
    .option('--replace', 'overwrite accounts that already exist in the database')
    .action(async (file: string, f: DbFlags & { replace?: boolean }) => {
      const accounts = await readUsersFile(file);
      if (accounts.size === 0) {
        // An empty or missing file is most likely a typo.
        throw new FerryError('ERR_USAGE', `${file}: no users to import.`);
      }
      const config = f.config ? await loadConfig(f.config) : {};
      // As users import: a name the config's users: list shadows or anonymous FTP answers to could never log in.
      const conflict = await importConflicts(f.config);
      const usageFile = new UsageFile(usageFileOf(dataDirOf(f.dataDir, config)));
      const shared = await openSharedState(await urlOf(f));
      let added = 0;
      let skipped = 0;
      try {
        for (const a of accounts.values()) {
          const reason = conflict(a.username);
          if (reason !== undefined) {
            skipped++;
            say(`skipped ${a.username}: ${reason}`);
            continue;
          }
          if (f.replace) await shared.accounts.put(a);
          else if (!(await shared.accounts.add(a))) {
            skipped++;
            say(`skipped ${a.username}: already in the database (--replace overwrites)`);
            continue;
          }
          added++;
          const usage = await usageFile.get(a.username);
          if (usage) await shared.usage.set(a.username, usage);
        }
      } finally {
        await shared.close();
      }
      say(`imported ${added} accounts from ${file}${skipped ? `; ${skipped} skipped` : ''}`);
    });
}
