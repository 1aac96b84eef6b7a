// One call under review: its facts, the player, who spoke when, the transcript in two lanes
// and the scorecard, all tied to the player's time (click a word or an evidence: hear it).
import { api } from "./api.js";
import { dispositionCodes, dispositionName } from "./dispositions.js";
import { chip, h, replace } from "./dom.js";
import { errorMessage } from "./forms.js";
import { dateTime, duration, queueName } from "./i18n.js";
import { phoneText } from "./qa-labels.js";
import { Player } from "./qa-player.js";
import { Scorecard } from "./qa-scorecard.js";
import { Timeline, Transcript } from "./qa-transcript.js";

export class CallView {
  /** options: canReview; neighbours(id) → {previous, next} call ids of the list;
   * onReviewed(detail) after a review was saved; panel(detail) → an element shown under
   * the call's facts (the feedback), or null. */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.id = null;
    this.detail = null;
    this.player = null;
  }

  async open(id) {
    this.close();
    this.id = id;
    replace(this.root, h("div", { class: "qa-call-bar" }, this.back()),
      h("p", { class: "loading", role: "status", i18n: "qa.loading_call" }));
    let detail;
    try {
      detail = await api.get(`/api/qa/calls/${id}`);
    } catch (error) {
      if (this.id !== id) return;
      replace(this.root, h("div", { class: "qa-call-bar" }, this.back()),
        h("div", { class: "empty-state", role: "alert" },
          h("h2", { i18n: "qa.load_failed_call" }), h("p", { text: errorMessage(error) })));
      return;
    }
    if (this.id !== id) return;
    this.show(detail);
  }

  close() {
    this.player?.destroy();
    this.player = null;
    this.id = null;
    this.detail = null;
  }

  back() {
    return h("a", { href: "#", class: "button-quiet qa-back", id: "qa-back" },
      h("span", { "aria-hidden": "true", text: "← " }), h("span", { i18n: "qa.back" }));
  }

  show(detail) {
    this.detail = detail;
    const call = detail.call;
    const transcript = new Transcript(detail.transcript, { onSeek: (s) => this.seek(s) });
    const length = Math.max(transcript.end, call.talk_seconds || 0);
    const timeline = new Timeline(transcript.turns, length, { onSeek: (s) => this.seek(s) });
    const player = new Player(call.id, detail.recordings, {
      onTime: (time, playing) => {
        transcript.at(time, playing);
        timeline.at(time);
      },
    });
    player.audio.addEventListener("durationchange", () => timeline.setDuration(player.duration));
    Object.assign(this, { transcript, timeline, player });
    const scoreRoot = h("section", { class: "qa-scorecard panel", id: "qa-scorecard",
                                     "aria-labelledby": "qa-scorecard-heading" });
    this.scorecard = new Scorecard(scoreRoot, {
      callId: call.id, canReview: this.options.canReview,
      onSeek: (item) => this.evidence(item),
      onReviewed: (fresh) => {
        this.detail = fresh;
        this.options.onReviewed?.(fresh);
      },
    });
    this.scorecard.render(detail);
    replace(this.root,
      this.bar(call),
      this.options.panel?.(detail),
      h("div", { class: "qa-media" }, player.element, timeline.element),
      h("div", { class: "qa-call-body" }, transcript.element, scoreRoot));
    this.root.querySelector("#qa-call-title")?.focus({ preventScroll: true });
  }

  bar(call) {
    const { previous, next } = this.options.neighbours?.(call.id) ?? {};
    const customer = call.customer_name || phoneText(call.customer_number) || "—";
    const kind = call.direction === "outbound" ? "outbound" : "inbound";
    const fact = (label, ...value) => h("div", { class: "qa-fact" },
      h("dt", { i18n: label }), h("dd", {}, ...value));
    const step = (id, key, arrow) => (id
      ? h("a", { href: `#call=${id}`, class: "button-quiet qa-step", dataset: { step: key } },
        h("span", { i18n: key }), h("span", { "aria-hidden": "true", text: arrow }))
      : h("span", { class: "qa-step is-disabled", "aria-disabled": "true" },
        h("span", { i18n: key }), h("span", { "aria-hidden": "true", text: arrow })));
    return h("div", { class: "qa-call-bar" },
      this.back(),
      h("h1", { id: "qa-call-title", tabindex: "-1", i18n: ["qa.call_title", { id: call.id }] }),
      h("dl", { class: "qa-facts" },
        fact("qa.fact.started", h("span", { class: "mono", text: dateTime(call.started_at) })),
        fact("qa.fact.kind", chip(kind === "outbound" ? "stage" : "info", `qa.kind.${kind}`),
             call.queue ? " " : null,
             call.queue ? h("span", { class: "muted small",
                                      i18n: ["queue.name", { name: queueName(call.queue) }] }) : null),
        fact("qa.fact.agent", h("span", { class: "qa-fact-agent", text: call.agent_name || "—" })),
        fact("qa.fact.customer", h("span", { class: "qa-fact-customer", text: customer }),
             call.customer_name && call.customer_number
               ? h("span", { class: "muted mono", text: ` ${phoneText(call.customer_number)}` }) : null),
        fact("qa.fact.talk", h("span", { class: "mono",
                                         text: call.talk_seconds === null ? "—" : duration(call.talk_seconds) })),
        call.ring_seconds !== null && call.ring_seconds !== undefined
          && fact("qa.fact.ring", h("span", { class: "mono",
                                              i18n: ["qa.seconds", { s: Math.round(call.ring_seconds) }] })),
        call.hung_up_by && fact("qa.fact.hung_up", h("span", { i18n: `qa.lane.${call.hung_up_by}` })),
        this.disposition()),
      h("nav", { class: "qa-steps", i18nAttrs: { "aria-label": "qa.steps" } },
        step(previous, "qa.prev_call", " ↑"), step(next, "qa.next_call", " ↓")));
  }

  /** Why the customer called, as the agent coded it in wrap-up (named once the codes are read). */
  disposition() {
    const coded = this.detail?.disposition;
    if (!coded) return null;
    const name = h("span", { class: "chip chip-info qa-fact-disposition",
                             dataset: { disposition: coded.code }, text: coded.code });
    dispositionCodes().then((codes) => { name.textContent = dispositionName(codes, coded.code); },
                            () => {});
    return h("div", { class: "qa-fact" }, h("dt", { i18n: "qa.fact.disposition" }),
      h("dd", {}, name, coded.note ? h("span", { class: "muted small", text: ` ${coded.note}` }) : null));
  }

  /** The list came (back): previous / next follow it. */
  refreshSteps() {
    const bar = this.root.querySelector(".qa-call-bar");
    if (!this.detail || !bar?.querySelector(".qa-facts")) return;
    bar.replaceWith(this.bar(this.detail.call));
  }

  seek(seconds) {
    this.player?.seek(seconds);
  }

  /** An evidence item: mark its stretch in the transcript and on the timeline, hear it. */
  evidence(item) {
    this.transcript.mark(item.leg, item.start, item.end ?? item.start);
    this.timeline.mark(item.start, item.end ?? item.start);
    this.seek(item.start);
  }
}
