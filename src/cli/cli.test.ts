/**
 * The CLI on bad input: every case must exit non-zero with one clear line naming the problem, and no stack
 * trace unless --verbose. Models are built in a temp folder with the IR builder and the ONNX writer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { GraphBuilder, randomF32 } from '../ir/builder.js';
import { saveModel, writeModel } from '../onnx/index.js';
import { usage } from './args.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edgecnn-cli-'));

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function assertCleanError(r: { code: number; err: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0, 'exit code is non-zero');
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at .+:\d+:\d+/, 'no stack trace without --verbose');
}

// A small valid model: Conv -> Relu -> GlobalAveragePool -> Flatten, input x: 1x3x8x8.
const b = new GraphBuilder('small');
const x = b.input('x', 'float32', [1, 3, 8, 8]);
const w = b.init('w', randomF32([4, 3, 3, 3], 1));
const y = b.node('Relu', [b.node('Conv', [x, w], { pads: [1, 1, 1, 1] })]);
b.output(b.node('Flatten', [b.node('GlobalAveragePool', [y])]), 'float32');
const good = join(dir, 'good.onnx');
await saveModel(b.model(13), good);
const goodBytes = readFileSync(good);

test('a valid model runs and checks against the reference executor', () => {
  const r = cli('check', good, '--reference', 'reference');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /ok/);
});

test('a missing model file', () => {
  assertCleanError(cli('inspect', join(dir, 'nope.onnx')), /nope\.onnx/);
});

test('a truncated model', () => {
  const p = join(dir, 'truncated.onnx');
  writeFileSync(p, goodBytes.subarray(0, Math.floor(goodBytes.length * 0.6)));
  assertCleanError(cli('run', p), /runs past end|truncated|bad|invalid/i);
});

test('garbage bytes', () => {
  const p = join(dir, 'garbage.onnx');
  writeFileSync(p, Buffer.from('this is not an onnx model at all, just text'));
  assertCleanError(cli('inspect', p), /error/);
});

test('every unsupported operator is listed at once, by name and type', () => {
  const u = new GraphBuilder('unsupported');
  const i = u.input('x', 'float32', [1, 4]);
  const a = u.node('Sin', [i], {}, { name: 'first_sin' });
  u.output(u.node('Cos', [a], {}, { name: 'then_cos' }), 'float32');
  const p = join(dir, 'unsupported.onnx');
  writeFileSync(p, writeModel(u.model(13)));
  const r = cli('run', p, '--backend', 'reference');
  assertCleanError(r, /first_sin.*Sin.*then_cos.*Cos/s);
});

test('wrong input shape and wrong input size', () => {
  assertCleanError(cli('run', good, '--input-shape', 'x=1x3x9x9'), /'x'.*9\D+9.*8\D+8|'x'.*8\D+8.*9\D+9/);
  const f = join(dir, 'short.f32');
  writeFileSync(f, new Uint8Array(12));
  assertCleanError(cli('run', good, '--input', f), /short\.f32.*12 bytes/);
});

test('NaN in an input file is refused', () => {
  const f = join(dir, 'nan.f32');
  const v = new Float32Array(3 * 8 * 8);
  v[5] = NaN;
  writeFileSync(f, new Uint8Array(v.buffer));
  assertCleanError(cli('run', good, '--input', f), /element 5 is NaN/);
});

test('an unreadable image', () => {
  const f = join(dir, 'broken.png');
  writeFileSync(f, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
  assertCleanError(cli('run', good, '--input', f), /broken\.png.*decode/);
});

test('a missing external data file names the tensor and the file', async () => {
  const p = join(dir, 'external.onnx');
  await saveModel(b.model(13), p, { externalData: { location: 'external.bin', thresholdBytes: 0 } });
  const moved = join(dir, 'moved');
  spawnSync('mkdir', ['-p', moved]);
  writeFileSync(join(moved, 'external.onnx'), readFileSync(p));
  assertCleanError(cli('inspect', join(moved, 'external.onnx')), /external\.bin/);
});

test('unknown options and commands are usage errors (exit 2)', () => {
  const r = cli('run', good, '--frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown option --frobnicate/);
  assert.equal(cli('frobnicate').code, 2);
});

test('usage: a flag wider than its column gets its own line, never runs into its description', () => {
  const help = usage('quantize', '<model>', {
    'calibration-limit': { type: 'number', description: 'use at most N samples' },
    layers: { type: 'boolean', description: 'print the table' },
  }).split('\n');
  assert.deepEqual(help.slice(2), [
    '  --calibration-limit <number>',
    ' '.repeat(28) + 'use at most N samples',
    '  --layers'.padEnd(28) + 'print the table',
  ]);
});

test('--verbose adds the stack trace', () => {
  const r = cli('inspect', join(dir, 'nope.onnx'), '--verbose');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /\n\s+at .+:\d+:\d+/);
});
