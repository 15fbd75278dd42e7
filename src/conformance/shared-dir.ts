/** Where the shared conformance data and models live: `../shared` beside the repository (CI has the same). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is at src/conformance/ or dist/conformance/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `../shared` beside the repository, or undefined when absent. */
export function sharedDir(): string | undefined {
  const p = resolve(REPO_ROOT, '..', 'shared');
  return existsSync(p) ? p : undefined;
}

export function conformanceDir(): string | undefined {
  const s = sharedDir();
  const p = s && join(s, 'conformance', 'onnx');
  return p && existsSync(p) ? p : undefined;
}
