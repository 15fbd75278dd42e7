/** `edgecnn conformance <dir> [--json] [--claimed-only] [--filter NAME]`: run ONNX test folders. */
import { EdgecnnError } from '../ir/errors.js';
import { CLAIMED_TESTS } from '../conformance/claimed.js';
import { type TestResult, countOutcomes, listTests, runTest } from '../conformance/runner.js';
import { flagBool, flagList } from './args.js';
import type { Command } from './command.js';

export const command: Command = {
  name: 'conformance',
  synopsis: '<dir> [--json] [--claimed-only] [--test NAME]',
  summary: 'Run ONNX conformance test folders on the reference executor',
  flags: {
    json: { type: 'boolean', description: 'print one JSON document with every result' },
    'claimed-only': { type: 'boolean', description: 'run only the tests edgecnn claims to pass' },
    test: { type: 'string', multiple: true, description: 'run only the tests with these exact names' },
    failures: { type: 'boolean', description: 'list every failing claimed and unclaimed test' },
  },
  async run(positionals, flags) {
    const dir = positionals[0];
    if (!dir) throw new EdgecnnError('conformance needs a folder (e.g. ../shared/conformance/onnx)', 'bad-argument');
    const only = new Set(flagList(flags, 'test'));
    let tests = listTests(dir);
    if (only.size > 0) tests = tests.filter((t) => only.has(t.name));
    const claimedOnly = flagBool(flags, 'claimed-only');
    const isClaimed = (suite: string, name: string): boolean => CLAIMED_TESTS[suite]?.includes(name) ?? false;
    if (claimedOnly) tests = tests.filter((t) => isClaimed(t.suite, t.name));
    const json = flagBool(flags, 'json');
    const results: (TestResult & { claimed: boolean })[] = [];
    for (const [i, t] of tests.entries()) {
      if (!json && process.stderr.isTTY)
        process.stderr.write(`\r[${i + 1}/${tests.length}] ${t.suite}/${t.name}`.padEnd(80));
      results.push({ ...runTest(t), claimed: isClaimed(t.suite, t.name) });
    }
    if (!json && process.stderr.isTTY) process.stderr.write('\r'.padEnd(81) + '\r');
    const suites = [...new Set(results.map((r) => r.suite))];
    const summary = suites.map((suite) => {
      const all = results.filter((r) => r.suite === suite);
      const claimed = all.filter((r) => r.claimed);
      return { suite, all: countOutcomes(all), claimed: countOutcomes(claimed), claimedTotal: claimed.length };
    });
    const claimedFailures = results.filter((r) => r.claimed && r.outcome !== 'pass');
    if (json) {
      console.log(JSON.stringify({ summary, results }, null, 1));
    } else {
      console.log('suite                 claimed: pass/total   all: pass  fail  unsupported');
      for (const s of summary) {
        console.log(
          `${s.suite.padEnd(22)}${String(s.claimed.pass).padStart(9)}/${String(s.claimedTotal).padEnd(10)}` +
            `${String(s.all.pass).padStart(6)}${String(s.all.fail).padStart(6)}${String(s.all.unsupported).padStart(13)}`,
        );
      }
      const list = flagBool(flags, 'failures') ? results.filter((r) => r.outcome !== 'pass') : claimedFailures;
      for (const r of list) {
        console.log(`${r.claimed ? 'CLAIMED ' : ''}${r.outcome.toUpperCase()} ${r.suite}/${r.name}: ${r.detail ?? ''}`);
      }
    }
    return claimedFailures.length > 0 ? 1 : 0;
  },
};
