/**
 * libuv's thread pool for a serving process. Node gives it 4 threads, and every file system call,
 * password check (crypto.scrypt) and file stream of a process shares them; a call on a frozen mount
 * (a dead NFS server, a stopped FUSE daemon) never returns and keeps its thread for good. With 4,
 * four such calls stopped every other user of the process (logins, transfers). 16: an idle pool
 * thread costs little (its stack is reserved address space, a few pages of it touched); password
 * checks are few at once anyway (limits.maxPasswordChecks, 2 by default), and on 2 cores more
 * threads only queue in the kernel instead of in libuv: the spare ones are for calls that hang.
 * At most 1024 (libuv's limit).
 */
export const THREAD_POOL_SIZE = 16;

const VARIABLE = 'UV_THREADPOOL_SIZE';

/**
 * A worker's environment: the primary's, with THREAD_POOL_SIZE unless the operator set a size.
 * Only an environment can give it: libuv reads it once, at the pool's first use, which in an ES
 * module process comes while Node loads the modules, before any of our code runs.
 */
export function threadPoolEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env[VARIABLE] === undefined || env[VARIABLE] === ''
    ? { ...env, [VARIABLE]: String(THREAD_POOL_SIZE) }
    : env;
}
