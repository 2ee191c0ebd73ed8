/**
 * Jest runs the unit tests of the pure modules (spec, chart) with ts-jest;
 * the JupyterLab packages are not loaded.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testRegex: 'src/__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.tsx?$': [
      'ts-jest',
      {
        tsconfig: {
          module: 'commonjs',
          target: 'ES2018',
          esModuleInterop: true,
          strict: true,
          types: ['jest']
        }
      }
    ]
  }
};
