// Small pieces every view uses: status badges, progress bars, panels, tables, messages.

import { h } from "./dom.js";
import { formatBytes, formatDuration, formatInt, formatPercent, formatRate, formatUsd, formatValue } from "./format.js";

export const TERMINAL = new Set(["SUCCEEDED", "COMPLETED_WITH_REJECTS", "FAILED"]);

// Each status has a word and a glyph as well as a colour: never colour alone.
const BATCH_STATUS = {
  RECEIVED: { label: "Received", glyph: "○", tone: "neutral" },
  RUNNING: { label: "Running", glyph: "●", tone: "info" },
  SUCCEEDED: { label: "Succeeded", glyph: "✓", tone: "success" },
  COMPLETED_WITH_REJECTS: { label: "Completed with rejects", glyph: "!", tone: "warning" },
  FAILED: { label: "Failed", glyph: "✕", tone: "danger" },
};

export const STATE_STATUS = {
  SUCCEEDED: { label: "Succeeded", glyph: "✓", tone: "success" },
  FAILED: { label: "Failed", glyph: "✕", tone: "danger" },
  CAUGHT: { label: "Caught", glyph: "!", tone: "warning" },
  RUNNING: { label: "Running", glyph: "●", tone: "info" },
  NOT_STARTED: { label: "Not started", glyph: "○", tone: "neutral" },
};

const CHUNK_STATUS = {
  pending: { label: "Pending", glyph: "○", tone: "neutral" },
  running: { label: "Running", glyph: "●", tone: "info" },
  stored: { label: "Stored", glyph: "✓", tone: "success" },
  failed: { label: "Failed", glyph: "✕", tone: "danger" },
};

export function batchStatusInfo(status) {
  return BATCH_STATUS[status] ?? { label: String(status ?? "Unknown"), glyph: "?", tone: "neutral" };
}

function badge(info, status) {
  return h(
    "span",
    { class: ["badge", `tone-${info.tone}`], "data-status": status },
    h("span", { class: "badge-glyph", "aria-hidden": "true" }, info.glyph),
    info.label,
  );
}

export function statusBadge(status) {
  return badge(batchStatusInfo(status), status);
}

export function chunkBadge(status) {
  return badge(CHUNK_STATUS[status] ?? { label: String(status ?? "Unknown"), glyph: "?", tone: "neutral" }, status);
}

export function stateBadge(status) {
  return badge(STATE_STATUS[status] ?? STATE_STATUS.NOT_STARTED, status ?? "NOT_STARTED");
}

/**
 * A horizontal bar of segments [{value, tone, label}] out of `total`, announced as a
 * progressbar; `caption` is the visible text next to it.
 */
export function progressBar({ segments, total, label, caption, indeterminate = false }) {
  const done = segments.reduce((sum, segment) => sum + segment.value, 0);
  const bar = h("div", {
    class: ["progress", indeterminate && "progress-indeterminate"],
    role: "progressbar",
    "aria-label": label,
    "aria-valuemin": 0,
    "aria-valuemax": Math.max(total, 0),
    "aria-valuenow": indeterminate ? null : Math.min(done, total),
    "aria-valuetext": caption,
  });
  if (!indeterminate && total > 0) {
    for (const segment of segments) {
      if (segment.value <= 0) continue;
      bar.appendChild(
        h("span", {
          class: ["progress-segment", `tone-${segment.tone}`],
          title: `${segment.label}: ${formatInt(segment.value)}`,
          style: { width: `${Math.min(100, (segment.value / total) * 100)}%` },
        }),
      );
    }
  }
  return h("div", { class: "progress-wrap" }, bar, caption ? h("span", { class: "progress-caption" }, caption) : null);
}

