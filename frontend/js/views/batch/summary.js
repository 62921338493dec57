// A batch's summary: its counts, how far its chunks (or its split) have got, what each
// stage did, its timings and source, and its error. All of it comes from GET
// /batches/{id}: one read of the ledger's summary however many chunks the batch has.

import {
  TERMINAL,
  chunkProgressBar,
  chunkSummary,
  facts,
  progressBar,
  statCard,
  table,
  uploadProgressView,
} from "../../components.js";
import { h } from "../../dom.js";
import { durationBetween, formatBytes, formatDateTime, formatDuration, formatInt, formatPercent, formatValue } from "../../format.js";
import { STAGES } from "../overview.js";

export function renderCounts(batch) {
  const counts = batch.counts ?? {};
  const chunks = chunkSummary(batch);
  return h(
    "div",
    { class: "stats" },
    statCard({ id: "received", label: "Received", value: formatInt(counts.received) }),
    statCard({ id: "processed", label: "Processed", value: formatInt(counts.processed), tone: "success" }),
    statCard({ id: "rejected", label: "Rejected", value: formatInt(counts.rejected), tone: "warning" }),
    statCard({ id: "failed", label: "Failed", value: formatInt(counts.failed), tone: counts.failed ? "danger" : null }),
    statCard({
      id: "chunks",
      label: "Chunks",
      value: chunks.total === null ? "—" : formatInt(chunks.total),
      hint: chunks.failed ? `${formatInt(chunks.failed)} failed` : chunks.total === null ? null : `${formatInt(chunks.stored)} stored`,
      tone: chunks.failed ? "danger" : null,
    }),
  );
}

/** What the progress panel shows: the chunks once split has counted them, else the split's reading. */
export function progressKey(batch) {
  return [batch.status, batch.chunks, batch.chunks_total, batch.chunks_failed, batch.split_bytes_read, batch.size_bytes];
}

export function renderProgress(batch) {
  const chunks = chunkSummary(batch);
  if (chunks.total !== null) {
    const finished = chunks.stored + chunks.failed;
    return h(
      "div",
      { class: "chunk-progress", "data-chunk-progress": `${finished}/${chunks.total}` },
      h(
        "div",
        { class: "chunk-progress-head" },
        h("span", { class: "chunk-progress-title" }, `${formatInt(finished)} of ${formatInt(chunks.total)} chunks done`),
        h("span", { class: "chunk-progress-share" }, formatPercent(finished, chunks.total)),
      ),
      chunkProgressBar(chunks, { label: "Chunks stored, failed and running" }),
      h(
        "ul",
        { class: "chunk-legend", "aria-label": "Chunks by status" },
        [
          ["stored", "Stored", "success"],
          ["failed", "Failed", "danger"],
          ["running", "Running", "info"],
          ["pending", "Pending", "neutral"],
        ].map(([key, label, tone]) =>
          h("li", { class: ["chunk-legend-item", `tone-${tone}`], "data-chunks": key }, h("span", { class: "chunk-legend-dot", "aria-hidden": "true" }), `${label} `, h("strong", null, formatInt(chunks[key]))),
        ),
      ),
    );
  }
  const size = typeof batch.size_bytes === "number" ? batch.size_bytes : null;
  if (typeof batch.split_bytes_read === "number") {
    const read = size ? Math.min(batch.split_bytes_read, size) : batch.split_bytes_read;
    return h(
      "div",
      { class: "chunk-progress", "data-split-progress": String(read) },
      h(
        "div",
        { class: "chunk-progress-head" },
        h("span", { class: "chunk-progress-title" }, "Splitting the file into chunks"),
        size ? h("span", { class: "chunk-progress-share" }, formatPercent(read, size)) : null,
      ),
      progressBar({
        label: "File read by split",
        total: size ?? 1,
        caption: size ? `${formatBytes(read)} of ${formatBytes(size)} read` : `${formatBytes(read)} read`,
        segments: [{ value: size ? read : 0, tone: "info", label: "Read" }],
        indeterminate: !size,
      }),
      h("p", { class: "hint" }, "The number of chunks is known once the whole file has been read."),
    );
  }
  let text = "Waiting for the execution to start.";
  if (batch.status === "RUNNING") text = "Splitting the file into chunks…";
  if (TERMINAL.has(batch.status)) text = "The file was not split into chunks.";
  return h(
    "div",
    { class: "chunk-progress", "data-split-progress": "none" },
    h("div", { class: "chunk-progress-head" }, h("span", { class: "chunk-progress-title" }, text)),
    TERMINAL.has(batch.status) ? null : progressBar({ label: "Split", total: 1, caption: size ? formatBytes(size) : "", segments: [], indeterminate: true }),
  );
}

