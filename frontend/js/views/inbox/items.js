// The failure inbox's list: one row per item of GET /failures (a failed batch, a failed
// chunk, a batch's rejects grouped by rule, a dead letter), newest first, each with a
// checkbox for the bulk actions, what failed and why, its state and when.

import { batchLink, emptyState, errorBox, failureStateBadge, recordLink, table } from "../../components.js";
import { h } from "../../dom.js";
import { formatAgo, formatDateTime, formatInt, formatValue } from "../../format.js";

// Lines of a rejects group linked to their lineage in the row; the rest are counted.
const LINES_SHOWN = 8;

export const KIND = {
  batch: { label: "Failed batch", glyph: "✕", tone: "danger" },
  chunk: { label: "Failed chunk", glyph: "✕", tone: "danger" },
  rejects: { label: "Rejected records", glyph: "!", tone: "warning" },
  dead_letter: { label: "Dead letter", glyph: "✉", tone: "neutral" },
};

export const STATES = [
  { value: "open", label: "Open" },
  { value: "retried", label: "Retried" },
  { value: "replayed", label: "Replayed" },
  { value: "handled", label: "Handled" },
  { value: "", label: "Any state" },
];

/** The key an item is selected by: its kind and id. */
export const itemKey = (item) => `${item.kind}:${item.id}`;

/** Which bulk actions apply to an item. */
export const canRetry = (item) => (item.kind === "batch" || item.kind === "chunk") && Boolean(item.batch_id);
export const canReplay = (item) => item.kind === "rejects" && Boolean(item.batch_id);
export const isDeadLetter = (item) => item.kind === "dead_letter" && Boolean(item.message_id);

function kindLabel(item) {
  const info = KIND[item.kind] ?? { label: formatValue(item.kind), glyph: "?", tone: "neutral" };
  return h(
    "span",
    { class: ["kind", `tone-${info.tone}`] },
    h("span", { class: "kind-glyph", "aria-hidden": "true" }, info.glyph),
    item.kind === "chunk" && typeof item.chunk === "number" ? `${info.label} #${formatInt(item.chunk)}` : info.label,
  );
}

function errorSummary(error) {
  if (!error) return null;
  return h(
    "div",
    { class: "inbox-error" },
    h(
      "span",
      { class: "inbox-error-head" },
      error.type ? h("code", { class: "error-code" }, formatValue(error.type)) : null,
      error.code ? h("code", { class: "error-code", "data-error-code": formatValue(error.code) }, formatValue(error.code)) : null,
      typeof error.line === "number" ? h("span", { class: "muted" }, ` line ${formatInt(error.line)}`) : null,
    ),
    error.message ? h("span", { class: "inbox-error-message" }, formatValue(error.message)) : null,
  );
}

function rejectsDetail(item, { onEdit }) {
  const lines = Array.isArray(item.lines) ? item.lines : [];
  const shown = lines.slice(0, LINES_SHOWN);
  const more = Math.max(item.count ?? lines.length, lines.length) - shown.length;
  return h(
    "div",
    { class: "inbox-rejects" },
    h(
      "p",
      { class: "inbox-rule" },
      item.rule ? h("code", { class: "reason-rule", "data-rule": formatValue(item.rule) }, formatValue(item.rule)) : null,
      item.field ? h("span", { class: "reason-field" }, formatValue(item.field)) : null,
      h(
        "span",
        { class: "inbox-count", "data-count": String(item.count ?? 0), title: item.partial ? "Counted over the batch's first rejects only" : null },
        `${formatInt(item.count)}${item.partial ? "+" : ""} record${item.count === 1 ? "" : "s"}`,
      ),
    ),
    shown.length
      ? h(
          "p",
          { class: "inbox-lines" },
          shown.length + Math.max(more, 0) === 1 ? "Line " : "Lines ",
          shown.map((line, index) => [index ? ", " : null, recordLink(item.batch_id, line, { label: formatInt(line) })]),
          more > 0 ? ` and ${formatInt(more)} more` : null,
        )
      : null,
    onEdit && item.state !== "replayed"
      ? h("button", { type: "button", class: "link-button", "data-action": "edit-one", "data-item-key": itemKey(item) }, "Edit and replay →")
      : null,
  );
}

