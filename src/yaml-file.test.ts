import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseYamlFile } from './yaml-file.js';

function refusal(text: string): string {
  try {
    parseYamlFile(text, 'f.yaml');
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail(`parsed ${JSON.stringify(text)}`);
}

test('an unclosed [ or { is reported as such where it starts, not as bad indentation where the file ends', () => {
  const cases = [
    ['explicitPort: [\n', 'line 1, column 15'],
    ['listen: 127.0.0.1\nexplicitPort: [\nimplicitPort: 990\n', 'line 2, column 15'],
    ['users:\n  - name: [bad\n    home: /h\n', 'line 2, column 11'],
    ['tls:\n  options: {minVersion: TLSv1.2\n', 'line 2, column 12'],
  ] as const;
  for (const [text, at] of cases)
    assert.equal(
      refusal(text),
      `f.yaml: not valid YAML at ${at}: unclosed flow collection (a [ or { with no ] or } to end it)`,
    );
});

test('a closed [ ] over several lines is no unclosed collection; other errors are named as before', () => {
  assert.deepEqual(parseYamlFile('a: [1,\n  2]\n', 'f.yaml'), { a: [1, 2] });
  assert.equal(refusal('a: [1]\na: 2\n'), 'f.yaml: not valid YAML at line 2, column 1: duplicate key');
});
