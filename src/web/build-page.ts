/**
 * Builds the browser bundles from src/ (scripts/build-web.mjs, esbuild) so that a page opened by a benchmark or
 * a browser test runs the current code: `startServer` refuses bundles older than src/, and a stale bundle would
 * otherwise time or test the kernels of an earlier build. Repository checkouts only (the script is not shipped).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgecnnError } from '../ir/errors.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** Run scripts/build-web.mjs; throws naming the script and its stderr when it fails. */
export function buildWebPage(): void {
  const script = join(REPO, 'scripts/build-web.mjs');
  if (!existsSync(script))
    throw new EdgecnnError(`${script} is missing (a repository checkout is needed)`, 'missing-file');
  const b = spawnSync(process.execPath, [script], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  if (b.status !== 0)
    throw new EdgecnnError(
      `scripts/build-web.mjs failed: ${b.stderr || b.error?.message || `exit ${b.status}`}`,
      'internal',
    );
}
