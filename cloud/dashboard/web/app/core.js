// Fieldline dashboard: the state the live stream keeps up to date, and the
// page drawn from it. Plain JavaScript (an ES module, no dependency): the
// page served by a binary built with Go alone runs it with hand-drawn SVG
// sparklines (spark.js); `make dashboard-assets` bundles it with uPlot
// charts (../charts/main.js).

const MAX_RAW = 1200;
const MAX_AGG = 720;

// ---------- state ----------

export const state = {
  lastId: 0,
  agents: new Map(),   // id → AgentView
  sensors: new Map(),  // "agent/sensor" → sensor state
  alerts: { available: false, active: new Map(), history: [], silences: [] },
  seen: new Set(),     // "fingerprint/seq" of alert transitions seen
  frames: 0,
  connected: false,
};

const key = (agent, sensor) => agent + '/' + sensor;

function sensorState(agent, sensor) {
  const k = key(agent, sensor);
  let s = state.sensors.get(k);
  if (!s) {
    s = { agent, sensor, kind: 'float', raw: [], aggs: new Map(), dirty: true };
    state.sensors.set(k, s);
    dirtyLayout = true;
  }
  return s;
}

// addPoints merges [t, v, q] points into a sensor's time-ordered list;
// a point already held (same time) is not added twice.
function addPoints(s, pts) {
  for (const p of pts) {
    const r = s.raw;
    if (r.length === 0 || p[0] > r[r.length - 1][0]) {
      r.push(p);
    } else {
      let lo = 0, hi = r.length;
      while (lo < hi) { const m = (lo + hi) >> 1; if (r[m][0] < p[0]) lo = m + 1; else hi = m; }
      if (lo < r.length && r[lo][0] === p[0]) continue;
      r.splice(lo, 0, p);
    }
  }
  if (s.raw.length > MAX_RAW) s.raw.splice(0, s.raw.length - MAX_RAW);
  s.dirty = true;
}

function addAggregate(a) {
  const s = sensorState(a.agent, a.sensor);
  let list = s.aggs.get(a.window);
  if (!list) { list = []; s.aggs.set(a.window, list); }
  let lo = 0, hi = list.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (list[m].start < a.start) lo = m + 1; else hi = m; }
  if (lo < list.length && list[lo].start === a.start) {
    if (a.rev >= list[lo].rev) list[lo] = a;
  } else {
    list.splice(lo, 0, a);
  }
  if (list.length > MAX_AGG) list.splice(0, list.length - MAX_AGG);
  s.dirty = true;
}

function addAlert(a) {
  const id = a.fingerprint + '/' + a.seq;
  if (state.seen.has(id)) return;
  state.seen.add(id);
  // The sensor's card shows whether it has an alert firing.
  const s = state.sensors.get(key(a.agent, a.sensor || ''));
  if (s) s.dirty = true;
  const cur = state.alerts.active.get(a.fingerprint);
  if (!cur || cur.seq < a.seq) {
    if (['pending', 'firing', 'no-data'].includes(a.to)) state.alerts.active.set(a.fingerprint, a);
    else state.alerts.active.delete(a.fingerprint);
  }
  state.alerts.history.push(a);
  if (state.alerts.history.length > 500) state.alerts.history.splice(0, state.alerts.history.length - 500);
}

function applySnapshot(m) {
  state.agents.clear();
  state.sensors.clear();
  state.seen.clear();
  state.alerts = { available: m.alerts.available, active: new Map(), history: [], silences: m.alerts.silences || [] };
  for (const a of m.agents || []) state.agents.set(a.id, a);
  for (const sv of m.sensors || []) {
    const s = sensorState(sv.agent, sv.sensor);
    s.kind = sv.kind;
  }
  for (const sr of m.series || []) {
    const s = sensorState(sr.agent, sr.sensor);
    addPoints(s, sr.raw || []);
    for (const list of Object.values(sr.aggregates || {})) for (const a of list) addAggregate(a);
  }
  for (const a of m.alerts.history || []) addAlert(a);
  for (const a of m.alerts.active || []) { state.alerts.active.set(a.fingerprint, a); }
  dirtyLayout = true;
}

