// A batch's runs (its first execution and every retry), the Retry button, and the links
// between a replayed batch and its parent: all from GET /batches/{id} (`runs`,
// `replay_of`, `replays`), the retry through POST /batches/{id}/retry.

import { batchLink, chunkSummary, emptyState, errorBox, executionName, statusBadge, table } from "../../components.js";
import { h } from "../../dom.js";
import { formatDateTime, formatInt, formatValue } from "../../format.js";

const RUN_KIND = {
  initial: "First run",
  retry: "Retry of failed chunks",
  rerun: "Re-run from the start",
};

function chunksCell(run) {
  if (run.kind === "initial") return h("span", { class: "muted" }, "all");
  if (!Array.isArray(run.chunks)) return h("span", { class: "muted" }, run.kind === "rerun" ? "all" : "every failed chunk");
  const shown = run.chunks.slice(0, 12);
  return h(
    "span",
    { class: "chips", "data-run-chunks": run.chunks.join(",") },
    shown.map((index) => h("span", { class: "chip" }, `#${formatInt(index)}`)),
    run.chunks.length > shown.length ? h("span", { class: "muted" }, ` +${formatInt(run.chunks.length - shown.length)}`) : null,
  );
}

/** Whether a retry would run something again: only a failed batch (failed chunks fail it). */
export function retryable(batch) {
  return batch?.status === "FAILED";
}

export function renderRuns(batch) {
  const runs = Array.isArray(batch.runs) ? batch.runs : [];
  if (!runs.length) return emptyState(batch.execution_arn ? "One run." : "The batch has not run yet.");
  const latest = runs.at(-1)?.run;
  const rows = [...runs].reverse().map((run) =>
    h(
      "tr",
      { "data-run": String(run.run), "data-run-kind": run.kind, class: run.run === latest ? "is-latest" : null },
      h("td", { class: "num" }, `#${formatInt(run.run)}`),
      h("td", null, RUN_KIND[run.kind] ?? formatValue(run.kind)),
      h(
        "td",
        { class: "cell-execution" },
        run.execution_arn
          ? [h("span", { class: "mono run-execution-name" }, formatValue(executionName(run.execution_arn))), h("span", { class: "cell-sub mono wrap" }, formatValue(run.execution_arn))]
          : h("span", { class: "muted" }, "not started yet"),
      ),
      h("td", null, run.requested_by ? formatValue(run.requested_by) : h("span", { class: "muted" }, run.kind === "initial" ? "ingest" : "—")),
      h("td", { class: "nowrap" }, formatDateTime(run.requested_at)),
      h("td", null, chunksCell(run)),
      h("td", null, run.status ? statusBadge(run.status) : h("span", { class: "muted" }, run.run === latest ? "running" : "—")),
      h("td", { class: "nowrap" }, formatDateTime(run.finished_at)),
    ),
  );
  return table({
    caption: "Runs of this batch",
    className: "table-runs",
    columns: [
      { label: "Run", className: "num" },
      { label: "Kind" },
      { label: "Execution" },
      { label: "Requested by" },
      { label: "Requested" },
      { label: "Chunks" },
      { label: "Outcome" },
      { label: "Finished" },
    ],
    rows,
  });
}

/** The Retry button with what it would do, or nothing when nothing failed. */
export function renderRetryAction(batch, { busy }) {
  if (!retryable(batch)) return [];
  const failed = chunkSummary(batch).failed;
  const what = failed ? `${formatInt(failed)} failed chunk${failed === 1 ? "" : "s"}` : "the batch from the start";
  return h(
    "div",
    { class: "retry-action" },
    h("span", { class: "hint", id: "retry-hint" }, `Runs ${what} again (needs an admin key).`),
    h(
      "button",
      { type: "button", class: "button button-primary", "data-action": "retry-batch", disabled: busy, "aria-describedby": "retry-hint" },
      busy ? "Retrying…" : "Retry",
    ),
  );
}

/** What a retry answered: the run it started, or why it was refused. */
export function renderRetryOutcome(outcome) {
  if (!outcome) return [];
  if (outcome.error) {
    const error = outcome.error;
    const title = error.scope ? "Retrying needs a key with the admin scope" : "The retry was refused";
    return errorBox(error, { title });
  }
  const accepted = outcome.accepted;
  return h(
    "p",
    { class: "alert alert-success", role: "status", "data-retry-run": String(accepted.run) },
    `Run #${formatInt(accepted.run)} started (${accepted.kind === "rerun" ? "from the start" : accepted.chunks ? `chunks ${accepted.chunks.join(", ")}` : "every failed chunk"}) as execution `,
    h("span", { class: "mono" }, formatValue(accepted.execution_name)),
    ".",
  );
}

// `replay_of.lines` lists the parent's line of each replayed record (or counts them).
function replayedCount(parent) {
  if (Array.isArray(parent.lines)) return parent.lines.length;
  return typeof parent.lines === "number" ? parent.lines : null;
}

/** "Replay of <parent>" and "Replayed into <child>": the batches this one came from or led to. */
export function renderReplayLinks(batch) {
  const parent = batch.replay_of ?? null;
  const children = Array.isArray(batch.replays) ? batch.replays : [];
  if (!parent && !children.length) return [];
  return h(
    "div",
    { class: "replay-links" },
    parent
      ? h(
          "p",
          { class: "replay-link", "data-replay-of": formatValue(parent.batch_id) },
          h("span", { class: "replay-glyph", "aria-hidden": "true" }, "↩"),
          "Replay of ",
          batchLink(parent.batch_id),
          replayedCount(parent) !== null ? ` · ${formatInt(replayedCount(parent))} edited record${replayedCount(parent) === 1 ? "" : "s"}` : null,
        )
      : null,
    children.map((child) =>
      h(
        "p",
        { class: "replay-link", "data-replayed-into": formatValue(child.batch_id) },
        h("span", { class: "replay-glyph", "aria-hidden": "true" }, "↪"),
        "Replayed into ",
        batchLink(child.batch_id),
        ` · ${formatInt(child.records)} record${child.records === 1 ? "" : "s"}`,
        child.requested_by ? ` · by ${formatValue(child.requested_by)}` : null,
        child.requested_at ? ` · ${formatDateTime(child.requested_at)}` : null,
      ),
    ),
  );
}
