/**
 * Why a transfer was aborted, as the server knows it: said in the transfer's log line (`reason`),
 * and in its 426 when the server cut it (the client knows what it did itself); a cut by the server
 * is logged at warn, one by the client at info.
 */
export interface TransferCut {
  readonly reason: string;
  readonly byServer: boolean;
}

export const ABOR_BY_CLIENT: TransferCut = { reason: 'ABOR by the client', byServer: false };
export const CONTROL_CLOSED: TransferCut = { reason: 'control connection closed', byServer: false };
export const GRACE_OVER: TransferCut = { reason: 'server stopping: grace period over', byServer: true };
export const DESTROYED: TransferCut = { reason: 'server stopping: session destroyed', byServer: true };
