/**
 * What a cluster primary and its workers say to each other over the IPC channel. A connection
 * message carries the accepted TCP socket as its handle.
 */
export type ToWorker =
  | { readonly type: 'ferry:init'; readonly data: unknown }
  | { readonly type: 'ferry:connection'; readonly id: number; readonly implicit: boolean }
  | { readonly type: 'ferry:reload' }
  | { readonly type: 'ferry:user-session-answer'; readonly id: number; readonly ok: boolean }
  | { readonly type: 'ferry:stop' }
  | { readonly type: 'ferry:destroy' };

export type FromWorker =
  | { readonly type: 'ferry:ready' }
  | { readonly type: 'ferry:closed'; readonly id: number }
  | { readonly type: 'ferry:reloaded'; readonly fingerprints: readonly string[] }
  | { readonly type: 'ferry:reload-failed'; readonly error: string }
  /** May `user` (limited to `max`) have one more session? Answered by user-session-answer. */
  | {
      readonly type: 'ferry:user-session-take';
      readonly id: number;
      readonly user: string;
      readonly max: number;
    }
  /** One of `user`'s counted sessions has ended. */
  | { readonly type: 'ferry:user-session-give'; readonly user: string };

const toWorkerTypes = new Set<string>([
  'ferry:init',
  'ferry:connection',
  'ferry:reload',
  'ferry:user-session-answer',
  'ferry:stop',
  'ferry:destroy',
]);
const fromWorkerTypes = new Set<string>([
  'ferry:ready',
  'ferry:closed',
  'ferry:reloaded',
  'ferry:reload-failed',
  'ferry:user-session-take',
  'ferry:user-session-give',
]);

const typeOf = (m: unknown): unknown =>
  typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;

export const isToWorker = (m: unknown): m is ToWorker => toWorkerTypes.has(String(typeOf(m)));
export const isFromWorker = (m: unknown): m is FromWorker => fromWorkerTypes.has(String(typeOf(m)));
