module.exports = { preset: '@artist-ts/jest-preset', testTimeout: 300000 };
