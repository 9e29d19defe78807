// What the server's own account may do with an entry, from its mode bits (RFC 3659 7.5.5: MLST's
// perm is what this user can actually do). Under --run-as the server is not root: a directory
// without x for it cannot be entered, one without w can take no new entry. ACLs are not read.

/** The process's user and groups (effective group and supplementary ones). */
export interface ProcessIds {
  readonly uid: number;
  readonly gids: readonly number[];
}

/** The ids of this process now; undefined for root (which may enter and read anything) and where unknown. */
export function processIds(): ProcessIds | undefined {
  const uid = process.geteuid?.();
  if (uid === undefined || uid === 0) return undefined;
  return { uid, gids: [process.getegid?.() ?? -1, ...(process.getgroups?.() ?? [])] };
}

/** The rwx bits (4 read, 2 write, 1 enter or execute) of an entry for `ids`: its class's, as the kernel picks it. */
export function accessBits(st: { mode: number; uid: number; gid: number }, ids: ProcessIds): number {
  if (st.uid === ids.uid) return (st.mode >> 6) & 7;
  if (ids.gids.includes(st.gid)) return (st.mode >> 3) & 7;
  return st.mode & 7;
}
