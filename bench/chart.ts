/**
 * A small self-contained SVG chart for docs/: points on log-log axes, one colour per series, with a line through
 * each series' medians per x bucket. No dependency: the bench writes it next to the doc that shows it.
 */

export interface ChartSeries {
  label: string;
  color: string;
  points: ReadonlyArray<{ x: number; y: number }>;
  /** One point per bucket, drawn as a line over the scattered points. */
  line: ReadonlyArray<{ x: number; y: number }>;
}

export interface ChartSpec {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
}

const WIDTH = 760;
const HEIGHT = 460;
const PAD = { left: 70, right: 20, top: 58, bottom: 96 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Powers of ten and their 2x and 5x between `lo` and `hi`. */
function ticks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** p;
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out;
}

function tickLabel(v: number, ms = false): string {
  if (v >= 1000) return ms ? `${v / 1000} s` : `${v / 1000}k`;
  return `${Number(v.toPrecision(3))}${ms ? ' ms' : ''}`;
}

export function renderChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => [...s.points, ...s.line]).filter((p) => p.x > 0 && p.y > 0);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const x0 = 10 ** Math.floor(Math.log10(Math.min(...xs)));
  const x1 = 10 ** Math.ceil(Math.log10(Math.max(...xs)));
  const y0 = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const y1 = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((Math.log10(x) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * plotW;
  const sy = (y: number) =>
    PAD.top + plotH - ((Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * plotH;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${PAD.left}" y="22" font-size="15" font-weight="bold">${escape(spec.title)}</text>`,
    `<text x="${PAD.left}" y="40" fill="#555">${escape(spec.subtitle)}</text>`,
  ];
  for (const t of ticks(x0, x1)) {
    out.push(
      `<line x1="${f(sx(t))}" y1="${PAD.top}" x2="${f(sx(t))}" y2="${PAD.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${f(sx(t))}" y="${PAD.top + plotH + 16}" text-anchor="middle" fill="#444">${tickLabel(t)}</text>`,
    );
  }
  for (const t of ticks(y0, y1)) {
    out.push(
      `<line x1="${PAD.left}" y1="${f(sy(t))}" x2="${PAD.left + plotW}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`,
      `<text x="${PAD.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#444">${tickLabel(t, true)}</text>`,
    );
  }
  out.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH + 36}" text-anchor="middle">${escape(spec.xLabel)}</text>`,
    `<text transform="translate(16 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}</text>`,
  );
  for (const s of spec.series) {
    for (const p of s.points) {
      if (p.x > 0 && p.y > 0) {
        out.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="2.5" fill="${s.color}" fill-opacity="0.45"/>`);
      }
    }
    const line = s.line.filter((p) => p.x > 0 && p.y > 0);
    if (line.length > 1) {
      const d = line.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(sx(p.x))},${f(sy(p.y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
  }
  spec.series.forEach((s, i) => {
    const x = PAD.left + (i % 2) * 340;
    const y = HEIGHT - 34 + Math.floor(i / 2) * 18;
    out.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"/>`,
      `<circle cx="${x + 11}" cy="${y - 4}" r="3" fill="${s.color}"/>`,
      `<text x="${x + 30}" y="${y}">${escape(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