/** A batch's chunk summary ({total, pending, running, stored, failed}), from `chunks` or the older fields. */
export function chunkSummary(batch) {
  const chunks = batch?.chunks ?? {};
  const total = typeof chunks.total === "number" ? chunks.total : typeof batch?.chunks_total === "number" ? batch.chunks_total : null;
  const stored = chunks.stored ?? batch?.stages?.store?.chunks_done ?? 0;
  const failed = chunks.failed ?? batch?.chunks_failed ?? 0;
  const running = chunks.running ?? 0;
  const pending = chunks.pending ?? (total === null ? 0 : Math.max(total - stored - failed - running, 0));
  return { total, pending, running, stored, failed };
}

/** Chunks stored / failed / running (the rest pending) of all the batch's chunks. */
export function chunkProgressBar(chunks, { label = "Chunks", short = false } = {}) {
  const total = chunks.total ?? 0;
  const finished = chunks.stored + chunks.failed;
  const caption = short
    ? `${formatInt(finished)} / ${formatInt(total)} chunks`
    : `${formatInt(chunks.stored)} stored${chunks.failed ? ` · ${formatInt(chunks.failed)} failed` : ""}${chunks.running ? ` · ${formatInt(chunks.running)} running` : ""}${chunks.pending ? ` · ${formatInt(chunks.pending)} pending` : ""} of ${formatInt(total)}`;
  return progressBar({
    label,
    total,
    caption,
    segments: [
      { value: chunks.stored, tone: "success", label: "Stored" },
      { value: chunks.failed, tone: "danger", label: "Failed" },
      { value: chunks.running, tone: "info", label: "Running" },
    ],
  });
}

/** How far a batch has got: processed / rejected / failed of received, or chunks while running. */
export function batchProgress(batch, detail = null) {
  const counts = batch.counts ?? {};
  const received = counts.received ?? 0;
  if (TERMINAL.has(batch.status)) {
    const finished = (counts.processed ?? 0) + (counts.rejected ?? 0) + (counts.failed ?? 0);
    return progressBar({
      label: `Batch ${batch.batch_id} records`,
      total: received,
      caption: `${formatPercent(finished, received)} done`,
      segments: [
        { value: counts.processed ?? 0, tone: "success", label: "Processed" },
        { value: counts.rejected ?? 0, tone: "warning", label: "Rejected" },
        { value: counts.failed ?? 0, tone: "danger", label: "Failed" },
      ],
    });
  }
  const chunks = chunkSummary(detail ?? batch);
  if (batch.status === "RUNNING" && chunks.total > 0) {
    return chunkProgressBar(chunks, { label: `Batch ${batch.batch_id} chunks`, short: true });
  }
  return progressBar({
    label: `Batch ${batch.batch_id} progress`,
    total: 1,
    caption: batch.status === "RUNNING" ? "Splitting…" : "Queued",
    segments: [],
    indeterminate: true,
  });
}

/** Terms and values as a grid of small facts: [[term, value, valueClass?], ...] (falsy entries skipped). */
export function facts(pairs, { className = null } = {}) {
  return h(
    "dl",
    { class: ["facts", className] },
    pairs.filter(Boolean).map(([term, value, valueClass]) => h("div", { class: "fact" }, h("dt", null, term), h("dd", { class: valueClass }, value))),
  );
}

/** The lineage view of one source line of a batch. */
export function recordHref(batchId, line) {
  return `#/batches/${encodeURIComponent(String(batchId))}/records/${encodeURIComponent(String(line))}`;
}

/** A link to one record's lineage view; `label` defaults to "line N". */
export function recordLink(batchId, line, { label = null, className = null } = {}) {
  return h(
    "a",
    { href: recordHref(batchId, line), class: ["record-link", className], "data-record-link": `${batchId}:${line}`, title: `The whole story of line ${line}` },
    label ?? `line ${formatInt(Number(line))}`,
  );
}

/** An execution's name: the last part of its ARN ("…:execution:sm:<name>"). */
export function executionName(arn) {
  if (!arn) return null;
  return String(arn).split(":").at(-1);
}

