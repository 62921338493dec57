// Polling that is kind to the API: slow while the tab is hidden, exponential back-off
// after errors, one request in flight at a time, and cancelled when the view goes away.

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
      if (this.stopped || error?.name === "AbortError") return;
      if (error?.auth) {
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