/** A message body as text: JSON laid out on several lines, anything else as it is. */
function messageBody(body) {
  if (typeof body !== "string") return JSON.stringify(body, null, 2);
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function deadLetterDetail(item, message) {
  return h(
    "div",
    { class: "inbox-dead-letter" },
    h(
      "p",
      { class: "inbox-dl-meta" },
      message?.queue || item.queue ? h("span", { class: "chip", "data-queue": formatValue(message?.queue ?? item.queue) }, `${formatValue(message?.queue ?? item.queue)} DLQ`) : null,
      message ? h("span", { class: "muted" }, ` received ${formatInt(message.receive_count)} time${message.receive_count === 1 ? "" : "s"}`) : null,
    ),
    message?.reason || item.error?.message ? h("p", { class: "inbox-error-message" }, formatValue(message?.reason ?? item.error?.message)) : null,
    h("p", { class: "cell-sub mono wrap" }, "message ", formatValue(item.message_id)),
    message?.body !== undefined && message?.body !== null
      ? h(
          "details",
          { class: "values-details" },
          h("summary", null, message.body_truncated ? "Message body (its beginning)" : "Message body"),
          h("pre", { class: "dl-body" }, messageBody(message.body)),
        )
      : null,
  );
}

function detailCell(item, { deadLetters, onEdit }) {
  if (item.kind === "rejects") return rejectsDetail(item, { onEdit });
  if (item.kind === "dead_letter") return deadLetterDetail(item, deadLetters.get(item.message_id) ?? null);
  // A chunk's lines are its first and last source line.
  const range = item.kind === "chunk" && Array.isArray(item.lines) && item.lines.length === 2 ? ` · lines ${formatInt(item.lines[0])}–${formatInt(item.lines[1])}` : "";
  return h(
    "div",
    null,
    errorSummary(item.error),
    item.count ? h("span", { class: "cell-sub" }, `${formatInt(item.count)} record${item.count === 1 ? "" : "s"}${item.state === "retried" ? "" : " failed"}${range}`) : null,
  );
}

function stateCell(item) {
  const handled = item.handled;
  return [
    failureStateBadge(item.state),
    handled
      ? h(
          "span",
          { class: "cell-sub inbox-handled", "data-handled-by": formatValue(handled.by) },
          `by ${formatValue(handled.by)} · ${formatDateTime(handled.at)}`,
          handled.note ? h("span", { class: "inbox-note" }, `“${formatValue(handled.note)}”`) : null,
        )
      : null,
  ];
}

function selectBox(item, selected) {
  const key = itemKey(item);
  return h(
    "label",
    { class: "select-cell" },
    h("input", { type: "checkbox", class: "checkbox", "data-select-key": key, "data-focus-key": `select-${key}`, checked: selected.has(key) }),
    h("span", { class: "sr-only" }, `Select ${formatValue(item.title ?? key)}`),
  );
}

export function renderInboxList({ items, loaded, error, selected, deadLetters, now, onEdit = true }) {
  if (error && !loaded) {
    return errorBox(error, { title: error.scope ? "The failure inbox needs a key with the admin scope" : "Could not load the failure inbox" });
  }
  if (!loaded) return emptyState("Loading the inbox…");
  if (!items.length) return emptyState("Nothing here: no failure matches these filters.");
  const allSelected = items.every((item) => selected.has(itemKey(item)));
  const rows = items.map((item) =>
    h(
      "tr",
      {
        "data-item-key": itemKey(item),
        "data-kind": item.kind,
        "data-state": item.state,
        "data-batch": item.batch_id ?? null,
        "data-chunk": typeof item.chunk === "number" ? String(item.chunk) : null,
        "data-item-rule": item.rule ?? null,
        "data-item-field": item.field ?? null,
        class: selected.has(itemKey(item)) ? "is-selected" : null,
      },
      h("td", { class: "cell-select" }, selectBox(item, selected)),
      h("td", { class: "cell-what" }, kindLabel(item), h("span", { class: "inbox-title wrap" }, formatValue(item.title ?? ""))),
      h(
        "td",
        null,
        item.batch_id ? batchLink(item.batch_id, { short: true }) : h("span", { class: "muted" }, "—"),
        item.dataset ? h("span", { class: "cell-sub" }, formatValue(item.dataset)) : null,
      ),
      h("td", { class: "cell-detail wrap" }, detailCell(item, { deadLetters, onEdit })),
      h("td", null, stateCell(item)),
      h("td", { class: "nowrap" }, h("span", { title: formatDateTime(item.at) }, formatAgo(item.at, now))),
    ),
  );
  const element = table({
    caption: "Failures, newest first",
    className: "table-inbox",
    columns: [
      { label: "Select", className: "cell-select" },
      { label: "Failure" },
      { label: "Batch" },
      { label: "Detail" },
      { label: "State" },
      { label: "When" },
    ],
    rows,
  });
  // The header's checkbox selects (or clears) every row shown.
  element.querySelector("thead th")?.replaceChildren(
    h(
      "label",
      { class: "select-cell" },
      h("input", { type: "checkbox", class: "checkbox", "data-select-all": "true", "data-focus-key": "select-all", checked: allSelected }),
      h("span", { class: "sr-only" }, "Select every failure shown"),
    ),
  );
  return element;
}

/** How many items of each kind the list holds, as a short line. */
export function renderSummary(items, complete) {
  const counts = new Map();
  for (const item of items) counts.set(item.kind, (counts.get(item.kind) ?? 0) + 1);
  const records = items.filter((item) => item.kind === "rejects").reduce((sum, item) => sum + (item.count ?? 0), 0);
  const parts = [];
  if (counts.get("batch")) parts.push(`${formatInt(counts.get("batch"))} failed batch${counts.get("batch") === 1 ? "" : "es"}`);
  if (counts.get("chunk")) parts.push(`${formatInt(counts.get("chunk"))} failed chunk${counts.get("chunk") === 1 ? "" : "s"}`);
  if (counts.get("rejects")) parts.push(`${formatInt(records)} rejected record${records === 1 ? "" : "s"} under ${formatInt(counts.get("rejects"))} rule${counts.get("rejects") === 1 ? "" : "s"}`);
  if (counts.get("dead_letter")) parts.push(`${formatInt(counts.get("dead_letter"))} dead letter${counts.get("dead_letter") === 1 ? "" : "s"}`);
  return h("p", { class: "hint inbox-summary", role: "status", id: "inbox-summary" }, parts.length ? `${parts.join(" · ")}${complete ? "" : " (so far: more below)"}` : "");
}
