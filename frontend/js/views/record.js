// One source line's whole story, from GET /batches/{id}/records/{line}: its raw values as
// received, the request or upload it came with, the run and execution that processed it
// and its chunk, when each stage touched it, why it was rejected or where it is stored,
// and the replay it led to or came from. Polls while the line is still pending. A stored
// record is shown as its dataset's display lays it out, above all its fields.

import { getDataset, getRecordLineage } from "../api.js";
import { batchLink, emptyState, errorBox, executionName, facts, pageHeader, panel, reasonsList, recordLink } from "../components.js";
import { h, renderIfChanged, replace } from "../dom.js";
import { formatDateTime, formatDuration, formatInt, formatPrecise, formatValue, parseTime } from "../format.js";
import { Poller, pollProblem, stopsPolling } from "../poller.js";
import { capitalised, displayCell, displayOf, recordLabel } from "../record-display.js";

const REFRESH_MS = 3_000;

const STAMPS = [
  ["validated_at", "Validated"],
  ["transformed_at", "Transformed"],
  ["enriched_at", "Enriched"],
  ["stored_at", "Stored"],
];

const RECORD_STATE = {
  processed: { label: "Stored", glyph: "✓", tone: "success" },
  rejected: { label: "Rejected", glyph: "!", tone: "warning" },
  failed: { label: "Failed", glyph: "✕", tone: "danger" },
  pending: { label: "Pending", glyph: "○", tone: "neutral" },
};

function stateBadge(state) {
  const info = RECORD_STATE[state] ?? { label: formatValue(state), glyph: "?", tone: "neutral" };
  return h(
    "span",
    { class: ["badge", `tone-${info.tone}`], "data-record-state": formatValue(state) },
    h("span", { class: "badge-glyph", "aria-hidden": "true" }, info.glyph),
    info.label,
  );
}

function valuePairs(values, named = new Set()) {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "no values");
  return h(
    "dl",
    { class: "values values-grid" },
    entries.map(([key, value]) =>
      h(
        "div",
        { class: ["value-pair", named.has(key) && "is-named"], "data-field": key },
        h("dt", null, key),
        h("dd", null, typeof value === "object" && value !== null ? JSON.stringify(value) : formatValue(value)),
      ),
    ),
  );
}

/** The stored record: its dataset's display columns (when known), then every field. */
function renderStored(story, display) {
  if (!display?.columns.length) return valuePairs(story.record);
  return [
    facts(
      [
        [capitalised(display.noun), recordLabel(story.record, display, story.line)],
        ...display.columns.map((column) => [formatValue(column.label), displayCell(story.record, column)]),
      ],
      { className: "record-display" },
    ),
    h("h3", { class: "subhead" }, "Every field"),
    valuePairs(story.record),
  ];
}

function replayLinks(story) {
  const links = [];
  if (story.replayed_from) {
    links.push(
      h(
        "p",
        { class: "replay-link", "data-replayed-from": `${story.replayed_from.batch_id}:${story.replayed_from.line}` },
        h("span", { class: "replay-glyph", "aria-hidden": "true" }, "↩"),
        "Replayed from ",
        recordLink(story.replayed_from.batch_id, story.replayed_from.line),
        " of ",
        batchLink(story.replayed_from.batch_id),
        ", where it was rejected.",
      ),
    );
  }
  if (story.replayed_to) {
    links.push(
      h(
        "p",
        { class: "replay-link", "data-replayed-to": `${story.replayed_to.batch_id}:${story.replayed_to.line}` },
        h("span", { class: "replay-glyph", "aria-hidden": "true" }, "↪"),
        "Edited and replayed as ",
        recordLink(story.replayed_to.batch_id, story.replayed_to.line),
        " of ",
        batchLink(story.replayed_to.batch_id),
        ".",
      ),
    );
  }
  return links.length ? h("div", { class: "replay-links" }, links) : [];
}

function renderSource(story) {
  const source = story.source ?? {};
  const upload = source.kind === "upload";
  return facts([
    ["Batch", batchLink(story.batch_id), "wrap"],
    ["Dataset", formatValue(story.dataset)],
    ["Came in with", upload ? "an upload to S3" : "a request body (POST /batches)"],
    source.filename ? ["File", formatValue(source.filename), "wrap"] : null,
    ["Content type", formatValue(source.content_type), "mono"],
    ["Received", formatDateTime(source.received_at)],
    ["Raw object", formatValue(source.raw_key), "mono wrap"],
    ["Source line", formatInt(story.line)],
  ]);
}

function renderRun(story) {
  const run = story.run;
  const chunk = story.chunk;
  if (!run && !chunk) return emptyState("No run has reached this line yet.");
  return facts([
    run ? ["Run", `#${formatInt(run.run)}${run.run === 0 ? " (the first)" : " (a retry)"}`] : null,
    run ? ["Execution", formatValue(executionName(run.execution_arn) ?? "—"), "mono wrap"] : null,
    run?.execution_arn ? ["Execution ARN", formatValue(run.execution_arn), "mono wrap"] : null,
    chunk ? ["Chunk", `#${formatInt(chunk.index)} · ${formatValue(chunk.status)}`] : null,
    chunk ? ["Chunk's lines", `${formatInt(chunk.first_line)}–${formatInt(chunk.last_line)}`] : null,
  ]);
}

