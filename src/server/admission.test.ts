import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserTable } from '../auth/users.js';
import { silentLogger } from '../logger.js';
import { MemoryStorage } from '../storage/memory.js';
import {
  admission,
  SessionCounts,
  TOO_MANY_UNAUTHENTICATED,
  UnauthenticatedConnection,
  unauthenticatedLimits,
} from './admission.js';
import { DefenderService } from './defender-service.js';
import { resolveOptions } from './options.js';
import { WarningLimiter } from './warning-limiter.js';

test('IPv6: an address on allow counts alone, not with the other hosts of its /64, also after a reload takes it off', () => {
  const options = resolveOptions({
    authenticator: new UserTable([]),
    storageFor: () => new MemoryStorage(),
    limits: { maxUnauthenticatedPerAddress: 4 },
    defender: { allow: ['2001:db8:1::99/128'] },
  });
  const defense = new DefenderService(options, silentLogger, new WarningLimiter(silentLogger));
  const unauthenticated = new SessionCounts(unauthenticatedLimits(options));
  const admit = (address: string): string | undefined =>
    admission(defense, unauthenticated, address, defense.key(address));

  for (let i = 2; i <= 5; i++) assert.equal(admit(`2001:db8:1::${i}`), undefined);
  assert.equal(admit('2001:db8:1::6'), TOO_MANY_UNAUTHENTICATED, 'the /64 is full');
  assert.equal(defense.key('2001:db8:1::99'), '2001:db8:1::99');
  const allowed = defense.key('2001:db8:1::99');
  assert.equal(admit('2001:db8:1::99'), undefined, 'the allowed address is not counted with its /64');
  const session = new UnauthenticatedConnection(defense, unauthenticated, '2001:db8:1::99', allowed);

  // A reload takes it off allow: its session is released as it was counted, and it counts with its /64.
  defense.setAllow([]);
  session.release();
  assert.equal(admit('2001:db8:1::99'), TOO_MANY_UNAUTHENTICATED);
  defense.setAllow(['2001:db8:1::99']);
  for (let i = 0; i < 4; i++)
    assert.equal(admit('2001:db8:1::99'), undefined, 'its own 4 places are all free');
  assert.equal(admit('2001:db8:1::99'), TOO_MANY_UNAUTHENTICATED, 'its own limit still holds');
});
