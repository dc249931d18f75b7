module.exports = { preset: '@artist-ts/jest-preset' };
