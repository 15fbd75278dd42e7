/**
 * The CI gate: compare a fresh bench report against a stored one (the baseline). A baseline is only
 * comparable when it measured the same model bytes (SHA-256) on the same kind of machine; anything else is
 * refused. A configuration regresses only when its median slowdown exceeds the threshold AND a one-sided
 * Mann-Whitney U test on the per-run samples says so at the chosen confidence (stats.ts); output drift is the
 * largest absolute difference between the sampled outputs of the two runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { EdgecnnError } from '../ir/errors.js';
import type { BenchReport, ConfigResult } from './harness.js';
import { maxDrift } from './inputs.js';
import { type RegressionVerdict, detectRegression } from './stats.js';

export interface GateOptions {
  /** Tolerated slowdown as a fraction (0.05 = 5%); undefined skips the latency gate. */
  maxRegression?: number;
  /** Tolerated absolute output difference; undefined skips the drift gate. */
  maxDrift?: number;
  /**
   * A configuration id (e.g. `ort-node/t1`) whose median change between the two runs is taken as the machine's
   * own drift: current samples are scaled by baseline/current median of that configuration before testing.
   * Because configurations are interleaved, this cancels load that slowed the whole machine since the baseline.
   */
  normalizeBy?: string;
  /** Confidence of the significance test (default 0.99). */
  confidence?: number;
}

export interface GateRow {
  config: string;
  /** Whether this configuration decides the gate (edgecnn's own; peers only when no edgecnn config ran). */
  gating: boolean;
  verdict?: RegressionVerdict;
  drift?: number;
  driftExceeded?: boolean;
  note?: string;
}

export interface GateResult {
  passed: boolean;
  rows: GateRow[];
  /** Human-readable lines explaining the decision. */
  lines: string[];
}

/**
 * Read and check a baseline: a bench report (`--json`), or a suite file (bench/results/<kind>.json) from which
 * the report for the model with SHA-256 `modelSha256` is picked. JSON `null` in output samples stands for NaN
 * (JSON has no NaN).
 */
export function readBaseline(path: string, modelSha256?: string): BenchReport {
  if (!existsSync(path)) throw new EdgecnnError(`baseline file '${path}' does not exist`, 'missing-file');
  let data: BenchReport | SuiteLike;
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as BenchReport | SuiteLike;
  } catch (e) {
    throw new EdgecnnError(`baseline '${path}' is not valid JSON: ${(e as Error).message}`, 'bad-argument');
  }
  if (data?.schema === 'edgecnn-bench-suite/1' && Array.isArray((data as SuiteLike).reports)) {
    const reports = (data as SuiteLike).reports;
    const found = reports.find((r) => r.model?.sha256 === modelSha256);
    if (!found) {
      throw new EdgecnnError(
        `the suite baseline '${path}' has no report for this model (sha256 ${modelSha256?.slice(0, 12) ?? '?'}); ` +
          `it covers ${reports.map((r) => `'${r.model.name}' (${r.model.sha256.slice(0, 12)})`).join(', ') || 'no model'}`,
        'bad-argument',
      );
    }
    data = found;
  }
  const report = data as BenchReport;
  if (report?.schema !== 'edgecnn-bench/1' || !Array.isArray(report.configs) || !report.model?.sha256) {
    throw new EdgecnnError(`'${path}' is not an edgecnn bench report (schema edgecnn-bench/1)`, 'bad-argument');
  }
  for (const c of report.configs) {
    for (const o of c.outputs ?? []) o.values = o.values.map((v) => (v === null ? NaN : v));
  }
  return report;
}

interface SuiteLike {
  schema: 'edgecnn-bench-suite/1';
  reports: BenchReport[];
}

