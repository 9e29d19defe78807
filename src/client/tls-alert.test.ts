import assert from 'node:assert/strict';
import { test } from 'node:test';

import { alertText, receivedAlert } from './tls-alert.js';

test("an alert from OpenSSL's text: its name and number, none of the internals", () => {
  const openssl =
    'C0F7B2A1A97F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 70\n';
  const a = receivedAlert(openssl);
  assert.deepEqual(a, { name: 'protocol version', number: 70 });
  assert.equal(alertText(a), 'protocol version alert (70)');
  assert.deepEqual(
    receivedAlert(
      'x:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:f.c:1:SSL alert number 40',
    ),
    {
      name: 'handshake failure',
      number: 40,
    },
  );
  assert.equal(receivedAlert('error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), undefined);
});
