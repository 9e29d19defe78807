import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ServeSignals, type StopSignal } from './serve-signals.js';

describe('ServeSignals', () => {
  it('keeps SIGHUPs that came before a handler as one reload, run when the handler comes', () => {
    const source = new EventEmitter();
    const signals = new ServeSignals(source);
    source.emit('SIGHUP');
    source.emit('SIGHUP');
    let reloads = 0;
    assert.equal(
      signals.onReload(() => reloads++),
      true,
    );
    assert.equal(reloads, 1);
    source.emit('SIGHUP');
    assert.equal(reloads, 2);
  });

  it('runs no reload at the handover when no SIGHUP came', () => {
    const signals = new ServeSignals(new EventEmitter());
    let reloads = 0;
    assert.equal(
      signals.onReload(() => reloads++),
      false,
    );
    assert.equal(reloads, 0);
  });

  it('gives the first stop signal that came before a handler to it, then each one', () => {
    const source = new EventEmitter();
    const signals = new ServeSignals(source);
    source.emit('SIGINT');
    source.emit('SIGTERM');
    const seen: StopSignal[] = [];
    signals.onStop((s) => seen.push(s));
    assert.deepEqual(seen, ['SIGINT']);
    // A handler handed over later (the server's, after the start's) gets only the signals to come.
    const later: StopSignal[] = [];
    signals.onStop((s) => later.push(s));
    source.emit('SIGTERM');
    assert.deepEqual([seen, later], [['SIGINT'], ['SIGTERM']]);
  });

  it('ends a wait of the start at a stop signal, without its work settling', async () => {
    const source = new EventEmitter();
    const signals = new ServeSignals(source);
    const never = new Promise<never>(() => {}); // a database that does not answer
    const waiting = signals.unlessStopped(never);
    source.emit('SIGTERM');
    assert.deepEqual(await waiting, { stopped: 'SIGTERM' });
  });

  it('ends it at once for a stop that came before it', async () => {
    const source = new EventEmitter();
    const signals = new ServeSignals(source);
    source.emit('SIGINT');
    assert.deepEqual(await signals.unlessStopped(new Promise<never>(() => {})), { stopped: 'SIGINT' });
  });

  it('gives the work its result, and keeps a stop that comes after it for the next handler', async () => {
    const source = new EventEmitter();
    const signals = new ServeSignals(source);
    assert.deepEqual(await signals.unlessStopped(Promise.resolve(7)), { done: 7 });
    await assert.rejects(signals.unlessStopped(Promise.reject(new Error('refused'))), /refused/);
    source.emit('SIGTERM');
    const seen: StopSignal[] = [];
    signals.onStop((s) => seen.push(s));
    assert.deepEqual(seen, ['SIGTERM']);
  });
});
