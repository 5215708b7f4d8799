// The HIL run's reporter: mocha's spec output on the terminal, plus a JUnit
// report (build/hil/junit.xml, or in HIL_REPORT_DIR) with each test's console log, and retries
// reported as flaky (Surefire's <flakyFailure>) instead of hidden.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');
const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_TEST_RETRY, EVENT_RUN_END } = Mocha.Runner.constants;

const REPORT_DIR = path.resolve(__dirname, '..', process.env.HIL_REPORT_DIR || 'build/hil');
const logName = (title) => title.replace(/[^\w.-]+/g, '_').slice(0, 120) + '.log';
const xml = (s) => String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');

class JUnitReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const cases = [];
    const retries = new Map();
    const record = (test, outcome, err) => {
      cases.push({ test, outcome, err, retries: retries.get(test.fullTitle()) || [] });
    };
    runner.on(EVENT_TEST_RETRY, (test, err) => {
      const list = retries.get(test.fullTitle()) || [];
      list.push(err);
      retries.set(test.fullTitle(), list);
    });
    runner.on(EVENT_TEST_PASS, (test) => record(test, 'pass'));
    runner.on(EVENT_TEST_FAIL, (test, err) => record(test, 'fail', err));
    runner.on(EVENT_TEST_PENDING, (test) => record(test, 'skip'));
    runner.once(EVENT_RUN_END, () => {
      fs.mkdirSync(REPORT_DIR, { recursive: true });
      const flaky = cases.filter((c) => c.outcome === 'pass' && c.retries.length);
      const failed = cases.filter((c) => c.outcome === 'fail');
      const body = cases.map((c) => {
        const log = path.join(REPORT_DIR, 'logs', logName(c.test.fullTitle()));
        const out = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
        const suite = c.test.parent ? c.test.parent.fullTitle() : '';
        let inner = '';
        if (c.outcome === 'fail') inner += `<failure message="${xml(c.err && c.err.message)}">${xml(c.err && c.err.stack)}</failure>`;
        if (c.outcome === 'skip') inner += '<skipped/>';
        for (const e of c.retries) inner += `<flakyFailure message="${xml(e && e.message)}">${xml(e && e.stack)}</flakyFailure>`;
        inner += `<system-out>${xml(`log: ${log}\n${out}`)}</system-out>`;
        return `  <testcase classname="${xml(suite)}" name="${xml(c.test.title)}" time="${((c.test.duration || 0) / 1000).toFixed(3)}">${inner}</testcase>`;
      });
      const skipped = cases.filter((c) => c.outcome === 'skip').length;
      fs.writeFileSync(
        path.join(REPORT_DIR, 'junit.xml'),
        `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="xs-ota HIL" tests="${cases.length}" failures="${failed.length}" skipped="${skipped}">\n${body.join('\n')}\n</testsuite>\n`,
      );
      process.stdout.write(`\nJUnit report: ${path.join(REPORT_DIR, 'junit.xml')}, one log per test in ${path.join(REPORT_DIR, 'logs')}\n`);
      if (flaky.length) process.stdout.write(`flaky (passed after a retry): ${flaky.map((c) => c.test.fullTitle()).join('; ')}\n`);
      const s = runner.stats;
      process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}
module.exports = JUnitReporter;
