// Shared jest settings: TypeScript through @swc/jest (type-checking is `tsc --noEmit`),
// tests run one file at a time per worker so cross-process tests do not starve each other.
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
};