// An inbox item's state: the word, a glyph and a tone.
const FAILURE_STATE = {
  open: { label: "Open", glyph: "●", tone: "danger" },
  retried: { label: "Retried", glyph: "↻", tone: "info" },
  replayed: { label: "Replayed", glyph: "↪", tone: "success" },
  handled: { label: "Handled", glyph: "✓", tone: "neutral" },
};

export function failureStateBadge(state) {
  return badge(FAILURE_STATE[state] ?? { label: String(state ?? "Unknown"), glyph: "?", tone: "neutral" }, state);
}

const COST_SERVICES = [
  ["stepfunctions", "Step Functions"],
  ["lambda", "Lambda"],
  ["s3", "S3"],
  ["dynamodb", "DynamoDB"],
  ["sqs", "SQS"],
  ["sns", "SNS"],
];

// The calls counted for a cost, by the API's name for each; any other figure is shown by its own name.
const USAGE_LABELS = {
  state_transitions: "State transitions",
  lambda_invocations: "Lambda requests",
  lambda_gb_seconds: "Lambda GB-seconds",
  s3_requests: "S3 requests",
  s3_put_requests: "S3 PUT requests",
  s3_get_requests: "S3 GET requests",
  dynamodb_write_units: "DynamoDB write units",
  dynamodb_read_units: "DynamoDB read units",
  sqs_requests: "SQS requests",
  sns_publishes: "SNS publishes",
};

function usageFigure(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return formatValue(value);
  return Number.isInteger(value) ? formatInt(value) : value.toFixed(2);
}

/**
 * What a batch (or everything) cost at AWS list prices: the total, a bar per service, the
 * calls counted, and what is estimated rather than counted. `cost` is the API's `cost` object.
 */
export function costBreakdown(cost) {
  if (!cost) return emptyState("No cost has been counted for this batch yet.");
  const byService = cost.by_service ?? {};
  const total = typeof cost.total_usd === "number" ? cost.total_usd : 0;
  const known = new Set(COST_SERVICES.map(([key]) => key));
  const services = [...COST_SERVICES, ...Object.keys(byService).filter((key) => !known.has(key)).map((key) => [key, key])];
  const largest = Math.max(0, ...services.map(([key]) => Number(byService[key]) || 0));
  const estimated = Array.isArray(cost.estimated) ? cost.estimated.map(formatValue) : [];
  const usage = Object.entries(cost.usage ?? {});
  return h(
    "div",
    { class: "cost" },
    h(
      "div",
      { class: "cost-total" },
      h("span", { class: "cost-total-label" }, "Total at AWS list prices"),
      h("span", { class: "cost-total-value", "data-cost-total": String(total) }, formatUsd(total)),
      h("span", { class: "hint" }, [cost.region ? formatValue(cost.region) : null, cost.prices_recorded ? `prices of ${formatValue(cost.prices_recorded)}` : null].filter(Boolean).join(" · ")),
    ),
    h(
      "ul",
      { class: "cost-services", "aria-label": "Cost by service" },
      services.map(([key, label]) => {
        const value = Number(byService[key]) || 0;
        return h(
          "li",
          { class: "cost-service", "data-service": key },
          h("span", { class: "cost-service-name" }, label),
          h("span", { class: "cost-bar", "aria-hidden": "true" }, h("span", { class: "cost-bar-fill", style: { width: `${largest > 0 ? (value / largest) * 100 : 0}%` } })),
          h("span", { class: "cost-service-value" }, formatUsd(value)),
        );
      }),
    ),
    usage.length
      ? h(
          "details",
          { class: "cost-details" },
          h("summary", null, "Calls counted"),
          facts(usage.map(([key, value]) => [USAGE_LABELS[key] ?? key.replaceAll("_", " "), usageFigure(value)])),
        )
      : null,
    estimated.length
      ? h("details", { class: "cost-details" }, h("summary", null, "What is estimated"), h("ul", { class: "cost-estimated-list" }, estimated.map((text) => h("li", null, text))))
      : null,
  );
}

