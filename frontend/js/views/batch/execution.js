// A batch's execution: the graph of its state machine (the Distributed Map with its Map
// Run's counts), the selected state's detail, every state as a table, and the history.

import { STATE_STATUS, emptyState, facts, stateBadge, table } from "../../components.js";
import { h } from "../../dom.js";
import { durationBetween, formatDateTime, formatDuration, formatInt, formatValue } from "../../format.js";
import { mapRunCounts, mapRunLine } from "../../graph.js";
import { allStates, isDistributedMap, stateStatus } from "../../graph-layout.js";

// The history can be long (a batch's own events, not its chunks'); show its newest part.
export const HISTORY_SHOWN = 300;

export function prettyCause(cause) {
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
export function firstFailingState(execution) {
  const types = new Map(allStates(execution.definition).map((state) => [state.name, state.type]));
  const entries = Object.entries(execution.states ?? {});
  const pick = (test) => entries.find(([name, info]) => test(info?.status, types.get(name)))?.[0];
  return pick((status, type) => status === "FAILED" && type !== "Fail") ?? pick((status) => status === "CAUGHT") ?? pick((status) => status === "FAILED") ?? null;
}

function legend() {
  return h(
    "ul",
    { class: "legend", "aria-label": "Status colours" },
    Object.entries(STATE_STATUS).map(([status, info]) =>
      h("li", { class: ["legend-item", `tone-${info.tone}`] }, h("span", { class: "legend-swatch", "aria-hidden": "true" }, info.glyph), info.label, " ", h("span", { class: "sr-only" }, status)),
    ),
    h("li", { class: "legend-item legend-edge" }, h("span", { class: "legend-line", "aria-hidden": "true" }), "Next"),
    h("li", { class: "legend-item legend-edge" }, h("span", { class: "legend-line legend-line-catch", "aria-hidden": "true" }), "Catch"),
  );
}

/** Which Distributed Map (if any) a state runs inside, from the definition. */
function distributedParent(definition, name) {
  const entry = allStates(definition).find((state) => state.name === name);
  if (!entry?.parent) return null;
  return isDistributedMap(definition.States?.[entry.parent]) ? entry.parent : null;
}

function mapRunFacts(run, chunksTotal) {
  const counts = mapRunCounts(run, chunksTotal);
  return [
    facts([
      ["Map Run", formatValue(run.status)],
      ["Items", mapRunLine(counts)],
      ["Pending", formatInt(counts.pending)],
      ["At once", run.max_concurrency ? formatInt(run.max_concurrency) : "—"],
      ["Results written", formatInt(run.item_counts?.resultsWritten ?? 0)],
    ]),
    h("p", { class: "hint mono wrap" }, formatValue(run.map_run_arn)),
  ];
}

export function renderStateDetails(execution, selected, { chunksTotal = null } = {}) {
  const summary = facts([
    ["Execution", ["SUCCEEDED", "RUNNING", "FAILED"].includes(execution.status) ? stateBadge(execution.status) : formatValue(execution.status)],
    ["Started", formatDateTime(execution.started_at)],
    ["Stopped", formatDateTime(execution.stopped_at)],
    ["Took", formatDuration(durationBetween(execution.started_at, execution.stopped_at))],
  ]);
  if (!selected) {
    return h("div", { class: "state-details" }, summary, h("p", { class: "hint" }, "Select a state in the graph (click, or Tab then Enter) to see its timing and errors."), legend());
  }
  const info = execution.states?.[selected] ?? {};
  const definition = allStates(execution.definition).find((state) => state.name === selected);
  const status = stateStatus(execution.states, selected);
  const insideMapRun = distributedParent(execution.definition, selected);
  const run = (execution.map_runs ?? []).find((candidate) => candidate.state === selected);
  const total = insideMapRun ? (chunksTotal ?? (execution.map_runs ?? []).find((candidate) => candidate.state === insideMapRun)?.item_counts?.total ?? null) : null;
  const done = Math.max((info.entered ?? 0) - (info.caught ?? 0), 0);
  return h(
    "div",
    { class: "state-details", "data-selected-state": selected },
    h("h3", { class: "state-title" }, selected, " ", h("span", { class: "muted" }, definition?.type ?? "")),
    stateBadge(status),
    definition?.comment ? h("p", { class: "state-comment" }, definition.comment) : null,
    insideMapRun
      ? facts([
          ["Chunks done", typeof total === "number" ? `${formatInt(done)} of ${formatInt(total)}` : formatInt(done)],
          ["Chunks failed here", formatInt(info.caught ?? 0)],
          ["Attempts", formatInt(info.attempts ?? 0)],
          ["Failed attempts", formatInt(Math.max((info.attempts ?? 0) - done, 0))],
          ["First entered", formatDateTime(info.entered_at)],
          ["Last exited", formatDateTime(info.exited_at)],
          ["First to last", formatDuration(info.duration_ms)],
          ["Inside", insideMapRun],
        ])
      : facts([
          ["Entered", formatDateTime(info.entered_at)],
          ["Exited", formatDateTime(info.exited_at)],
          ["Duration", formatDuration(info.duration_ms)],
          ["Attempts", formatInt(info.attempts ?? 0)],
          definition?.parent ? ["Inside", definition.parent] : null,
        ]),
    insideMapRun ? h("p", { class: "hint" }, "Runs once per chunk, in the Map Run's child executions; these figures come from the chunk ledger.") : null,
    run ? mapRunFacts(run, chunksTotal) : null,
    info.error ? h("div", { class: "alert alert-danger state-error" }, h("p", { class: "alert-title" }, insideMapRun ? `Last error: ${info.error}` : info.error), info.cause ? h("pre", { class: "cause" }, prettyCause(info.cause)) : null) : null,
    h("button", { type: "button", class: "button button-quiet", "data-action": "clear-state" }, "Back to execution summary"),
    legend(),
  );
}

export function renderStateTable(execution) {
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

function historyList(events) {
  const shown = events.slice(-HISTORY_SHOWN);
  return [
    events.length > shown.length ? h("p", { class: "hint" }, `The newest ${formatInt(shown.length)} of ${formatInt(events.length)} events.`) : null,
    h(
      "ol",
      { class: "history" },
      shown.map((event) =>
        h(
          "li",
          { class: ["history-item", event.error && "has-error"] },
          h("time", { datetime: event.timestamp, class: "mono" }, formatDateTime(event.timestamp)),
          h("span", { class: "history-type" }, event.type),
          event.state ? h("span", { class: "history-state" }, event.state) : null,
          event.error ? h("span", { class: "history-error" }, `${event.error}${event.cause ? `: ${prettyCause(event.cause)}` : ""}`) : null,
        ),
      ),
    ),
  ];
}

/** The history behind a disclosure; its list is only built once it is opened. */
export function renderEvents(execution, { open = false } = {}) {
  const events = execution.events ?? [];
  const details = h(
    "details",
    { class: "events-details", open },
    h("summary", null, `Execution history (${formatInt(events.length)} events${execution.truncated ? ", truncated" : ""})`),
  );
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    details.append(...(events.length ? historyList(events) : [emptyState("No events.")]).filter(Boolean));
  };
  if (open) build();
  details.addEventListener("toggle", () => {
    if (details.open) build();
  });
  return details;
}
