// A batch's chunks from the chunk ledger: a table that pages through GET
// /batches/{id}/chunks (the first page again on each refresh, more on request, optionally
// only the chunks of one status) and one chunk's detail from GET /batches/{id}/chunks/{i}.
// A batch may have thousands of chunks: nothing here reads them all.

import { chunkBadge, emptyState, errorBox, facts, table } from "../../components.js";
import { h } from "../../dom.js";
import { durationBetween, formatClock, formatDateTime, formatDuration, formatInt, formatPrecise, formatValue } from "../../format.js";
import { executionGraph } from "../../graph.js";
import { STAGES } from "../overview.js";

export const CHUNK_PAGE = 25;
const PARTITIONS_SHOWN = 24;

export const CHUNK_FILTERS = [
  { value: "", label: "All chunks", count: (chunks) => chunks.stored + chunks.failed + chunks.running },
  { value: "failed", label: "Failed", count: (chunks) => chunks.failed },
  { value: "running", label: "Running", count: (chunks) => chunks.running },
  { value: "stored", label: "Stored", count: (chunks) => chunks.stored },
];

/** The chunk list's state: the first page (refreshed), what "load more" added, and where to go on. */
export function emptyChunkList(filter = "") {
  return { filter, first: [], firstNext: null, extra: [], extraNext: null, loadedMore: false, loaded: false, error: null, loadingMore: false, fetchedAt: 0, key: null };
}

/** The rows to show: the fresh first page, then what was loaded beyond it (fresher wins). */
export function visibleChunks(list) {
  const last = list.first.at(-1)?.index ?? -1;
  return [...list.first, ...list.extra.filter((chunk) => chunk.index > last)];
}

export function nextToken(list) {
  return list.loadedMore ? list.extraNext : list.firstNext;
}

function failedAttempts(chunk) {
  return Object.values(chunk.failed_attempts ?? {}).reduce((sum, value) => sum + (Number(value) || 0), 0);
}

/** Where the chunk got to: the stage it failed in, or the last stage that finished it. */
function whereItGot(chunk) {
  if (chunk.status === "failed") return h("span", { class: "chunk-where is-failed" }, `failed in ${formatValue(chunk.failed_stage ?? "?")}`);
  const done = STAGES.filter((stage) => chunk.stages?.[stage.key]);
  if (chunk.status === "stored") return h("span", { class: "chunk-where" }, "all four stages");
  if (!done.length) return h("span", { class: "muted" }, "not started");
  return h("span", { class: "chunk-where" }, `${done.at(-1).label} done`);
}

function chunkButton(chunk, expanded) {
  return h(
    "button",
    {
      type: "button",
      class: "link-button",
      "data-chunk": String(chunk.index),
      "data-focus-key": `chunk-${chunk.index}`,
      "aria-expanded": expanded ? "true" : "false",
      "aria-controls": "chunk-detail",
      title: "Show this chunk's detail",
    },
    h("span", { class: "disclosure", "aria-hidden": "true" }, expanded ? "▾" : "▸"),
    `Chunk ${formatInt(chunk.index)}`,
  );
}

