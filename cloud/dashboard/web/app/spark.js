// Hand-drawn SVG sparklines: what the page draws when it was built with Go
// alone (no bundle). A band from each window's min to max, its mean as a
// line, the raw readings as a brighter line, the last reading as a dot.

import { fmtValue } from './core.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 320, H = 90, PAD = 4;

function svgEl(tag, attrs) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

export function sparkline(container) {
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'spark' });
  const band = svgEl('path', { class: 'band' });
  const mean = svgEl('path', { class: 'mean' });
  const raw = svgEl('path', { class: 'raw' });
  const dot = svgEl('circle', { r: '3', class: 'dot-last' });
  svg.append(band, mean, raw, dot);
  const labels = document.createElement('div');
  labels.className = 'spark-labels';
  container.append(svg, labels);
  let lastT = 0;
  return {
    lastT: () => lastT,
    destroy() { svg.remove(); labels.remove(); },
    update(s, aggs, from, to) {
      const pts = s.raw.filter(p => p[0] >= from && p[1] !== null);
      const ws = aggs.filter(a => a.start + a.window >= from && a.count > 0);
      let lo = Infinity, hi = -Infinity;
      for (const p of pts) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
      for (const a of ws) { lo = Math.min(lo, a.min); hi = Math.max(hi, a.max); }
      if (!Number.isFinite(lo)) { band.setAttribute('d', ''); mean.setAttribute('d', ''); raw.setAttribute('d', ''); dot.setAttribute('r', '0'); labels.textContent = 'no data in this span'; lastT = 0; return; }
      if (hi === lo) { hi += 1; lo -= 1; }
      const x = t => PAD + (W - 2 * PAD) * (t - from) / (to - from);
      const y = v => H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo);
      if (ws.length) {
        const top = ws.map(a => `${x(a.start).toFixed(1)},${y(a.max).toFixed(1)} ${x(a.start + a.window).toFixed(1)},${y(a.max).toFixed(1)}`);
        const bottom = ws.slice().reverse().map(a => `${x(a.start + a.window).toFixed(1)},${y(a.min).toFixed(1)} ${x(a.start).toFixed(1)},${y(a.min).toFixed(1)}`);
        band.setAttribute('d', 'M' + top.join(' L') + ' L' + bottom.join(' L') + 'Z');
        mean.setAttribute('d', 'M' + ws.map(a => `${x(a.start + a.window / 2).toFixed(1)},${y(a.mean).toFixed(1)}`).join(' L'));
      } else {
        band.setAttribute('d', '');
        mean.setAttribute('d', '');
      }
      if (pts.length) {
        // On/off sensors step from one state to the next.
        const step = s.kind === 'bool';
        raw.setAttribute('d', 'M' + pts.map((p, i) => (step && i > 0 ? `${x(p[0]).toFixed(1)},${y(pts[i - 1][1]).toFixed(1)} L` : '') + `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' L'));
        const l = pts[pts.length - 1];
        dot.setAttribute('cx', x(l[0]).toFixed(1));
        dot.setAttribute('cy', y(l[1]).toFixed(1));
        dot.setAttribute('r', '3');
        lastT = l[0];
      } else {
        raw.setAttribute('d', '');
        dot.setAttribute('r', '0');
        lastT = ws.length ? ws[ws.length - 1].start + ws[ws.length - 1].window : 0;
      }
      labels.textContent = `${fmtValue(lo)} – ${fmtValue(hi)}`;
    },
  };
}
