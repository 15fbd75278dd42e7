import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { peakRssBytes } from './host.js';

test("a child's peak RSS is its own, not its parent's (Linux carries getrusage maxRSS across exec)", (t) => {
  if (!existsSync('/proc/self/status')) {
    t.skip('no /proc: peak RSS falls back to getrusage there');
    return;
  }
  const big = Buffer.alloc(200 * 2 ** 20, 1); // touch 200 MiB so this process's peak is high
  assert.ok(peakRssBytes() > 200 * 2 ** 20);
  const host = fileURLToPath(new URL('./host.js', import.meta.url));
  const out = execFileSync(process.execPath, [
    '--input-type=module',
    '-e',
    `import(${JSON.stringify(host)}).then((m) => console.log(m.peakRssBytes()))`,
  ]).toString();
  const child = Number(out.trim());
  assert.ok(child > 10 * 2 ** 20 && child < 150 * 2 ** 20, `child peak ${child} bytes`);
  assert.equal(big[big.length - 1], 1);
});