export function renderChunkTable(list, { selected, summary, terminal }) {
  if (list.error && !list.loaded) return errorBox(list.error, { title: "Could not load the chunks" });
  if (!list.loaded) return emptyState("Loading chunks…");
  const chunks = visibleChunks(list);
  const rows = chunks.map((chunk) => {
    const attempts = failedAttempts(chunk);
    return h(
      "tr",
      { "data-chunk-row": String(chunk.index), "data-chunk-status": chunk.status, class: selected === chunk.index ? "is-selected" : null },
      h("td", null, chunkButton(chunk, selected === chunk.index)),
      h("td", null, chunkBadge(chunk.status)),
      h("td", { class: "num nowrap" }, `${formatInt(chunk.first_line)}–${formatInt(chunk.last_line)}`),
      h("td", { class: "num" }, formatInt(chunk.records)),
      h("td", { class: "num" }, formatInt(chunk.processed)),
      h("td", { class: "num" }, formatInt(chunk.rejected)),
      h("td", { class: ["num", chunk.failed && "has-failures"] }, formatInt(chunk.failed)),
      h("td", null, whereItGot(chunk)),
      h("td", { class: ["num", attempts && "has-failures"] }, formatInt(attempts), attempts && chunk.last_attempt_error ? h("span", { class: "cell-sub mono" }, formatValue(chunk.last_attempt_error)) : null),
      h("td", { class: "nowrap" }, h("span", { title: formatDateTime(chunk.updated_at) }, formatClock(chunk.updated_at))),
    );
  });
  const filter = CHUNK_FILTERS.find((candidate) => candidate.value === list.filter) ?? CHUNK_FILTERS[0];
  const untouched = summary.pending;
  let empty = "No chunk has started yet.";
  if (list.filter === "failed") empty = terminal ? "No chunk failed." : "No chunk has failed so far.";
  else if (list.filter === "running") empty = "No chunk is running right now.";
  else if (list.filter === "stored") empty = "No chunk is stored yet.";
  const next = nextToken(list);
  // A status filter reads a bounded stretch of the ledger per page: none so far is not none at all.
  if (!chunks.length && next) empty = `No ${filter.label.toLowerCase()} chunk among the chunks read so far: load more to look further.`;
  return [
    table({
      caption: filter.value ? `${filter.label} chunks` : "Chunks",
      empty,
      className: "table-chunks",
      columns: [
        { label: "Chunk" },
        { label: "Status" },
        { label: "Lines", className: "num" },
        { label: "Records", className: "num" },
        { label: "Processed", className: "num" },
        { label: "Rejected", className: "num" },
        { label: "Failed", className: "num" },
        { label: "Got to" },
        { label: "Failed attempts", className: "num" },
        { label: "Updated" },
      ],
      rows,
    }),
    h(
      "div",
      { class: "chunk-table-foot" },
      !chunks.length ? null : h(
        "p",
        { class: "hint", "data-chunk-count": String(chunks.length) },
        `Showing ${formatInt(chunks.length)} ${filter.value ? `${filter.label.toLowerCase()} ` : ""}chunk${chunks.length === 1 ? "" : "s"}`,
        next ? " so far" : "",
        ".",
        !filter.value && untouched ? ` ${formatInt(untouched)} not started yet (they are listed once a stage touches them).` : "",
        list.loadedMore && !terminal ? " The first page refreshes by itself; the rows after it are as they were when loaded." : "",
      ),
      next
        ? h("button", { type: "button", class: "button button-quiet", "data-action": "more-chunks", disabled: list.loadingMore }, list.loadingMore ? "Loading…" : "Load more chunks")
        : null,
    ),
    list.error ? h("p", { class: "alert alert-danger", role: "alert" }, `Could not load more chunks: ${list.error.message}`) : null,
  ];
}

function stageRows(chunk) {
  return STAGES.map((stage) => {
    const progress = chunk.stages?.[stage.key];
    const attempts = chunk.failed_attempts?.[stage.key] ?? 0;
    const failedHere = chunk.failed_stage === stage.key;
    return h(
      "tr",
      { "data-chunk-stage": stage.key, class: failedHere ? "is-failed-row" : null },
      h("th", { scope: "row" }, stage.label),
      h("td", null, progress ? h("span", { class: "chunk-where" }, "✓ done") : failedHere ? h("span", { class: "chunk-where is-failed" }, "✕ failed here") : h("span", { class: "muted" }, "not reached")),
      h("td", { class: "num" }, progress ? formatInt(progress.received) : "—"),
      h("td", { class: "num" }, progress ? formatInt(progress.processed) : "—"),
      h("td", { class: "num" }, progress ? formatInt(progress.rejected) : "—"),
      h("td", { class: ["num", attempts && "has-failures"], "data-failed-attempts": String(attempts) }, formatInt(attempts)),
      h("td", { class: "nowrap mono" }, progress ? formatPrecise(progress.started_at) : "—"),
      h("td", { class: "num" }, progress ? formatDuration(durationBetween(progress.started_at, progress.finished_at)) : "—"),
    );
  });
}

function renderPartitions(partitions) {
  if (!partitions.length) return h("p", { class: "muted chunk-partitions-none" }, "No processed objects written.");
  const records = partitions.reduce((sum, partition) => sum + (partition.records ?? 0), 0);
  const chip = (partition) => h("li", { class: "partition-chip", "data-partition": formatValue(partition.date) }, h("span", { class: "mono" }, formatValue(partition.date)), h("span", { class: "partition-records" }, formatInt(partition.records)));
  const first = partitions[0].date;
  const last = partitions.at(-1).date;
  return h(
    "div",
    { class: "chunk-partitions" },
    h(
      "p",
      { class: "chunk-partitions-summary" },
      `${formatInt(records)} records in ${formatInt(partitions.length)} date partition${partitions.length === 1 ? "" : "s"}`,
      partitions.length > 1 ? `, ${formatValue(first)} to ${formatValue(last)}` : `, ${formatValue(first)}`,
    ),
    partitions.length <= PARTITIONS_SHOWN
      ? h("ul", { class: "partition-list" }, partitions.map(chip))
      : h("details", { class: "partitions-details" }, h("summary", null, `All ${formatInt(partitions.length)} partitions`), h("ul", { class: "partition-list" }, partitions.map(chip))),
  );
}

