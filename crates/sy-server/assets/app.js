// Switchyard dashboard: polls /api/v1/dashboard every 2 s and renders it. Plain DOM (text is
// always set with textContent, never parsed as HTML), charts by the vendored uPlot.
'use strict';
(() => {
  const API = '/api/v1/dashboard';
  const POLL_MS = 2000;
  const KEY_STORE = 'switchyard.dashboard.key';
  const PALETTE = ['#2563eb', '#d97706', '#0d9488', '#9333ea', '#db2777', '#0891b2', '#65a30d', '#ea580c', '#475569', '#4f46e5'];
  const CHART_H = 170;
  const AXIS = { stroke: '#687385', font: '11px system-ui, sans-serif', grid: { stroke: '#eef1f5', width: 1 }, ticks: { stroke: '#e3e7ee', width: 1, size: 4 } };

  const $ = (id) => document.getElementById(id);
  const colors = new Map();
  const cards = new Map(); // model id -> { sig, el, parts, plots }
  let timer = null;
  let polling = false;

  // ------------------------------------------------------------------ small helpers
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'style') Object.assign(el.style, v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const storage = {
    get() { try { return localStorage.getItem(KEY_STORE) || ''; } catch { return ''; } },
    set(v) { try { localStorage.setItem(KEY_STORE, v); } catch { /* private mode: keep for this page only */ } memoryKey = v; },
    clear() { try { localStorage.removeItem(KEY_STORE); } catch { /* ignore */ } memoryKey = ''; },
  };
  let memoryKey = '';
  const currentKey = () => storage.get() || memoryKey;

  function color(provider) {
    if (!colors.has(provider)) colors.set(provider, PALETTE[colors.size % PALETTE.length]);
    return colors.get(provider);
  }

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const int = (v) => (isNum(v) ? Math.round(v).toLocaleString('en-US') : '—');
  function ms(v) {
    if (!isNum(v)) return '—';
    return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
  }
  function usd(v) {
    if (!isNum(v)) return '—';
    if (v === 0) return '$0';
    if (v < 0.000001) return '<$0.000001';
    if (v < 0.01) return '$' + v.toPrecision(2);
    if (v < 1) return '$' + v.toFixed(4);
    return '$' + v.toFixed(2);
  }
  const tps = (v) => (isNum(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} tok/s` : '—');
  const pct = (v) => (isNum(v) ? `${v >= 99.95 ? '100' : v.toFixed(1)}%` : '—');
  const perM = (v) => (isNum(v) ? (v === 0 ? 'free' : `$${v.toFixed(2)}`) : '—');
  function clock(unix) {
    if (!isNum(unix)) return '—';
    const d = new Date(unix * 1000);
    return d.toLocaleTimeString('en-GB', { hour12: false });
  }
  function hhmm(unix) {
    const d = new Date(unix * 1000);
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  }
  function axisNum(v) {
    if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
    return `${+v.toFixed(v < 10 && v % 1 ? 1 : 0)}`;
  }

  // ------------------------------------------------------------------ live state, auth
  function setLive(state, text) {
    $('live').dataset.state = state;
    $('live-text').textContent = text;
  }

  function showAuth(message) {
    $('dash').hidden = true;
    $('auth').hidden = false;
    $('auth-error').hidden = !message;
    $('auth-error').textContent = message || '';
    $('forget').hidden = !currentKey();
    $('auth-key').focus();
  }

  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('auth-key').value.trim();
    if (!key) return;
    storage.set(key);
    $('auth-key').value = '';
    $('auth').hidden = true;
    setLive('connecting', 'connecting…');
    poll();
  });
  $('forget').addEventListener('click', () => {
    storage.clear();
    $('forget').hidden = true;
    poll();
  });

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    if (polling) return;
    polling = true;
    const key = currentKey();
    let again = true;
    try {
      const res = await fetch(API, { headers: key ? { Authorization: `Bearer ${key}` } : {}, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        // wait for the form rather than asking again every 2 s; the data spans every key, so
        // only the master key may read it (403 for any other key)
        again = false;
        setLive('error', 'master key needed');
        const why = res.status === 403
          ? 'That key is not the master key: the dashboard shows every key\'s data.'
          : 'That key was refused: enter another.';
        showAuth(key ? why : '');
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = await res.json();
      $('auth').hidden = true;
      $('dash').hidden = false;
      $('forget').hidden = !key;
      render(data);
      setLive('live', `live · updated ${clock(data.generated_at)}`);
    } catch (err) {
      setLive('error', `cannot reach the gateway (${err.message || err}) · retrying`);
    } finally {
      polling = false;
      if (again) schedule();
    }
  }

  // ------------------------------------------------------------------ rendering
  function render(d) {
    $('demo').hidden = !d.demo;
    for (const p of d.providers || []) color(p.name);
    renderTiles(d);
    renderModels(d);
    renderRequests(d.requests || []);
    renderKeys(d);
  }

  function tile(label, value, sub, bad) {
    return h('div', { class: bad ? 'tile bad' : 'tile' },
      h('div', { class: 'label', text: label }),
      h('div', { class: 'value', text: value }),
      h('div', { class: 'sub', text: sub || '\u00a0' }));
  }

  function renderTiles(d) {
    const t = d.totals || {};
    const eps = (d.models || []).flatMap((m) => m.endpoints);
    const attempts = eps.reduce((s, e) => s + (e.requests || 0), 0);
    const attemptFailures = eps.reduce((s, e) => s + (e.failures || 0), 0);
    const down = eps.filter((e) => e.status === 'circuit_open').length;
    const degraded = eps.filter((e) => ['cooldown', 'probing', 'outage'].includes(e.status)).length;
    const rate = t.requests ? (100 * t.failed) / t.requests : 0;
    $('tiles').replaceChildren(
      tile('Requests · 30 min', int(t.requests), `${int(t.streamed)} streamed`),
      tile('Failed requests', int(t.failed), t.requests ? `${rate.toFixed(1)}% of requests` : 'none yet', t.failed > 0),
      tile('Spend · 30 min', usd(t.spend), 'USD, at endpoint prices'),
      tile('Upstream attempts', int(attempts), `${int(attemptFailures)} failed over`),
      tile('Endpoints up', `${eps.length - down} / ${eps.length}`, down ? `${down} circuit open` : degraded ? `${degraded} degraded` : 'all circuits closed', down > 0),
      tile('Catalog', `${(d.models || []).length} models`, `${(d.providers || []).length} providers`),
    );
  }

  function statusBadge(e) {
    const map = {
      ok: ['ok', 'up'],
      idle: ['idle', 'no traffic'],
      cooldown: ['warn', `cooldown ${Math.ceil(e.cooldown_s || 0)} s`],
      probing: ['warn', 'probing'],
      outage: ['warn', 'failing'],
      circuit_open: ['bad', 'down'],
    };
    const [cls, text] = map[e.status] || ['idle', e.status];
    return h('span', { class: `badge ${cls}`, text });
  }

  function circuitCell(c) {
    const cls = c === 'open' ? 'up-bad' : c === 'half_open' ? 'up-warn' : 'muted';
    return h('span', { class: cls, text: c === 'half_open' ? 'half-open' : c });
  }

  function uptimeCell(v) {
    if (!isNum(v)) return h('span', { class: 'faint', text: '—' });
    return h('span', { class: v >= 99 ? 'up-ok' : v >= 90 ? 'up-warn' : 'up-bad', text: pct(v) });
  }

  const pair = (p, f) => (p ? `${f(p.p50)} / ${f(p.p95)}` : '—');

  function endpointRows(m) {
    return m.endpoints.map((e) => h('tr', null,
      h('td', null,
        h('span', { class: 'swatch', style: { background: color(e.provider) } }),
        h('span', { class: 'provider', text: e.provider }),
        h('span', { class: 'faint mono', text: `  ${e.upstream_model}` })),
      h('td', null, statusBadge(e)),
      h('td', null, circuitCell(e.circuit)),
      h('td', { class: 'num' }, uptimeCell(e.uptime_pct)),
      h('td', { class: 'num', text: pair(e.latency_ms, ms) }),
      h('td', { class: 'num', text: pair(e.throughput, (v) => tps(v).replace(' tok/s', '')) }),
      h('td', { class: 'num', text: int(e.requests) }),
      h('td', { class: 'num' }, h('span', { class: e.failures ? 'up-bad' : 'faint', text: int(e.failures) })),
      h('td', { class: 'num', text: usd(e.spend) }),
      h('td', { class: 'num muted', text: `${perM(e.pricing.prompt)} / ${perM(e.pricing.completion)}` }),
    ));
  }

  function modelCard(m) {
    const stats = h('div', { class: 'model-stats' });
    const tbody = h('tbody');
    const table = h('table', { class: 'grid' },
      h('thead', null, h('tr', null,
        h('th', { text: 'endpoint' }), h('th', { text: 'status' }), h('th', { text: 'circuit' }),
        h('th', { class: 'num', text: 'uptime' }), h('th', { class: 'num', text: 'ttft p50 / p95' }),
        h('th', { class: 'num', text: 'tok/s p50 / p95' }), h('th', { class: 'num', text: 'requests' }),
        h('th', { class: 'num', text: 'errors' }), h('th', { class: 'num', text: 'spend' }),
        h('th', { class: 'num', text: 'price in / out per M' }))),
      tbody);
    const chartBox = (title, unit, legend) => {
      const readout = h('span', { class: 'readout' });
      const body = h('div', { class: 'chart-body' });
      const box = h('div', { class: 'chart' },
        h('div', { class: 'chart-title' }, h('b', { text: title }), h('span', { class: 'unit', text: unit }), legend, readout),
        body);
      return { box, body, readout };
    };
    const key = (cls, text) => h('span', { class: 'key' }, h('span', { class: `key-dot ${cls}` }), text);
    const latency = chartBox('Time to first token', 'p50 per 10 s');
    const throughput = chartBox('Throughput', 'p50 tokens/s');
    const volume = chartBox('Requests', 'per 10 s', h('span', { class: 'keys' }, key('ok', 'ok'), key('failed', 'failed')));
    const el = h('section', { class: 'card model', 'data-model': m.id },
      h('div', { class: 'model-head' },
        h('div', { class: 'model-title' }, h('h2', { text: m.name }), h('span', { class: 'model-id', text: m.id })),
        stats),
      h('div', { class: 'scroll' }, table),
      h('div', { class: 'charts' }, latency.box, throughput.box, volume.box));
    return { el, stats, tbody, latency, throughput, volume, plots: [] };
  }

  function lineOpts(width, m, unit, fmt, readout) {
    const series = [{}].concat(m.endpoints.map((e) => ({
      label: e.provider,
      stroke: color(e.provider),
      width: 2,
      spanGaps: true,
      points: { show: (u, si) => sparse(u.data[si]), size: 5, fill: color(e.provider) },
    })));
    return baseOpts(width, series, unit, readout, (u, i) => m.endpoints
      .map((e, k) => [e.provider, u.data[k + 1][i]])
      .filter(([, v]) => v != null)
      .map(([p, v]) => `${p} ${fmt(v)}`)
      .join(' · '));
  }

  function volumeOpts(width, readout) {
    const bars = uPlot.paths.bars({ size: [0.8, 12, 3] });
    const series = [
      {},
      { label: 'failed', stroke: '#ef4444', fill: '#fca5a5', width: 1, paths: bars, points: { show: false } },
      { label: 'succeeded', stroke: '#16a34a', fill: '#86efac', width: 1, paths: bars, points: { show: false } },
    ];
    return baseOpts(width, series, '', readout, (u, i) => {
      const total = u.data[1][i] || 0;
      const ok = u.data[2][i] || 0;
      return `${ok} ok · ${total - ok} failed`;
    }, true);
  }

  function sparse(values) {
    let n = 0;
    for (const v of values) if (v != null) n += 1;
    return n <= 45;
  }

  function baseOpts(width, series, unit, readout, describe, integers) {
    return {
      width,
      height: CHART_H,
      legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.18 : 1] } },
      axes: [
        Object.assign({}, AXIS, { space: 64, values: (u, splits) => splits.map(hhmm) }),
        Object.assign({}, AXIS, {
          size: 52,
          space: 28,
          incrs: integers ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] : undefined,
          values: (u, vals) => vals.map((v) => axisNum(v) + unit),
        }),
      ],
      series,
      hooks: {
        setCursor: [(u) => {
          const i = u.cursor.idx;
          readout.textContent = i == null ? '' : `${clock(u.data[0][i])} · ${describe(u, i) || 'no traffic'}`;
        }],
      },
    };
  }

  function chartData(d, m) {
    const t = d.series_t;
    const lat = [t].concat(m.endpoints.map((e) => e.series.ttft_p50_ms));
    const thr = [t].concat(m.endpoints.map((e) => e.series.throughput_p50));
    const ok = t.map((_, i) => m.endpoints.reduce((s, e) => s + (e.series.successes[i] || 0), 0));
    const all = t.map((_, i) => ok[i] + m.endpoints.reduce((s, e) => s + (e.series.failures[i] || 0), 0));
    // failed bars are drawn first at the full height; the succeeded bars cover their share
    return [lat, thr, [t, all, ok]];
  }

  function renderModels(d) {
    const root = $('models');
    const seen = new Set();
    for (const m of d.models || []) {
      seen.add(m.id);
      const sig = m.endpoints.map((e) => e.provider).join('|');
      let card = cards.get(m.id);
      if (card && card.sig !== sig) {
        card.plots.forEach((p) => p.destroy());
        card.el.remove();
        card = null;
      }
      if (!card) {
        card = Object.assign(modelCard(m), { sig });
        cards.set(m.id, card);
      }
      root.append(card.el); // keeps the catalog's order
      const requests = m.endpoints.reduce((s, e) => s + e.requests, 0);
      const failures = m.endpoints.reduce((s, e) => s + e.failures, 0);
      const spend = m.endpoints.reduce((s, e) => s + (e.spend || 0), 0);
      card.stats.replaceChildren(
        h('b', { text: int(requests) }), ' requests · ',
        h('b', { text: int(failures) }), ' errors · ',
        h('b', { text: usd(spend) }), ' spent · ',
        `${m.endpoints.length} endpoints`);
      card.tbody.replaceChildren(...endpointRows(m));
      const data = chartData(d, m);
      if (!card.plots.length) {
        const mk = (c, opts, dat) => {
          const w = Math.max(200, c.body.clientWidth || 360);
          const u = new uPlot(opts(w), dat, c.body);
          new ResizeObserver(() => {
            const nw = c.body.clientWidth;
            if (nw > 0 && Math.abs(nw - u.width) > 1) u.setSize({ width: nw, height: CHART_H });
          }).observe(c.body);
          return u;
        };
        card.plots = [
          mk(card.latency, (w) => lineOpts(w, m, ' ms', ms, card.latency.readout), data[0]),
          mk(card.throughput, (w) => lineOpts(w, m, '', tps, card.throughput.readout), data[1]),
          mk(card.volume, (w) => volumeOpts(w, card.volume.readout), data[2]),
        ];
      } else {
        card.plots.forEach((p, i) => p.setData(data[i]));
      }
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.plots.forEach((p) => p.destroy());
        card.el.remove();
        cards.delete(id);
      }
    }
  }

  function hop(a) {
    const dur = ms(a.duration_ms);
    if (a.class === 'ok') {
      return h('span', { class: 'hop ok', title: `${a.model} via ${a.provider}: answered` },
        h('span', { class: 'swatch', style: { background: color(a.provider), marginRight: '0' } }),
        a.provider, h('span', { class: 'what', text: `${a.status || 200} · ${dur}` }));
    }
    if (a.called === false || a.class === 'cancelled') {
      return h('span', { class: 'hop skip', title: `${a.model} via ${a.provider}: ${a.kind}` },
        a.provider, h('span', { class: 'what', text: a.class === 'cancelled' ? 'hedge lost' : a.kind }));
    }
    const what = a.status ? `${a.status}` : a.kind;
    return h('span', { class: 'hop fail', title: `${a.model} via ${a.provider}: ${a.class} (${a.kind})` },
      h('span', { class: 'swatch', style: { background: color(a.provider), marginRight: '0' } }),
      a.provider, h('span', { class: 'what', text: `${what} · ${dur}` }));
  }

  function route(attempts) {
    const out = [];
    attempts.forEach((a, i) => {
      if (i) out.push(h('span', { class: 'arrow', text: '→' }));
      out.push(hop(a));
    });
    return h('div', { class: 'route' }, out.length ? out : h('span', { class: 'faint', text: 'no attempt' }));
  }

  function renderRequests(reqs) {
    $('no-requests').hidden = reqs.length > 0;
    $('requests').hidden = reqs.length === 0;
    $('requests').tBodies[0].replaceChildren(...reqs.map((r) => {
      const ok = r.status === 200;
      const est = r.estimated ? '~' : '';
      return h('tr', { 'data-id': r.id },
        h('td', { class: 'muted', text: clock(r.created) }),
        h('td', { class: 'mono', text: r.id }),
        h('td', { text: r.model }),
        h('td', null, route(r.attempts || [])),
        h('td', { class: 'num' }, h('span', { class: ok ? 'status-ok' : 'status-bad', text: String(r.status), title: r.finish_reason || '' })),
        h('td', { class: 'muted', text: r.streamed ? 'stream' : 'single' }),
        h('td', { class: 'num', text: `${est}${int(r.tokens_prompt)} / ${est}${int(r.tokens_completion)}` }),
        h('td', { class: 'num', text: ms(r.latency_ms) }),
        h('td', { class: 'num', text: usd(r.cost) }));
    }));
  }

  function keyRow(k) {
    const share = isNum(k.limit) && k.limit > 0 ? Math.min(1, k.usage / k.limit) : null;
    return h('tr', null,
      h('td', { class: 'provider', text: k.label || '(no label)' }),
      h('td', { class: 'mono muted', text: k.id || '—' }),
      h('td', { class: 'num', text: usd(k.usage) }),
      h('td', { class: 'num', text: isNum(k.limit) ? usd(k.limit) : 'no limit' }),
      h('td', null, share == null ? h('span', { class: 'faint', text: '—' })
        : h('div', { class: share > 0.9 ? 'bar high' : 'bar', title: `${(share * 100).toFixed(1)}%` },
          h('span', { style: { width: `${Math.max(2, share * 100)}%` } }))),
      h('td', { class: 'num', text: isNum(k.remaining) ? usd(k.remaining) : '—' }),
      h('td', { class: k.limit_reset ? '' : 'faint', text: k.limit_reset || 'never' }),
      h('td', { class: 'num', text: [k.usage_daily, k.usage_weekly, k.usage_monthly].map((u) => isNum(u) ? usd(u) : '—').join(' / ') }),
      h('td', { class: 'guardrails', text: guardrails(k) }));
  }

  // the key's guardrails in one line: team, models, providers, data policy, rates, expiry
  function guardrails(k) {
    const parts = [];
    if (k.team) parts.push(`team ${k.team}`);
    if (k.allowed_models && k.allowed_models.length) parts.push(`models ${k.allowed_models.join(', ')}`);
    if (k.allowed_providers && k.allowed_providers.length) parts.push(`providers ${k.allowed_providers.join(', ')}`);
    const p = k.provider || {};
    if (p.data_collection === 'deny') parts.push('no data collection');
    if (p.zdr) parts.push('zdr');
    if (isNum(k.rpm)) parts.push(`${k.rpm} rpm`);
    if (isNum(k.tpm)) parts.push(`${k.tpm} tpm`);
    if (k.expires_at) parts.push(`expires ${k.expires_at}`);
    return parts.length ? parts.join(' · ') : '—';
  }

  function renderKeys(d) {
    const card = $('keys-card');
    let rows = [];
    let hint = '';
    let empty = '';
    if (d.viewer === 'key' && d.you) {
      rows = [d.you];
      hint = 'your key · only the master key sees every key';
    } else if (d.keys) {
      rows = d.keys.data || [];
      hint = d.viewer === 'open' ? 'open gateway (no [auth]): every key' : 'every key (master key)';
      if (!d.keys.available) empty = `Keys are not available: ${d.keys.reason}.`;
      else if (!rows.length) empty = 'No keys yet: the master key creates them with POST /api/v1/keys.';
    } else {
      card.hidden = true;
      return;
    }
    card.hidden = false;
    $('keys-hint').textContent = hint;
    $('keys').hidden = rows.length === 0;
    $('keys').tBodies[0].replaceChildren(...rows.map(keyRow));
    $('no-keys').hidden = !empty;
    $('no-keys').textContent = empty;
  }

  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
  poll();
})();
