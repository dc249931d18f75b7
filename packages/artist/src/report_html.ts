/**
 * Self-contained HTML building blocks for report.html: inline SVG line plots, tables, image grids
 * with data URIs. No scripts, no external assets: the file can be mailed or archived as is.
 */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** An SVG line plot of one or more series (x = step). Returns '' when there is nothing to draw. */
export function svgLinePlot(
  series: Series[],
  opts: {
    title: string;
    xLabel?: string;
    yLabel?: string;
    width?: number;
    height?: number;
    logY?: boolean;
  },
): string {
  const drawn = series.filter((s) => s.points.length > 0);
  if (drawn.length === 0) return '';
  const W = opts.width ?? 520;
  // More than 3 series: the legend goes below the plot (3 a row), where it hides no curve.
  const legendRows = drawn.length > 3 ? Math.ceil(drawn.length / 3) : 0;
  const H = (opts.height ?? 260) + 14 * legendRows;
  const m = { l: 60, r: 12, t: 28, b: 40 + 14 * legendRows };
  const ty = (y: number) => (opts.logY ? Math.log10(Math.max(y, 1e-12)) : y);
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const s of drawn) {
    for (const [x, yRaw] of s.points) {
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      const y = ty(yRaw);
      if (!Number.isFinite(y)) continue;
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((ty(y) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">`,
  );
  parts.push(`<title>${escapeHtml(opts.title)}</title>`);
  parts.push(
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${escapeHtml(opts.title)}</text>`,
  );
  for (const t of niceTicks(x0, x1)) {
    const x = px(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${fmtTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(y0, y1)) {
    const y = (H - m.b - ((t - y0) / (y1 - y0)) * (H - m.t - m.b)).toFixed(1);
    const label = opts.logY ? fmtTick(10 ** t) : fmtTick(t);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${m.l - 4}" y="${Number(y) + 3}" text-anchor="end" font-size="10">${label}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`,
  );
  drawn.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const finite = s.points.filter((p) => Number.isFinite(ty(p[1])));
    const pts = downsampleMinMax(
      finite,
      (p) => Math.round(px(p[0])),
      (p) => ty(p[1]),
    )
      .map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"/>`);
    // Sparse series (a short run, or a metric logged once) would be invisible as a bare line.
    if (s.points.length <= 40) {
      for (const p of s.points) {
        if (!Number.isFinite(ty(p[1]))) continue;
        parts.push(
          `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`,
        );
      }
    }
    parts.push(
      legendRows === 0
        ? `<text x="${W - m.r - 4}" y="${m.t + 12 + 12 * i}" text-anchor="end" font-size="10" fill="${color}">${escapeHtml(s.name)}</text>`
        : `<text x="${m.l + ((i % 3) * (W - m.l - m.r)) / 3}" y="${H - m.b + 44 + 14 * Math.floor(i / 3)}" font-size="10" fill="${color}">${escapeHtml(s.name)}</text>`,
    );
  });
  if (opts.xLabel)
    parts.push(
      `<text x="${W / 2}" y="${H - m.b + 34}" text-anchor="middle" font-size="11">${escapeHtml(opts.xLabel)}</text>`,
    );
  if (opts.yLabel) {
    parts.push(
      `<text x="12" y="${H / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 12 ${H / 2})">${escapeHtml(opts.yLabel)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

/**
 * At most two points per pixel column (its lowest and highest, in x order), so that a curve of
 * 100 k steps draws as its envelope in a few hundred points. `column` maps a point to its pixel
 * column, `value` to what min/max compare. Points must be in x order; fewer than two per column
 * come back unchanged.
 */
export function downsampleMinMax<P>(
  points: readonly P[],
  column: (p: P) => number,
  value: (p: P) => number,
): P[] {
  const out: P[] = [];
  let i = 0;
  while (i < points.length) {
    const col = column(points[i]);
    let lo = i;
    let hi = i;
    let j = i + 1;
    for (; j < points.length && column(points[j]) === col; j++) {
      if (value(points[j]) < value(points[lo])) lo = j;
      if (value(points[j]) > value(points[hi])) hi = j;
    }
    if (lo === hi) out.push(points[lo]);
    else out.push(points[Math.min(lo, hi)], points[Math.max(lo, hi)]);
    i = j;
  }
  return out;
}

export interface BarGroup {
  /** Row label (e.g. a scorer group). */
  label: string;
  /** One bar per series (e.g. per fusion mode): value, and an error bar's ends when known. */
  bars: { value: number | null; lo?: number | null; hi?: number | null }[];
}

/**
 * Horizontal grouped bars (rows: groups, one bar per series inside each) with optional error
 * bars; labels on the left, so long (CJK) group names stay readable. '' when nothing to draw.
 */
export function svgBarChart(
  groups: BarGroup[],
  opts: {
    title: string;
    series: string[];
    /** Axis maximum (default: the largest value or error-bar end). */
    max?: number;
    width?: number;
    labelWidth?: number;
    note?: string;
  },
): string {
  if (groups.length === 0 || opts.series.length === 0) return '';
  const W = opts.width ?? 520;
  const m = { l: opts.labelWidth ?? 170, r: 16, t: 28, b: 34 };
  const barH = 10;
  const gap = 8;
  const rowH = opts.series.length * barH + gap;
  const legendH = 14 * opts.series.length;
  const H = m.t + groups.length * rowH + m.b + legendH;
  let max = opts.max ?? 0;
  if (opts.max === undefined)
    for (const g of groups) for (const b of g.bars) max = Math.max(max, b.value ?? 0, b.hi ?? 0);
  if (!(max > 0)) max = 1;
  const px = (v: number) => m.l + (Math.max(0, Math.min(v, max)) / max) * (W - m.l - m.r);
  const plotBottom = m.t + groups.length * rowH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">`,
    `<title>${escapeHtml(opts.title)}</title>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${escapeHtml(opts.title)}</text>`,
  ];
  for (const t of niceTicks(0, max)) {
    const x = px(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${plotBottom}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x}" y="${plotBottom + 14}" text-anchor="middle" font-size="10">${fmtTick(t)}</text>`,
    );
  }
  groups.forEach((g, i) => {
    const y = m.t + i * rowH;
    parts.push(
      `<text x="${m.l - 6}" y="${(y + (rowH - gap) / 2 + 4).toFixed(1)}" text-anchor="end" font-size="12">${escapeHtml(g.label)}</text>`,
    );
    g.bars.forEach((b, k) => {
      if (b.value === null) return;
      const color = COLORS[k % COLORS.length];
      const by = y + k * barH;
      parts.push(
        `<rect x="${m.l}" y="${by}" width="${(px(b.value) - m.l).toFixed(1)}" height="${barH - 1}" fill="${color}"><title>${escapeHtml(`${opts.series[k]}: ${fmtTick(b.value)}`)}</title></rect>`,
      );
      if (typeof b.lo === 'number' && typeof b.hi === 'number') {
        const cy = (by + (barH - 1) / 2).toFixed(1);
        parts.push(
          `<line x1="${px(b.lo).toFixed(1)}" x2="${px(b.hi).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#222"/>`,
        );
      }
    });
  });
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${plotBottom}" stroke="#999"/>`);
  opts.series.forEach((name, k) => {
    const y = plotBottom + 30 + 14 * k;
    parts.push(
      `<rect x="${m.l}" y="${y - 9}" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/>`,
      `<text x="${m.l + 14}" y="${y}" font-size="11">${escapeHtml(name)}</text>`,
    );
  });
  if (opts.note)
    parts.push(
      `<text x="${W - m.r}" y="${plotBottom + 30}" text-anchor="end" font-size="10" fill="#555">${escapeHtml(opts.note)}</text>`,
    );
  parts.push('</svg>');
  return parts.join('');
}

