#!/usr/bin/env node
/**
 * Browser bundles with esbuild, from src/ (TypeScript) into dist/web/: edgecnn-runtime.bundle.js (load and
 * run a precompiled artifact), edgecnn.bundle.js (ONNX import + optimizer + compiler + runtime),
 * worker-entry.js (the thread-pool worker; the bundles find it beside themselves), demo.bundle.js and
 * index.html for `edgecnn serve`. node:* modules resolve to a shim that throws if ever called, so Node-only
 * paths (loadModel's file reading, Node's worker_threads) cannot break the bundles. Prints gzipped sizes.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/web');
mkdirSync(out, { recursive: true });

const nodeShim = {
  name: 'node-shim',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, (args) => ({
      contents:
        `const fail = (k) => () => { throw new Error(${JSON.stringify(args.path)} + '.' + String(k) + ' is not available in a browser'); };\n` +
        `module.exports = new Proxy({}, { get: (_, k) => (k === '__esModule' ? false : fail(k)) });`,
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'firefox100', 'safari16'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  plugins: [nodeShim],
  logLevel: 'warning',
};

const bundles = [
  ['src/web/runtime-entry.ts', 'edgecnn-runtime.bundle.js'],
  ['src/web/full-entry.ts', 'edgecnn.bundle.js'],
  ['src/runtime/threads/worker-entry.ts', 'worker-entry.js'],
  ['src/web/demo.ts', 'demo.bundle.js'],
];
for (const [entry, file] of bundles) {
  await build({ ...common, entryPoints: [join(root, entry)], outfile: join(out, file) });
}
copyFileSync(join(root, 'src/web/demo.html'), join(out, 'index.html'));

const rows = bundles.map(([, file]) => {
  const bytes = readFileSync(join(out, file));
  return { file, kb: bytes.length / 1024, gzKb: gzipSync(bytes, { level: 9 }).length / 1024 };
});
console.log('| bundle | minified KB | gzipped KB |\n|---|---|---|');
for (const r of rows) console.log(`| ${r.file} | ${r.kb.toFixed(1)} | ${r.gzKb.toFixed(1)} |`);
const runtime = rows.find((r) => r.file === 'edgecnn-runtime.bundle.js');
if (runtime.gzKb > 150) {
  console.error(`the runtime-only bundle is ${runtime.gzKb.toFixed(1)} KB gzipped, over the 150 KB budget`);
  process.exitCode = 1;
}
