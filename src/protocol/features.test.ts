import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFeatReply, parseFeatures } from './features.js';
import { formatReply, reply } from './reply.js';
import { parseReplyText } from './reply-parser.js';

test('formatFeatReply: RFC 2389 wire format, one leading space per feature', () => {
  const r = formatFeatReply(['AUTH TLS', 'PBSZ', 'PROT', 'MLST type*;size*;modify*;', 'UTF8']);
  assert.equal(
    formatReply(r),
    '211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n MLST type*;size*;modify*;\r\n UTF8\r\n211 End\r\n',
  );
});

test('formatFeatReply: trims, drops empty lines and line breaks', () => {
  const r = formatFeatReply(['  EPSV ', '', 'REST STREAM\r\n']);
  assert.deepEqual(r.lines, ['Features:', ' EPSV', ' REST STREAM', 'End']);
  assert.deepEqual(formatFeatReply([]), reply(211, 'No features.'));
});

test('parseFeatures: round trip through the wire', () => {
  const wire = formatReply(formatFeatReply(['AUTH TLS;SSL;', 'MLST type*;size*;', 'utf8', 'REST STREAM']));
  const parsed = parseReplyText(wire);
  assert.ok(parsed);
  const f = parseFeatures(parsed);
  assert.deepEqual(
    [...f],
    [
      ['AUTH', 'TLS;SSL;'],
      ['MLST', 'type*;size*;'],
      ['UTF8', ''],
      ['REST', 'STREAM'],
    ],
  );
});

test('parseFeatures: tolerant of spacing, 211- prefixes and repeated features', () => {
  const r = reply(
    211,
    'Extensions supported:',
    'SIZE',
    '   MDTM',
    '211-AUTH TLS',
    ' AUTH SSL',
    ' EPRT ',
    'END',
  );
  const f = parseFeatures(r);
  assert.equal(f.get('SIZE'), '');
  assert.equal(f.get('MDTM'), '');
  assert.equal(f.get('AUTH'), 'TLS;SSL');
  assert.equal(f.get('EPRT'), '');
  assert.equal(f.has('END'), false);
});

test('parseFeatures: not a multi-line 211 gives no features', () => {
  assert.equal(parseFeatures(reply(500, 'Unknown command')).size, 0);
  assert.equal(parseFeatures(reply(211, 'No features.')).size, 0);
});
