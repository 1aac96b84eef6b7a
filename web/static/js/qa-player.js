// The recording player of the QA page: both legs mixed, the agent alone or the customer alone
// (switching keeps the position and whether it plays), seeking from anywhere on the page, and
// the current time for whoever follows it (the transcript's highlight, the timeline).
// The recording loads only when someone plays or seeks: every load is an audited listen.
import { h } from "./dom.js";
import { radioGroup } from "./forms.js";
import { setText } from "./i18n.js";

export const LEGS = ["mixed", "agent", "customer"];
const SPEEDS = ["0.75", "1", "1.25", "1.5", "2"];
const SPEED_KEY = "cc.qa.speed";
const JUMP_SECONDS = 5;

function savedSpeed() {
  try {
    const value = localStorage.getItem(SPEED_KEY);
    return SPEEDS.includes(value) ? value : "1";
  } catch {
    return "1";
  }
}

export class Player {
  /** recordings: {mixed, agent, customer: bool}; onTime(seconds, playing) follows it. */
  constructor(callId, recordings, { onTime } = {}) {
    this.callId = callId;
    this.recordings = recordings;
    this.onTime = onTime;
    this.leg = LEGS.find((leg) => recordings[leg]) ?? null;
    this.pending = null; // a position waiting for the recording to load
    this.frame = 0;
    this.audio = h("audio", {
      class: "qa-audio", controls: true, preload: "none",
      i18nAttrs: { "aria-label": "qa.player" },
    });
    if (this.leg) this.audio.src = this.url(this.leg);
    this.speed = savedSpeed();
    this.applySpeed();
    this.error = h("p", { class: "qa-player-error", role: "alert", hidden: true });
    this.element = this.render();
    this.listen();
  }

  url(leg) {
    return `/api/calls/${this.callId}/recording?leg=${leg}`;
  }

  /** Where the player is (or will be, once loaded), in seconds. */
  get time() {
    return this.pending ?? this.audio.currentTime ?? 0;
  }

  get playing() {
    return !this.audio.paused && !this.audio.ended;
  }

  get duration() {
    return Number.isFinite(this.audio.duration) ? this.audio.duration : null;
  }

  render() {
    const legs = radioGroup({
      name: "qa-leg", legend: "qa.leg_legend", value: this.leg, className: "qa-legs",
      options: LEGS.map((leg) => ({ value: leg, label: `qa.leg.${leg}` })),
    });
    for (const input of legs.querySelectorAll("input")) {
      input.disabled = !this.recordings[input.value];
      input.addEventListener("change", () => this.setLeg(input.value));
    }
    const speed = h("select", { class: "qa-speed", id: "qa-speed" },
      SPEEDS.map((value) => h("option", { value, selected: value === this.speed, text: `${value}×` })));
    speed.addEventListener("change", () => {
      this.speed = speed.value;
      this.applySpeed();
      try {
        localStorage.setItem(SPEED_KEY, speed.value);
      } catch {
        // private mode: the choice lasts for this page
      }
    });
    const none = !this.leg;
    return h("section", { class: "qa-player", i18nAttrs: { "aria-label": "qa.player" } },
      h("div", { class: "qa-player-row" },
        h("button", { type: "button", class: "qa-jump", disabled: none, text: "−5s",
                      i18nAttrs: { "aria-label": "qa.back5", title: "qa.back5" },
                      onclick: () => this.jump(-JUMP_SECONDS) }),
        this.audio,
        h("button", { type: "button", class: "qa-jump", disabled: none, text: "+5s",
                      i18nAttrs: { "aria-label": "qa.fwd5", title: "qa.fwd5" },
                      onclick: () => this.jump(JUMP_SECONDS) }),
        legs,
        h("div", { class: "qa-speed-field" },
          h("label", { for: "qa-speed", i18n: "qa.speed" }), speed)),
      none ? h("p", { class: "qa-player-note", role: "note", i18n: "qa.no_recording" })
        : h("p", { class: "qa-keys", i18n: "qa.keys" }),
      this.error);
  }

  listen() {
    const audio = this.audio;
    audio.addEventListener("loadedmetadata", () => {
      this.applySpeed();
      if (this.pending !== null) {
        audio.currentTime = Math.min(this.pending, audio.duration || this.pending);
        this.pending = null;
      }
      this.tell();
    });
    for (const type of ["timeupdate", "seeked", "pause", "ended", "durationchange"]) {
      audio.addEventListener(type, () => this.tell());
    }
    audio.addEventListener("play", () => {
      this.error.hidden = true;
      this.loop();
    });
    audio.addEventListener("error", () => {
      if (!audio.getAttribute("src")) return;
      setText(this.error, "qa.audio_error");
      this.error.hidden = false;
    });
  }

  /** While playing, follow every frame (timeupdate alone is 4 a second: too coarse). */
  loop() {
    cancelAnimationFrame(this.frame);
    const step = () => {
      this.tell();
      if (this.playing) this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
  }

  tell() {
    this.onTime?.(this.time, this.playing);
  }

  applySpeed() {
    const rate = Number(this.speed);
    this.audio.defaultPlaybackRate = rate;
    this.audio.playbackRate = rate;
  }

  /** Fetch the recording now (it is not preloaded). */
  load() {
    this.audio.preload = "auto";
    this.audio.load();
  }

  seek(seconds) {
    if (!this.leg) return;
    const time = Math.max(0, Number(seconds) || 0);
    if (this.audio.readyState === 0) {
      const waiting = this.pending !== null;
      this.pending = time;
      if (!waiting) this.load();
      this.tell();
      return;
    }
    const end = this.duration;
    this.audio.currentTime = end === null ? time : Math.min(time, end);
    this.tell();
  }

  jump(delta) {
    this.seek(this.time + delta);
  }

  toggle() {
    if (!this.leg) return;
    if (this.playing) this.audio.pause();
    else this.play();
  }

  play() {
    this.audio.play().catch((error) => {
      if (error?.name === "AbortError") return; // a new source or a pause came first
      setText(this.error, "qa.audio_error");
      this.error.hidden = false;
    });
  }

  pause() {
    this.audio.pause();
  }

  /** Another leg, from where the player is, still playing if it was. */
  setLeg(leg) {
    if (!this.recordings[leg] || leg === this.leg) return;
    const at = this.time;
    const wasPlaying = this.playing;
    const started = this.audio.readyState > 0 || this.pending !== null;
    this.leg = leg;
    this.audio.src = this.url(leg);
    if (started || wasPlaying) {
      this.pending = at;
      this.load();
    }
    if (wasPlaying) this.play();
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
  }
}
