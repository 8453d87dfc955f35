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
    <h3>Task slots <span class="muted">(TaskExecutor → slots → subtasks)</span></h3>
    <div id="slots" class="slots"></div>
    <h3>Checkpoints</h3>
    <table id="checkpoints" class="table"><thead><tr><th>Id</th><th>Status</th><th>Kind</th><th>Triggered</th><th>Duration</th><th>Size</th><th>Failure</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Failover timeline <span class="muted">(leader terms seen by this Master)</span></h2>
    <div id="timeline" class="timeline"></div>
    <table id="terms" class="table"><thead><tr><th>Term</th><th>Master</th><th>REST</th><th>Since</th><th>Until</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;