/** Throws a clear error when `baseline` was measured on another model or another kind of machine. */
export function assertComparable(
  current: { model: Pick<BenchReport['model'], 'name' | 'sha256'>; environment: BenchReport['environment'] },
  baseline: BenchReport,
  where = 'the baseline',
): void {
  if (current.model.sha256 !== baseline.model.sha256) {
    throw new EdgecnnError(
      `${where} was measured on a different model: '${baseline.model.name}' (sha256 ${baseline.model.sha256.slice(0, 12)}) ` +
        `vs '${current.model.name}' (sha256 ${current.model.sha256.slice(0, 12)}); refusing to compare`,
      'bad-argument',
    );
  }
  const a = current.environment;
  const b = baseline.environment;
  if (a.machineKind !== b.machineKind) {
    throw new EdgecnnError(
      `${where} was measured on a different machine kind: '${b.machineKind}' (${b.cpuModel}, ${b.cores} cores) vs ` +
        `'${a.machineKind}' (${a.cpuModel}, ${a.cores} cores); latencies are not comparable across machines, record a ` +
        `baseline on this machine kind`,
      'bad-argument',
    );
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Apply the gate. Configurations absent from either side are reported, never failed. */
export function gate(current: BenchReport, baseline: BenchReport, opts: GateOptions): GateResult {
  assertComparable(current, baseline);
  const lines: string[] = [];
  if (current.environment.node !== baseline.environment.node) {
    lines.push(`note: baseline ran on Node ${baseline.environment.node}, this run on ${current.environment.node}`);
  }
  const ok = (c: ConfigResult): boolean => c.status === 'ok' && c.measured !== undefined;
  const cur = current.configs.filter(ok);
  const anyOurs = cur.some((c) => c.target.startsWith('edgecnn'));
  const confidence = opts.confidence ?? 0.99;
  const rows: GateRow[] = [];
  let passed = true;
  let factor = 1;
  if (opts.normalizeBy !== undefined) {
    const nc = cur.find((c) => c.id === opts.normalizeBy);
    const nb = baseline.configs.find((c) => c.id === opts.normalizeBy && ok(c));
    if (!nc || !nb) {
      throw new EdgecnnError(
        `--normalize-by ${opts.normalizeBy}: that configuration must have run in both this run and the baseline ` +
          `(this run: ${cur.map((c) => c.id).join(', ')}; baseline: ${baseline.configs
            .filter(ok)
            .map((c) => c.id)
            .join(', ')})`,
        'bad-argument',
      );
    }
    factor = nb.measured!.summary.medianMs / nc.measured!.summary.medianMs;
    lines.push(
      `machine drift from ${opts.normalizeBy}: median ${nb.measured!.summary.medianMs.toFixed(3)} -> ` +
        `${nc.measured!.summary.medianMs.toFixed(3)} ms; current samples scaled by ${factor.toFixed(3)}`,
    );
  }
  for (const c of cur) {
    if (c.id === opts.normalizeBy) continue;
    const gating = !anyOurs || c.target.startsWith('edgecnn');
    const b = baseline.configs.find((x) => x.id === c.id && ok(x));
    const row: GateRow = { config: c.id, gating };
    rows.push(row);
    if (!b) {
      row.note = 'not in the baseline';
      lines.push(`${c.id}: not in the baseline, not gated`);
      continue;
    }
    if (opts.maxRegression !== undefined) {
      if (c.measured!.samplesMs.length < 8 || b.measured!.samplesMs.length < 8) {
        row.note = 'fewer than 8 samples on a side: too few for the test';
        lines.push(`${c.id}: ${row.note}`);
      } else {
        const v = detectRegression(
          c.measured!.samplesMs.map((x) => x * factor),
          b.measured!.samplesMs,
          {
            threshold: opts.maxRegression,
            confidence,
          },
        );
        row.verdict = v;
        const change = v.ratio - 1;
        const what = v.regressed ? 'REGRESSED' : 'ok';
        lines.push(
          `${c.id}: median ${b.measured!.summary.medianMs.toFixed(3)} -> ${c.measured!.summary.medianMs.toFixed(3)} ms ` +
            (factor !== 1 ? `(normalized ${(c.measured!.summary.medianMs * factor).toFixed(3)} ms) ` : '') +
            `(${change >= 0 ? '+' : ''}${pct(change)}, 95% CI of ratio [${v.interval.lo.toFixed(3)}, ${v.interval.hi.toFixed(3)}]); ` +
            `Mann-Whitney U one-sided p=${v.pValue.toPrecision(3)} for "slower than baseline +${pct(opts.maxRegression)}" ` +
            `at ${pct(confidence)} confidence: ${what}${gating ? '' : ' (peer, informational)'}`,
        );
        if (v.regressed && gating) passed = false;
      }
    }
    if (opts.maxDrift !== undefined) {
      if (!c.outputs || !b.outputs) {
        row.note = 'no outputs recorded';
        lines.push(`${c.id}: no outputs recorded, drift not checked`);
      } else {
        let d: number;
        try {
          d = maxDrift(c.outputs, b.outputs);
        } catch (e) {
          d = Infinity;
          lines.push(`${c.id}: outputs do not match the baseline's: ${(e as Error).message}`);
        }
        row.drift = d;
        row.driftExceeded = d > opts.maxDrift;
        lines.push(
          `${c.id}: max |output - baseline output| = ${d.toExponential(3)} (limit ${opts.maxDrift}): ` +
            `${row.driftExceeded ? 'DRIFTED' : 'ok'}${gating ? '' : ' (peer, informational)'}`,
        );
        if (row.driftExceeded && gating) passed = false;
      }
    }
  }
  // An edgecnn configuration that ran in the baseline but not now is a regression of the worst kind.
  for (const b of baseline.configs.filter((x) => ok(x) && x.target.startsWith('edgecnn'))) {
    if (cur.some((c) => c.id === b.id)) continue;
    const now = current.configs.find((c) => c.id === b.id);
    const why = now ? `${now.status}: ${now.reason ?? 'no samples'}` : 'not measured in this run';
    rows.push({ config: b.id, gating: true, note: why });
    lines.push(`${b.id}: measured in the baseline but ${why}: FAILED`);
    passed = false;
  }
  if (!rows.some((r) => r.gating && (r.verdict || r.drift !== undefined))) {
    lines.push('warning: no configuration could be compared with the baseline');
  }
  lines.push(passed ? 'gate: PASS' : 'gate: FAIL');
  return { passed, rows, lines };
}
