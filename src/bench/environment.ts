/**
 * The environment fingerprint recorded with every benchmark: what machine, runtime and build produced the
 * numbers. WebAssembly features are detected by validating tiny hand-assembled modules (the same probes
 * feature-detection libraries use), so the answer reflects this Node's flags, not the CPU alone.
 * `machineKind` is a stable slug (arch, cores, CPU model) used to name baselines and refuse foreign ones.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, arch, platform, totalmem } from 'node:os';
import { detectFeatures } from '../runtime/features.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WasmFeatures {
  simd: boolean;
  relaxedSimd: boolean;
  threads: boolean;
}

export interface Environment {
  machineKind: string;
  cpuModel: string;
  cores: number;
  arch: string;
  platform: string;
  totalMemoryBytes: number;
  node: string;
  v8: string;
  /** Flags this process was started with (they change which wasm features exist). */
  execArgv: string[];
  wasm: WasmFeatures;
  edgecnnVersion: string;
  /** Git commit of the edgecnn build, with '-dirty' when the tree has uncommitted changes; 'unknown' outside git. */
  edgecnnCommit: string;
}

/**
 * Which WebAssembly features this runtime offers, from the runtime's own start-up probes (src/runtime/features.ts:
 * relaxed SIMD counts only when relaxed_madd computes what the kernels rely on).
 */
export function detectWasmFeatures(): WasmFeatures {
  const f = detectFeatures();
  return { simd: f.simd, relaxedSimd: f.relaxedSimd, threads: f.threads };
}

/** The repository/package root (the folder holding edgecnn's package.json), found from this module. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'edgecnn') return dir;
      } catch {
        // keep walking up: a broken package.json elsewhere is not ours to judge
      }
    }
    dir = dirname(dir);
  }
  return process.cwd();
}

function gitCommit(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** A filesystem-safe slug naming this kind of machine: `x64-2c-intel-xeon-processor`. */
export function machineKindOf(archName: string, cores: number, cpuModel: string): string {
  const model = cpuModel
    .toLowerCase()
    .replace(/\((r|tm)\)/g, '')
    .replace(/cpu|@.*$/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${archName}-${cores}c-${model || 'unknown-cpu'}`;
}

let cached: Environment | undefined;

/** The fingerprint of this process's environment (computed once). */
export function environment(): Environment {
  if (cached) return cached;
  const root = packageRoot();
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // outside a checkout: version stays unknown
  }
  const list = cpus();
  const cpuModel = (list[0]?.model ?? 'unknown').trim();
  cached = {
    machineKind: machineKindOf(arch(), list.length, cpuModel),
    cpuModel,
    cores: list.length,
    arch: arch(),
    platform: platform(),
    totalMemoryBytes: totalmem(),
    node: process.versions.node,
    v8: process.versions.v8,
    execArgv: [...process.execArgv],
    wasm: detectWasmFeatures(),
    edgecnnVersion: version,
    edgecnnCommit: gitCommit(root),
  };
  return cached;
}

/** SHA-256 of a model's bytes, hex. */
export function modelHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
