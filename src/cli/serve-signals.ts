/** SIGTERM and SIGINT: `ferry serve` stops (gracefully; a second one at once). */
export type StopSignal = 'SIGTERM' | 'SIGINT';

/** Where the signals come from: `process`. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
}

/**
 * The signals of `ferry serve`, caught from the start of the process (main.ts, before the server's
 * modules load). Without a handler a SIGHUP kills Node: `systemctl reload` (logrotate) just after a
 * start left the service down, systemd counting a death by SIGHUP as clean. Until the server hands
 * its handlers over, a SIGHUP is kept (several as one) for one reload once it serves, and a stop is
 * kept for the start to act on.
 */
export class ServeSignals {
  #reload: (() => void) | undefined;
  #stop: ((signal: StopSignal) => void) | undefined;
  #reloadPending = false;
  #stopPending: StopSignal | undefined;

  constructor(source: SignalSource = process) {
    source.on('SIGHUP', () => {
      if (this.#reload) this.#reload();
      else this.#reloadPending = true;
    });
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      source.on(signal, () => {
        if (this.#stop) this.#stop(signal);
        else this.#stopPending ??= signal;
      });
  }

  /**
   * From now on SIGHUP calls `reload`; one that came before calls it now. Returns whether one had
   * come.
   */
  onReload(reload: () => void): boolean {
    this.#reload = reload;
    const pending = this.#reloadPending;
    this.#reloadPending = false;
    if (pending) reload();
    return pending;
  }

  /**
   * `work` (a part of the start that waits on others: the database), unless a stop comes first
   * (or came before): then that stop, without waiting for `work`, which a database that does not
   * answer would hold for ever. A stop after `work` settled is kept, as before.
   */
  async unlessStopped<T>(work: Promise<T>): Promise<{ done: T } | { stopped: StopSignal }> {
    const pending = this.#stopPending;
    if (pending) {
      this.#stopPending = undefined;
      work.catch(() => {}); // abandoned: its failure is no longer anyone's
      return { stopped: pending };
    }
    let onStop: (signal: StopSignal) => void = () => {};
    const stopped = new Promise<{ stopped: StopSignal }>((resolve) => {
      onStop = (signal) => resolve({ stopped: signal });
    });
    const before = this.#stop;
    this.#stop = onStop;
    try {
      return await Promise.race([work.then((done) => ({ done })), stopped]);
    } finally {
      if (this.#stop === onStop) this.#stop = before;
    }
  }

  /** From now on SIGTERM and SIGINT call `stop`; the first that came before calls it now. */
  onStop(stop: (signal: StopSignal) => void): void {
    this.#stop = stop;
    const pending = this.#stopPending;
    this.#stopPending = undefined;
    if (pending) stop(pending);
  }
}
