// One batch: counts, stages, timings, its execution drawn as a graph, its rejected and
// processed records, and one record's lineage. Polls while the batch is in flight and
// stops once both the batch and its execution have finished.

import { getBatch, getExecution, getRecords } from "../api.js";
import {
  STATE_STATUS,
  TERMINAL,
  emptyState,
  errorBox,
  pageHeader,
  panel,
  progressBar,
  rawValues,
  reasonsList,
  stateBadge,
  statCard,
  statusBadge,
  table,
} from "../components.js";
import { h, renderIfChanged, replace } from "../dom.js";
import {
  durationBetween,
  formatDateTime,
  formatDuration,
  formatInt,
  formatPrecise,
  formatUtc,
  formatValue,
  parseTime,
} from "../format.js";
import { allStates, executionGraph, stateStatus } from "../graph.js";
import { Poller } from "../poller.js";
import { STAGES } from "./overview.js";

const REFRESH_MS = 1_500;
const REJECTED_LIMIT = 100;
const PROCESSED_LIMIT = 50;
// Once the batch is terminal its execution may still be publishing the outcome: a few more looks.
const EXTRA_LOOKS_AFTER_TERMINAL = 10;
const LINEAGE_STAMPS = [
  ["validated_at", "Validated"],
  ["transformed_at", "Transformed"],
  ["enriched_at", "Enriched"],
  ["stored_at", "Stored"],
];

const DELAY = {
  early: { label: "Early", tone: "success" },
  on_time: { label: "On time", tone: "success" },
  minor_delay: { label: "Minor delay", tone: "info" },
  major_delay: { label: "Major delay", tone: "warning" },
  severe_delay: { label: "Severe delay", tone: "danger" },
  cancelled: { label: "Cancelled", tone: "neutral" },
  diverted: { label: "Diverted", tone: "warning" },
};

function delayBadge(category) {
  const info = DELAY[category] ?? { label: formatValue(category), tone: "neutral" };
  return h("span", { class: ["badge", "badge-soft", `tone-${info.tone}`] }, info.label);
}

function renderCounts(batch) {
  const counts = batch.counts ?? {};
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
      value: batch.chunks_total === null || batch.chunks_total === undefined ? "—" : formatInt(batch.chunks_total),
      hint: batch.chunks_failed ? `${formatInt(batch.chunks_failed)} failed` : null,
      tone: batch.chunks_failed ? "danger" : null,
    }),
  );
}

function definitionList(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([term, value, className]) => h("div", { class: "fact" }, h("dt", null, term), h("dd", { class: className }, value))),
  );
}

function renderTimings(batch) {
  return definitionList([
    ["Received", formatDateTime(batch.received_at)],
    ["Started", formatDateTime(batch.started_at)],
    ["Finished", formatDateTime(batch.finished_at)],
    ["Waited to start", formatDuration(durationBetween(batch.received_at, batch.started_at))],
    ["Ran for", formatDuration(durationBetween(batch.started_at, batch.finished_at ?? (TERMINAL.has(batch.status) ? null : new Date().toISOString())))],
    ["Dataset", batch.dataset],
    ["Content type", batch.content_type, "mono"],
    ["Raw object", batch.raw_key, "mono wrap"],
    ["Execution", batch.execution_arn ?? "not started yet", "mono wrap"],
  ]);
}

function renderStages(batch) {
  const total = batch.chunks_total ?? 0;
  const rows = STAGES.map((stage) => {
    const summary = batch.stages?.[stage.key] ?? {};
    const done = summary.chunks_done ?? 0;
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
          segments: [{ value: total ? done : 0, tone: total && done >= total ? "success" : "info", label: "Chunks done" }],
        }),
      ),
      h("td", { class: "num" }, formatInt(summary.records_in ?? 0)),
      h("td", { class: "num" }, formatInt(summary.records_out ?? 0)),
      h("td", { class: "num" }, formatInt(summary.rejected ?? 0)),
      h("td", { class: "num" }, formatDuration(durationBetween(summary.started_at, summary.finished_at))),
    );
  });
  return table({
    caption: "Stages",
    columns: [
      { label: "Stage" },
      { label: "Chunks" },
      { label: "In", className: "num" },
      { label: "Out", className: "num" },
      { label: "Rejected", className: "num" },
      { label: "Took", className: "num" },
    ],
    rows,
  });
}

