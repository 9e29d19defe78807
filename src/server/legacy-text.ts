import type { LegacyCharset } from '../protocol/legacy-encoding.js';
import type { ResolvedOptions } from './options.js';
import type { Session } from './session.js';

/**
 * The set this session's replies and listings are in: the legacy encoding once it sent a line in
 * it (and not OPTS UTF8 ON), while the server has one; undefined for UTF-8.
 */
export function replyCharset(session: Session, options: ResolvedOptions): LegacyCharset | undefined {
  return session.legacy ? options.legacyCharset : undefined;
}
