/**
 * Tests of relaxed-SIMD variants need `--experimental-wasm-relaxed-simd` on Node 20. A test file calls
 * `relaxedTestMode(import.meta.url)`: in a process that has relaxed SIMD it returns 'here' (run the relaxed
 * cases directly); otherwise it returns 'child' together with a function that re-runs the same compiled test
 * file in a child node with the flag (env EDGECNN_RELAXED_CHILD=1) and reports its exit status and output.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RELAXED_SIMD_NODE_FLAG, detectFeatures } from '../../runtime/features.js';

export type RelaxedMode =
  { mode: 'here' } | { mode: 'child'; run: () => { ok: boolean; available: boolean; output: string } };

/** True inside the re-spawned child. */
export const IN_RELAXED_CHILD = process.env['EDGECNN_RELAXED_CHILD'] === '1';

export function relaxedTestMode(testFileUrl: string): RelaxedMode {
  if (detectFeatures().relaxedSimd) return { mode: 'here' };
  return {
    mode: 'child',
    run: () => {
      // NODE_TEST_CONTEXT (set by node --test for its workers) makes a nested `node --test` skip every file
      // and exit 0, so it must not leak into the child.
      const env: NodeJS.ProcessEnv = { ...process.env, EDGECNN_RELAXED_CHILD: '1' };
      delete env['NODE_TEST_CONTEXT'];
      const r = spawnSync(process.execPath, [RELAXED_SIMD_NODE_FLAG, '--test', fileURLToPath(testFileUrl)], {
        encoding: 'utf8',
        env,
      });
      const output = `${r.stdout}\n${r.stderr}`;
      const available = !/bad option|unknown option/i.test(r.stderr);
      // Passing means: exit 0, at least one test ran, none failed.
      const passed = Number(/# pass (\d+)/.exec(r.stdout)?.[1] ?? 0);
      const failed = Number(/# fail (\d+)/.exec(r.stdout)?.[1] ?? 1);
      return { ok: r.status === 0 && passed > 0 && failed === 0, available, output };
    },
  };
}