function renderError(batch) {
  if (!batch.error) return [];
  return errorBox({ message: batch.error.message, code: batch.error.type }, { title: "This batch failed" });
}

function prettyCause(cause) {
  if (!cause) return null;
  try {
    const parsed = JSON.parse(cause);
    if (parsed && typeof parsed === "object") {
      return [parsed.errorType, parsed.errorMessage].filter(Boolean).join(": ") || JSON.stringify(parsed, null, 2);
    }
  } catch {
    // Not JSON: show it as it is.
  }
  return cause;
}

/** The state to show first when something went wrong: a failed task, else a caught error, else any failure. */
function firstFailingState(execution) {
  const types = new Map(allStates(execution.definition).map((state) => [state.name, state.type]));
  const entries = Object.entries(execution.states ?? {});
  const pick = (test) => entries.find(([name, info]) => test(info?.status, types.get(name)))?.[0];
  return pick((status, type) => status === "FAILED" && type !== "Fail") ?? pick((status) => status === "CAUGHT") ?? pick((status) => status === "FAILED") ?? null;
}

function renderStateDetails(execution, selected) {
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Status colours" },
    Object.entries(STATE_STATUS).map(([status, info]) =>
      h("li", { class: ["legend-item", `tone-${info.tone}`] }, h("span", { class: "legend-swatch", "aria-hidden": "true" }, info.glyph), info.label, " ", h("span", { class: "sr-only" }, status)),
    ),
    h("li", { class: "legend-item legend-edge" }, h("span", { class: "legend-line", "aria-hidden": "true" }), "Next"),
    h("li", { class: "legend-item legend-edge" }, h("span", { class: "legend-line legend-line-catch", "aria-hidden": "true" }), "Catch"),
  );
  const summary = definitionList([
    ["Execution", ["SUCCEEDED", "RUNNING", "FAILED"].includes(execution.status) ? stateBadge(execution.status) : formatValue(execution.status)],
    ["Started", formatDateTime(execution.started_at)],
    ["Stopped", formatDateTime(execution.stopped_at)],
    ["Took", formatDuration(durationBetween(execution.started_at, execution.stopped_at))],
  ]);
  if (!selected) {
    return h("div", { class: "state-details" }, summary, h("p", { class: "hint" }, "Select a state in the graph (click, or Tab then Enter) to see its timing and errors."), legend);
  }
  const info = execution.states?.[selected] ?? {};
  const definition = allStates(execution.definition).find((state) => state.name === selected);
  const status = stateStatus(execution.states, selected);
  return h(
    "div",
    { class: "state-details", "data-selected-state": selected },
    h("h3", { class: "state-title" }, selected, " ", h("span", { class: "muted" }, definition?.type ?? "")),
    stateBadge(status),
    definition?.comment ? h("p", { class: "state-comment" }, definition.comment) : null,
    definitionList([
      ["Entered", formatDateTime(info.entered_at)],
      ["Exited", formatDateTime(info.exited_at)],
      ["Duration", formatDuration(info.duration_ms)],
      ["Attempts", formatInt(info.attempts ?? 0)],
      definition?.parent ? ["Inside", definition.parent] : null,
    ]),
    info.error ? h("div", { class: "alert alert-danger state-error" }, h("p", { class: "alert-title" }, info.error), info.cause ? h("pre", { class: "cause" }, prettyCause(info.cause)) : null) : null,
    h("button", { type: "button", class: "button button-quiet", "data-action": "clear-state" }, "Back to execution summary"),
    legend,
  );
}

