// Writes the run's totals to <rootDir>/.jest-results.json for tools/scripts/run_tests.mjs.
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
    const file = path.join(this.rootDir, '.jest-results.json');
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(out, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }
}

module.exports = SummaryReporter;
