// The supervisors' live wallboard: one snapshot from GET /api/wallboard when the live
// channel opens, then every "wallboard" message the server pushes (on each call or agent
// event, and every few seconds). Between snapshots the page ticks its clocks itself, against
// the server's time rather than the browser's.
import { api } from "./api.js";
import { initPage } from "./header.js";
import { setText } from "./i18n.js";
import { LiveSocket } from "./socket.js";
import { decorateAgents, initWallboardActions } from "./wallboard-actions.js";
import { colourAlerts } from "./wallboard-alerts.js";
import { WallboardCharts } from "./wallboard-charts.js";
import { renderAgents, renderDefinitions, renderQueues, renderWork, tick } from "./wallboard-render.js";

initPage();
initWallboardActions();
const $ = (id) => document.getElementById(id);
const main = $("main");
const charts = new WallboardCharts($("wb-chart-hours"), $("wb-chart-states"));
let shown = null; // the snapshot on the page
let offset = 0; // server clock minus browser clock, ms

function show(snapshot) {
  // A fetched snapshot and a pushed one can cross: the newer wins.
  if (shown && Date.parse(snapshot.server_time) < Date.parse(shown.server_time)) return;
  const first = shown === null;
  shown = snapshot;
  offset = Date.parse(snapshot.server_time) - Date.now();
  setText($("wb-day"), "wallboard.day", { day: snapshot.day });
  $("wb-pbx").hidden = snapshot.pbx_connected !== false;
  // The recordings' disk short of room (CALLCENTRE_DISK_WARN_PERCENT): warn before it fills.
  const disk = snapshot.recordings_disk;
  $("wb-disk").hidden = disk.ok;
  if (!disk.ok) {
    setText($("wb-disk"), disk.error ? "wallboard.disk_unreadable" : "wallboard.disk_low", {
      percent: disk.free_percent,
      free: (disk.free_bytes / 1e9).toFixed(1),
      oldest: disk.oldest_recording_at ? disk.oldest_recording_at.slice(0, 10) : "—",
    });
  }
  renderQueues($("wb-queues"), snapshot);
  renderAgents($("wb-agent-rows"), $("wb-agents-summary"), snapshot);
  decorateAgents($("wb-agent-rows"), snapshot);
  colourAlerts(main, snapshot);
  renderWork(main, snapshot);
  if (first) renderDefinitions($("wb-definition-list"), snapshot);
  tick(main, Date.now() + offset);
  charts.update(snapshot);
  main.dataset.updated = snapshot.server_time;
}

async function load() {
  try {
    show(await api.get("/api/wallboard"));
  } catch {
    // the live channel brings the next snapshot; the status line says if it is down
  }
}

function showLive(status) {
  const el = $("wb-live");
  el.dataset.state = status === "open" ? "up" : status === "closed" ? "down" : "connecting";
  setText(el.querySelector(".indicator-text"),
          status === "open" ? "live.connected" : status === "closed" ? "live.reconnecting"
            : "live.connecting");
}

const socket = new LiveSocket({
  onHello: () => load(),
  onMessage: (message) => {
    if (message.type === "wallboard") show(message);
  },
  onReplay: () => {}, // old snapshots: the fetch on hello brings the current one
  onStatus: showLive,
});

setInterval(() => tick(main, Date.now() + offset), 1000);
socket.start();
