/** An aligned plain-text table: a header row, then the rows, columns separated by two spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** 1234567 -> 1.2M, as swanctl and ip -s print counters. */
export function count(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 10_000_000) return `${(n / 1000).toFixed(1)}K`;
  if (n < 10_000_000_000) return `${(n / 1e6).toFixed(1)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

export function bytes(n: number): string {
  if (n < 10_000) return `${n}B`;
  if (n < 10_000_000) return `${(n / 1024).toFixed(1)}KiB`;
  if (n < 10_000_000_000) return `${(n / 1024 / 1024).toFixed(1)}MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)}GiB`;
}

/** Seconds as 1h02m, 3m05s, 42s. */
export function duration(seconds: number): string {
  if (seconds >= 3600)
    return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${seconds}s`;
}

export function dash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}
