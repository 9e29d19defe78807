import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * Import boundaries between the layers (ARCHITECTURE.md): per directory of src/, the Ferry directories
 * its relative imports must not reach. One config object per directory, because a later object's
 * `no-restricted-imports` replaces an earlier one's.
 */
const LAYERS = {
  tls: ['server', 'client', 'cli', 'storage', 'auth', 'admin'],
  storage: ['server', 'client', 'cli', 'admin'],
  auth: ['server', 'client', 'cli', 'admin'],
  db: ['server', 'client', 'cli', 'admin'],
  server: ['client', 'cli', 'admin'],
  client: ['server', 'cli', 'admin'],
  admin: ['server', 'client', 'cli', 'storage', 'auth', 'tls', 'db'],
  cli: [],
};
const into = (dirs) => `^(\\.\\./)+(${dirs.join('|')})(/|\\.js$)`;
const NO_TESTS = { regex: '^(\\.\\./)+test/', message: 'src/ never imports the tests (test/).' };
const boundaries = Object.entries(LAYERS).map(([dir, banned]) => ({
  files: [`src/${dir}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...(banned.length > 0
            ? [
                {
                  regex: into(banned),
                  message: `${dir}/ never imports ${banned.map((d) => `${d}/`).join(', ')}.`,
                },
              ]
            : []),
          NO_TESTS,
        ],
      },
    ],
  },
}));
// protocol/ is pure: parsers and formatters that import no other Ferry module and do no I/O
// (node:net only for isIP).
const PURE = {
  files: ['src/protocol/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: [
          'node:fs',
          'node:fs/promises',
          'node:tls',
          'node:dgram',
          'node:http',
          'node:https',
          'node:child_process',
          'node:timers',
          'node:timers/promises',
          'pino',
        ].map((name) => ({
          name,
          message: 'protocol/ is pure: no files, sockets, timers or logging.',
        })),
        patterns: [{ regex: '^\\.\\./', message: 'protocol/ imports no other Ferry module.' }],
      },
    ],
  },
};

// The client reads replies by name (Code.*) or by class (protocol/reply.ts: isPreliminary,
// isPositiveCompletion, isNegative, …), never by comparing a code with a number.
const REPLY_CODE = '/^[1-6]\\d\\d$/';
const BY_NAME = 'Compare reply codes by name (Code.*) or by class (protocol/reply.ts), not by number.';
const REPLY_CODES_BY_NAME = {
  files: ['src/client/**/*.ts', 'src/cli/client*.ts'],
  rules: {
    'no-restricted-syntax': [
      'error',
      {
        selector: `BinaryExpression[operator=/^[<>=!]=?=?$/] > Literal[raw=${REPLY_CODE}]`,
        message: BY_NAME,
      },
      { selector: `ArrayExpression > Literal[raw=${REPLY_CODE}]`, message: BY_NAME },
      { selector: `SwitchCase > Literal[raw=${REPLY_CODE}]`, message: BY_NAME },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.peers/', 'bench/node_modules/', 'bench/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'bench/**/*.js', 'bench/**/*.mjs', 'scripts/**/*.js'],
    rules: { 'no-console': 'off' },
  },
  ...boundaries,
  PURE,
  REPLY_CODES_BY_NAME,
);
