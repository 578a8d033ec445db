// The case runner of the scenario children: each case runs in turn, a
// failure is recorded with its stack and does not stop the others, and
// `cleanup` (optional) runs after every case, so the next starts clean.
// report() sends { cases, failures } to the parent and exits.
'use strict';

function caseRunner(cleanup = () => {}) {
  const cases = [];
  const failures = [];
  return {
    async check(label, body) {
      cases.push(label);
      try {
        await body();
      } catch (error) {
        failures.push(`${label}: ${error.stack}`);
      } finally {
        cleanup();
      }
    },
    report() {
      process.send({ cases, failures }, () => process.exit(0));
    },
  };
}

module.exports = { caseRunner };