/** A table; an undefined cell (a summary field a stage did not write, e.g. a fine-tune's) is empty. */
export function htmlTable(header: string[], rows: (string | number | undefined)[][]): string {
  const cell = (v: string | number | undefined) =>
    v === undefined ? '' : typeof v === 'number' ? fmtCell(v) : escapeHtml(v);
  return `<table><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function fmtCell(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toFixed(4);
}

export interface ImageCell {
  /** data: URI (image/png) */
  src: string;
  caption: string;
}

/** Rows of images with captions; `pixelated` keeps tiny (32x32) images crisp when enlarged. */
export function imageGrid(rows: { label: string; cells: ImageCell[] }[], size = 96): string {
  return `<div class="grid">${rows
    .map(
      (r) =>
        `<div class="row"><div class="rowlabel">${escapeHtml(r.label)}</div>${r.cells
          .map(
            (c) =>
              `<figure><img src="${c.src}" width="${size}" height="${size}" alt="${escapeHtml(c.caption)}"><figcaption>${escapeHtml(c.caption)}</figcaption></figure>`,
          )
          .join('')}</div>`,
    )
    .join('')}</div>`;
}

export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

export function htmlPage(title: string, sections: { title: string; html: string }[]): string {
  const css = `body{font-family:system-ui,'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:12px}
.grid .row{display:flex;align-items:flex-start;gap:6px;margin:6px 0}.rowlabel{width:140px;font-size:13px;padding-top:8px}
figure{margin:0;text-align:center;font-size:11px;width:100px}img{image-rendering:pixelated;border:1px solid #ddd;background:#fff}
code{background:#f4f4f4;padding:1px 4px}.note{color:#555;font-size:13px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px}`;
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${css}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${sections.map((s) => `<section><h2>${escapeHtml(s.title)}</h2>${s.html}</section>`).join('\n')}
</body></html>
`;
}
