// Prints src/conformance/claimed.ts content from a `edgecnn conformance --json` result: every test that passes.
// Usage: node dist/cli/main.js conformance ../shared/conformance/onnx --json > /tmp/c.json
//        node scripts/list-claimable-tests.mjs /tmp/c.json > src/conformance/claimed.ts && npx prettier --write src/conformance/claimed.ts
import { readFileSync } from 'node:fs';

const { results } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const bySuite = {};
for (const r of results) if (r.outcome === 'pass') (bySuite[r.suite] ??= []).push(r.name);
const head = readFileSync(new URL('../src/conformance/claimed.ts', import.meta.url), 'utf8').split('export const')[0];
console.log(
  head + 'export const CLAIMED_TESTS: Record<string, readonly string[]> = ' + JSON.stringify(bySuite, null, 2) + ';',
);
