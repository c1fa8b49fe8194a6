// The page with uPlot charts: the state and tables of ../app/core.js, each
// sensor drawn by uPlot (raw readings, window mean, window min–max band).
// `make dashboard-assets` bundles this file with esbuild into ../dist.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { start } from '../app/core.js';

const css = getComputedStyle(document.documentElement);
const color = (name) => css.getPropertyValue(name).trim();

function uplotChart(container, s) {
  // On/off sensors (GPIO inputs, coils, level switches) step.
  const paths = s.kind === 'bool' ? uPlot.paths.stepped({ align: 1 }) : undefined;
  const opts = {
    width: Math.max(200, container.clientWidth || 300),
    height: 96,
    legend: { show: false },
    cursor: { show: true, points: { show: false }, y: false },
    padding: [6, 18, 0, 0],
    scales: { x: { time: true }, y: { auto: true } },
    axes: [
      { stroke: color('--dim'), grid: { stroke: '#222b3c', width: 1 }, ticks: { show: false }, size: 20, font: '10px system-ui, sans-serif', space: 70,
        values: (u, vals) => vals.map(v => new Date(v * 1000).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' })) },
      { stroke: color('--dim'), grid: { stroke: '#222b3c', width: 1 }, ticks: { show: false }, size: 46, font: '10px system-ui, sans-serif' },
    ],
    series: [
      {},
      { stroke: color('--accent'), width: 1.5, spanGaps: true, points: { show: false }, paths },
      { stroke: color('--mean'), width: 1.5, dash: [4, 3], spanGaps: true, points: { show: false } },
      { stroke: 'transparent', spanGaps: true, points: { show: false } },
      { stroke: 'transparent', spanGaps: true, points: { show: false } },
    ],
    bands: [{ series: [3, 4], fill: color('--band') }],
  };
  const u = new uPlot(opts, [[], [], [], [], []], container);
  const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, container.clientWidth), height: 96 }));
  ro.observe(container);
  let lastT = 0;
  return {
    lastT: () => lastT,
    destroy() { ro.disconnect(); u.destroy(); },
    update(s, aggs, from, to) {
      // One x axis for both kinds: raw times and window midpoints, merged.
      const rows = new Map();
      for (const p of s.raw) if (p[0] >= from) rows.set(p[0], [p[1], null, null, null]);
      for (const a of aggs) {
        if (a.start + a.window < from || a.count === 0) continue;
        for (const t of [a.start, a.start + a.window / 2, a.start + a.window - 1]) {
          const r = rows.get(t) || [null, null, null, null];
          r[1] = t === a.start + a.window / 2 ? a.mean : r[1];
          r[2] = a.max; r[3] = a.min;
          rows.set(t, r);
        }
      }
      const xs = [...rows.keys()].sort((a, b) => a - b);
      const data = [xs.map(t => t / 1000), [], [], [], []];
      for (const t of xs) { const r = rows.get(t); for (let i = 0; i < 4; i++) data[i + 1].push(r[i]); }
      u.setData(data, false);
      u.setScale('x', { min: from / 1000, max: to / 1000 });
      const raw = s.raw.filter(p => p[0] >= from);
      lastT = raw.length ? raw[raw.length - 1][0] : 0;
    },
  };
}

start(uplotChart);