function applyUpdate(m) {
  for (const a of m.agents || []) state.agents.set(a.id, a);
  for (const pv of m.points || []) addPoints(sensorState(pv.agent, pv.sensor), pv.p);
  for (const a of m.aggregates || []) addAggregate(a);
  for (const a of m.alerts || []) { state.alerts.available = true; addAlert(a); }
  if (m.silences) state.alerts.silences = m.silences;
}

// ---------- live stream ----------

let backoff = 500;

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/api/live?last=${state.lastId}`);
  ws.onopen = () => { backoff = 500; state.connected = true; schedule(); };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'snapshot') applySnapshot(m);
    else if (m.type === 'update') applyUpdate(m);
    if (m.id > state.lastId || m.type === 'snapshot') state.lastId = m.id;
    state.frames++;
    schedule();
  };
  ws.onclose = () => {
    state.connected = false;
    schedule();
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 5000);
  };
}

// ---------- formatting ----------

export function fmtValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e7 || a < 1e-2)) return v.toPrecision(3);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  return v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

function fmtAgo(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 1) return 'now';
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

function fmtDur(ms) {
  if (!ms) return '0 s';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

// ---------- page ----------

let chartFactory = null;
let dirtyLayout = true;
let pending = false;
let span = 5 * 60 * 1000; // what the charts show
let agentFilter = '';
const charts = new Map(); // sensor key → {card, chart}

function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(render);
}

function render() {
  pending = false;
  renderHeader();
  renderFleet();
  renderAlerts();
  renderSensors();
}

function renderHeader() {
  const online = [...state.agents.values()].filter(a => a.online).length;
  const pill = document.getElementById('conn');
  pill.textContent = state.connected ? 'live' : 'reconnecting…';
  pill.className = 'pill ' + (state.connected ? 'ok' : 'warn');
  document.getElementById('stat-agents').textContent = `${online}/${state.agents.size}`;
  document.getElementById('stat-sensors').textContent = String(state.sensors.size);
  const firing = [...state.alerts.active.values()].filter(a => a.to !== 'pending').length;
  const sa = document.getElementById('stat-alerts');
  sa.textContent = state.alerts.available ? String(firing) : 'n/a';
  sa.parentElement.classList.toggle('hot', firing > 0);
}

function renderFleet() {
  const tbody = document.querySelector('#agents tbody');
  const rows = [];
  const ids = [...state.agents.keys()].sort();
  for (const id of ids) {
    const a = state.agents.get(id);
    const st = a.status || {};
    const tr = el('tr', { 'data-agent': id, 'data-online': String(a.online), class: 'clickable' + (agentFilter === id ? ' sel' : ''), title: 'show ' + id + "'s sensors" },
      el('td', {}, el('span', { class: 'dot ' + (a.online ? 'on' : 'off') }), el('b', { text: id })),
      el('td', { class: a.online ? 'ok' : 'bad', text: a.online ? 'online' : 'offline' }),
      el('td', { text: fmtAgo(a.last_seen), title: a.last_seen ? new Date(a.last_seen).toISOString() : '' }),
      el('td', { class: 'num', text: String(a.depth ?? 0) }),
      el('td', { class: 'num ' + (a.oldest_unsent_ms > 10000 ? 'warn' : ''), text: fmtDur(a.oldest_unsent_ms) }),
      rulesCell(st),
      el('td', { class: 'num', text: String(st.readings_in ?? '–') }),
      el('td', { class: 'num', text: String(a.sensors) }),
      el('td', { class: 'dim', text: st.version || '–' }));
    tr.onclick = () => { agentFilter = agentFilter === id ? '' : id; document.getElementById('tabs').dataset.ids = ''; dirtyLayout = true; schedule(); };
    rows.push(tr);
  }
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '9', class: 'dim', text: 'No agent heard yet.' })));
  tbody.replaceChildren(...rows);
  // Agent tabs.
  const tabs = document.getElementById('tabs');
  if (tabs.dataset.ids !== ids.join(',')) {
    tabs.dataset.ids = ids.join(',');
    const mk = (id, label) => {
      const b = el('button', { class: 'tab' + (agentFilter === id ? ' sel' : ''), text: label });
      b.onclick = () => { agentFilter = id; tabs.dataset.ids = ''; dirtyLayout = true; schedule(); };
      return b;
    };
    tabs.replaceChildren(mk('', 'all agents'), ...ids.map(id => mk(id, id)));
  }
}

// rulesCell shows the rules an agent runs: a bundle pushed to the fleet
// (its version, revision and key, and the revision it wants while that one
// is refused), or the version of its local rules file, or the error.
function rulesCell(st) {
  const v = st.rules_version || '';
  const td = el('td', { 'data-rules-version': v, 'data-rules-revision': String(st.rules_revision || 0) });
  if (st.rules_revision) {
    td.append(el('span', { class: 'rules-v', text: v || 'bundle' }), el('span', { class: 'dim', text: ` r${st.rules_revision} ${st.rules_key || ''}` }));
    if (st.rules_wanted && st.rules_wanted > st.rules_revision) td.append(el('span', { class: 'warn', text: ` wants r${st.rules_wanted}` }));
  } else {
    td.append(el('span', { text: v || '–' }));
  }
  if (st.rules_error) {
    td.append(el('span', { class: 'bad', title: st.rules_error, text: ' ✗ refused' }));
  }
  return td;
}

function alertRow(a) {
  const summary = (a.annotations && (a.annotations.summary || a.annotations.description)) || '';
  return el('tr', { 'data-fingerprint': a.fingerprint, 'data-to': a.to, 'data-rule': a.rule, 'data-agent': a.agent, title: summary },
    el('td', { text: fmtTime(a.time) }),
    el('td', {}, el('span', { class: 'state s-' + a.to, text: a.to })),
    el('td', { text: a.rule }),
    el('td', { class: 'dim', text: a.agent + (a.sensor ? ' / ' + a.sensor : '') }),
    el('td', { class: 'num', text: fmtValue(a.value) }));
}

function renderAlerts() {
  const box = document.getElementById('alerts-active');
  const active = [...state.alerts.active.values()].sort((x, y) => y.time - x.time);
  const cards = active.map(a => el('div', { class: 'alert sev-' + (a.severity || 'none') + ' s-' + a.to, 'data-fingerprint': a.fingerprint, 'data-to': a.to, 'data-rule': a.rule, 'data-agent': a.agent },
    el('div', { class: 'alert-top' }, el('span', { class: 'state s-' + a.to, text: a.to }), el('b', { text: a.rule }), el('span', { class: 'sev', text: a.severity || '' })),
    el('div', { class: 'alert-what', text: a.agent + (a.sensor ? ' / ' + a.sensor : '') + ' = ' + fmtValue(a.value) }),
    el('div', { class: 'dim', text: ((a.annotations && a.annotations.summary) || '') + ' · since ' + fmtAgo(a.active_since || a.time) })));
  if (cards.length === 0) cards.push(el('div', { class: state.alerts.available ? 'calm' : 'dim', text: state.alerts.available ? '✓ Nothing firing.' : 'This dashboard does not read alerts (fl.alerts) yet.' }));
  box.replaceChildren(...cards);
  const hist = state.alerts.history.slice(-50).reverse().map(alertRow);
  if (hist.length === 0) hist.push(el('tr', {}, el('td', { colspan: '5', class: 'dim', text: 'No transition yet.' })));
  document.querySelector('#alerts-history tbody').replaceChildren(...hist);
  const sil = state.alerts.silences.filter(s => s.ends_at > Date.now()).map(s => el('tr', { 'data-silence': s.id },
    el('td', { text: (s.matchers || []).map(m => `${m.name}=${m.value}`).join(', ') }),
    el('td', { text: fmtTime(s.starts_at) + ' → ' + fmtTime(s.ends_at) }),
    el('td', { class: 'dim', text: [s.created_by, s.comment].filter(Boolean).join(': ') })));
  if (sil.length === 0) sil.push(el('tr', {}, el('td', { colspan: '3', class: 'dim', text: 'No silence.' })));
  document.querySelector('#silences tbody').replaceChildren(...sil);
}

function visibleSensors() {
  return [...state.sensors.values()]
    .filter(s => !agentFilter || s.agent === agentFilter)
    .sort((a, b) => a.agent === b.agent ? a.sensor.localeCompare(b.sensor) : a.agent.localeCompare(b.agent));
}

function renderSensors() {
  const grid = document.getElementById('sensors');
  const now = Date.now();
  // A page opened on a young system shows what there is across the whole
  // width rather than a sliver at the right of an empty span.
  let first = Infinity;
  for (const s of state.sensors.values()) if (s.raw.length) first = Math.min(first, s.raw[0][0]);
  const from = Math.max(now - span, Math.min(first, now - 60 * 1000));
  if (dirtyLayout) {
    dirtyLayout = false;
    const list = visibleSensors();
    const keep = new Set(list.map(s => key(s.agent, s.sensor)));
    for (const [k, c] of charts) if (!keep.has(k)) { c.chart.destroy(); charts.delete(k); }
    const cards = [];
    for (const s of list) {
      const k = key(s.agent, s.sensor);
      let c = charts.get(k);
      if (!c) {
        const body = el('div', { class: 'chart' });
        const card = el('div', { class: 'card', 'data-sensor': k },
          el('div', { class: 'card-top' }, el('span', { class: 'sname', text: s.sensor }), el('span', { class: 'agent', text: s.agent })),
          el('div', { class: 'card-val' }, el('span', { class: 'val' }), el('span', { class: 'dim agg' })),
          body);
        c = { card, chart: chartFactory(body, s) };
        charts.set(k, c);
        s.dirty = true;
      }
      cards.push(c.card);
    }
    if (cards.length === 0) cards.push(el('div', { class: 'calm', text: 'No readings yet.' }));
    grid.replaceChildren(...cards);
  }
  for (const [k, c] of charts) {
    const s = state.sensors.get(k);
    if (!s || !s.dirty) continue;
    s.dirty = false;
    const last = s.raw[s.raw.length - 1];
    const val = c.card.querySelector('.val');
    val.textContent = last ? fmtValue(last[1]) : '–';
    val.className = 'val' + (last && last[2] === 2 ? ' bad' : last && last[2] === 1 ? ' warn' : '');
    const w = preferredWindow(s);
    const la = w ? w[w.length - 1] : null;
    c.card.querySelector('.agg').textContent = la ? `${la.window / 1000}s window: min ${fmtValue(la.min)} · mean ${fmtValue(la.mean)} · max ${fmtValue(la.max)}` : '';
    const hot = [...state.alerts.active.values()].some(a => a.agent === s.agent && a.sensor === s.sensor && a.to !== 'pending');
    c.card.classList.toggle('hot', hot);
    c.chart.update(s, w || [], from, now);
    const lt = c.chart.lastT ? c.chart.lastT() : (last ? last[0] : 0);
    c.card.setAttribute('data-last-t', String(lt));
  }
}

// preferredWindow is the shortest window's aggregates of a sensor.
export function preferredWindow(s) {
  let best = null;
  for (const [w, list] of s.aggs) if (best === null || w < best) best = w;
  return best === null ? null : s.aggs.get(best);
}

// start runs the page: chart(container, sensor) must return {update(s,
// aggs, from, to), destroy()} (and may have lastT(), the time of the last
// point it drew).
export function start(chart) {
  chartFactory = chart;
  // For a look from the browser's console (and the browser test).
  window.fieldline = state;
  const sel = document.getElementById('span');
  sel.onchange = () => { span = Number(sel.value) * 1000; for (const s of state.sensors.values()) s.dirty = true; schedule(); };
  span = Number(sel.value) * 1000;
  // The relative times and the charts' right edge move even when nothing
  // arrives.
  setInterval(() => { for (const s of state.sensors.values()) s.dirty = true; schedule(); }, 1000);
  connect();
}
