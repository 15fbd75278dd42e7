/**
 * Chrome trace-event export (the JSON Object Format read by Perfetto and chrome://tracing). Each profiled run
 * becomes a sequence of complete ('X') events on one thread, runs laid end to end with a small gap; times are
 * microseconds as the format requires. Metadata ('M') events name the process and thread so the viewer shows
 * "edgecnn <model>" and "<config>" instead of numbers.
 */
import type { ProfiledStep } from '../bench/targets.js';

export interface TraceEvent {
  name: string;
  cat?: string;
  ph: 'X' | 'M' | 'i';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, string>;
}

/** Build a trace from profiled runs of one configuration. */
export function chromeTrace(
  runs: readonly (readonly ProfiledStep[])[],
  meta: { model: string; config: string; otherData?: Record<string, string> },
): ChromeTrace {
  const pid = 1;
  const tid = 1;
  const events: TraceEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid, tid, args: { name: `edgecnn ${meta.model}` } },
    { name: 'thread_name', ph: 'M', ts: 0, pid, tid, args: { name: meta.config } },
  ];
  let t = 0;
  runs.forEach((run, r) => {
    events.push({ name: `run ${r}`, ph: 'i', s: 't', ts: t, pid, tid });
    for (const s of run) {
      const dur = s.timeMs * 1000;
      events.push({
        name: s.nodeName,
        cat: s.opType,
        ph: 'X',
        ts: t,
        dur,
        pid,
        tid,
        args: {
          kernel: s.kernelId,
          macs: s.macs,
          bytesMoved: s.bytesMoved,
          gflops: s.timeMs > 0 ? (2 * s.macs) / (s.timeMs * 1e6) : 0,
          fused: s.fused,
          fallback: s.fallback,
        },
      });
      t += dur;
    }
    t += 100;
  });
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: { model: meta.model, config: meta.config, ...meta.otherData },
  };
}
