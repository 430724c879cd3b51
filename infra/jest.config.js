// ts-jest only transpiles (tsconfig's isolatedModules): `tsc --noEmit` in scripts/infra-test is
// the type check, once for every file, instead of once per test file.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // No test may start a real cargo build: a fake cargo is first on PATH for all of them.
  globalSetup: '<rootDir>/test/fake-cargo.ts',
  globalTeardown: '<rootDir>/test/fake-cargo-teardown.ts',
  transform: {
    '^.+\\.tsx?$': 'ts-jest',
  },
};
