/**
 * Progress reporting for long runs: a redrawn bar when stderr is a terminal, plain lines otherwise (CI logs,
 * pipes), and nothing at all in quiet mode (`--json -`). Plain mode prints at most one line per 25% so logs
 * stay short.
 */

export interface Progress {
  /** A one-off message (loading, skipping). */
  note(message: string): void;
  /** Begin a phase; `update` then reports the completed fraction in [0, 1]. */
  start(label: string, total: number): void;
  update(fraction: number): void;
  finish(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** A Progress writing to `stream` (stderr by default): a bar on a TTY, plain lines otherwise. */
export function createProgress(stream: ProgressStream = process.stderr, quiet = false): Progress {
  if (quiet) return { note() {}, start() {}, update() {}, finish() {} };
  const tty = stream.isTTY === true;
  let label = '';
  let t0 = 0;
  let lastQuarter = -1;
  let lastDraw = 0;
  let drawn = false;
  const draw = (f: number, force = false): void => {
    const now = performance.now();
    if (!force && now - lastDraw < 80) return;
    lastDraw = now;
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - 30));
    const fill = Math.round(f * width);
    const elapsedS = (now - t0) / 1000;
    const eta = f > 0.02 && f < 1 ? ` eta ${Math.ceil((elapsedS * (1 - f)) / f)}s` : '';
    stream.write(`\r\x1b[2K${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${Math.floor(f * 100)}%${eta}`);
    drawn = true;
  };
  return {
    note(message) {
      if (tty && drawn) stream.write('\r\x1b[2K');
      stream.write(`${message}\n`);
      drawn = false;
    },
    start(l) {
      label = l;
      t0 = performance.now();
      lastQuarter = -1;
      if (tty) draw(0, true);
      else stream.write(`${label}...\n`);
    },
    update(f) {
      if (tty) draw(f);
      else {
        const q = Math.floor(f * 4);
        if (q > lastQuarter && q < 4) {
          lastQuarter = q;
          if (q > 0) stream.write(`${label}: ${q * 25}%\n`);
        }
      }
    },
    finish() {
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      if (tty) {
        draw(1, true);
        stream.write(` ${s}s\n`);
      } else stream.write(`${label}: done in ${s}s\n`);
      drawn = false;
    },
  };
}
