// The transcript of a call as two speaker lanes (坐席 left, 客户 right) in time order: each
// turn starts with its time (a button: seek there), each word can be clicked to seek there,
// the word being spoken is highlighted while the recording plays, and a stretch of the call
// (a rule's evidence) can be marked. Above it, a timeline of who spoke when.
import { h } from "./dom.js";
import { stamp } from "./qa-labels.js";

export const SPEAKERS = ["agent", "customer"];
const TURN_GAP = 1.5; // seconds of silence that start a new turn of the same speaker
const EARLY = 0.03; // a seek lands a hair before the word it was aimed at

function prefersLessMotion() {
  return window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
}

/** Both legs' words in time order, grouped into turns (one speaker talking). */
export function turnsOf(transcript) {
  const all = [];
  for (const leg of SPEAKERS) {
    for (const word of transcript?.[leg] ?? []) all.push({ ...word, leg });
  }
  all.sort((a, b) => a.start - b.start || a.end - b.end);
  const turns = [];
  const lastEnd = { agent: -Infinity, customer: -Infinity };
  for (const word of all) {
    const turn = turns.at(-1);
    if (turn && turn.leg === word.leg && word.start - turn.end <= TURN_GAP) {
      turn.words.push(word);
      turn.end = Math.max(turn.end, word.end);
    } else {
      const other = word.leg === "agent" ? "customer" : "agent";
      turns.push({ leg: word.leg, start: word.start, end: word.end, words: [word],
                   overlap: word.start < lastEnd[other] });
    }
    lastEnd[word.leg] = Math.max(lastEnd[word.leg], word.end);
  }
  return turns;
}

export class Transcript {
  /** onSeek(seconds) when a word or a turn's time is clicked. */
  constructor(transcript, { onSeek }) {
    this.onSeek = onSeek;
    this.turns = turnsOf(transcript);
    this.words = { agent: [], customer: [] };
    this.current = { agent: null, customer: null };
    this.marked = [];
    this.follow = h("input", { type: "checkbox", id: "qa-follow", checked: true });
    this.body = h("div", { class: "qa-lanes", id: "qa-lanes", tabindex: "-1" });
    this.element = this.render();
  }

  get end() {
    return this.turns.reduce((end, turn) => Math.max(end, turn.end), 0);
  }