function renderStateTable(execution) {
  const rows = allStates(execution.definition).map((state) => {
    const info = execution.states?.[state.name] ?? {};
    const status = stateStatus(execution.states, state.name);
    return h(
      "tr",
      { "data-state-row": state.name },
      h("th", { scope: "row" }, state.parent ? h("span", { class: "indent" }, "↳ ") : null, state.name),
      h("td", { class: "muted" }, state.type),
      h("td", null, stateBadge(status)),
      h("td", null, formatDateTime(info.entered_at)),
      h("td", { class: "num" }, formatDuration(info.duration_ms)),
      h("td", { class: "num" }, formatInt(info.attempts ?? 0)),
      h("td", { class: "wrap" }, info.error ? `${info.error}${info.cause ? ` — ${prettyCause(info.cause)}` : ""}` : ""),
    );
  });
  return table({
    caption: "States of the execution",
    columns: [
      { label: "State" },
      { label: "Type" },
      { label: "Status" },
      { label: "Entered" },
      { label: "Duration", className: "num" },
      { label: "Attempts", className: "num" },
      { label: "Error" },
    ],
    rows,
  });
}

function renderEvents(execution) {
  const events = execution.events ?? [];
  return h(
    "details",
    { class: "events-details" },
    h("summary", null, `Execution history (${formatInt(events.length)} events)`),
    events.length
      ? h(
          "ol",
          { class: "history" },
          events.map((event) =>
            h(
              "li",
              { class: ["history-item", event.error && "has-error"] },
              h("time", { datetime: event.timestamp, class: "mono" }, formatDateTime(event.timestamp)),
              h("span", { class: "history-type" }, event.type),
              event.state ? h("span", { class: "history-state" }, event.state) : null,
              event.error ? h("span", { class: "history-error" }, `${event.error}${event.cause ? `: ${prettyCause(event.cause)}` : ""}`) : null,
            ),
          ),
        )
      : emptyState("No events."),
  );
}

const lineOf = (item) => String(item.lineage?.line ?? item.line);

function lineageButton(item, kind, label, expanded) {
  const line = lineOf(item);
  return h(
    "button",
    {
      type: "button",
      class: "link-button mono",
      "data-lineage": `${kind}:${line}`,
      "data-focus-key": `lineage-${kind}-${line}`,
      "aria-expanded": expanded ? "true" : "false",
      "aria-controls": `lineage-${kind}-${line}`,
      title: "Show this record's lineage",
    },
    h("span", { class: "disclosure", "aria-hidden": "true" }, expanded ? "▾" : "▸"),
    label,
  );
}

/** Rows for one record: the record, then its lineage when it is the one selected. */
function withLineage(item, kind, selected, columns, row) {
  const expanded = selected === `${kind}:${lineOf(item)}`;
  const rows = [row(expanded)];
  if (expanded) {
    rows.push(
      h("tr", { class: "lineage-row", id: `lineage-${kind}-${lineOf(item)}` }, h("td", { colspan: columns }, renderLineage(item, kind))),
    );
  }
  return rows;
}

function renderRejected(page, { loading, error, selected }) {
  if (error) return errorBox(error, { title: "Could not load rejected records" });
  if (!page) return emptyState(loading ? "Loading…" : "No rejected records yet.");
  const rows = page.records.flatMap((item) =>
    withLineage(item, "rejected", selected, 3, (expanded) =>
      h(
        "tr",
        { "data-line": lineOf(item), class: expanded ? "is-selected" : null },
        h("td", null, lineageButton(item, "rejected", `Line ${lineOf(item)}`, expanded)),
        h("td", { class: "cell-reasons" }, reasonsList(item.reasons)),
        h("td", { class: "cell-values" }, rawValues(item)),
      ),
    ),
  );
  return [
    table({
      caption: "Rejected records",
      empty: "No rejected records.",
      className: "table-rejects",
      columns: [{ label: "Line" }, { label: "Reasons" }, { label: "Values as received" }],
      rows,
    }),
    page.next ? h("p", { class: "hint" }, `Showing the first ${formatInt(page.records.length)} rejected records.`) : null,
  ];
}

function airportName(info) {
  return info?.name ? formatValue(info.name) : "unknown airport";
}

