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
});
