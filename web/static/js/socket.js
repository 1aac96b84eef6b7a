// The live channel (`/ws`): reconnects by itself with backoff and resumes where it left off
// (`?epoch=…&since=<last seq>`), so no message is lost or handled twice.
//
// A fresh page (or a server that restarted) gets the server's recent backlog first; that
// history is handed over in one piece (`onReplay`) so the page can rebuild what is still
// going on (a phone still ringing) without re-showing calls that are over.
//
// It authenticates with the session cookie (never a token in the URL) and is closed with 4401
// when the session ends.
//
// Deadline warnings ("deadline") and QA feedback ("qa_feedback") are shown here, on whichever
// page holds the socket; a page that opens no socket of its own gets one from
// `watchDeadlines` (header.js) for them. So are the supervisors' wallboard alerts
// ("wallboard_alert": a threshold just crossed), except those replayed from before the page
// was loaded.
import { goToLogin } from "./api.js";
import { showDeadline } from "./deadline-toast.js";
import { showQaFeedback } from "./qa-feedback-toast.js";
import { showWallboardAlerts } from "./wallboard-alerts.js";

const BACKOFF = [250, 500, 1000, 2000, 4000, 8000, 15000];
const REPLAY_GRACE_MS = 1500;
const CLOSE_UNAUTHENTICATED = 4401;

export class LiveSocket {
  /**
   * handlers: onHello(hello, {resumed}), onMessage(message), onReplay(messages),
   * onStatus(status, attempt) with status "connecting" | "open" | "closed".
   */
  constructor(handlers, { path = "/ws" } = {}) {
    this.handlers = handlers;
    this.path = path;
    this.epoch = null;
    this.lastSeq = 0;
    this.socket = null;
    this.failures = 0;
    this.timer = null;
    this.replay = null; // {until, messages, timer} while the backlog is arriving
    this.stopped = false;
    LiveSocket.created += 1;
  }

  start() {
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.abandon());
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const resume = this.epoch
      ? `?epoch=${encodeURIComponent(this.epoch)}&since=${this.lastSeq}` : "";
    return `${scheme}://${location.host}${this.path}${resume}`;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.handlers.onStatus?.("connecting", this.failures);
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.receive(JSON.parse(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.finishReplay();
      if (event.code === CLOSE_UNAUTHENTICATED) {
        // The session ended (web/ws.py): logged out, here or in another tab, means the login
        // page afresh; a password change, deactivation or new role means back here after it.
        if (event.reason === "logged out") location.assign("/login");
        else goToLogin();
        return;
      }
      this.closed();
    });
  }

  closed() {
    this.failures += 1;
    this.handlers.onStatus?.("closed", this.failures);
    if (!this.stopped) this.schedule();
  }

  /**
   * The browser went offline: the socket is given up at once rather than waited on. Its end
   * may never be heard while offline (chromium holds an open socket's reads), and the page
   * must not say it is live when it cannot be.
   */
  abandon() {
    const socket = this.socket;
    if (this.stopped || !socket) return;
    this.socket = null;
    this.finishReplay();
    socket.close();
    this.closed();
  }

  schedule() {
    const base = BACKOFF[Math.min(this.failures - 1, BACKOFF.length - 1)];
    const delay = base / 2 + Math.random() * base / 2;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Try again at once (the browser came back online, or the agent asked). */
  reconnectNow() {
    if (this.stopped || this.socket) return;
    this.connect();
  }

  receive(message) {
    if (message.type === "hello") {
      this.hello(message);
      return;
    }
    if (typeof message.seq === "number") {
      if (message.seq <= this.lastSeq) return; // seen already
      this.lastSeq = message.seq;
    }
    if (message.type === "deadline") {
      showDeadline(message, { replayed: Boolean(this.replay && message.seq <= this.replay.until) });
    }
    if (message.type === "wallboard_alert" && !(this.replay && message.seq <= this.replay.until)) {
      showWallboardAlerts(message);
    }
    if (message.type === "qa_feedback") {
      showQaFeedback(message, { replayed: Boolean(this.replay && message.seq <= this.replay.until) });
    }
    if (this.replay && message.seq <= this.replay.until) {
      this.replay.messages.push(message);
      if (message.seq === this.replay.until) this.finishReplay();
      return;
    }
    this.finishReplay();
    this.handlers.onMessage?.(message);
  }

  hello(hello) {
    const resumed = this.epoch !== null && hello.epoch === this.epoch
      && hello.resumed_from === this.lastSeq;
    this.failures = 0;
    if (!resumed) {
      // A new sequence (first connection, or the server restarted): the backlog is history.
      this.lastSeq = 0;
      this.epoch = hello.epoch;
      if (hello.last_seq > 0) {
        this.replay = { until: hello.last_seq, messages: [],
                        timer: setTimeout(() => this.finishReplay(), REPLAY_GRACE_MS) };
      }
    }
    this.handlers.onStatus?.("open", 0);
    this.handlers.onHello?.(hello, { resumed });
  }

  finishReplay() {
    if (!this.replay) return;
    const { messages, timer } = this.replay;
    clearTimeout(timer);
    this.replay = null;
    this.handlers.onReplay?.(messages);
  }
}

LiveSocket.created = 0; // sockets this page opened

// Who is sent deadline warnings (the first contact, the department, the supervisors) or QA
// feedback (agents, reviewers).
const WARNED_ROLES = new Set(["agent", "supervisor", "department", "qa"]);

/** On a page that opens no live channel of its own, open one for the deadline warnings. */
export function watchDeadlines(user) {
  if (!user || !WARNED_ROLES.has(user.role)) return;
  // After the page's module has run: it may open its own socket (the console, the wallboard).
  setTimeout(() => {
    if (!LiveSocket.created) new LiveSocket({}).start();
  }, 0);
}