function renderProcessed(page, { loading, error, selected }) {
  if (error) return errorBox(error, { title: "Could not load processed records" });
  if (!page) return emptyState(loading ? "Loading…" : "No processed records yet.");
  const rows = page.records.flatMap((item) => {
    const record = item.record ?? {};
    const gaps = Array.isArray(record.gaps) ? record.gaps : [];
    return withLineage(item, "processed", selected, 6, (expanded) =>
      h(
        "tr",
        { "data-line": lineOf(item), "data-flight": formatValue(record.flight_id), class: expanded ? "is-selected" : null },
        h("td", null, lineageButton(item, "processed", formatValue(record.flight_id), expanded), h("span", { class: "cell-sub" }, `line ${lineOf(item)}`)),
        h(
          "td",
          null,
          record.carrier_info?.name ? formatValue(record.carrier_info.name) : h("span", { class: "muted" }, "unknown carrier"),
          h("span", { class: "cell-sub mono" }, formatValue(record.carrier)),
        ),
        h(
          "td",
          { class: "cell-route" },
          h("span", { class: "route-codes" }, formatValue(record.origin), h("span", { class: "route-arrow" }, " → "), formatValue(record.dest)),
          h("span", { class: "route-names" }, airportName(record.origin_airport), " → ", airportName(record.dest_airport)),
        ),
        h("td", { class: "nowrap" }, formatUtc(record.scheduled_departure_utc)),
        h("td", null, delayBadge(record.delay_category)),
        h("td", null, gaps.length ? h("span", { class: "chips" }, gaps.map((gap) => h("span", { class: "chip" }, formatValue(gap)))) : h("span", { class: "muted" }, "none")),
      ),
    );
  });
  return [
    table({
      caption: "Processed records",
      empty: "No processed records.",
      columns: [
        { label: "Flight" },
        { label: "Carrier" },
        { label: "Route" },
        { label: "Scheduled departure" },
        { label: "Delay" },
        { label: "Gaps" },
      ],
      rows,
    }),
    h("p", { class: "hint" }, page.next ? `Showing the first ${formatInt(page.records.length)} processed records. ` : "", "Select a flight to see its lineage."),
  ];
}

function renderLineage(item, kind) {
  const lineage = item.lineage ?? {};
  const start = parseTime(lineage.validated_at);
  return h(
    "div",
    { class: "lineage", "data-lineage-of": `${kind}:${lineage.line}` },
    h("h3", { class: "lineage-title" }, "Lineage of ", kind === "processed" ? formatValue(item.record?.flight_id) : `rejected line ${lineage.line}`),
    h(
      "div",
      { class: "lineage-body" },
      definitionList([
        ["Source object", formatValue(lineage.source_key), "mono wrap"],
        ["Line", formatInt(lineage.line)],
        ["Batch", formatValue(lineage.batch_id), "mono wrap"],
        ["Execution", formatValue(lineage.execution_arn), "mono wrap"],
      ]),
      h(
        "ol",
        { class: "timeline", "aria-label": "When each stage touched the record" },
        LINEAGE_STAMPS.map(([key, label]) => {
          const time = parseTime(lineage[key]);
          return h(
            "li",
            { class: ["timeline-step", time === null && "is-missing"], "data-stamp": key },
            h("span", { class: "timeline-dot", "aria-hidden": "true" }),
            h("span", { class: "timeline-label" }, label),
            lineage[key]
              ? h("time", { class: "timeline-time mono", datetime: formatValue(lineage[key]), title: formatValue(lineage[key]) }, formatPrecise(lineage[key]))
              : h("span", { class: "timeline-time" }, "not reached"),
            time !== null && start !== null && key !== "validated_at" ? h("span", { class: "timeline-delta" }, `+${formatDuration(time - start)}`) : null,
          );
        }),
      ),
    ),
  );
}

