/** The dashboard's HTML: a static shell that dashboard.js fills from the REST API. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flinkish dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>flinkish</h1>
  <span id="leader-badge" class="badge">connecting…</span>
  <span id="updated" class="muted"></span>
</header>
<div id="banner" class="banner" hidden></div>
<main>
  <section id="overview" class="cards" aria-label="cluster overview"></section>
  <section>
    <h2>Jobs</h2>
    <table id="jobs" class="table"><thead><tr><th>Name</th><th>Job id</th><th>State</th><th>Submitted</th><th>Duration</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="job" hidden>
    <h2 id="job-title"></h2>
    <p id="job-meta" class="muted"></p>
    <h3>Job graph <span class="muted">(tasks: chains of operators)</span></h3>
    <div id="graph" class="graph"><svg id="edges" class="edges" aria-hidden="true"></svg><div id="columns" class="columns"></div></div>
    <h3>Throughput and backpressure <span class="muted">(per task, sampled every second by the leader)</span></h3>
    <div class="charts">
      <figure><figcaption>Records in per second</figcaption><div id="chart-in" class="chart" data-chart="recordsInPerSecond"></div></figure>
      <figure><figcaption>Records out per second</figcaption><div id="chart-out" class="chart" data-chart="recordsOutPerSecond"></div></figure>
      <figure><figcaption>Backpressure <span class="muted">(% of time waiting for credit; ok ≤ 10 %, low ≤ 50 %, high above)</span></figcaption><div id="chart-bp" class="chart" data-chart="backpressure"></div></figure>
    </div>
    <div id="legend" class="legend"></div>
    <h3>Task slots <span class="muted">(TaskExecutor → slots → subtasks)</span></h3>
    <div id="slots" class="slots"></div>
    <h3>Checkpoints</h3>
    <div class="charts">
      <figure><figcaption>Checkpoint duration</figcaption><div id="chart-cp-duration" class="chart"></div></figure>
      <figure><figcaption>Checkpoint size</figcaption><div id="chart-cp-size" class="chart"></div></figure>
    </div>
    <table id="checkpoints" class="table"><thead><tr><th>Id</th><th>Status</th><th>Kind</th><th>Triggered</th><th>Duration</th><th>Size</th><th>Failure</th></tr></thead><tbody></tbody></table>
    <h3>Exceptions <span class="muted">(failures that ended an attempt, newest first)</span></h3>
    <table id="exceptions" class="table"><thead><tr><th>Time</th><th>Attempt</th><th>Task</th><th>TaskExecutor</th><th>Root cause</th><th>Then</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="taskexecutors">
    <h2>TaskExecutors <span class="muted">(from their heartbeats: the whole process, task threads included)</span></h2>
    <div class="charts">
      <figure><figcaption>Resident memory</figcaption><div id="chart-te-rss" class="chart"></div></figure>
      <figure><figcaption>Main-thread heap used</figcaption><div id="chart-te-heap" class="chart"></div></figure>
      <figure><figcaption>CPU <span class="muted">(cores busy)</span></figcaption><div id="chart-te-cpu" class="chart"></div></figure>
    </div>
    <div id="te-legend" class="legend"></div>
  </section>
  <section>
    <h2>Failover timeline <span class="muted">(leader terms seen by this Master, the job's restarts, and its output beneath)</span></h2>
    <div id="timeline" class="timeline"></div>
    <div id="failover" class="failover"><div id="chart-output" class="chart"></div></div>
    <p class="muted">Open a drill report (<code>flinkish drill</code>'s JSON): <input id="drill-file" type="file" accept=".json,application/json"></p>
    <div id="drill" hidden></div>
    <table id="terms" class="table"><thead><tr><th>Term</th><th>Master</th><th>REST</th><th>Since</th><th>Until</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;