export function batchLink(batchId, { short = false } = {}) {
  const id = String(batchId);
  return h(
    "a",
    { href: `#/batches/${encodeURIComponent(id)}`, class: "batch-link mono", title: id, "data-focus-key": `batch-${id}` },
    short ? shortId(id) : id,
  );
}

/**
 * "20261126T034609-cb42149bd06ae466" → "11-26 03:46:09 · cb42149b"; a batch named by its
 * Idempotency-Key, "key-79bd0d5fbc…" (44 characters) → "key · 79bd0d5f".
 */
export function shortId(id) {
  const keyed = /^key-([0-9a-f]{8})[0-9a-f]*$/i.exec(id);
  if (keyed) return `key · ${keyed[1]}`;
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})-([0-9a-f]+)$/i.exec(id);
  if (!match) return id;
  return `${match[2]}-${match[3]} ${match[4]}:${match[5]}:${match[6]} · ${match[7].slice(0, 8)}`;
}

export function panel({ title, id, actions = null, className = null }, ...body) {
  const headingId = id ? `${id}-title` : null;
  return h(
    "section",
    { class: ["panel", className], id, "aria-labelledby": headingId },
    title
      ? h("div", { class: "panel-head" }, h("h2", { id: headingId, class: "panel-title" }, title), actions)
      : null,
    ...body,
  );
}

/**
 * A table: it scrolls sideways when it is wide, and on a phone each row becomes a card
 * whose cells carry their column's name (from `data-label`).
 */
export function table({ caption, columns, rows, empty = "Nothing to show yet.", className = null }) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  for (const row of rows) {
    const cells = [...row.children];
    if (cells.length !== columns.length) continue;
    cells.forEach((cell, index) => {
      if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", columns[index].label);
      // One wrapper per cell, so a stacked cell is "label | content" however many nodes it holds.
      const body = h("div", { class: "cell-body" });
      body.append(...cell.childNodes);
      cell.appendChild(body);
    });
  }
  return h(
    "div",
    { class: "table-scroll", role: "region", "aria-label": caption, tabindex: 0 },
    h(
      "table",
      { class: ["table", "table-stack", className] },
      h("caption", { class: "sr-only" }, caption),
      h("thead", null, h("tr", null, columns.map((column) => h("th", { scope: "col", class: column.className }, column.label)))),
      h("tbody", null, rows),
    ),
  );
}

export function statCard({ label, value, tone = null, hint = null, id = null }) {
  return h(
    "div",
    { class: ["stat", tone && `tone-${tone}`], "data-stat": id },
    h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value" }, value),
    hint ? h("span", { class: "stat-hint" }, hint) : null,
  );
}

/** An API error as a readable block: message, code and details. */
export function errorBox(error, { title = "The API refused the request" } = {}) {
  const details = Array.isArray(error?.details) ? error.details : [];
  return h(
    "div",
    { class: "alert alert-danger", role: "alert" },
    h("p", { class: "alert-title" }, title),
    h("p", null, error?.message ?? String(error)),
    error?.code || error?.status
      ? h(
          "p",
          { class: "alert-meta" },
          error.status ? h("span", null, "HTTP ", String(error.status)) : null,
          error.code ? h("code", { class: "error-code" }, error.code) : null,
        )
      : null,
    details.length
      ? h(
          "ul",
          { class: "error-details" },
          details.map((detail) =>
            h(
              "li",
              null,
              typeof detail === "object" && detail !== null
                ? Object.entries(detail).map(([key, value]) =>
                    h("span", { class: "detail-pair" }, h("span", { class: "detail-key" }, key), " ", typeof value === "string" ? value : JSON.stringify(value)),
                  )
                : String(detail),
            ),
          ),
        )
      : null,
  );
}

export function emptyState(text) {
  return h("p", { class: "empty" }, text);
}

export function pageHeader(title, subtitle = null, ...extra) {
  return h(
    "div",
    { class: "page-head" },
    h("div", null, h("h1", { class: "page-title", tabindex: -1 }, title), subtitle ? h("p", { class: "page-subtitle" }, subtitle) : null),
    extra.length ? h("div", { class: "page-actions" }, extra) : null,
  );
}

