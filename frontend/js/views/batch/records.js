// A batch's records: the rejected ones with their reasons and raw values (and whether
// they were replayed or handled since), the processed (enriched) ones as their dataset's
// display lays them out, and one record's lineage back to its source line, with a link to
// its whole story.

import { batchLink, emptyState, errorBox, facts, rawValues, reasonsList, recordLink, table } from "../../components.js";
import { h } from "../../dom.js";
import { formatDateTime, formatDuration, formatInt, formatPrecise, formatValue, parseTime } from "../../format.js";
import { UNKNOWN_DISPLAY, capitalised, columnClass, displayCell, recordLabel } from "../../record-display.js";

const LINEAGE_STAMPS = [
  ["validated_at", "Validated"],
  ["transformed_at", "Transformed"],
  ["enriched_at", "Enriched"],
  ["stored_at", "Stored"],
];

const lineOf = (item) => String(item.lineage?.line ?? item.line);
const batchOf = (item) => item.lineage?.batch_id ?? item.batch_id;

/** What became of a reject since: replayed into a child batch, or marked handled. */
function rejectFate(item) {
  const replayed = item.replayed_to;
  const handled = item.handled;
  if (!replayed && !handled) return null;
  return h(
    "span",
    { class: "reject-fate" },
    replayed
      ? h("span", { class: "cell-sub", "data-replayed-to": formatValue(replayed.batch_id) }, "replayed into ", batchLink(replayed.batch_id, { short: true }))
      : null,
    handled
      ? h("span", { class: "cell-sub", "data-handled-by": formatValue(handled.by) }, `handled by ${formatValue(handled.by)} · ${formatDateTime(handled.at)}${handled.note ? ` · “${formatValue(handled.note)}”` : ""}`)
      : null,
  );
}

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
function withLineage(item, kind, selected, columns, row, title) {
  const expanded = selected === `${kind}:${lineOf(item)}`;
  const rows = [row(expanded)];
  if (expanded) {
    rows.push(
      h("tr", { class: "lineage-row", id: `lineage-${kind}-${lineOf(item)}` }, h("td", { colspan: columns }, renderLineage(item, kind, title))),
    );
  }
  return rows;
}

export function renderRejected(page, { loading, error, selected }) {
  if (error) return errorBox(error, { title: "Could not load rejected records" });
  if (!page) return emptyState(loading ? "Loading…" : "No rejected records yet.");
  const rows = page.records.flatMap((item) =>
    withLineage(item, "rejected", selected, 3, (expanded) =>
      h(
        "tr",
        { "data-line": lineOf(item), class: expanded ? "is-selected" : null },
        h(
          "td",
          null,
          lineageButton(item, "rejected", `Line ${lineOf(item)}`, expanded),
          h("span", { class: "cell-sub" }, recordLink(batchOf(item), lineOf(item), { label: "full lineage →" })),
          rejectFate(item),
        ),
        h("td", { class: "cell-reasons" }, reasonsList(item.reasons)),
        h("td", { class: "cell-values" }, rawValues(item)),
      ),
      `rejected line ${lineOf(item)}`,
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

/**
 * The processed records as their dataset's `display` (from GET /datasets) lays them out:
 * the record's label (its lineage button), then one cell per declared column.
 */
export function renderProcessed(page, { loading, error, selected, display = UNKNOWN_DISPLAY }) {
  if (error) return errorBox(error, { title: "Could not load processed records" });
  if (!page) return emptyState(loading ? "Loading…" : "No processed records yet.");
  const columns = display.columns;
  const rows = page.records.flatMap((item) => {
    const record = item.record ?? {};
    const line = lineOf(item);
    const label = recordLabel(record, display, line);
    // "line N" beside a label that is not the line already.
    const where = display.record_label && label !== `Line ${line}` ? `line ${line} · ` : "";
    return withLineage(
      item,
      "processed",
      selected,
      columns.length + 1,
      (expanded) =>
        h(
          "tr",
          { "data-line": line, "data-record-label": label, class: expanded ? "is-selected" : null },
          h(
            "td",
            null,
            lineageButton(item, "processed", label, expanded),
            h("span", { class: "cell-sub" }, where, recordLink(batchOf(item), line, { label: "full lineage →" })),
          ),
          columns.map((column) => h("td", { class: columnClass(column) }, displayCell(record, column))),
        ),
      label,
    );
  });
  return [
    table({
      caption: "Processed records",
      empty: "No processed records.",
      columns: [{ label: capitalised(display.noun) }, ...columns.map((column) => ({ label: formatValue(column.label) }))],
      rows,
    }),
    h("p", { class: "hint" }, page.next ? `Showing the first ${formatInt(page.records.length)} processed records. ` : "", `Select a ${display.noun} to see its lineage.`),
  ];
}

function renderLineage(item, kind, title) {
  const lineage = item.lineage ?? {};
  const start = parseTime(lineage.validated_at);
  return h(
    "div",
    { class: "lineage", "data-lineage-of": `${kind}:${lineage.line}` },
    h(
      "div",
      { class: "lineage-head" },
      h("h3", { class: "lineage-title" }, "Lineage of ", title),
      recordLink(lineage.batch_id, lineage.line, { label: "The whole story of this line →", className: "button button-quiet" }),
    ),
    h(
      "div",
      { class: "lineage-body" },
      facts([
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

