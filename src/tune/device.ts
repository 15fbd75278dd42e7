/**
 * Who a tuning result is valid for: the device fingerprint (the engine's wasm features, logical cores, and the
 * user agent in a browser or Node/V8 version plus CPU model in Node) and the edgecnn version. A kernel's speed
 * depends on all of them, so a record made elsewhere is never applied here. Works in Node and in browsers:
 * node:os is imported only when running under Node.
 */
import { detectFeatures } from '../runtime/features.js';
import { coreCount } from '../runtime/threads/thread-pool.js';

/** The package version tuning records are made with (a test checks it equals package.json's). */
export const EDGECNN_VERSION = '0.1.0';

/** A device as the tuning database knows it. */
export interface DeviceFingerprint {
  /** One line: agent, cores, wasm features; the database key. */
  id: string;
  agent: string;
  cores: number;
  /** Features that change which kernels exist: `simd`, `relaxed`, `threads`. */
  wasmFeatures: string[];
}

let cached: Promise<DeviceFingerprint> | undefined;

/** This device's fingerprint (computed once per process or page). */
export function deviceFingerprint(): Promise<DeviceFingerprint> {
  cached ??= compute();
  return cached;
}

async function compute(): Promise<DeviceFingerprint> {
  const f = detectFeatures();
  const wasmFeatures = [
    f.simd && 'simd',
    f.relaxedSimd && 'relaxed',
    f.relaxedDotB !== 'none' && `dot-${f.relaxedDotB}`,
    f.threads && 'threads',
  ].filter((x): x is string => typeof x === 'string');
  const cores = await coreCount();
  const agent = await agentString();
  return { id: `${agent} | ${cores} cores | wasm ${wasmFeatures.join('+') || 'mvp'}`, agent, cores, wasmFeatures };
}

async function agentString(): Promise<string> {
  const proc = (globalThis as { process?: { versions?: { node?: string; v8?: string } } }).process;
  if (proc?.versions?.node) {
    const os = await import('node:os');
    const model = (os.cpus()[0]?.model ?? 'unknown CPU').trim().replace(/\s+/g, ' ');
    return `node ${proc.versions.node} v8 ${proc.versions.v8 ?? '?'} ${os.arch()} ${model}`;
  }
  const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator;
  return nav?.userAgent ?? 'unknown agent';
}
