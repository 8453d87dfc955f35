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

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'class') el.className = attrs[k];
      else if (k.indexOf('data-') === 0 || k === 'title' || k === 'href' || k === 'colspan') el.setAttribute(k, attrs[k]);
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
    levels(job.vertices).forEach(function (col) {
      var c = h('div', { class: 'column' });
      col.forEach(function (v) {
        var ops = h('ol', { class: 'operators' });
        v.operators.forEach(function (op) { ops.appendChild(h('li', { 'data-operator-id': op.id, text: op.name })); });
        var foot = h('div', { class: 'vfoot' });
        Object.keys(v.states).forEach(function (s) { var badge = state(s); badge.textContent = s + ' ' + v.states[s]; foot.appendChild(badge); });
        foot.appendChild(h('div', { text: 'in ' + num(v.metrics.recordsIn) + ' · out ' + num(v.metrics.recordsOut) + ' · backpressured ' + duration(v.metrics.backPressuredMs) }));
        c.appendChild(h('div', { class: 'vertex', 'data-vertex-id': v.id, 'data-vertex-name': v.name, title: v.name },
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
      if (info.leader && info.leader.rest) {
        banner.appendChild(document.createTextNode('This Master is a standby. The leader is '));
        banner.appendChild(h('a', { href: 'http://' + info.leader.rest + '/', text: info.leader.rest }));
      } else {
        banner.textContent = info.leader ? 'This Master is a standby; the leader is ' + info.leader.node + '.' : 'No leader is known yet.';
      }
    } else banner.hidden = true;
    var terms = info.history, now = Date.now();
    var line = clear($('timeline')), body = clear($('terms').tBodies[0]);
    if (terms.length === 0) { body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: '5', text: 'no leader seen yet' }))); return; }
    var start = terms[0].since, span = Math.max(1, now - start);
    terms.forEach(function (t) {
      var left = ((t.since - start) / span) * 100, width = (((t.until || now) - t.since) / span) * 100;
      var el = h('div', { class: 'term' + (t.node === info.node ? ' self' : '') + (t.until ? ' ended' : ''), title: 'term ' + t.term + ' · ' + t.node,
        text: 'term ' + t.term + ' · ' + t.node });
      el.style.left = left + '%';
      el.style.width = Math.max(width, 0.5) + '%';
      line.appendChild(el);
    });
    terms.slice().reverse().forEach(function (t) {
      body.appendChild(h('tr', {}, h('td', { text: String(t.term) }), h('td', { text: t.node + (t.node === info.node ? ' (this Master)' : '') }),
        h('td', { text: t.rest || '–' }), h('td', { text: new Date(t.since).toLocaleString() }), h('td', { text: t.until ? new Date(t.until).toLocaleString() : 'now' })));
    });
  }

  function refresh() {
    return getJson('/api/leader').then(function (info) {
      renderLeader(info);
      if (!info.isLeader) { $('job').hidden = true; return; }
      return Promise.all([getJson('/api/overview'), getJson('/api/jobs'), getJson('/api/taskexecutors')]).then(function (r) {
        renderOverview(r[0]);
        renderJobs(r[1]);
        selected = chooseJob();
        Array.prototype.forEach.call($('jobs').tBodies[0].rows, function (row) { row.className = row.getAttribute('data-job-id') === selected ? 'selected' : ''; });
        if (!selected) { $('job').hidden = true; return; }
        var id = encodeURIComponent(selected);
        return Promise.all([getJson('/api/jobs/' + id), getJson('/api/jobs/' + id + '/checkpoints')]).then(function (j) {
          var job = j[0];
          $('job').hidden = false;
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
  window.addEventListener('hashchange', refresh);
  window.addEventListener('resize', function () { if (!$('job').hidden) refresh(); });
  loop();
})();
`;
