/**
 * Why a session's work is aborted (its `disconnected` signal, and so an authenticator's signal):
 * made once (made for each session, with its stack, they showed in the sessions profile).
 */

/** The connection closed: the client left, or the session ended it (QUIT, a timeout, a limit). */
export const CONNECTION_CLOSED = new DOMException('This operation was aborted', 'AbortError');

/** The server is shutting down (close(), SIGTERM): not the client's doing, so no failed login. */
export const SERVER_SHUTDOWN = new DOMException('The server is shutting down.', 'AbortError');
