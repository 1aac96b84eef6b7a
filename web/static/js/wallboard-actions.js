// What a supervisor does from the wallboard: on an agent's live call, listen, whisper or barge
// in (the server rings the supervisor's own phone into the call); pause an agent with a
// reason, put a paused one back to ready, log one out of the queues. And the large-type mode
// for a wall screen (`?wall=1`, or the toggle): big figures, no controls; Esc leaves it.
//
// The agent rows are drawn afresh with every snapshot, so the pause dialog lives outside the
// table and remembers the agent by id.
import { api } from "./api.js";
import { h } from "./dom.js";
import { errorMessage } from "./forms.js";
import { setText } from "./i18n.js";
import { toast, toastError } from "./toast.js";

const SPY_MODES = ["listen", "whisper", "barge"];
const $ = (id) => document.getElementById(id);
let reasons = []; // the pause reasons the server accepts (from the snapshot)
const agents = new Map(); // user id → the agent as the last snapshot showed them

function button(key, action, onclick, extra = {}) {
  return h("button", { type: "button", class: ["button-small", extra.class],
                       dataset: { action }, i18n: key, onclick });
}

async function act(path, body, okKey, agent) {
  try {
    const result = await api.post(path, body);
    toast(okKey, { name: agent.name, ext: agent.extension || "" }, { kind: "info" });
    return result;
  } catch (error) {
    toastError(errorMessage(error));
    return null;
  }
}

function spy(agent, mode) {
  return act(`/api/supervision/agents/${agent.user_id}/spy`, { mode },
             `wallboard.action.${mode}_started`, agent);
}

function openPause(agent) {
  const dialog = $("wb-pause-dialog");
  dialog.dataset.agent = agent.user_id;
  setText($("wb-pause-heading"), "wallboard.pause.heading", { name: agent.name });
  const select = $("wb-pause-reason");
  select.replaceChildren(...reasons.map((r) => h("option", { value: r, i18n: `reason.${r}` })));
  dialog.showModal();
  select.focus();
}

function actions(agent) {
  const out = [];
  const live = agent.status !== "logged_out";
  if (agent.status === "on_call") {
    for (const mode of SPY_MODES) {
      out.push(button(`wallboard.action.${mode}`, mode, () => spy(agent, mode), { class: "wb-spy" }));
    }
  }
  if (live && agent.status !== "paused") {
    out.push(button("wallboard.action.pause", "pause", () => openPause(agent)));
  }
  if (agent.status === "paused" || agent.status === "wrapup") {
    out.push(button("wallboard.action.unpause", "unpause", () =>
      act(`/api/supervision/agents/${agent.user_id}/unpause`, {}, "wallboard.action.unpaused",
          agent)));
  }
  if (live) {
    out.push(button("wallboard.action.logout", "logout", () =>
      act(`/api/supervision/agents/${agent.user_id}/logout`, {}, "wallboard.action.logged_out",
          agent), { class: "danger" }));
  }
  return out;
}

/** Add the actions cell to every agent row wallboard-render.js drew from `snapshot`. */
export function decorateAgents(body, snapshot) {
  reasons = snapshot.pause_reasons || reasons;
  agents.clear();
  for (const agent of snapshot.agents) agents.set(String(agent.user_id), agent);
  for (const row of body.querySelectorAll("tr[data-agent]")) {
    const agent = agents.get(row.dataset.agent);
    if (agent) row.append(h("td", { class: "wb-actions" }, h("div", { class: "row-actions" },
                                                              actions(agent))));
  }
}

function setWall(on) {
  document.body.classList.toggle("wb-wall", on);
  const toggle = $("wb-wall-toggle");
  toggle.setAttribute("aria-pressed", String(on));
  setText(toggle, on ? "wallboard.wall.leave" : "wallboard.wall.enter");
  const url = new URL(location.href);
  if (on) url.searchParams.set("wall", "1");
  else url.searchParams.delete("wall");
  history.replaceState(null, "", url);
}

/** The pause dialog and the large-type mode; once, when the page starts. */
export function initWallboardActions() {
  const dialog = $("wb-pause-dialog");
  $("wb-pause-cancel").addEventListener("click", () => dialog.close());
  $("wb-pause-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const agent = agents.get(dialog.dataset.agent);
    const reason = $("wb-pause-reason").value;
    dialog.close();
    if (agent && reason) {
      await act(`/api/supervision/agents/${agent.user_id}/pause`, { reason },
                "wallboard.action.paused", agent);
    }
  });
  $("wb-wall-toggle").addEventListener("click", () =>
    setWall(!document.body.classList.contains("wb-wall")));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("wb-wall")) setWall(false);
  });
  setWall(new URLSearchParams(location.search).get("wall") === "1");
}
