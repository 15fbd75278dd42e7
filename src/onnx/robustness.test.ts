/**
 * Corrupt-input robustness: truncated and bit-flipped copies of a real model must either parse or throw
 * EdgecnnError('bad-model'), never another exception type and never hang. Parsing runs in a worker thread so
 * that a hang (a synchronous loop) can be detected and killed by a time limit instead of stalling the suite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ProtoReader } from './protobuf.js';

const MODEL = resolve(process.cwd(), '../shared/models/mobilenet_v3_small.onnx');
const TIME_LIMIT_MS = 90_000;

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Byte ranges of the model that are not tensor payloads (raw_data), where a flip changes structure. */
function structuralRanges(bytes: Uint8Array): [number, number][] {
  const payloads: [number, number][] = [];
  const r = ProtoReader.of(bytes, '');
  while (r.next()) {
    if (r.field !== 7) {
      r.skip();
      continue;
    }
    const g = r.message('graph');
    while (g.next()) {
      if (g.field !== 5) {
        g.skip();
        continue;
      }
      const t = g.message('initializer');
      while (t.next()) {
        if (t.field !== 9) {
          t.skip();
          continue;
        }
        const v = t.bytesView('raw_data');
        payloads.push([v.byteOffset - bytes.byteOffset, v.byteOffset - bytes.byteOffset + v.length]);
      }
    }
  }
  payloads.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let at = 0;
  for (const [s, e] of payloads) {
    if (s > at) out.push([at, s]);
    at = Math.max(at, e);
  }
  if (at < bytes.length) out.push([at, bytes.length]);
  return out;
}

// CommonJS, as eval workers are; it imports the compiled ESM reader by URL.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
(async () => {
  const { readModel } = await import(workerData.importUrl);
  const { EdgecnnError } = await import(workerData.errorsUrl);
  const bytes = new Uint8Array(readFileSync(workerData.path));
  const outcome = (b) => {
    try { readModel(b); return 'ok'; }
    catch (e) {
      if (e instanceof EdgecnnError) return 'edgecnn:' + e.code + ':' + e.message;
      return 'other:' + (e && e.name) + ':' + (e && e.message);
    }
  };
  const cuts = workerData.cuts.map((c) => outcome(bytes.subarray(0, c)));
  const flipped = bytes.slice();
  const flips = workerData.flips.map((bits) => {
    for (const b of bits) flipped[b >> 3] ^= 1 << (b & 7);
    const o = outcome(flipped);
    for (const b of bits) flipped[b >> 3] ^= 1 << (b & 7);
    return o;
  });
  parentPort.postMessage({ cuts, flips });
})().catch((e) => parentPort.postMessage({ crash: String(e && e.stack) }));
`;

interface Outcomes {
  cuts: string[];
  flips: string[];
  crash?: string;
}

test('truncated and bit-flipped models parse or throw EdgecnnError, within a time limit', async (t) => {
  if (!existsSync(MODEL)) return t.skip(`${MODEL} is absent`);
  const bytes = readFileSync(MODEL);
  const rand = mulberry32(20261127);
  const len = bytes.length;
  // Cut points: inside the header and first nodes, then spread over the file.
  const cuts = [0, 1, 2, 5, 17, 64, 300, 2000];
  while (cuts.length < 20) cuts.push(Math.floor(rand() * len));
  // Flips: most in structural bytes (tags, lengths, names, dims), some anywhere; 1-4 bits each.
  const ranges = structuralRanges(bytes);
  const structural = ranges.reduce((n, [s, e]) => n + e - s, 0);
  assert.ok(structural > 1000 && structural < len / 2, `structural bytes: ${structural}`);
  const pickStructural = (): number => {
    let k = Math.floor(rand() * structural);
    for (const [s, e] of ranges) {
      if (k < e - s) return s + k;
      k -= e - s;
    }
    return 0;
  };
  const flips: number[][] = [];
  for (let i = 0; i < 50; i++) {
    const nBits = 1 + Math.floor(rand() * 4);
    const bits: number[] = [];
    for (let j = 0; j < nBits; j++) {
      const byte = i < 40 ? pickStructural() : Math.floor(rand() * len);
      bits.push(byte * 8 + Math.floor(rand() * 8));
    }
    flips.push(bits);
  }

  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path: MODEL,
      cuts,
      flips,
      importUrl: new URL('./import.js', import.meta.url).href,
      errorsUrl: new URL('../ir/errors.js', import.meta.url).href,
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    new Promise<Outcomes>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    }),
    new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), TIME_LIMIT_MS))),
  ]);
  clearTimeout(timer);
  await worker.terminate();
  assert.notEqual(
    result,
    'timeout',
    `reader did not finish ${cuts.length + flips.length} cases in ${TIME_LIMIT_MS} ms`,
  );
  const r = result as Outcomes;
  assert.equal(r.crash, undefined, r.crash);

  const bad = [...r.cuts, ...r.flips].filter((o) => o !== 'ok' && !o.startsWith('edgecnn:bad-model:'));
  assert.deepEqual(bad, [], 'every failure is EdgecnnError(bad-model)');
  // Every strict truncation loses part of the graph, so none may parse.
  r.cuts.forEach((o, i) => assert.notEqual(o, 'ok', `cut at ${cuts[i]} parsed`));
  // Structural flips must be caught at least sometimes (else the flips never reached the parser).
  const rejected = r.flips.filter((o) => o !== 'ok').length;
  assert.ok(rejected >= 5, `only ${rejected} of ${flips.length} flipped copies were rejected`);
  t.diagnostic(`flipped copies rejected: ${rejected}/${flips.length}; sample: ${r.flips.find((o) => o !== 'ok')}`);
});
