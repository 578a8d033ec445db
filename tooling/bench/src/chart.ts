/**
 * A small SVG line chart with logarithmic axes, several panels side by side,
 * written without dependencies so the bench command can draw it anywhere.
 */
export interface ChartSeries {
  name: string;
  points: Array<[number, number]>;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  formatX: (x: number) => string;
  formatY: (y: number) => string;
  series: ChartSeries[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const WIDTH = 520;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 140 };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Powers of ten covering [min, max]. */
function decades(min: number, max: number): number[] {
  const ticks = [];
  for (let power = Math.floor(Math.log10(min)); power <= Math.ceil(Math.log10(max)); power++) ticks.push(10 ** power);
  return ticks;
}

function panelSvg(panel: Panel, offsetX: number): string {
  const xs = panel.series.flatMap((series) => series.points.map(([x]) => x));
  const ys = panel.series.flatMap((series) => series.points.map(([, y]) => y)).filter((y) => y > 0);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const yTicks = decades(Math.min(...ys), Math.max(...ys));
  const [yMin, yMax] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const scaleX = (x: number) => offsetX + MARGIN.left + (xMax === xMin ? 0 : ((Math.log(x) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin))) * plotWidth);
  const scaleY = (y: number) => MARGIN.top + plotHeight - ((Math.log(y) - Math.log(yMin)) / (Math.log(yMax) - Math.log(yMin))) * plotHeight;
  const parts: string[] = [];
  parts.push(`<text x="${offsetX + WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(panel.title)}</text>`);
  parts.push(`<rect x="${offsetX + MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  for (const y of yTicks) {
    parts.push(`<line x1="${offsetX + MARGIN.left}" x2="${offsetX + MARGIN.left + plotWidth}" y1="${scaleY(y)}" y2="${scaleY(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${offsetX + MARGIN.left - 6}" y="${scaleY(y) + 4}" text-anchor="end" font-size="11">${escapeXml(panel.formatY(y))}</text>`);
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  for (const x of xTicks) {
    parts.push(`<line x1="${scaleX(x)}" x2="${scaleX(x)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#eee"/>`);
    parts.push(`<text x="${scaleX(x)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle" font-size="11">${escapeXml(panel.formatX(x))}</text>`);
  }
  parts.push(`<text x="${offsetX + MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight + 36}" text-anchor="middle" font-size="12">${escapeXml(panel.xLabel)}</text>`);
  parts.push(`<text transform="translate(${offsetX + 16},${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(panel.yLabel)}</text>`);
  panel.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length];
    const points = series.points.filter(([, y]) => y > 0).map(([x, y]) => `${scaleX(x).toFixed(1)},${scaleY(y).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    for (const point of points) {
      const [cx, cy] = point.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
    }
    const legendY = MARGIN.top + plotHeight + 56 + index * 16;
    parts.push(`<rect x="${offsetX + MARGIN.left}" y="${legendY - 9}" width="12" height="3" fill="${color}"/>`);
    parts.push(`<text x="${offsetX + MARGIN.left + 18}" y="${legendY - 4}" font-size="12">${escapeXml(series.name)}</text>`);
  });
  return parts.join('\n');
}

export function lineChartSvg(panels: Panel[]): string {
  const width = WIDTH * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="sans-serif">`,
    `<rect width="${width}" height="${HEIGHT}" fill="white"/>`,
    ...panels.map((panel, index) => panelSvg(panel, index * WIDTH)),
    '</svg>',
    '',
  ].join('\n');
}
