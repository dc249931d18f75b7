// Writes the run's totals to <rootDir>/.jest-results.json for tools/scripts/run_tests.mjs.
// A package that runs jest more than once (e.g. with and without native kernels) sets
// JEST_RESULTS_NAME=<variant> for the extra runs, which then write .jest-results.<variant>.json.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const out = {
      numPassedTests: results.numPassedTests,
      numFailedTests: results.numFailedTests,
      numPendingTests: results.numPendingTests,
      numTotalTestSuites: results.numTotalTestSuites,
      numRuntimeErrorTestSuites: results.numRuntimeErrorTestSuites,
      success: results.success,
    };
    const variant = process.env.JEST_RESULTS_NAME;
    const name = variant ? `.jest-results.${variant}.json` : '.jest-results.json';
    const file = path.join(this.rootDir, name);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(out, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }
}

module.exports = SummaryReporter;
