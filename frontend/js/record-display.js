// A stored record as its dataset wants it shown: the `display` of GET /datasets names
// what labels a record, what one is called, and its columns (dotted paths into the
// record, and a format for each). Nothing here knows a dataset's fields; every value is
// rendered as text through h(), however it is formatted.

import { h } from "./dom.js";
import { formatUtc, formatValue, parseTime } from "./format.js";

const PATH_SEPARATOR = " → ";

// The tones a badge may take (a column's `tones` names one per value); any other is neutral.
const TONES = new Set(["success", "info", "warning", "danger", "neutral"]);

/** The display used when a dataset is not (or no longer) registered: records named by their line, no columns. */
export const UNKNOWN_DISPLAY = Object.freeze({ record_label: "", noun: "record", columns: [] });

/** A dataset's display from its GET /datasets entry, or `UNKNOWN_DISPLAY`. */
export function displayOf(dataset) {
  const display = dataset?.display;
  if (!display || !Array.isArray(display.columns)) return UNKNOWN_DISPLAY;
  return { record_label: String(display.record_label ?? ""), noun: String(display.noun || "record"), columns: display.columns };
}

/** The value at a dotted path of a record (`carrier_info.name`), or undefined. */
export function valueAt(record, path) {
  let value = record;
  for (const key of String(path).split(".")) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** Absent, null, an empty string or an empty list: shown as the column's `missing` text. */
export function isMissing(value) {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

/** "Flight", from the noun "flight". */
export function capitalised(text) {
  const value = String(text);
  return value ? value[0].toUpperCase() + value.slice(1) : value;
}

/** What names a record: the value at the display's `record_label`, else "Line N". */
export function recordLabel(record, display, line) {
  const value = display.record_label ? valueAt(record ?? {}, display.record_label) : undefined;
  return isMissing(value) ? `Line ${line}` : formatValue(value);
}

/** A value's badge, in the tone its column gives that value: "minor_delay" reads "Minor delay". */
function badge(value, tones) {
  const text = formatValue(value);
  const tone = tones && Object.hasOwn(tones, text) && TONES.has(tones[text]) ? tones[text] : "neutral";
  return h("span", { class: ["badge", "badge-soft", `tone-${tone}`], "data-badge": text }, capitalised(text.replaceAll("_", " ")));
}

function formatted(value, format, tones) {
  if (format === "datetime") return parseTime(value) === null ? formatValue(value) : formatUtc(value);
  if (format === "badge") return badge(value, tones);
  if (format === "list") {
    const items = Array.isArray(value) ? value : [value];
    return h("span", { class: "chips" }, items.map((item) => h("span", { class: "chip" }, formatValue(item))));
  }
  return formatValue(value);
}

/** The parts at `paths` of a record, joined by " → ", each absent one reading `missing`. */
function joined(record, paths, { format, missing, tones }) {
  return paths.map((path, index) => {
    const value = valueAt(record, path);
    return [
      index ? h("span", { class: "value-sep" }, PATH_SEPARATOR) : null,
      isMissing(value) ? h("span", { class: "muted", "data-missing": path }, formatValue(missing)) : formatted(value, format, tones),
    ];
  });
}

/** A column's class for its cells: a time stays on one line, a joined value gets room. */
export function columnClass(column) {
  return [column.format === "datetime" && "nowrap", (column.fields ?? []).length > 1 && "cell-joined"].filter(Boolean).join(" ") || null;
}

/** One cell of a record's row: the column's fields as formatted, its detail beneath in small type. */
export function displayCell(record, column) {
  const format = column.format ?? "text";
  const missing = column.missing ?? "—";
  const fields = column.fields ?? [];
  const detail = column.detail ?? [];
  return [
    h("span", { class: ["cell-value", format === "code" && "value-code"] }, joined(record, fields, { format, missing, tones: column.tones })),
    detail.length ? h("span", { class: "value-detail" }, joined(record, detail, { format: "text", missing })) : null,
  ];
}
