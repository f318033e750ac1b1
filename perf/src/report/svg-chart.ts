import type { BarChart, Chart, LineChart } from './model.ts';

const WIDTH = 720;
const HEIGHT = 360;
const MARGIN = { left: 78, right: 20, top: 40, bottom: 78 };
const PALETTE = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#c53030', '#718096', '#d69e2e', '#319795'];

/** Text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** A coordinate or size with two decimals; anything not finite becomes 0 so the SVG stays valid. */
function n(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 100) / 100) : '0';
}

function finite(values: readonly number[]): number[] {
  return values.filter((v) => Number.isFinite(v));
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** Round tick values from 0 up to at least `max`. */
export function ticks(max: number, count = 5): number[] {
  const top = max > 0 && Number.isFinite(max) ? max : 1;
  const step = niceStep(top / count);
  const out: number[] = [];
  for (let i = 0; i * step < top + step * 0.999; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

export function formatTick(value: number): string {
  const a = Math.abs(value);
  if (a >= 1e9) return `${n(value / 1e9)}G`;
  if (a >= 1e6) return `${n(value / 1e6)}M`;
  if (a >= 1e3) return `${n(value / 1e3)}k`;
  return n(value);
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${n(WIDTH / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(label: string, tickValues: readonly number[], y: (v: number) => number): string[] {
  const out: string[] = [];
  const plotRight = WIDTH - MARGIN.right;
  for (const t of tickValues) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${n(y(t))}" x2="${plotRight}" y2="${n(y(t))}" stroke="#e2e8f0" stroke-width="1"/>`,
      `<text x="${MARGIN.left - 6}" y="${n(y(t) + 4)}" text-anchor="end">${escapeXml(formatTick(t))}</text>`,
    );
  }
  const mid = (MARGIN.top + HEIGHT - MARGIN.bottom) / 2;
  out.push(
    `<text x="16" y="${n(mid)}" text-anchor="middle" transform="rotate(-90 16 ${n(mid)})">${escapeXml(label)}</text>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${HEIGHT - MARGIN.bottom}" stroke="#4a5568" stroke-width="1"/>`,
    `<line x1="${MARGIN.left}" y1="${HEIGHT - MARGIN.bottom}" x2="${plotRight}" y2="${HEIGHT - MARGIN.bottom}" stroke="#4a5568" stroke-width="1"/>`,
  );
  return out;
}

function legend(names: readonly string[]): string[] {
  const out: string[] = [];
  let x = MARGIN.left;
  const y = HEIGHT - 14;
  names.forEach((name, i) => {
    out.push(
      `<rect x="${n(x)}" y="${y - 10}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${n(x + 16)}" y="${y}">${escapeXml(name)}</text>`,
    );
    x += 28 + name.length * 7;
  });
  return out;
}

export function barChartSvg(chart: BarChart): string {
  const values = finite(chart.series.flatMap((s) => s.values));
  const top = Math.max(0, ...values, chart.reference?.value ?? 0);
  const tickValues = ticks(top);
  const yMax = tickValues.at(-1) ?? 1;
  const plotTop = MARGIN.top;
  const plotBottom = HEIGHT - MARGIN.bottom;
  const y = (v: number) =>
    plotBottom - ((Number.isFinite(v) ? Math.max(0, v) : 0) / yMax) * (plotBottom - plotTop);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const groups = Math.max(1, chart.categories.length);
  const groupWidth = plotWidth / groups;
  const barWidth = (groupWidth * 0.8) / Math.max(1, chart.series.length);
  const body = yAxis(chart.yLabel, tickValues, y);
  chart.categories.forEach((category, g) => {
    const x0 = MARGIN.left + g * groupWidth + groupWidth * 0.1;
    chart.series.forEach((series, s) => {
      const v = series.values[g] ?? 0;
      const h = plotBottom - y(v);
      body.push(
        `<rect x="${n(x0 + s * barWidth)}" y="${n(y(v))}" width="${n(barWidth * 0.92)}" height="${n(h)}" fill="${PALETTE[s % PALETTE.length]}"><title>${escapeXml(`${series.name}, ${category}: ${formatTick(Number.isFinite(v) ? v : 0)}`)}</title></rect>`,
      );
    });
    body.push(
      `<text x="${n(MARGIN.left + (g + 0.5) * groupWidth)}" y="${plotBottom + 16}" text-anchor="middle">${escapeXml(category)}</text>`,
    );
  });
  if (chart.reference !== undefined) {
    const ry = y(chart.reference.value);
    body.push(
      `<line x1="${MARGIN.left}" y1="${n(ry)}" x2="${WIDTH - MARGIN.right}" y2="${n(ry)}" stroke="#c53030" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - MARGIN.right - 4}" y="${n(ry - 5)}" text-anchor="end" fill="#c53030">${escapeXml(chart.reference.label)}</text>`,
    );
  }
  body.push(...legend(chart.series.map((s) => s.name)));
  return frame(chart.title, body);
}

export function lineChartSvg(chart: LineChart): string {
  // A log axis has no place for x <= 0: such points are left out.
  const logX = chart.logX === true;
  const xs = finite(chart.series.flatMap((s) => s.points.map((p) => p[0]))).filter((x) => !logX || x > 0);
  const ys = finite(chart.series.flatMap((s) => s.points.map((p) => p[1])));
  const tickValues = ticks(Math.max(0, ...ys));
  const yMax = tickValues.at(-1) ?? 1;
  const tx = (x: number) => (logX ? Math.log2(x) : x);
  const xMin = xs.length === 0 ? 0 : Math.min(...xs.map(tx));
  const xMaxRaw = xs.length === 0 ? 1 : Math.max(...xs.map(tx));
  const xMax = xMaxRaw > xMin ? xMaxRaw : xMin + 1;
  const plotTop = MARGIN.top;
  const plotBottom = HEIGHT - MARGIN.bottom;
  const plotLeft = MARGIN.left + 10;
  const plotRight = WIDTH - MARGIN.right - 10;
  const x = (v: number) => plotLeft + ((tx(v) - xMin) / (xMax - xMin)) * (plotRight - plotLeft);
  const y = (v: number) => plotBottom - (Math.max(0, v) / yMax) * (plotBottom - plotTop);
  const body = yAxis(chart.yLabel, tickValues, y);
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  for (const t of xTicks) {
    body.push(
      `<text x="${n(x(t))}" y="${plotBottom + 16}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`,
    );
  }
  body.push(
    `<text x="${n((plotLeft + plotRight) / 2)}" y="${plotBottom + 36}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
  );
  chart.series.forEach((series, s) => {
    const color = PALETTE[s % PALETTE.length];
    const points = series.points.filter(
      (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logX || p[0] > 0),
    );
    if (points.length > 1) {
      const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(x(p[0]))} ${n(y(p[1]))}`).join(' ');
      body.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of points) {
      body.push(
        `<circle cx="${n(x(p[0]))}" cy="${n(y(p[1]))}" r="3.5" fill="${color}"><title>${escapeXml(`${series.name}: ${formatTick(p[0])} -> ${formatTick(p[1])}`)}</title></circle>`,
      );
    }
  });
  body.push(...legend(chart.series.map((s) => s.name)));
  return frame(chart.title, body);
}

export function chartSvg(chart: Chart): string {
  return chart.kind === 'bar' ? barChartSvg(chart) : lineChartSvg(chart);
}