/** One chunk: its ledger entry (and, on AWS, its child execution). */
export function renderChunkDetail(detail, { batchExecutionArn }) {
  if (detail.error) return errorBox(detail.error, { title: `Could not load chunk ${detail.index}` });
  if (!detail.data) return emptyState(`Loading chunk ${detail.index}…`);
  const chunk = detail.data.chunk ?? {};
  const execution = detail.data.execution;
  const attempts = failedAttempts(chunk);
  const error = chunk.error;
  return h(
    "div",
    { class: "chunk-detail-body", "data-chunk-detail": String(chunk.index), "data-chunk-status": chunk.status },
    h(
      "div",
      { class: "chunk-detail-head" },
      h("h3", { class: "chunk-detail-title" }, `Chunk ${formatInt(chunk.index)}`),
      chunkBadge(chunk.status),
      h("button", { type: "button", class: "button button-quiet", "data-action": "close-chunk" }, "Close"),
    ),
    facts([
      ["Source lines", `${formatInt(chunk.first_line)} to ${formatInt(chunk.last_line)}`],
      ["Records", formatInt(chunk.records)],
      ["Processed", formatInt(chunk.processed)],
      ["Rejected", formatInt(chunk.rejected)],
      ["Failed", formatInt(chunk.failed), chunk.failed ? "is-danger" : null],
      ["Failed attempts", attempts ? formatInt(attempts) : "none", attempts ? "is-danger" : null],
      attempts ? ["Last failed attempt", `${formatValue(chunk.last_attempt_error ?? "?")} in ${formatValue(chunk.last_attempt_stage ?? "?")}`, "wrap"] : null,
      chunk.failed_stage ? ["Failed in", formatValue(chunk.failed_stage), "is-danger"] : null,
      ["Updated", formatPrecise(chunk.updated_at), "mono"],
      ["Execution", chunk.execution_arn && chunk.execution_arn !== batchExecutionArn ? formatValue(chunk.execution_arn) : "ran inside the batch's execution", "mono wrap"],
    ]),
    error
      ? h(
          "div",
          { class: "alert alert-danger chunk-error", role: "alert", "data-chunk-error": formatValue(error.type) },
          h("p", { class: "alert-title" }, formatValue(error.type)),
          h("p", { class: "wrap" }, formatValue(error.message)),
          error.code || typeof error.line === "number"
            ? h("p", { class: "alert-meta" }, error.code ? h("code", { class: "error-code" }, formatValue(error.code)) : null, typeof error.line === "number" ? h("span", null, `line ${formatInt(error.line)}`) : null)
            : null,
        )
      : null,
    h("h4", { class: "chunk-detail-subtitle" }, "Stages"),
    table({
      caption: `Stages of chunk ${chunk.index}`,
      className: "table-chunk-stages",
      columns: [
        { label: "Stage" },
        { label: "Outcome" },
        { label: "In", className: "num" },
        { label: "Out", className: "num" },
        { label: "Rejected", className: "num" },
        { label: "Failed attempts", className: "num" },
        { label: "Started" },
        { label: "Took", className: "num" },
      ],
      rows: stageRows(chunk),
    }),
    h("h4", { class: "chunk-detail-subtitle" }, "Partitions written"),
    renderPartitions(chunk.partitions ?? []),
    execution
      ? h(
          "div",
          { class: "chunk-execution" },
          h("h4", { class: "chunk-detail-subtitle" }, "Child execution"),
          facts([
            ["Status", formatValue(execution.status)],
            ["Started", formatDateTime(execution.started_at)],
            ["Took", formatDuration(durationBetween(execution.started_at, execution.stopped_at))],
          ]),
          h("div", { class: "graph-scroll graph-scroll-small" }, executionGraph(execution.definition, execution.states, {})),
        )
      : null,
  );
}