function renderStages(story) {
  const stages = story.stages ?? {};
  const start = parseTime(stages.validated_at);
  return h(
    "ol",
    { class: "timeline", "aria-label": "When each stage touched the record" },
    STAMPS.map(([key, label]) => {
      const time = parseTime(stages[key]);
      return h(
        "li",
        { class: ["timeline-step", time === null && "is-missing"], "data-stamp": key },
        h("span", { class: "timeline-dot", "aria-hidden": "true" }),
        h("span", { class: "timeline-label" }, label),
        time !== null
          ? h("time", { class: "timeline-time mono", datetime: formatValue(stages[key]), title: formatValue(stages[key]) }, formatPrecise(stages[key]))
          : h("span", { class: "timeline-time" }, story.state === "rejected" && key !== "validated_at" ? "not reached (rejected)" : "not reached"),
        time !== null && start !== null && key !== "validated_at" ? h("span", { class: "timeline-delta" }, `+${formatDuration(time - start)}`) : null,
      );
    }),
  );
}

function renderOutcome(story) {
  if (story.state === "rejected") {
    return h("div", { class: "record-outcome", "data-outcome": "rejected" }, h("p", { class: "record-outcome-lead" }, "Validation rejected this line:"), reasonsList(story.reasons ?? []));
  }
  if (story.stored) {
    const stored = story.stored;
    return h(
      "div",
      { class: "record-outcome", "data-outcome": "stored" },
      facts([
        ["Object", `s3://${formatValue(stored.bucket)}/${formatValue(stored.key)}`, "mono wrap"],
        // The API counts positions from 0: the object's first line is position 0.
        ["Position", typeof stored.position === "number" ? `line ${formatInt(stored.position + 1)} of the object (position ${formatInt(stored.position)})` : formatValue(stored.position)],
      ]),
    );
  }
  if (story.state === "failed") return h("p", { class: "alert alert-danger", "data-outcome": "failed" }, "Its chunk failed: the line was neither stored nor rejected. Retrying the batch runs it again.");
  return emptyState("Not stored yet.");
}

export function mountRecord(container, { params }) {
  const [batchId, line] = params;
  const headerRegion = h("div", { class: "region" });
  const problem = h("div", { class: "region" });
  const replayRegion = h("div", { class: "region" });
  const sourceRegion = h("div", { class: "region" });
  const runRegion = h("div", { class: "region" });
  const stagesRegion = h("div", { class: "region" });
  const outcomeRegion = h("div", { class: "region" });
  const rawRegion = h("div", { class: "region" });
  const recordRegion = h("div", { class: "region" });
  const recordPanel = panel({ title: "The stored record", id: "record-stored" }, recordRegion);
  const body = h(
    "div",
    { class: "view-record-body", hidden: true },
    replayRegion,
    h("div", { class: "grid grid-2-1" }, panel({ title: "Where it came from", id: "record-source" }, sourceRegion), panel({ title: "How it ran", id: "record-run" }, runRegion)),
    panel({ title: "Stages", id: "record-stages" }, stagesRegion),
    panel({ title: "Outcome", id: "record-outcome" }, outcomeRegion),
    panel({ title: "Values as received", id: "record-raw" }, rawRegion),
    recordPanel,
  );
  const back = () => h("a", { href: `#/batches/${encodeURIComponent(batchId)}`, class: "button button-quiet" }, "← Batch");
  container.appendChild(h("div", { class: "view view-record", "data-record": `${batchId}:${line}` }, headerRegion, problem, body));
  renderIfChanged(headerRegion, ["loading"], () => pageHeader(`Line ${line}`, null, back()));

  const problems = pollProblem(problem, "the record");
  const recordTitle = recordPanel.querySelector(".panel-title");
  let display = null;
  const loadDisplay = async (dataset, signal) => {
    try {
      display = displayOf(await getDataset(dataset, { signal }));
    } catch (error) {
      // Without its display the record still shows every field; the next refresh asks again.
      if (stopsPolling(error)) throw error;
    }
  };
  const poller = new Poller(async (signal) => {
    let story;
    try {
      story = await getRecordLineage(batchId, line, { signal });
    } catch (error) {
      if (error?.status === 404) {
        replace(headerRegion, pageHeader("Record not found", null, back()));
        replace(problem, errorBox(error, { title: `Batch ${batchId} has no line ${line}` }));
        body.hidden = true;
        return false;
      }
      problems.fail(error);
    }
    problems.clear();
    body.hidden = false;
    renderIfChanged(headerRegion, [story.state, story.batch_id, story.line], () =>
      pageHeader(
        h("span", null, `Line ${formatInt(story.line)} `, h("span", { class: "mono page-id" }, `of ${formatValue(story.batch_id)}`)),
        `The whole story of one source line · ${formatValue(story.dataset)}`,
        stateBadge(story.state),
        back(),
      ),
    );
    const named = new Set((story.reasons ?? []).map((reason) => formatValue(reason.field)));
    renderIfChanged(replayRegion, [story.replayed_from, story.replayed_to], () => replayLinks(story));
    renderIfChanged(sourceRegion, [story.source, story.dataset], () => renderSource(story));
    renderIfChanged(runRegion, [story.run, story.chunk], () => renderRun(story));
    renderIfChanged(stagesRegion, [story.stages, story.state], () => renderStages(story));
    renderIfChanged(outcomeRegion, [story.state, story.reasons, story.stored], () => renderOutcome(story));
    renderIfChanged(rawRegion, [story.raw, [...named]], () => (story.raw ? valuePairs(story.raw, named) : emptyState("The raw values are not available.")));
    recordPanel.hidden = !story.record;
    if (story.record && !display) await loadDisplay(story.dataset, signal);
    if (recordTitle && display) recordTitle.textContent = `The stored ${display.noun}`;
    renderIfChanged(recordRegion, [story.record, display], () => (story.record ? renderStored(story, display) : []));
    return story.state === "pending";
  }, { interval: REFRESH_MS }).start();

  return () => poller.stop();
}

