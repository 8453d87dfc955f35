/**
 * The dashboard's script: plain browser JavaScript, no framework, no build step. It polls the
 * REST API every second and redraws. Text from the cluster (job and operator names) only ever
 * goes into textContent, never into HTML.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var POLL_MS = 1000;
  var TERMINAL = { finished: 1, failed: 1, canceled: 1 };
  var selected = null;
  var lastJobs = [];
  var selfNode = null;

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'class') el.className = attrs[k];
      else if (k.indexOf('data-') === 0 || k === 'id' || k === 'title' || k === 'href' || k === 'colspan') el.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : '–'; }
  function duration(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return ms + ' ms';
    var s = Math.floor(ms / 1000);
    if (s < 60) return (ms / 1000).toFixed(1) + ' s';
    var m = Math.floor(s / 60);
    return m < 60 ? m + 'm ' + (s % 60) + 's' : Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
  }
  function bytes(b) {
    if (b === null || b === undefined) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (i === 0 ? b : b.toFixed(1)) + ' ' + units[i];
  }
  function state(s) { return h('span', { class: 'state ' + s, text: s }); }

  function getJson(path) {
    return fetch(path, { cache: 'no-store' }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) { var e = new Error((body.error && body.error.message) || res.statusText); e.status = res.status; e.body = body; throw e; }
        return body;
      });
    });
  }

  function renderOverview(o) {
    var cards = [
      ['TaskExecutors', o.taskExecutors],
      ['Slots free / total', o.slotsFree + ' / ' + o.slotsTotal],
    ];
    Object.keys(o.jobs).sort().forEach(function (s) { cards.push(['Jobs ' + s, o.jobs[s]]); });
    if (o.leader) cards.push(['Leader term', o.leader.term]);
    clear($('overview'));
    cards.forEach(function (c) {
      $('overview').appendChild(h('div', { class: 'card' }, h('div', { class: 'value', text: String(c[1]) }), h('div', { class: 'label', text: c[0] })));
    });
  }

  function renderJobs(jobs) {
    lastJobs = jobs;
    var body = clear($('jobs').tBodies[0]);
    if (jobs.length === 0) body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: '5', text: 'no jobs yet' })));
    jobs.slice().reverse().forEach(function (j) {
      var row = h('tr', { 'data-job-id': j.jobId, class: j.jobId === selected ? 'selected' : '' },
        h('td', { text: j.name }), h('td', { text: j.jobId.slice(0, 12) }), h('td', {}, state(j.state)),
        h('td', { text: time(j.submittedAt) }), h('td', { text: duration(j.durationMs) }));
      row.addEventListener('click', function () { location.hash = 'job=' + j.jobId; });
      body.appendChild(row);
    });
  }

  function chooseJob() {
    var m = /job=([^&]+)/.exec(location.hash);
    if (m) return decodeURIComponent(m[1]);
    var live = lastJobs.filter(function (j) { return !TERMINAL[j.state]; });
    var pick = live.length ? live[live.length - 1] : lastJobs[lastJobs.length - 1];
    return pick ? pick.jobId : null;
  }

  /** Columns by depth: a vertex sits one column right of its deepest input, as in Flink's figures. */
  function levels(vertices) {
    var byId = {}, level = {};
    vertices.forEach(function (v) { byId[v.id] = v; });
    function depth(v, seen) {
      if (level[v.id] !== undefined) return level[v.id];
      if (seen[v.id]) return 0;
      seen[v.id] = 1;
      var d = 0;
      v.inputs.forEach(function (i) { if (byId[i.source]) d = Math.max(d, depth(byId[i.source], seen) + 1); });
      return (level[v.id] = d);
    }
    var cols = [];
    vertices.forEach(function (v) { var d = depth(v, {}); (cols[d] = cols[d] || []).push(v); });
    return cols;
  }

  function renderGraph(job) {
    var columns = clear($('columns'));
    var pressure = backpressureOf(lastSeries && lastSeries.jobId === job.jobId ? lastSeries : null);
    levels(job.vertices).forEach(function (col) {
      var c = h('div', { class: 'column' });
      col.forEach(function (v) {
        var ops = h('ol', { class: 'operators' });
        v.operators.forEach(function (op) { ops.appendChild(h('li', { 'data-operator-id': op.id, text: op.name })); });
        var foot = h('div', { class: 'vfoot' });
        Object.keys(v.states).forEach(function (s) { var badge = state(s); badge.textContent = s + ' ' + v.states[s]; foot.appendChild(badge); });
        foot.appendChild(h('div', { text: 'in ' + num(v.metrics.recordsIn) + ' · out ' + num(v.metrics.recordsOut) + ' · backpressured ' + duration(v.metrics.backPressuredMs) }));
        var bp = pressure[v.id];
        foot.appendChild(h('div', { class: 'bp-label', text: bp ? 'backpressure ' + bp.backpressure + ' (' + Math.round(bp.backpressureRatio * 100) + ' %) · ' + rate(bp.recordsOutPerSecond) + ' out/s' : 'backpressure –' }));
        c.appendChild(h('div', { class: 'vertex bp-' + (bp ? bp.backpressure : 'none'), 'data-vertex-id': v.id, 'data-vertex-name': v.name, 'data-backpressure': bp ? bp.backpressure : 'none', title: v.name },
          h('div', { class: 'vhead' }, h('span', { class: 'vname', text: v.name }), h('span', { class: 'par', text: '×' + v.parallelism })),
          ops, foot));
      });
      columns.appendChild(c);
    });
    drawEdges(job);
  }

  function drawEdges(job) {
    var svg = $('edges'), box = $('graph').getBoundingClientRect();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var ns = 'http://www.w3.org/2000/svg';
    job.vertices.forEach(function (v) {
      var to = document.querySelector('.vertex[data-vertex-id="' + CSS.escape(v.id) + '"]');
      v.inputs.forEach(function (input) {
        var from = document.querySelector('.vertex[data-vertex-id="' + CSS.escape(input.source) + '"]');
        if (!from || !to) return;
        var a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
        var x1 = a.right - box.left, y1 = a.top + a.height / 2 - box.top, x2 = b.left - box.left, y2 = b.top + b.height / 2 - box.top;
        var mid = (x1 + x2) / 2;
        var path = document.createElementNS(ns, 'path');
        path.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + mid + ',' + y1 + ' ' + mid + ',' + y2 + ' ' + (x2 - 6) + ',' + y2);
        var head = document.createElementNS(ns, 'path');
        head.setAttribute('d', 'M' + (x2 - 8) + ',' + (y2 - 4) + ' L' + x2 + ',' + y2 + ' L' + (x2 - 8) + ',' + (y2 + 4));
        var label = document.createElementNS(ns, 'text');
        label.setAttribute('x', String(mid - 20));
        label.setAttribute('y', String((y1 + y2) / 2 - 6));
        label.textContent = input.partitioner;
        svg.appendChild(path); svg.appendChild(head); svg.appendChild(label);
      });
    });
  }

  function renderSlots(job, taskExecutors) {
    var root = clear($('slots'));
    var byVertex = {};
    job.vertices.forEach(function (v) { byVertex[v.id] = v; });
    var placed = {};
    job.vertices.forEach(function (v) {
      v.subtasks.forEach(function (s) {
        if (s.taskExecutorId === null || s.slotIndex === null) return;
        var key = s.taskExecutorId + '/' + s.slotIndex;
        (placed[key] = placed[key] || []).push({ vertex: v, subtask: s });
      });
    });
    if (taskExecutors.length === 0) root.appendChild(h('p', { class: 'empty', text: 'no TaskExecutors registered' }));
    taskExecutors.forEach(function (te) {
      var grid = h('div', { class: 'slotgrid' });
      te.slots.forEach(function (slot) {
        var here = placed[te.id + '/' + slot.index] || [];
        var kind = here.length ? 'mine' : slot.jobId ? 'other' : 'free';
        var label = 'slot ' + slot.index + (slot.jobId && !here.length ? ' · job ' + slot.jobId.slice(0, 8) : kind === 'free' ? ' · free' : '');
        var cell = h('div', { class: 'slot ' + kind, 'data-te': te.id, 'data-slot': String(slot.index) }, h('div', { class: 'slabel', text: label }));
        here.forEach(function (p) {
          cell.appendChild(h('span', {
            class: 'subtask ' + p.subtask.state, 'data-vertex-name': p.vertex.name, 'data-index': String(p.subtask.index),
            title: p.vertex.name + ' (' + (p.subtask.index + 1) + '/' + p.vertex.parallelism + ') ' + p.subtask.state,
            text: p.vertex.name + ' (' + (p.subtask.index + 1) + '/' + p.vertex.parallelism + ')',
          }));
        });
        grid.appendChild(cell);
      });
      root.appendChild(h('div', { class: 'te', 'data-te': te.id },
        h('div', { class: 'tehead' }, te.id + ' ', h('span', { class: 'muted', text: te.node + ' · ' + te.slotsFree + '/' + te.slotsTotal + ' free' })), grid));
    });
  }

  function renderCheckpoints(checkpoints) {
    var body = clear($('checkpoints').tBodies[0]);
    if (checkpoints.length === 0) {
      body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: '7', text: 'no checkpoints (checkpointing is off, or none was taken yet)' })));
      return;
    }
    checkpoints.slice().reverse().forEach(function (c) {
      body.appendChild(h('tr', { 'data-checkpoint-id': String(c.id) }, h('td', { text: String(c.id) }), h('td', {}, state(c.status)),
        h('td', { text: c.savepoint ? 'savepoint' : 'checkpoint' }), h('td', { text: time(c.triggeredAt) }),
        h('td', { text: duration(c.durationMs) }), h('td', { text: bytes(c.sizeBytes) }), h('td', { text: c.failure || '' })));
    });
  }

  function renderLeader(info) {
    var badge = $('leader-badge');
    badge.className = 'badge ' + (info.isLeader ? 'leader' : 'standby');
    badge.textContent = info.isLeader ? 'leader · term ' + info.leader.term : 'standby';
    var banner = $('banner');
    if (!info.isLeader) {
      clear(banner).hidden = false;
      var target = info.leader && info.leader.url && /^https?:\/\/[^\/]+$/.test(info.leader.url) ? info.leader.url + '/' : null;
      if (target) {
        var staying = /(^#|&)stay(&|$)/.test(location.hash);
        banner.appendChild(document.createTextNode('This Master is a standby. The leader is '));
        banner.appendChild(h('a', { href: target + location.hash.replace(/(^#|&)stay(?=&|$)/, '$1'), text: info.leader.rest }));
        if (!staying) {
          // Follow the leader (the page is the same there), keeping the selected job; #stay stays here.
          banner.appendChild(document.createTextNode('; following it…'));
          location.replace(target + location.hash);
          return;
        }
      } else {
        banner.textContent = info.leader ? 'This Master is a standby; the leader is ' + info.leader.node + '.' : 'No leader is known yet.';
      }
    } else banner.hidden = true;
    var terms = info.history;
    selfNode = info.node;
    lastTerms = terms;
    var body = clear($('terms').tBodies[0]);
    renderFailover();
    if (terms.length === 0) { body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: '5', text: 'no leader seen yet' }))); return; }
    terms.slice().reverse().forEach(function (t) {
      body.appendChild(h('tr', {}, h('td', { text: String(t.term) }), h('td', { text: t.node + (t.node === info.node ? ' (this Master)' : '') }),
        h('td', { text: t.rest || '–' }), h('td', { text: new Date(t.since).toLocaleString() }), h('td', { text: t.until ? new Date(t.until).toLocaleString() : 'now' })));
    });
  }

  /* ---- Charts: SVG of our own. Every drawn point carries its sample (data-at, data-value). ---- */
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#2e7dd7', '#e6526f', '#3a9d5d', '#c9a227', '#8a5cd1', '#1fa3a3', '#d9822b', '#42506b'];
  var CHART_MS = 5 * 60 * 1000;
  var lastSeries = null;
  var lastTerms = [];
  function sv(tag, attrs) {
    var el = document.createElementNS(NS, tag);
    for (var k in attrs || {}) el.setAttribute(k, String(attrs[k]));
    return el;
  }
  function svText(x, y, text, cls) { var t = sv('text', { x: x, y: y, class: cls || 'tick' }); t.textContent = text; return t; }
  /** A round upper bound of the axis: 1, 2 or 5 times a power of ten. */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    for (var i = 0, m = [1, 2, 5, 10]; i < m.length; i++) if (m[i] * p >= v) return m[i] * p;
    return 10 * p;
  }
  function rate(n) { return n >= 10000 ? (n / 1000).toFixed(0) + 'k' : n >= 1000 ? (n / 1000).toFixed(1) + 'k' : String(Math.round(n)); }
  function clock(ms) { var d = new Date(ms); return d.toTimeString().slice(0, 8); }

  /**
   * A time chart: lines of {at, value} (null: a gap), bands (leader terms) and marks (restarts)
   * on the axis [from, to]; the y axis from 0 to max (or a round bound of the data).
   */
  function timeChart(el, o) {
    var W = Math.max(300, el.clientWidth || 600), H = o.height || 150, L = 48, R = 8, T = 8, B = 20;
    var peak = 0;
    o.lines.forEach(function (l) { l.points.forEach(function (p) { if (p.value !== null && p.at >= o.from && p.value > peak) peak = p.value; }); });
    var max = o.max || niceMax(peak);
    var span = Math.max(1, o.to - o.from);
    function x(t) { return L + ((t - o.from) / span) * (W - L - R); }
    function y(v) { return T + (1 - Math.min(v, max) / max) * (H - T - B); }
    var svg = sv('svg', { width: W, height: H, class: 'chart-svg', 'data-max': max, 'data-from': o.from, 'data-to': o.to });
    (o.bands || []).forEach(function (b) {
      var x1 = x(Math.max(b.from, o.from)), x2 = x(Math.min(b.to, o.to));
      if (x2 <= x1) return;
      var g = sv('g', { class: 'band ' + (b.cls || ''), 'data-term': b.term });
      g.appendChild(sv('rect', { x: x1, y: T, width: x2 - x1, height: H - T - B }));
      g.appendChild(svText(x1 + 4, T + 12, b.label, 'band-label'));
      svg.appendChild(g);
    });
    [0, 0.5, 1].forEach(function (f) {
      svg.appendChild(sv('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'grid' }));
      svg.appendChild(svText(L - 4, y(max * f) + 4, o.format(max * f), 'tick y'));
    });
    (o.thresholds || []).forEach(function (v) { svg.appendChild(sv('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'threshold' })); });
    [o.from, (o.from + o.to) / 2, o.to].forEach(function (t, i) {
      svg.appendChild(svText(x(t), H - 5, clock(t), 'tick x' + (i === 0 ? ' start' : i === 2 ? ' end' : '')));
    });
    (o.marks || []).forEach(function (m) {
      if (m.at < o.from || m.at > o.to) return;
      var g = sv('g', { class: 'mark', 'data-at': m.at });
      g.appendChild(sv('line', { x1: x(m.at), x2: x(m.at), y1: T, y2: H - B }));
      g.appendChild(svText(x(m.at) + 3, H - B - 4, m.label, 'mark-label'));
      svg.appendChild(g);
    });
    o.lines.forEach(function (l) {
      var g = sv('g', { class: 'line', 'data-series': l.key, stroke: l.color, fill: l.color });
      var run = [];
      function flush() { if (run.length > 1) g.appendChild(sv('polyline', { points: run.join(' '), fill: 'none' })); run = []; }
      l.points.forEach(function (p) {
        if (p.value === null || p.at < o.from || p.at > o.to) { flush(); return; }
        var px = x(p.at).toFixed(1), py = y(p.value).toFixed(1);
        run.push(px + ',' + py);
        g.appendChild(sv('circle', { cx: px, cy: py, r: 1.8, class: 'pt', 'data-at': p.at, 'data-value': p.value }));
      });
      flush();
      svg.appendChild(g);
    });
    clear(el).appendChild(svg);
  }

  /** Bars per checkpoint, oldest left; aborted ones drawn as such. */
  function barChart(el, items, format) {
    var W = Math.max(300, el.clientWidth || 600), H = 130, L = 48, R = 8, T = 8, B = 20;
    var max = niceMax(items.reduce(function (m, i) { return Math.max(m, i.value || 0); }, 0));
    var svg = sv('svg', { width: W, height: H, class: 'chart-svg', 'data-max': max });
    [0, 0.5, 1].forEach(function (f) {
      var yy = T + (1 - f) * (H - T - B);
      svg.appendChild(sv('line', { x1: L, x2: W - R, y1: yy, y2: yy, class: 'grid' }));
      svg.appendChild(svText(L - 4, yy + 4, format(max * f), 'tick y'));
    });
    var slot = (W - L - R) / Math.max(1, items.length), bw = Math.max(1, Math.min(24, slot * 0.7));
    items.forEach(function (it, i) {
      var v = it.value || 0, hgt = (v / max) * (H - T - B);
      var rect = sv('rect', { x: L + i * slot + (slot - bw) / 2, y: H - B - hgt, width: bw, height: Math.max(hgt, 0.5), class: 'bar ' + it.status, 'data-checkpoint-id': it.id, 'data-value': v });
      var title = sv('title', {}); title.textContent = 'checkpoint ' + it.id + ' · ' + it.status + ' · ' + format(v); rect.appendChild(title);
      svg.appendChild(rect);
    });
    if (items.length === 0) svg.appendChild(svText(W / 2, H / 2, 'no ended checkpoint yet', 'tick empty-note'));
    clear(el).appendChild(svg);
  }

  function renderSeries(series) {
    lastSeries = series;
    var to = series.samples.length ? series.samples[series.samples.length - 1].at : Date.now();
    // The last minutes, or since the first sample of a younger job: its lines fill the chart.
    var from = Math.max(to - CHART_MS, series.samples.length ? Math.min(series.samples[0].at, to - 30000) : to - CHART_MS);
    function lines(pick) {
      return series.vertices.map(function (v, i) {
        return { key: v.id, name: v.name, color: COLORS[i % COLORS.length],
          points: series.samples.map(function (s) { var p = s.vertices[i]; return { at: s.at, value: p ? pick(p) : null }; }) };
      });
    }
    var marks = series.restarts.map(function (r) { return { at: r.at, label: 'attempt ' + r.attempt }; });
    timeChart($('chart-in'), { from: from, to: to, lines: lines(function (p) { return p.recordsInPerSecond; }), format: rate, marks: marks });
    timeChart($('chart-out'), { from: from, to: to, lines: lines(function (p) { return p.recordsOutPerSecond; }), format: rate, marks: marks });
    timeChart($('chart-bp'), { from: from, to: to, max: 100, thresholds: [10, 50], lines: lines(function (p) { return Math.round(p.backpressureRatio * 1000) / 10; }),
      format: function (v) { return Math.round(v) + ' %'; }, marks: marks });
    var legend = clear($('legend'));
    series.vertices.forEach(function (v, i) {
      legend.appendChild(h('span', { class: 'key', 'data-series': v.id }, h('i', { class: 'swatch', title: v.name }), v.name));
      legend.lastChild.firstChild.style.background = COLORS[i % COLORS.length];
    });
    var cps = series.checkpoints.filter(function (c) { return c.id >= 0; });
    barChart($('chart-cp-duration'), cps.map(function (c) { return { id: c.id, status: c.status, value: c.durationMs }; }), duration);
    barChart($('chart-cp-size'), cps.map(function (c) { return { id: c.id, status: c.status, value: c.sizeBytes }; }), bytes);
  }

  /** Memory and CPU of every TaskExecutor over the last minutes, one line each. */
  function renderTaskExecutors(series) {
    var to = Date.now(), from = to - CHART_MS;
    function lines(pick) {
      return series.taskExecutors.map(function (te, i) {
        return { key: te.id, name: te.id, color: COLORS[i % COLORS.length],
          points: te.samples.map(function (s) { return { at: s.at, value: pick(s) }; }) };
      });
    }
    timeChart($('chart-te-rss'), { from: from, to: to, lines: lines(function (s) { return s.rssBytes; }), format: bytes, height: 120 });
    timeChart($('chart-te-heap'), { from: from, to: to, lines: lines(function (s) { return s.heapUsedBytes; }), format: bytes, height: 120 });
    timeChart($('chart-te-cpu'), { from: from, to: to, lines: lines(function (s) { return s.cpuCores; }), format: function (v) { return v.toFixed(1); }, height: 120 });
    var legend = clear($('te-legend'));
    series.taskExecutors.forEach(function (te, i) {
      legend.appendChild(h('span', { class: 'key', 'data-series': te.id }, h('i', { class: 'swatch', title: te.id }), te.id));
      legend.lastChild.firstChild.style.background = COLORS[i % COLORS.length];
    });
  }

  /** The latest backpressure level of each vertex, from the newest sample that has rates. */
  function backpressureOf(series) {
    var out = {};
    if (!series) return out;
    for (var k = series.samples.length - 1; k >= 0; k--) {
      var s = series.samples[k];
      if (s.vertices.some(function (p) { return p === null; })) continue;
      series.vertices.forEach(function (v, i) { out[v.id] = s.vertices[i]; });
      break;
    }
    return out;
  }

  function renderExceptions(list) {
    var body = clear($('exceptions').tBodies[0]);
    if (list.length === 0) { body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: '6', text: 'no failures' }))); return; }
    list.forEach(function (e) {
      var cause = h('td', { class: 'cause' }, h('code', { text: e.rootCause.code }), ' ' + e.rootCause.message);
      if (e.rootCause.stack) cause.appendChild(h('details', {}, h('summary', { text: 'stack' }), h('pre', { text: e.rootCause.stack })));
      body.appendChild(h('tr', { 'data-attempt': String(e.attempt) }, h('td', { text: new Date(e.at).toLocaleTimeString() }), h('td', { text: String(e.attempt) }),
        h('td', { title: e.task ? e.task.executionId : '' , text: e.task ? e.task.vertexName + ' (' + (e.task.index + 1) + ')' : 'the job' },
          e.task ? h('div', { class: 'muted small', text: e.task.executionId }) : null),
        h('td', { text: e.taskExecutorId || '–' }), cause,
        h('td', { text: (e.restarting ? 'restarted' : 'job failed') + (e.concurrentFailures ? ' · +' + e.concurrentFailures + ' concurrent' : '') })));
    });
  }

  /** Leader terms and the selected job's restarts on one axis, its output rate beneath. */
  function renderFailover() {
    var now = lastSeries && lastSeries.samples.length ? lastSeries.samples[lastSeries.samples.length - 1].at : Date.now();
    var first = lastTerms.length ? lastTerms[0].since : now;
    var oldestSample = lastSeries && lastSeries.samples.length ? lastSeries.samples[0].at : now;
    var from = Math.max(now - (lastSeries ? lastSeries.windowMs : CHART_MS), Math.min(first, oldestSample));
    var bands = lastTerms.map(function (t) {
      return { from: t.since, to: t.until || now, term: t.term, label: 'term ' + t.term + ' · ' + t.node, cls: (t.node === selfNode ? 'self' : '') + (t.until ? ' ended' : '') };
    });
    var marks = lastSeries ? lastSeries.restarts.map(function (r) { return { at: r.at, label: 'restart → attempt ' + r.attempt }; }) : [];
    // A leader change the job went through: adopted by the new leader (no restart), or not.
    (lastSeries && lastSeries.failovers || []).forEach(function (f) {
      marks.push({ at: f.at, label: (f.adopted ? 'adopted by the new leader' : 'not adopted') + ', term ' + Number(f.term) + ' · attempt ' + f.attempt });
    });
    timeChart($('timeline'), { from: from, to: now, height: 46, max: 1, lines: [], bands: bands, marks: marks, format: function () { return ''; } });
    var output = lastSeries ? [{ key: 'output', name: 'output', color: COLORS[2],
      points: lastSeries.samples.map(function (s) { return { at: s.at, value: s.outputPerSecond }; }) }] : [];
    timeChart($('chart-output'), { from: from, to: now, lines: output, marks: marks, format: rate, height: 120 });
  }

  /* The drill's JSON report, read in the browser (nothing is uploaded). */
  function renderDrill(report) {
    var root = clear($('drill'));
    root.hidden = false;
    root.appendChild(h('p', {}, h('span', { class: 'state ' + (report.ok ? 'completed' : 'failed'), text: report.ok ? 'passed' : 'failed' }),
      ' seed ' + report.seed + ' · ' + duration(report.durationMs) + (report.job ? ' · ' + num(report.job.records) + ' records, ' + report.job.restarts + ' restarts' : '') +
      ' · exactly-once ' + (report.exactlyOnce && report.exactlyOnce.ok ? 'ok' : 'violated') + ' · leaders ' + (report.leaders && report.leaders.ok ? 'never overlapped' : 'overlapped')));
    var head = h('tr');
    ['#', 'Fault', 'Target', 'At', 'Detected after', 'New leader after', 'Running again after', 'Without a leader', 'Longest output gap', 'Note'].forEach(function (t) { head.appendChild(h('th', { text: t })); });
    var table = h('table', { class: 'table', id: 'drill-faults' }, h('thead', {}, head));
    var body = h('tbody');
    (report.faults || []).forEach(function (f, i) {
      body.appendChild(h('tr', {}, h('td', { text: String(i + 1) }), h('td', { text: String(f.kind) }), h('td', { text: String(f.target) }),
        h('td', { text: time(f.at) }), h('td', { text: duration(f.detectionMs) }), h('td', { text: duration(f.newLeaderMs) }),
        h('td', { text: duration(f.runningAgainMs) }), h('td', { text: duration(f.withoutLeaderMs) }), h('td', { text: duration(f.longestOutputGapMs) }),
        h('td', { text: f.note || '' })));
    });
    table.appendChild(body);
    root.appendChild(table);
    if (report.failure) root.appendChild(h('p', { class: 'cause', text: 'stopped during ' + report.failure.during + ': ' + report.failure.message }));
  }

  function refresh() {
    return getJson('/api/leader').then(function (info) {
      renderLeader(info);
      if (!info.isLeader) { $('job').hidden = true; lastSeries = null; renderFailover(); return; }
      return Promise.all([getJson('/api/overview'), getJson('/api/jobs'), getJson('/api/taskexecutors'), getJson('/api/taskexecutors/series')]).then(function (r) {
        renderOverview(r[0]);
        renderTaskExecutors(r[3]);
        renderJobs(r[1]);
        selected = chooseJob();
        Array.prototype.forEach.call($('jobs').tBodies[0].rows, function (row) { row.className = row.getAttribute('data-job-id') === selected ? 'selected' : ''; });
        if (!selected) { $('job').hidden = true; return; }
        var id = encodeURIComponent(selected);
        return Promise.all([getJson('/api/jobs/' + id), getJson('/api/jobs/' + id + '/checkpoints'), getJson('/api/jobs/' + id + '/series'),
          getJson('/api/jobs/' + id + '/exceptions')]).then(function (j) {
          var job = j[0];
          // Shown first: the charts take the width the page gives them.
          $('job').hidden = false;
          renderSeries(j[2]);
          renderExceptions(j[3]);
          renderFailover();
          clear($('job-title')).appendChild(document.createTextNode('Job ' + job.name + ' '));
          $('job-title').appendChild(state(job.state));
          $('job-meta').textContent = job.jobId + ' · submitted ' + new Date(job.submittedAt).toLocaleString() + ' · ' + duration(job.durationMs) +
            (job.restarts ? ' · ' + job.restarts + ' restarts' : '') + (job.failure ? ' · failure: ' + job.failure.message : '');
          renderGraph(job);
          renderSlots(job, r[2]);
          renderCheckpoints(j[1]);
        });
      });
    }).then(function () {
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    }, function (err) {
      $('updated').textContent = 'update failed: ' + err.message;
    });
  }

  function loop() { refresh().then(function () { setTimeout(loop, POLL_MS); }); }
  $('drill-file').addEventListener('change', function () {
    var file = this.files && this.files[0];
    if (!file) return;
    file.text().then(function (text) { renderDrill(JSON.parse(text)); }).catch(function (err) {
      clear($('drill')).hidden = false;
      $('drill').appendChild(h('p', { class: 'cause', text: 'not a drill report: ' + err.message }));
    });
  });
  window.addEventListener('hashchange', refresh);
  window.addEventListener('resize', function () { if (!$('job').hidden) refresh(); });
  loop();
})();
`;
