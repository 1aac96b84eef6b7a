// The supervisors' campaigns page: the list of campaigns with their status, one campaign
// (#campaign=ID) with its buttons, live progress and attempts, and the form to create (#new)
// or edit (#edit=ID) one. While a campaign is shown it is re-read every few seconds.
import { api } from "./api.js";
import { chip, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { initPage } from "./header.js";
import { onLanguageChange, setText } from "./i18n.js";
import { STATUS_KIND } from "./campaign-labels.js";
import { CampaignForm } from "./campaign-form.js";
import { CampaignView } from "./campaign-view.js";
import { toast } from "./toast.js";

const POLL_MS = 3000;
const $ = (id) => document.getElementById(id);

initPage();
let campaigns = [];
let agents = []; // /api/agents, for the form's choices and the attempts' names
const agentsById = new Map();
let view = null; // the CampaignView shown
let polling = false;

async function loadAgents() {
  try {
    agents = await api.get("/api/agents");
  } catch {
    agents = [];
  }
  agentsById.clear();
  for (const agent of agents) agentsById.set(agent.user_id, agent);
}

async function loadList() {
  try {
    campaigns = await api.get("/api/campaigns");
  } catch (error) {
    setText($("campaigns-status"), "campaigns.list_failed", { error: errorMessage(error) });
    return;
  }
  renderList();
}

function renderList() {
  const current = route().id;
  setText($("campaigns-status"), campaigns.length ? "campaigns.count" : "campaigns.none",
          { n: campaigns.length });
  replace($("campaign-list"), campaigns.map((c) => h("li", {},
    h("a", { href: `#campaign=${c.id}`, class: "campaign-link",
             dataset: { campaignId: c.id, status: c.status },
             "aria-current": c.id === current ? "true" : null },
      h("span", { class: "campaign-link-name", text: c.name }),
      chip(STATUS_KIND[c.status], `campaigns.status.${c.status}`)))));
}

/** What the address asks for: {kind: "view"|"edit"|"new"|"none", id}. */
function route() {
  const hash = location.hash;
  if (hash === "#new") return { kind: "new", id: null };
  const match = /^#(campaign|edit)=(\d+)$/.exec(hash);
  if (match) return { kind: match[1] === "edit" ? "edit" : "view", id: Number(match[2]) };
  return { kind: "none", id: null };
}

function close() {
  view?.destroy();
  view = null;
}

function showEmpty() {
  replace($("campaign-view"), h("div", { class: "panel campaign-empty" },
    h("p", { class: "muted", i18n: campaigns.length ? "campaigns.pick" : "campaigns.none_yet" }),
    h("a", { href: "#new", class: "button primary", i18n: "campaigns.new" })));
}

async function showForm(campaignId) {
  let campaign = null;
  if (campaignId !== null) {
    try {
      campaign = (await api.get(`/api/campaigns/${campaignId}`)).campaign;
    } catch (error) {
      replace($("campaign-view"), h("p", { class: "panel form-error", role: "alert",
                                           text: errorMessage(error) }));
      return;
    }
  }
  const form = new CampaignForm(campaign, {
    agents,
    onSaved: (saved, { created }) => {
      toast(created ? "campaigns.created" : "campaigns.saved", { name: saved.name });
      location.hash = `campaign=${saved.id}`;
      loadList();
    },
    onCancel: () => { location.hash = campaign ? `campaign=${campaign.id}` : ""; },
  });
  replace($("campaign-view"), form.element);
  form.element.querySelector("input[name=name]")?.focus();
}

async function showCampaign(campaignId) {
  view = new CampaignView(campaignId, { agents: agentsById, onChanged: () => loadList() });
  replace($("campaign-view"), view.element);
  await view.refresh();
}

async function onRoute() {
  close();
  const { kind, id } = route();
  renderList();
  if (kind === "new") await showForm(null);
  else if (kind === "edit") await showForm(id);
  else if (kind === "view") await showCampaign(id);
  else showEmpty();
}

/** Re-read the campaign shown and the list, unless the tab is hidden or a read is under way. */
async function poll() {
  if (!view || polling || document.hidden) return;
  polling = true;
  try {
    const shown = view;
    await shown.refresh();
    await loadList();
  } finally {
    polling = false;
  }
}

onLanguageChange(() => view?.renderHead());
window.addEventListener("hashchange", onRoute);
setInterval(poll, POLL_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
await Promise.all([loadAgents(), loadList()]);
onRoute();