/** A rejected record's raw values: the ones its reasons name first, then all of them behind a disclosure. */
export function rawValues(item) {
  const values = item.values ?? {};
  const named = [...new Set((item.reasons ?? []).map((reason) => formatValue(reason.field)))].filter((field) => Object.hasOwn(values, field));
  const pair = (key, value, className = null) => h("div", { class: ["value-pair", className] }, h("dt", null, key), h("dd", null, formatValue(value)));
  const entries = Object.entries(values);
  return h(
    "div",
    { class: "raw-values" },
    named.length ? h("dl", { class: "values values-named" }, named.map((field) => pair(field, values[field], "is-named"))) : null,
    entries.length
      ? h(
          "details",
          { class: "values-details" },
          h("summary", null, `All ${entries.length} values`),
          h("dl", { class: "values" }, entries.map(([key, value]) => pair(key, value))),
        )
      : h("span", { class: "muted" }, "no values"),
  );
}

/** A rejected record's reasons: rule, field and message each; ``highlight`` marks one rule. */
export function reasonsList(reasons, highlight = null) {
  return h(
    "ul",
    { class: "reasons" },
    (reasons ?? []).map((reason) => {
      const rule = formatValue(reason.rule);
      return h(
        "li",
        { class: ["reason", highlight !== null && rule === highlight && "is-match"], "data-rule": rule },
        h("code", { class: "reason-rule" }, rule),
        h("span", { class: "reason-field" }, formatValue(reason.field)),
        h("span", { class: "reason-message" }, formatValue(reason.message)),
      );
    }),
  );
}

/** The upload's bar and its figures, updated in place as bytes go out (not re-rendered). */
export function uploadProgressView(job) {
  const fill = h("span", { class: "progress-segment tone-info" });
  const bar = h(
    "div",
    { class: "progress progress-upload", role: "progressbar", "aria-label": `Upload of ${job.file.name}`, "aria-valuemin": 0, "aria-valuemax": 100 },
    fill,
  );
  const percent = h("span", { class: "upload-percent" });
  const bytes = h("span", { class: "upload-bytes" });
  const rate = h("span", { class: "upload-rate" });
  const element = h(
    "div",
    { class: "upload", "data-upload-state": job.state },
    h("div", { class: "upload-head" }, h("span", { class: "upload-name" }, job.file.name), percent),
    bar,
    h("div", { class: "upload-figures" }, bytes, rate),
  );
  const update = () => {
    const share = job.total > 0 ? job.loaded / job.total : 1;
    const shown = job.state === "done" ? 100 : Math.min(99, Math.floor(share * 100));
    fill.style.setProperty("width", `${job.state === "done" ? 100 : share * 100}%`);
    fill.setAttribute("class", `progress-segment tone-${job.state === "done" ? "success" : job.state === "uploading" ? "info" : "danger"}`);
    bar.setAttribute("aria-valuenow", String(shown));
    bar.setAttribute("aria-valuetext", `${shown} %: ${formatBytes(job.loaded)} of ${formatBytes(job.total)}`);
    percent.textContent = `${shown} %`;
    bytes.textContent = `${formatBytes(job.loaded)} of ${formatBytes(job.total)} sent`;
    const left = job.secondsLeft;
    if (job.state === "uploading" && job.loaded >= job.total) rate.textContent = "all sent · waiting for S3 to confirm…";
    else if (job.state === "uploading" && job.rate === 0) rate.textContent = "waiting for the network…";
    else if (job.state === "uploading") rate.textContent = `${formatRate(job.rate)}${left !== null ? ` · about ${formatDuration(left * 1000)} left` : ""}`;
    else if (job.state === "done") rate.textContent = `${formatRate(job.rate)} on average`;
    else rate.textContent = job.state === "cancelled" ? "cancelled" : "stopped";
    element.setAttribute("data-upload-state", job.state);
  };
  update();
  return { element, update };
}
