/** The dashboard's stylesheet. */
export const DASHBOARD_CSS = `
:root { --fg: #1d2330; --muted: #6b7385; --line: #d5d9e2; --bg: #f5f6f9; --card: #fff; --accent: #e6526f;
  --running: #2e7dd7; --finished: #3a9d5d; --failed: #d64545; --canceled: #8a8f99; --waiting: #c9a227; --free: #eef0f4; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 18px; letter-spacing: .5px; }
header h1::before { content: "◆ "; color: var(--accent); }
main { padding: 16px 20px 40px; }
h2 { font-size: 16px; margin: 24px 0 8px; } h3 { font-size: 14px; margin: 18px 0 8px; }
.muted { color: var(--muted); font-weight: normal; } header .muted { color: #aab1c0; }
.badge { padding: 2px 8px; border-radius: 10px; background: #3a4254; font-size: 12px; }
.badge.leader { background: var(--finished); } .badge.standby { background: var(--waiting); color: #000; }
.banner { margin: 12px 20px 0; padding: 10px 14px; border-radius: 6px; background: #fff3cd; border: 1px solid #e6d08a; }
.banner a { color: inherit; font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 140px; }
.card .value { font-size: 22px; font-weight: 600; } .card .label { color: var(--muted); font-size: 12px; }
.table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
.table th, .table td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
.table th { background: #eceef3; font-weight: 600; font-size: 12px; color: #454c5c; }
#jobs tbody tr { cursor: pointer; } #jobs tbody tr:hover { background: #f0f3fa; } #jobs tbody tr.selected { background: #e3ebf9; }
.state { display: inline-block; padding: 1px 8px; border-radius: 9px; color: #fff; font-size: 12px; background: var(--muted); }
.state.running, .state.deploying, .state.restarting { background: var(--running); }
.state.finished, .state.completed { background: var(--finished); }
.state.failed, .state.failing, .state.aborted { background: var(--failed); }
.state.canceled, .state.canceling, .state.suspended { background: var(--canceled); }
.state.created, .state.scheduled, .state.waitingForResources, .state.pending { background: var(--waiting); color: #000; }
.graph { position: relative; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 20px; overflow-x: auto; }
.edges { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; overflow: visible; }
.edges path { fill: none; stroke: #7d8596; stroke-width: 1.5; } .edges text { font-size: 11px; fill: var(--muted); }
.columns { position: relative; display: flex; gap: 90px; align-items: center; }
.column { display: flex; flex-direction: column; gap: 24px; }
.vertex { width: 230px; border: 2px solid #42506b; border-radius: 8px; background: #fbfcfe; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
.vertex .vhead { display: flex; justify-content: space-between; gap: 6px; padding: 6px 10px; background: #42506b; color: #fff; font-weight: 600; }
.vertex .vhead .par { font-weight: normal; opacity: .85; }
.operators { list-style: none; margin: 0; padding: 6px 10px; }
.operators li { padding: 3px 8px; margin: 3px 0; border: 1px dashed #9aa3b5; border-radius: 4px; background: #fff; }
.operators li + li::before { content: "↓ "; color: var(--muted); }
.vfoot { padding: 4px 10px 8px; font-size: 12px; color: var(--muted); } .vfoot .state { margin-right: 4px; }
.slots { display: flex; flex-wrap: wrap; gap: 14px; }
.te { background: var(--card); border: 1px solid var(--line); border-radius: 8px; min-width: 240px; }
.te .tehead { padding: 6px 10px; border-bottom: 1px solid var(--line); font-weight: 600; }
.te .tehead .muted { font-size: 12px; }
.te .slotgrid { display: flex; gap: 8px; padding: 10px; }
.slot { width: 220px; min-height: 90px; border: 1px solid var(--line); border-radius: 6px; padding: 6px; background: var(--free); }
.slot.mine { background: #e8f0fc; border-color: #9bb8e6; } .slot.other { background: #f3eef7; }
.slot .slabel { font-size: 11px; color: var(--muted); margin-bottom: 4px; }
.subtask { display: block; margin: 3px 0; padding: 2px 6px; border-radius: 4px; font-size: 12px; color: #fff; background: var(--muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.subtask.running, .subtask.deploying { background: var(--running); } .subtask.finished { background: var(--finished); }
.subtask.failed { background: var(--failed); } .subtask.canceled { background: var(--canceled); }
.subtask.created, .subtask.scheduled { background: var(--waiting); color: #000; }
.timeline { position: relative; height: 34px; background: var(--card); border: 1px solid var(--line); border-radius: 6px; margin-bottom: 8px; overflow: hidden; }
.term { position: absolute; top: 4px; bottom: 4px; border-radius: 4px; background: var(--running); color: #fff; font-size: 11px; padding: 4px 6px; white-space: nowrap; overflow: hidden; border-left: 2px solid #fff; }
.term.self { background: var(--finished); } .term.ended { opacity: .6; }
.empty { color: var(--muted); font-style: italic; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 12px; }
/* The charts take the width the grid gives them, never the other way round. */
.charts figure { min-width: 0; overflow: hidden; margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.charts figcaption { font-size: 12px; font-weight: 600; color: #454c5c; margin-bottom: 4px; }
.chart { width: 100%; min-width: 0; min-height: 40px; overflow: hidden; }
.chart-svg { display: block; font-size: 10px; }
.chart-svg .grid { stroke: #e3e6ec; } .chart-svg .threshold { stroke: #d9822b; stroke-dasharray: 3 3; }
.chart-svg .tick { fill: var(--muted); text-anchor: middle; } .chart-svg .tick.y { text-anchor: end; }
.chart-svg .tick.start { text-anchor: start; } .chart-svg .tick.end { text-anchor: end; }
.chart-svg .line polyline { stroke-width: 1.6; } .chart-svg .line .pt { stroke: none; }
.chart-svg .mark line { stroke: var(--failed); stroke-width: 1.5; stroke-dasharray: 4 2; } .chart-svg .mark-label { fill: var(--failed); font-size: 10px; }
.chart-svg .band rect { fill: var(--running); opacity: .25; stroke: #fff; } .chart-svg .band.self rect { fill: var(--finished); }
.chart-svg .band.ended rect { opacity: .15; } .chart-svg .band-label { fill: var(--fg); font-size: 11px; }
.chart-svg .bar.completed { fill: var(--finished); } .chart-svg .bar.aborted, .chart-svg .bar.failed { fill: var(--failed); }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 2px; font-size: 12px; }
.legend .swatch { display: inline-block; width: 12px; height: 4px; margin-right: 5px; vertical-align: middle; border-radius: 2px; }
.vertex.bp-ok { border-color: #3a9d5d; } .vertex.bp-ok .vhead { background: #3a9d5d; }
.vertex.bp-low { border-color: #d9822b; } .vertex.bp-low .vhead { background: #d9822b; }
.vertex.bp-high { border-color: #d64545; } .vertex.bp-high .vhead { background: #d64545; }
.timeline { height: auto; overflow: visible; }
.failover { overflow: hidden; background: var(--card); border: 1px solid var(--line); border-radius: 6px; margin-bottom: 8px; padding: 4px 0; }
#exceptions .cause code { color: var(--failed); font-weight: 600; } #exceptions pre { white-space: pre-wrap; font-size: 11px; margin: 4px 0 0; }
.small { font-size: 11px; }
`;
