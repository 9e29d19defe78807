import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { fromNetworkAscii, networkAsciiSize, skipBytes, toNetworkAscii } from './ascii.js';

async function run(t: Transform, chunks: readonly Buffer[]): Promise<string> {
  return (await buffer(Readable.from(chunks).pipe(t))).toString('latin1');
}

/** Every way of splitting `input` into two chunks, plus one byte at a time (each chunk its own copy). */
function splits(input: string): Buffer[][] {
  const b = Buffer.from(input, 'latin1');
  const out: Buffer[][] = [];
  for (let cut = 0; cut <= b.length; cut++)
    out.push([b.subarray(0, cut), b.subarray(cut)].map((c) => Buffer.from(c)));
  out.push([...b].map((x) => Buffer.from([x])));
  return out;
}

test('toNetworkAscii: LF → CRLF, existing CRLF untouched, lone CR kept', async () => {
  const cases: [string, string][] = [
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['\n\n', '\r\n\r\n'],
    ['x\ry', 'x\ry'],
    ['mixed\r\nand\nbare\r\r\n', 'mixed\r\nand\r\nbare\r\r\n'],
    ['', ''],
    ['no newline', 'no newline'],
  ];
  for (const [input, expected] of cases) {
    for (const chunks of splits(input)) {
      assert.equal(await run(toNetworkAscii(), chunks), expected, JSON.stringify({ input, chunks }));
    }
  }
});

test('networkAsciiSize counts what toNetworkAscii sends, however the file is split', async () => {
  for (const input of [
    'a\nb\n',
    'a\r\nb\r\n',
    '\n\n',
    'x\ry',
    'mixed\r\nand\nbare\r\r\n',
    '',
    'no newline',
  ]) {
    const sent = Buffer.byteLength(await run(toNetworkAscii(), [Buffer.from(input, 'latin1')]), 'latin1');
    for (const chunks of splits(input))
      assert.equal(await networkAsciiSize(Readable.from(chunks)), sent, input);
  }
});

test('fromNetworkAscii: CRLF → LF, CR at chunk end handled, lone CR kept', async () => {
  const cases: [string, string][] = [
    ['a\r\nb\r\n', 'a\nb\n'],
    ['a\nb', 'a\nb'],
    ['x\ry', 'x\ry'],
    ['end with cr\r', 'end with cr\r'],
    ['\r\r\n\r', '\r\n\r'],
    ['\r\n\r\n', '\n\n'],
    ['', ''],
  ];
  for (const [input, expected] of cases) {
    for (const chunks of splits(input)) {
      assert.equal(await run(fromNetworkAscii(), chunks), expected, JSON.stringify({ input, chunks }));
    }
  }
});

test('round trip keeps UTF-8 text with LF line ends intact', async () => {
  const text = 'héllo\nwörld 日本\n\nlast';
  const wire = await buffer(Readable.from([Buffer.from(text)]).pipe(toNetworkAscii()));
  assert.equal(wire.toString('utf8'), 'héllo\r\nwörld 日本\r\n\r\nlast');
  const back = await buffer(Readable.from([wire.subarray(0, 7), wire.subarray(7)]).pipe(fromNetworkAscii()));
  assert.equal(back.toString('utf8'), text);
});

test('large input converts correctly', async () => {
  const line = 'x'.repeat(1000) + '\n';
  const input = Buffer.from(line.repeat(1000));
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += 65_536) chunks.push(input.subarray(i, i + 65_536));
  const out = await buffer(Readable.from(chunks).pipe(toNetworkAscii()));
  assert.equal(out.length, input.length + 1000);
  const back = await buffer(Readable.from([out]).pipe(fromNetworkAscii()));
  assert.ok(back.equals(input));
});

test('fromNetworkAscii converts each chunk in place: what it passes on is a slice of the chunk', async () => {
  // Each chunk with memory of its own (small Buffers share a pool, as a copy would).
  const own = (text: string): Buffer => {
    const b = Buffer.allocUnsafeSlow(text.length);
    b.write(text, 'latin1');
    return b;
  };
  const chunks = [own('one\r\ntwo\r'), own('\nthree\rfour\r\n')];
  const memory = new Set<ArrayBufferLike>(chunks.map((c) => c.buffer));
  const out: Buffer[] = [];
  const t = fromNetworkAscii();
  t.on('data', (c: Buffer) => out.push(c));
  await pipeline(Readable.from(chunks), t);
  assert.equal(Buffer.concat(out).toString(), 'one\ntwo\nthree\rfour\n');
  assert.ok(
    out.every((c) => memory.has(c.buffer)),
    'no new buffer per chunk',
  );
});

test('skipBytes drops exactly the first n bytes, wherever the chunks split', async () => {
  const data = Buffer.from('0123456789abcdef');
  for (let n = 0; n <= data.length + 2; n++) {
    for (const size of [1, 3, 5, 16]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
      const out: Buffer[] = [];
      const skip = skipBytes(n);
      skip.on('data', (c: Buffer) => out.push(c));
      await pipeline(Readable.from(chunks), skip);
      assert.equal(Buffer.concat(out).toString(), data.subarray(n).toString(), `n=${n} size=${size}`);
    }
  }
});
