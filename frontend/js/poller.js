// Polling that is kind to the API: slow while the tab is hidden, exponential back-off
// after errors, one request in flight at a time, and cancelled when the view goes away.
// A polled view says why a refresh failed with one banner (`pollProblem`), and tells the
// errors that end its polling from those the next refresh may cure with `stopsPolling`.

import { h, renderIfChanged } from "./dom.js";

const HIDDEN_INTERVAL_MS = 60_000;
const MAX_BACKOFF_MS = 60_000;

const listeners = new Set();

/** Subscribe to poll status changes: {state: "live"|"hidden"|"error"|"done", at, retryInMs, message}. */
export function onPollStatus(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function report(status) {
  for (const listener of listeners) listener(status);
}

/**
 * Whether an error ends the polling rather than one refresh: the key was refused (the app
 * signs out and says so) or the view went away (its requests were aborted). A view lets
 * these through to the poller untouched, and shows or keeps any other.
 */
export function stopsPolling(error) {
  return Boolean(error?.auth) || error?.name === "AbortError";
}

/**
 * The banner a polled view keeps in `region` while its refresh fails: "Could not load
 * <what>: <message>". `fail(error)` shows it (unless the error stops the polling) and
 * rethrows, so the poller backs off, says "retrying in N s" in the status line and tries
 * again; `clear()` takes it away after a good refresh.
 */
export function pollProblem(region, what) {
  return {
    fail(error) {
      if (!stopsPolling(error)) {
        const message = error instanceof Error ? error.message : String(error);
        renderIfChanged(region, ["error", message], () => h("p", { class: "alert alert-danger", role: "alert", "data-poll-error": what }, `Could not load ${what}: ${message}`));
      }
      throw error;
    },
    clear() {
      renderIfChanged(region, null, () => []);
    },
  };
}

export class Poller {
  /**
   * @param {(signal: AbortSignal) => Promise<boolean|void>} task one refresh; return false to stop.
   * @param {{interval: number}} options the refresh interval while visible and healthy.
   */
  constructor(task, { interval }) {
    this.task = task;
    this.interval = interval;
    this.errors = 0;
    this.timer = null;
    this.running = false;
    this.stopped = true;
    this.controller = null;
    this.onVisibility = () => {
      if (!this.stopped && document.visibilityState === "visible" && !this.running) this.refresh();
      else if (!this.stopped && document.visibilityState === "hidden") this.report();
    };
  }

  start() {
    this.stopped = false;
    document.addEventListener("visibilitychange", this.onVisibility);
    this.refresh();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  /** Refresh now (e.g. after a user action) and reschedule. */
  async refresh() {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.running = true;
    this.controller = new AbortController();
    let keepGoing = true;
    try {
      keepGoing = (await this.task(this.controller.signal)) !== false;
      this.errors = 0;
      this.lastError = null;
    } catch (error) {
      if (this.stopped || stopsPolling(error)) {
        this.stop();
        return;
      }
      this.errors += 1;
      this.lastError = error;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (!keepGoing) {
      this.stop();
      report({ state: "done", at: Date.now() });
      return;
    }
    const delay = this.nextDelay();
    this.report(delay);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  nextDelay() {
    if (this.errors > 0) return Math.min(this.interval * 2 ** this.errors, MAX_BACKOFF_MS);
    if (document.visibilityState === "hidden") return Math.max(this.interval, HIDDEN_INTERVAL_MS);
    return this.interval;
  }

  report(delay = this.nextDelay()) {
    if (this.errors > 0) {
      const message = this.lastError instanceof Error ? this.lastError.message : "request failed";
      report({ state: "error", at: Date.now(), retryInMs: delay, message });
    } else if (document.visibilityState === "hidden") {
      report({ state: "hidden", at: Date.now(), retryInMs: delay });
    } else {
      report({ state: "live", at: Date.now(), retryInMs: delay });
    }
  }
}
