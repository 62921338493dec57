// Sending a file straight to S3 with the presigned POST that POST /uploads signed.
//
// XMLHttpRequest, not fetch: only XHR reports upload progress. The form is every entry
// of `upload.fields` first and the file last (S3 ignores fields after the file), and
// it carries no Authorization header: the policy in the fields is the credential.
//
// An upload outlives the view that started it: it keeps going when the user moves to
// the batch's page, which can show its progress while the batch does not exist yet.

const jobs = new Map();
let latest = null;
const RATE_WINDOW_MS = 4_000;

export class UploadError extends Error {
  /** `kind`: "network" (connection lost), "aborted" (cancelled), "refused" (S3 answered an error). */
  constructor(kind, message, { status = 0, code = null } = {}) {
    super(message);
    this.name = "UploadError";
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

/** S3's XML error body as {code, message}, read with a regular expression (no XML parser: Trusted Types). */
export function s3Error(text) {
  const pick = (tag) => {
    const match = new RegExp(`<${tag}>([^<]{0,500})</${tag}>`).exec(String(text ?? ""));
    return match ? match[1].replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&") : null;
  };
  return { code: pick("Code"), message: pick("Message") };
}

function refusal(status, text) {
  const { code, message } = s3Error(text);
  let hint = "";
  if (code === "AccessDenied" && /expired/i.test(message ?? "")) hint = " The signed upload expired: try again for a fresh one.";
  else if (code === "EntityTooLarge" || code === "EntityTooSmall") hint = " The file changed size since it was declared: choose it again.";
  const said = message ? `${code ?? "Error"}: ${message}` : `HTTP ${status}`;
  return new UploadError("refused", `S3 refused the file (${said}).${hint}`, { status, code });
}

/** An upload in progress (or finished): bytes sent, rate, outcome; subscribe() to follow it. */
export class UploadJob {
  constructor({ batchId, file, upload, key = null, dataset = null, gzip = false }) {
    this.batchId = batchId;
    this.key = key;
    this.dataset = dataset;
    this.gzip = gzip;
    this.done = Promise.resolve();
    this.file = file;
    this.upload = upload;
    this.total = file.size;
    this.loaded = 0;
    this.state = "uploading";
    this.error = null;
    this.startedAt = performance.now();
    this.finishedAt = null;
    this.samples = [{ at: this.startedAt, loaded: 0 }];
    this.listeners = new Set();
    this.xhr = null;
    this.ticker = null;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    listener(this);
    return () => this.listeners.delete(listener);
  }

  notify() {
    for (const listener of this.listeners) listener(this);
  }

  /** Bytes per second over the last few seconds (the whole upload once it is done). */
  get rate() {
    if (this.state === "done" && this.finishedAt !== null) {
      const seconds = (this.finishedAt - this.startedAt) / 1000;
      return seconds > 0 ? this.total / seconds : null;
    }
    const first = this.samples[0];
    const now = performance.now();
    const seconds = (now - first.at) / 1000;
    return seconds > 0.2 ? (this.loaded - first.loaded) / seconds : null;
  }

  /** Seconds left at the current rate, or null when it cannot be told yet. */
  get secondsLeft() {
    const rate = this.rate;
    return this.state === "uploading" && rate ? (this.total - this.loaded) / rate : null;
  }

  progress(loaded) {
    const now = performance.now();
    this.loaded = Math.min(loaded, this.total);
    this.samples.push({ at: now, loaded: this.loaded });
    // Keep one sample from before the window, so the rate spans the whole window.
    while (this.samples.length > 2 && now - this.samples[1].at > RATE_WINDOW_MS) this.samples.shift();
    this.notify();
  }

  finish(state, error = null) {
    clearInterval(this.ticker);
    this.state = state;
    this.error = error;
    this.finishedAt = performance.now();
    if (state === "done") this.loaded = this.total;
    if (![...jobs.values()].some((job) => job.state === "uploading")) window.removeEventListener("beforeunload", warnBeforeLeaving);
    this.notify();
  }

  cancel() {
    this.xhr?.abort();
  }

  /** POST the form to S3; resolves when S3 has the file, rejects with an UploadError. */
  send() {
    const form = new FormData();
    for (const [name, value] of Object.entries(this.upload.fields ?? {})) form.append(name, value);
    form.append("file", this.file, this.file.name);
    this.done = new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open("POST", this.upload.url);
      xhr.withCredentials = false;
      xhr.upload.addEventListener("progress", (event) => {
        // The multipart body is a little larger than the file: scale to the file's bytes.
        if (event.lengthComputable && event.total > 0) this.progress(Math.round((event.loaded / event.total) * this.total));
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          this.finish("done");
          resolve(this);
        } else {
          const error = refusal(xhr.status, xhr.responseText);
          this.finish("failed", error);
          reject(error);
        }
      });
      xhr.addEventListener("error", () => {
        const error = new UploadError("network", "The connection to S3 was lost before the file was sent.");
        this.finish("failed", error);
        reject(error);
      });
      xhr.addEventListener("timeout", () => {
        const error = new UploadError("network", "S3 did not answer in time.");
        this.finish("failed", error);
        reject(error);
      });
      xhr.addEventListener("abort", () => {
        const error = new UploadError("aborted", "The upload was cancelled.");
        this.finish("cancelled", error);
        reject(error);
      });
      window.addEventListener("beforeunload", warnBeforeLeaving);
      // Between progress events (a slow or stalled link), the rate and time left still move on.
      this.ticker = setInterval(() => this.notify(), 1_000);
      xhr.send(form);
    });
    return this.done;
  }
}

function warnBeforeLeaving(event) {
  // Leaving the page stops the upload; the browser asks first (its own wording).
  event.preventDefault();
}

/** Start sending `file` for the ticket POST /uploads answered; the job is registered under its batch id. */
export function startUpload(ticket, file, { key = null, dataset = null, gzip = false } = {}) {
  const previous = jobs.get(ticket.batch_id);
  if (previous?.state === "uploading") previous.cancel();
  const job = new UploadJob({ batchId: ticket.batch_id, file, upload: ticket.upload, key, dataset, gzip });
  jobs.set(ticket.batch_id, job);
  latest = job;
  return job;
}

/** The upload this tab started last, if any. */
export function latestUpload() {
  return latest;
}

/** The upload this tab made (or is making) for a batch, if any. */
export function uploadFor(batchId) {
  return jobs.get(batchId) ?? null;
}

// --------------------------------------------------------------------------- idempotency keys
//
// A generated Idempotency-Key is remembered (for this tab) per file until S3 has the file:
// choosing the same file again after an interrupted upload reuses it, and so resumes the
// same batch instead of starting another.

const KEYS_STORAGE = "sluice.uploadKeys";

export function fileFingerprint(file, dataset) {
  return [dataset, file.name, file.size, file.lastModified].join("|");
}

function readKeys() {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(KEYS_STORAGE) ?? "{}");
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

function writeKeys(keys) {
  try {
    sessionStorage.setItem(KEYS_STORAGE, JSON.stringify(keys));
  } catch {
    // Storage may be unavailable; the key is then only kept in the form.
  }
}

export function rememberedKey(fingerprint) {
  const value = readKeys()[fingerprint];
  return typeof value === "string" ? value : null;
}

export function rememberKey(fingerprint, key) {
  writeKeys({ ...readKeys(), [fingerprint]: key });
}

export function forgetKey(fingerprint) {
  const keys = readKeys();
  delete keys[fingerprint];
  writeKeys(keys);
}
