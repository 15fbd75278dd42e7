/** Human-readable numbers for CLI tables. */
export function fmtBytes(b: number): string {
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(2)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function fmtShape(s: readonly (number | string | null)[] | undefined): string {
  if (!s) return '?';
  return s.length === 0 ? 'scalar' : s.map((d) => (d === null ? '?' : String(d))).join('x');
}

/** A left-aligned text table; numeric-looking cells are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const isNum = (s: string): boolean => /^[-+]?[\d.]+(e[-+]?\d+)?( ?[kMG%x]|ms| MiB| KiB| B)?$/.test(s);
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (isNum(c) ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}
