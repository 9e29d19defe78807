import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPortsFor } from './default-ports.js';

const low = { explicit: 21, implicit: 990 };
const high = { explicit: 2121, implicit: 9990 };

test('the default ports follow the ability to bind 21 and 990, not whether the process is root', () => {
  // Root, or the systemd unit's User=ferry with AmbientCapabilities=CAP_NET_BIND_SERVICE.
  assert.deepEqual(defaultPortsFor({ netBindService: true, unprivilegedPortStart: 1024 }), low);
  // A user without the capability; root in a container that dropped it.
  assert.deepEqual(defaultPortsFor({ netBindService: false, unprivilegedPortStart: 1024 }), high);
  // net.ipv4.ip_unprivileged_port_start lowered (Docker sets 0): anyone may bind them.
  assert.deepEqual(defaultPortsFor({ netBindService: false, unprivilegedPortStart: 0 }), low);
  assert.deepEqual(defaultPortsFor({ netBindService: false, unprivilegedPortStart: 21 }), low);
  // Lowered, but not to 21: both stay high (never one low and one high).
  assert.deepEqual(defaultPortsFor({ netBindService: false, unprivilegedPortStart: 22 }), high);
});