  render() {
    const head = h("div", { class: "qa-transcript-head" },
      h("h2", { id: "qa-transcript-heading", i18n: "qa.transcript" }),
      h("label", { class: "qa-follow" }, this.follow, h("span", { i18n: "qa.follow" })));
    const lanes = h("div", { class: "qa-lane-names", "aria-hidden": "true" },
      h("span", { class: "qa-lane-name qa-lane-agent", i18n: "qa.lane.agent" }),
      h("span", { class: "qa-lane-name qa-lane-customer", i18n: "qa.lane.customer" }));
    if (!this.turns.length) {
      this.body.append(h("p", { class: "muted empty-note qa-no-transcript", i18n: "qa.no_transcript" }));
    }
    for (const turn of this.turns) this.body.append(this.turn(turn));
    this.body.addEventListener("click", (event) => {
      const word = event.target.closest(".qa-word");
      if (word) this.onSeek?.(Number(word.dataset.start));
    });
    // One tab stop for all the turns (the scorecard is only a Tab away); ↑ ↓ Home End move.
    const times = [...this.body.querySelectorAll(".qa-turn-time")];
    times.forEach((button, i) => { button.tabIndex = i === 0 ? 0 : -1; });
    this.body.addEventListener("keydown", (event) => {
      const at = times.indexOf(event.target);
      if (at < 0) return;
      const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: times.length - 1 }[event.key];
      if (to === undefined || !times[to]) return;
      event.preventDefault();
      times[at].tabIndex = -1;
      times[to].tabIndex = 0;
      times[to].focus();
    });
    return h("section", { class: "qa-transcript panel", "aria-labelledby": "qa-transcript-heading" },
      head, lanes, this.body);
  }

  turn(turn) {
    const words = h("p", { class: "qa-words" });
    for (const word of turn.words) {
      const el = h("span", { class: "qa-word", dataset: { start: word.start, end: word.end, leg: turn.leg },
                             text: word.word });
      if (typeof word.conf === "number" && word.conf < 0.6) el.classList.add("is-unsure");
      this.words[turn.leg].push({ start: word.start, end: word.end, el });
      words.append(el);
    }
    const at = stamp(turn.start);
    return h("div", { class: ["qa-turn", `qa-turn-${turn.leg}`, turn.overlap && "is-overlap"],
                      dataset: { leg: turn.leg, start: turn.start } },
      h("div", { class: "qa-turn-meta" },
        h("button", { type: "button", class: "seek qa-turn-time", text: at,
                      i18nAttrs: { "aria-label": [`qa.seek_turn_${turn.leg}`, { t: at }] },
                      onclick: () => this.onSeek?.(turn.start) }),
        turn.overlap && h("span", { class: "chip chip-warn qa-overlap", i18n: "qa.overlap",
                                    i18nAttrs: { title: "qa.overlap_hint" } })),
      words);
  }

  wordAt(leg, time) {
    const words = this.words[leg];
    let low = 0;
    let high = words.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (words[middle].start <= time + EARLY) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return null;
    const word = words[found];
    return time < Math.max(word.end, word.start + 0.2) ? word : null;
  }

  /** Highlight what is being said at `time`; while playing, keep it in view. */
  at(time, playing) {
    for (const leg of SPEAKERS) {
      const word = this.wordAt(leg, time);
      if (word === this.current[leg]) continue;
      this.current[leg]?.el.classList.remove("is-current");
      this.current[leg] = word;
      if (!word) continue;
      word.el.classList.add("is-current");
      if (playing && this.follow.checked) this.reveal(word.el);
    }
  }

  /** Mark the words of a stretch of the call (a rule's evidence) and bring them into view.
   * `leg` null: both speakers. */
  mark(leg, start, end) {
    for (const el of this.marked) el.classList.remove("is-evidence");
    this.marked = [];
    const to = Math.max(end ?? start, start);
    for (const speaker of leg && SPEAKERS.includes(leg) ? [leg] : SPEAKERS) {
      for (const word of this.words[speaker]) {
        const inside = to > start
          ? word.start < to - EARLY && word.end > start + EARLY
          : word.start <= start + EARLY && word.end > start;
        if (inside) {
          word.el.classList.add("is-evidence");
          this.marked.push(word.el);
        }
      }
    }
    this.marked.sort((a, b) => Number(a.dataset.start) - Number(b.dataset.start));
    if (this.marked.length) this.reveal(this.marked[0], { always: true });
  }

  /** Scroll the lanes (only them, not the page) so `el` is in view. */
  reveal(el, { always = false } = {}) {
    const box = this.body.getBoundingClientRect();
    const rect = el.getBoundingClientRect();
    const margin = 24;
    if (!always && rect.top >= box.top + margin && rect.bottom <= box.bottom - margin) return;
    if (always && rect.top >= box.top && rect.bottom <= box.bottom) return;
    this.body.scrollTo({ top: this.body.scrollTop + rect.top - box.top - box.height / 3,
                         behavior: prefersLessMotion() ? "auto" : "smooth" });
  }
}

export class Timeline {
  /** Who spoke when, the marked stretch and the playhead; a click seeks. Mouse help only:
   * the player's own controls and the turns' times do the same from the keyboard. */
  constructor(turns, duration, { onSeek }) {
    this.turns = turns;
    this.duration = Math.max(duration || 0, 1);
    this.onSeek = onSeek;
    this.head = h("div", { class: "qa-playhead" });
    this.span = h("div", { class: "qa-timeline-mark", hidden: true });
    this.tracks = {};
    this.element = h("div", { class: "qa-timeline", "aria-hidden": "true" },
      SPEAKERS.map((leg) => {
        this.tracks[leg] = h("div", { class: ["qa-track", `qa-track-${leg}`] });
        return this.tracks[leg];
      }), this.span, this.head);
    this.draw();
    this.element.addEventListener("click", (event) => {
      const box = this.element.getBoundingClientRect();
      this.onSeek?.(((event.clientX - box.left) / box.width) * this.duration);
    });
  }

  pct(seconds) {
    return `${Math.min(100, Math.max(0, (seconds / this.duration) * 100))}%`;
  }

  draw() {
    for (const leg of SPEAKERS) this.tracks[leg].replaceChildren();
    for (const turn of this.turns) {
      const bar = h("span", { class: "qa-speech" });
      bar.style.left = this.pct(turn.start);
      bar.style.width = this.pct(Math.max(turn.end - turn.start, this.duration / 400));
      this.tracks[turn.leg].append(bar);
    }
  }

  setDuration(duration) {
    if (!duration || Math.abs(duration - this.duration) < 0.05) return;
    this.duration = Math.max(duration, 1);
    this.draw();
    if (!this.span.hidden) this.mark(this.marked.start, this.marked.end);
  }

  at(time) {
    this.head.style.left = this.pct(time);
  }

  mark(start, end) {
    this.marked = { start, end };
    this.span.hidden = false;
    this.span.style.left = this.pct(start);
    this.span.style.width = this.pct(Math.max((end ?? start) - start, this.duration / 200));
  }
}
