// Shared jest preset for every artist-ts package.
// - @swc/jest transform (no type check here: the `typecheck` turbo task runs tsc).
// - node environment; tests under src/ or test/ named *.test.ts.
// - summary_reporter writes .jest-results.json so tools/scripts/run_tests.mjs can total all runs.
const path = require('node:path');

module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      require.resolve('@swc/jest'),
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  setupFiles: [path.join(__dirname, 'setup.js')],
  // temporary folders made by a test file are removed after it (ARTIST_KEEP_TEST_TMP=1 keeps them)
  setupFilesAfterEnv: [path.join(__dirname, 'temp_dirs.js')],
  reporters: ['default', path.join(__dirname, 'summary_reporter.js')],
  testTimeout: 120000,
};