export function renderStages(batch) {
  const total = chunkSummary(batch).total ?? 0;
  const rows = STAGES.map((stage) => {
    const summary = batch.stages?.[stage.key] ?? {};
    const done = summary.chunks_done ?? 0;
    const caught = summary.chunks_caught ?? 0;
    const failedAttempts = summary.failed_attempts ?? 0;
    return h(
      "tr",
      { "data-stage": stage.key },
      h("th", { scope: "row" }, stage.label),
      h(
        "td",
        { class: "cell-progress" },
        progressBar({
          label: `${stage.label}: ${done} of ${total} chunks`,
          total: Math.max(total, 1),
          caption: `${formatInt(done)}/${formatInt(total)}`,
          segments: [
            { value: total ? done : 0, tone: (total && done >= total) || TERMINAL.has(batch.status) ? "success" : "info", label: "Chunks done" },
            { value: total ? caught : 0, tone: "danger", label: "Chunks caught here" },
          ],
        }),
      ),
      h("td", { class: "num" }, formatInt(summary.received ?? 0)),
      h("td", { class: "num" }, formatInt(summary.processed ?? 0)),
      h("td", { class: "num" }, formatInt(summary.rejected ?? 0)),
      h(
        "td",
        { class: ["num", failedAttempts && "has-failures"] },
        h("span", { "data-failed-attempts": String(failedAttempts) }, formatInt(failedAttempts)),
        summary.last_error ? h("span", { class: "cell-sub mono", title: "The last error an attempt raised" }, formatValue(summary.last_error)) : null,
      ),
      h("td", { class: ["num", caught && "has-failures"] }, formatInt(caught)),
      h("td", { class: "num" }, formatDuration(durationBetween(summary.started_at, summary.finished_at))),
    );
  });
  return table({
    caption: "Stages",
    className: "table-stages",
    columns: [
      { label: "Stage" },
      { label: "Chunks" },
      { label: "In", className: "num" },
      { label: "Out", className: "num" },
      { label: "Rejected", className: "num" },
      { label: "Failed attempts", className: "num" },
      { label: "Chunks failed here", className: "num" },
      { label: "Took", className: "num" },
    ],
    rows,
  });
}

export function renderTimings(batch) {
  const upload = batch.source === "upload";
  return facts([
    ["Received", formatDateTime(batch.received_at)],
    ["Started", formatDateTime(batch.started_at)],
    ["Finished", formatDateTime(batch.finished_at)],
    ["Waited to start", formatDuration(durationBetween(batch.received_at, batch.started_at))],
    ["Ran for", formatDuration(durationBetween(batch.started_at, batch.finished_at ?? (TERMINAL.has(batch.status) ? null : new Date().toISOString())))],
    ["Dataset", batch.dataset],
    ["Source", upload ? "Upload to S3" : "Request body"],
    batch.filename ? ["File", formatValue(batch.filename), "wrap"] : null,
    typeof batch.size_bytes === "number" ? ["Size", `${formatBytes(batch.size_bytes)} (${formatInt(batch.size_bytes)} bytes)`] : null,
    ["Content type", `${batch.content_type}${batch.content_encoding ? ` · ${batch.content_encoding}` : ""}`, "mono"],
    ["Raw object", batch.raw_key, "mono wrap"],
    ["Execution", batch.execution_arn ?? "not started yet", "mono wrap"],
  ]);
}

/** The batch's error with its machine-readable parts: type, code, line and chunk. */
export function renderError(batch) {
  const error = batch.error;
  if (!error) return [];
  const hasNumber = (value) => typeof value === "number" && Number.isFinite(value);
  return h(
    "div",
    {
      class: "alert alert-danger batch-error",
      role: "alert",
      "data-error-type": formatValue(error.type),
      "data-error-code": error.code ?? null,
      "data-error-line": hasNumber(error.line) ? String(error.line) : null,
      "data-error-chunk": hasNumber(error.chunk) ? String(error.chunk) : null,
    },
    h("p", { class: "alert-title" }, "This batch failed"),
    h("p", { class: "batch-error-message" }, formatValue(error.message)),
    h(
      "dl",
      { class: "error-facts" },
      h("div", null, h("dt", null, "Error"), h("dd", null, h("code", { class: "error-code" }, formatValue(error.type)))),
      error.code ? h("div", null, h("dt", null, "Code"), h("dd", null, h("code", { class: "error-code", "data-field": "code" }, formatValue(error.code)))) : null,
      hasNumber(error.line) ? h("div", null, h("dt", null, "Line"), h("dd", { "data-field": "line" }, formatInt(error.line))) : null,
      hasNumber(error.chunk)
        ? h(
            "div",
            null,
            h("dt", null, "Chunk"),
            h("dd", { "data-field": "chunk" }, h("button", { type: "button", class: "link-button", "data-open-chunk": String(error.chunk), title: "Show this chunk" }, `Chunk ${formatInt(error.chunk)}`)),
          )
        : null,
    ),
  );
}

/** The page while an upload's batch does not exist yet (GET answers 404 upload_pending). */
export function renderPending({ error, since, job }) {
  const waited = Date.now() - since;
  const detail = Array.isArray(error?.details) ? error.details[0] ?? {} : {};
  const uploading = job && job.state === "uploading";
  const progress = job ? uploadProgressView(job) : null;
  const element = h(
    "div",
    { class: "alert alert-info pending", role: "status", "data-pending": "upload" },
    h("p", { class: "alert-title" }, uploading ? "Uploading the file from this tab…" : "Waiting for the file to be registered…"),
    h(
      "p",
      null,
      uploading
        ? "The batch appears once S3 has the whole file."
        : "The upload was issued; the batch appears a few seconds after S3 has the file. This page checks again by itself.",
    ),
    detail.filename || detail.upload_id
      ? h("p", { class: "pending-meta" }, detail.filename ? h("span", null, "File ", h("strong", null, formatValue(detail.filename))) : null, detail.upload_id ? h("span", { class: "mono" }, formatValue(detail.upload_id)) : null)
      : null,
    progress ? progress.element : null,
    job && job.state !== "uploading" && job.state !== "done"
      ? h("p", null, "The upload from this tab stopped. Send the file again from ", h("a", { href: "#/ingest" }, "Ingest"), " with the same Idempotency-Key to resume this batch.")
      : null,
    !job && waited > 60_000
      ? h("p", { class: "hint" }, "Still nothing after a minute: if the upload was interrupted, send the file again from Ingest with the same Idempotency-Key; it resumes this batch.")
      : null,
  );
  return { element, update: progress ? progress.update : () => {} };
}
