// Workers load compiled JS (dist/worker.js): the global setup builds the package when dist is
// missing or older than src, so `pnpm exec jest` works on a fresh checkout.
module.exports = {
  preset: '@artist-ts/jest-preset',
  globalSetup: '<rootDir>/test/global_setup.js',
};