export function mountBatch(container, { params }) {
  const batchId = params[0];
  const state = {
    batch: null,
    execution: null,
    executionError: null,
    rejected: null,
    processed: null,
    rejectedError: null,
    processedError: null,
    recordsKey: null,
    selectedState: null,
    autoSelected: false,
    lineage: null,
    extraLooks: 0,
  };

  const headerRegion = h("div", { class: "region" });
  const problem = h("div", { class: "region" });
  const countsRegion = h("div", { class: "region" });
  const errorRegion = h("div", { class: "region" });
  const stagesRegion = h("div", { class: "region" });
  const timingsRegion = h("div", { class: "region" });
  const graphRegion = h("div", { class: "graph-scroll", tabindex: -1 });
  const detailsRegion = h("div", { class: "region" });
  const stateTableRegion = h("div", { class: "region" });
  const historyRegion = h("div", { class: "region" });
  const rejectedRegion = h("div", { class: "region", "data-region": "rejected" });
  const processedRegion = h("div", { class: "region", "data-region": "processed" });

  container.appendChild(
    h(
      "div",
      { class: "view view-batch", "data-batch": batchId },
      headerRegion,
      problem,
      countsRegion,
      errorRegion,
      h("div", { class: "grid grid-3-2" }, panel({ title: "Stages", id: "stages" }, stagesRegion), panel({ title: "Timings", id: "timings" }, timingsRegion)),
      panel(
        { title: "Execution", id: "execution" },
        h("div", { class: "graph-layout" }, graphRegion, h("aside", { class: "graph-side", "aria-label": "Selected state" }, detailsRegion)),
        stateTableRegion,
        historyRegion,
      ),
      panel({ title: "Rejected records", id: "rejected" }, rejectedRegion),
      panel({ title: "Processed records", id: "processed" }, processedRegion),
    ),
  );

  renderIfChanged(headerRegion, ["loading"], () =>
    pageHeader("Batch", null, h("a", { href: "#/", class: "button button-quiet" }, "← Overview")),
  );

  const renderGraph = () => {
    const execution = state.execution;
    if (!execution) {
      const text = state.executionError?.status === 404 || !state.batch?.execution_arn
        ? "The execution has not started yet."
        : `Could not load the execution: ${state.executionError?.message ?? "unknown error"}`;
      renderIfChanged(graphRegion, ["none", text], () => emptyState(text));
      renderIfChanged(detailsRegion, null, () => []);
      return;
    }
    const key = [execution.states, execution.status, state.selectedState];
    renderIfChanged(graphRegion, key, () =>
      executionGraph(execution.definition, execution.states, {
        selected: state.selectedState,
        onSelect: (name) => {
          state.selectedState = state.selectedState === name ? null : name;
          renderGraph();
          const node = [...graphRegion.querySelectorAll("[data-state]")].find((element) => element.getAttribute("data-state") === name);
          node?.focus();
        },
      }),
    );
    renderIfChanged(detailsRegion, key, () => renderStateDetails(execution, state.selectedState));
    // Keep a disclosure the user opened open across refreshes.
    const wasOpen = (region) => Boolean(region.querySelector("details")?.open);
    const tableOpen = wasOpen(stateTableRegion);
    renderIfChanged(stateTableRegion, [execution.states], () =>
      h("details", { class: "states-details", open: tableOpen }, h("summary", null, "All states as a table"), renderStateTable(execution)),
    );
    const historyOpen = wasOpen(historyRegion);
    renderIfChanged(historyRegion, [execution.events?.length, execution.status], () => {
      const history = renderEvents(execution);
      history.open = historyOpen;
      return history;
    });
  };

  detailsRegion.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-action='clear-state']")) {
      const previous = state.selectedState;
      state.selectedState = null;
      renderGraph();
      const node = [...graphRegion.querySelectorAll("[data-state]")].find((element) => element.getAttribute("data-state") === previous);
      node?.focus();
    }
  });

  const renderRecords = () => {
    const loading = !TERMINAL.has(state.batch?.status);
    const selected = state.lineage;
    renderIfChanged(rejectedRegion, [state.rejected, state.rejectedError?.message, selected?.startsWith("rejected:") ? selected : null], () =>
      renderRejected(state.rejected, { loading, error: state.rejectedError, selected }),
    );
    renderIfChanged(processedRegion, [state.processed, state.processedError?.message, selected?.startsWith("processed:") ? selected : null], () =>
      renderProcessed(state.processed, { loading, error: state.processedError, selected }),
    );
  };
  container.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-lineage]") : null;
    if (!button) return;
    const key = button.getAttribute("data-lineage");
    state.lineage = state.lineage === key ? null : key;
    renderRecords();
  });

  const loadRecords = async (signal) => {
    const [rejected, processed] = await Promise.allSettled([
      getRecords(batchId, "rejected", { limit: REJECTED_LIMIT, signal }),
      getRecords(batchId, "processed", { limit: PROCESSED_LIMIT, signal }),
    ]);
    for (const result of [rejected, processed]) {
      if (result.status === "rejected" && (result.reason?.auth || result.reason?.name === "AbortError")) throw result.reason;
    }
    state.rejected = rejected.status === "fulfilled" ? rejected.value : state.rejected;
    state.rejectedError = rejected.status === "rejected" ? rejected.reason : null;
    state.processed = processed.status === "fulfilled" ? processed.value : state.processed;
    state.processedError = processed.status === "rejected" ? processed.reason : null;
  };

  const poller = new Poller(async (signal) => {
    let batch;
    try {
      batch = await getBatch(batchId, { signal });
    } catch (error) {
      if (error?.status === 404) {
        replace(headerRegion, pageHeader("Batch not found", null, h("a", { href: "#/", class: "button button-quiet" }, "← Overview")));
        replace(problem, errorBox(error, { title: `There is no batch ${batchId}` }));
        return false;
      }
      if (!error?.auth && error?.name !== "AbortError") {
        renderIfChanged(problem, ["error", error.message], () => h("p", { class: "alert alert-danger", role: "alert" }, `Could not load the batch: ${error.message}`));
      }
      throw error;
    }
    renderIfChanged(problem, null, () => []);
    state.batch = batch;
    renderIfChanged(headerRegion, [batch.status, batch.dataset], () =>
      pageHeader(
        h("span", null, "Batch ", h("span", { class: "mono page-id" }, batch.batch_id)),
        null,
        h("span", { "data-batch-status": batch.status }, statusBadge(batch.status)),
        h("a", { href: "#/", class: "button button-quiet" }, "← Overview"),
      ),
    );
    renderIfChanged(countsRegion, [batch.counts, batch.chunks_total, batch.chunks_failed], () => renderCounts(batch));
    renderIfChanged(errorRegion, [batch.error], () => renderError(batch));
    renderIfChanged(stagesRegion, [batch.stages, batch.chunks_total], () => renderStages(batch));
    renderIfChanged(timingsRegion, [batch.received_at, batch.started_at, batch.finished_at, batch.execution_arn, TERMINAL.has(batch.status) ? 0 : Math.floor(Date.now() / 1000)], () => renderTimings(batch));

    if (batch.execution_arn || batch.status !== "RECEIVED") {
      try {
        state.execution = await getExecution(batchId, { signal });
        state.executionError = null;
      } catch (error) {
        if (error?.auth || error?.name === "AbortError") throw error;
        state.executionError = error;
      }
    }
    if (state.execution && !state.autoSelected) {
      const failing = firstFailingState(state.execution);
      if (failing) {
        state.selectedState = failing;
        state.autoSelected = true;
      }
    }
    renderGraph();

    const recordsKey = JSON.stringify([batch.status, batch.counts, batch.stages?.store?.records_out ?? 0]);
    if (recordsKey !== state.recordsKey && (batch.stages?.store?.chunks_done || TERMINAL.has(batch.status))) {
      await loadRecords(signal);
      state.recordsKey = recordsKey;
    }
    renderRecords();

    if (!TERMINAL.has(batch.status)) return true;
    const executionDone = state.execution ? state.execution.status !== "RUNNING" : true;
    state.extraLooks += 1;
    return !(executionDone || state.extraLooks > EXTRA_LOOKS_AFTER_TERMINAL);
  }, { interval: REFRESH_MS }).start();

  return () => poller.stop();
}
