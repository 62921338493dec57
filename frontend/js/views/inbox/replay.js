// Edit rejected records in place and replay them (POST /batches/{id}/replay): one form
// per reject, each field next to the reasons that name it. What the browser can check it
// checks before sending (a required field is not empty, a JSON value parses); the API
// validates every record again and answers 422 `still_invalid` with each record's
// reasons, which the form then shows next to the fields. Every value stays text: inputs
// hold it, text nodes show it.

import { getRecords, replayRecords } from "../../api.js";
import { batchLink, emptyState, errorBox, recordLink } from "../../components.js";
import { h, replace } from "../../dom.js";
import { formatInt, formatValue } from "../../format.js";
import { stopsPolling } from "../../poller.js";

const PAGE = 200;
const MAX_PAGES = 25;
// An editor holds at most this many forms per batch (the rest are counted, not shown).
const MAX_FORMS = 50;
// A reason about the record as a whole rather than one of its fields.
const WHOLE_RECORD = "record";
const MISSING = new Set(["", "NA"]);

const lineOf = (record) => Number(record.lineage?.line ?? record.line);

/** Whether a rejected record is one of those an inbox item (a batch's rejects under one rule) stands for. */
function covers(item, record) {
  const lines = Array.isArray(item.lines) ? item.lines : [];
  if (lines.includes(lineOf(record))) return true;
  // The item lists only some of its lines: match the rest by the rule (and field) it groups.
  if (lines.length >= (item.count ?? 0) || !item.rule) return false;
  return (record.reasons ?? []).some((reason) => reason.rule === item.rule && (!item.field || reason.field === item.field));
}

/** A raw value as the text of an input. */
function inputText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The value to send for a field's text, keeping the type it came with where the text allows. */
function parseEdited(field, text) {
  const { original, present } = field;
  if (present && text === inputText(original)) return { value: original };
  if (original !== null && typeof original === "object") {
    try {
      return { value: JSON.parse(text) };
    } catch {
      return { error: `${field.name} must be JSON, as it was` };
    }
  }
  if (typeof original === "number" && text.trim() !== "" && Number.isFinite(Number(text.trim()))) return { value: Number(text.trim()) };
  if (typeof original === "boolean" && (text === "true" || text === "false")) return { value: text === "true" };
  if (text === "") return present ? { value: original === null ? null : "" } : { omit: true };
  return { value: text };
}

function newKey() {
  return `replay-${crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(16).slice(2)}`}`;
}

function reasonItems(reasons, source) {
  return reasons.map((reason) =>
    h(
      "li",
      { class: ["edit-reason", `is-${source}`], "data-rule": formatValue(reason.rule), "data-source": source },
      h("code", { class: "reason-rule" }, formatValue(reason.rule)),
      h("span", { class: "reason-message" }, formatValue(reason.message)),
    ),
  );
}

const SOURCE_LABEL = { original: "Why it was rejected", server: "The API still refuses it", client: "Fix before sending" };

function showReasons(box, reasons, source) {
  if (!reasons.length) {
    replace(box);
    box.hidden = true;
    return;
  }
  box.hidden = false;
  replace(box, h("span", { class: "edit-reasons-label" }, SOURCE_LABEL[source]), h("ul", { class: "edit-reason-list" }, reasonItems(reasons, source)));
}

/** One reject's form: its fields (those the reasons name first), the reasons next to each. */
function recordForm(record, { batchId, prefix, required }) {
  const values = record.values ?? {};
  const reasons = record.reasons ?? [];
  const line = lineOf(record);
  const byField = new Map();
  for (const reason of reasons) {
    const name = formatValue(reason.field);
    if (!byField.has(name)) byField.set(name, []);
    byField.get(name).push(reason);
  }
  const names = Object.keys(values);
  // A required field the record lacks altogether gets an input too.
  for (const [name, fieldReasons] of byField) {
    if (!Object.hasOwn(values, name) && name !== WHOLE_RECORD && fieldReasons.some((reason) => reason.rule === "required")) names.push(name);
  }
  const requiredHere = new Set([...required, ...[...byField].filter(([, list]) => list.some((reason) => reason.rule === "required")).map(([name]) => name)]);
  const fields = names.map((name, index) => {
    const id = `${prefix}-f${index}`;
    const present = Object.hasOwn(values, name);
    const named = byField.has(name);
    const isRequired = requiredHere.has(name);
    const input = h("input", {
      id,
      type: "text",
      class: ["input", "mono", "edit-input"],
      value: present ? inputText(values[name]) : "",
      placeholder: present && values[name] === null ? "null" : null,
      autocomplete: "off",
      spellcheck: "false",
      required: isRequired,
      "aria-describedby": `${id}-reasons`,
      "data-edit-input": name,
    });
    const reasonsBox = h("div", { class: "edit-reasons", id: `${id}-reasons`, hidden: true });
    const unknown = (byField.get(name) ?? []).some((reason) => reason.rule === "unknown_field");
    const drop = unknown ? h("input", { type: "checkbox", class: "checkbox", id: `${id}-drop`, checked: true, "data-edit-drop": name }) : null;
    const element = h(
      "div",
      { class: ["edit-field", named && "has-reasons"], "data-edit-field": name },
      h("label", { for: id, class: "edit-label mono" }, name, isRequired ? h("span", { class: "edit-required", title: "required" }, " *") : null),
      h(
        "div",
        { class: "edit-control" },
        input,
        drop ? h("label", { class: "edit-drop", for: `${id}-drop` }, drop, "Remove this field") : null,
      ),
      reasonsBox,
    );
    if (drop) {
      const sync = () => {
        input.disabled = drop.checked;
        input.classList.toggle("is-dropped", drop.checked);
      };
      drop.addEventListener("change", sync);
      sync();
    }
    const field = { name, original: values[name], present, input, reasonsBox, drop, required: isRequired, element };
    showReasons(reasonsBox, byField.get(name) ?? [], "original");
    return field;
  });
  const fieldNames = new Set(names);
  const general = h("div", { class: "edit-reasons edit-reasons-general", hidden: true });
  showReasons(general, reasons.filter((reason) => !fieldNames.has(formatValue(reason.field))), "original");
  const named = fields.filter((field) => byField.has(field.name));
  const others = fields.filter((field) => !byField.has(field.name));
  const status = h("div", { class: "edit-status" });
  const fieldset = h(
    "fieldset",
    { class: "reject-edit", "data-edit-line": String(line), "data-edit-batch": batchId },
    h(
      "legend",
      { class: "reject-edit-legend" },
      `Line ${formatInt(line)}`,
      " · ",
      recordLink(batchId, line, { label: "lineage" }),
    ),
    status,
    general,
    h("div", { class: "edit-fields" }, named.map((field) => field.element)),
    others.length
      ? h("details", { class: "edit-others" }, h("summary", null, `The other ${formatInt(others.length)} field${others.length === 1 ? "" : "s"}`), h("div", { class: "edit-fields" }, others.map((field) => field.element)))
      : null,
  );
  return { line, record, fields, general, status, fieldset, done: false };
}

/** The form's values to send, or what must be fixed first. */
function collect(form) {
  const values = {};
  const problems = [];
  for (const field of form.fields) {
    if (field.drop?.checked) continue;
    const text = field.input.value;
    if (field.required && MISSING.has(text.trim())) {
      problems.push({ field, reason: { field: field.name, rule: "required", message: `${field.name} is required` } });
      continue;
    }
    const parsed = parseEdited(field, text);
    if (parsed.error) problems.push({ field, reason: { field: field.name, rule: "json", message: parsed.error } });
    else if (!parsed.omit) values[field.name] = parsed.value;
  }
  return { values, problems };
}

/** Show the reasons the API (or the browser) gave for a record next to its fields. */
function markForm(form, reasons, source) {
  const byField = new Map();
  for (const reason of reasons) {
    const name = formatValue(reason.field);
    if (!byField.has(name)) byField.set(name, []);
    byField.get(name).push(reason);
  }
  const names = new Set(form.fields.map((field) => field.name));
  for (const field of form.fields) {
    const own = byField.get(field.name) ?? [];
    if (own.length) {
      showReasons(field.reasonsBox, own, source);
      field.input.setAttribute("aria-invalid", "true");
      field.element.classList.add("is-invalid");
      // A field hidden under "the other fields" opens so its reason is seen.
      const details = field.element.closest("details");
      if (details) details.open = true;
    } else if (source !== "client") {
      showReasons(field.reasonsBox, [], source);
      field.input.removeAttribute("aria-invalid");
      field.element.classList.remove("is-invalid");
    }
  }
  const general = reasons.filter((reason) => !names.has(formatValue(reason.field)));
  if (general.length || source !== "client") showReasons(form.general, general, source);
  form.fieldset.classList.toggle("is-invalid", reasons.length > 0);
  if (source === "server") {
    // The API has judged the record as edited: its first reasons no longer apply.
    for (const field of form.fields) field.element.classList.toggle("has-reasons", byField.has(field.name));
    replace(form.status, reasons.length ? null : h("p", { class: "edit-ok" }, "✓ The API accepts this record as edited."));
  }
}

function clearClientMarks(form) {
  for (const field of form.fields) {
    if (field.reasonsBox.querySelector(".is-client")) showReasons(field.reasonsBox, [], "client");
    if (field.element.classList.contains("is-invalid") && !field.reasonsBox.querySelector(".is-server")) {
      field.input.removeAttribute("aria-invalid");
      field.element.classList.remove("is-invalid");
    }
  }
}

function markReplayed(form, child) {
  form.done = true;
  for (const field of form.fields) {
    showReasons(field.reasonsBox, [], "server");
    field.input.removeAttribute("aria-invalid");
    field.element.classList.remove("is-invalid", "has-reasons");
  }
  showReasons(form.general, [], "server");
  form.fieldset.disabled = true;
  form.fieldset.classList.add("is-replayed");
  form.fieldset.classList.remove("is-invalid");
  replace(form.status, h("p", { class: "edit-done", "data-replayed-into": child }, "✓ Replayed into ", batchLink(child, { short: true })));
}

async function rejectedRecords(batchId, items, signal) {
  const wanted = new Set(items.flatMap((item) => (Array.isArray(item.lines) ? item.lines : [])));
  const partial = items.some((item) => (item.lines?.length ?? 0) < (item.count ?? 0));
  const found = [];
  let next = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await getRecords(batchId, "rejected", { limit: PAGE, next, signal });
    for (const record of answer.records ?? []) if (items.some((item) => covers(item, record))) found.push(record);
    next = answer.next;
    if (!next) break;
    // Records come in line order: once past the last listed line, the rest are not wanted.
    const last = lineOf(answer.records.at(-1) ?? { line: 0 });
    if (!partial && [...wanted].every((line) => line <= last)) break;
  }
  return found;
}

/** One batch's part of the editor: its forms, the partial option and the Replay button. */
function batchSection(batchId, items, { index, required, onReplayed }) {
  const status = h("div", { class: "replay-status", "aria-live": "polite" });
  const body = h("div", { class: "replay-forms" }, emptyState("Loading the rejected records…"));
  const partial = h("input", { type: "checkbox", class: "checkbox", id: `replay-partial-${index}` });
  const button = h("button", { type: "button", class: "button button-primary", "data-action": "replay", disabled: true }, "Replay");
  const section = {
    batchId,
    forms: [],
    key: null,
    lastBody: null,
    busy: false,
    element: h(
      "section",
      { class: "replay-batch", "data-replay-batch": batchId, "aria-label": `Edit and replay rejects of batch ${batchId}` },
      h("h3", { class: "replay-batch-title" }, "Rejects of batch ", batchLink(batchId, { short: true })),
      body,
      h(
        "div",
        { class: "replay-actions" },
        h("label", { class: "check-row check-row-tight", for: `replay-partial-${index}` }, partial, "Replay the valid ones even if others are still invalid"),
        button,
      ),
      status,
    ),
  };

  const pending = () => section.forms.filter((form) => !form.done);
  const syncButton = () => {
    const count = pending().length;
    button.disabled = section.busy || count === 0;
    button.textContent = section.busy ? "Replaying…" : count ? `Replay ${formatInt(count)} record${count === 1 ? "" : "s"}` : "Nothing left to replay";
  };

  section.load = async (signal) => {
    let records;
    try {
      records = await rejectedRecords(batchId, items, signal);
    } catch (error) {
      if (stopsPolling(error)) throw error;
      replace(body, errorBox(error, { title: "Could not load the rejected records" }));
      return;
    }
    const replayed = records.filter((record) => record.replayed_to);
    const editable = records.filter((record) => !record.replayed_to);
    section.forms = editable.slice(0, MAX_FORMS).map((record, formIndex) => recordForm(record, { batchId, prefix: `edit-${index}-${formIndex}`, required }));
    replace(
      body,
      replayed.length
        ? h("p", { class: "hint" }, `Already replayed: line${replayed.length === 1 ? "" : "s"} ${replayed.map((record) => formatInt(lineOf(record))).join(", ")}.`)
        : null,
      section.forms.length ? section.forms.map((form) => form.fieldset) : emptyState("No rejected record left to edit here."),
      editable.length > MAX_FORMS ? h("p", { class: "hint" }, `Showing the first ${formatInt(MAX_FORMS)} of ${formatInt(editable.length)}; replay these, then the rest.`) : null,
    );
    syncButton();
  };

  const send = async () => {
    if (section.busy) return;
    const forms = pending();
    const records = [];
    let firstProblem = null;
    for (const form of forms) {
      clearClientMarks(form);
      const { values, problems } = collect(form);
      if (problems.length) {
        markForm(form, problems.map((problem) => problem.reason), "client");
        firstProblem ??= problems[0].field.input;
      }
      records.push({ line: form.line, values });
    }
    if (firstProblem) {
      replace(status, h("p", { class: "alert alert-danger", role: "alert" }, "Some required fields are empty: fill them in (marked below). Nothing was sent."));
      firstProblem.focus();
      return;
    }
    const body = JSON.stringify({ records, partial: partial.checked });
    // The same edits sent again (after a lost answer, say) carry the same key: one child batch.
    if (body !== section.lastBody) {
      section.key = newKey();
      section.lastBody = body;
    }
    section.busy = true;
    syncButton();
    replace(status);
    try {
      const answer = await replayRecords(batchId, { records, partial: partial.checked, idempotencyKey: section.key });
      const replayedLines = new Set(Array.isArray(answer.lines) ? answer.lines : records.map((record) => record.line));
      const stillInvalid = new Map((answer.still_invalid ?? []).map((entry) => [Number(entry.line), entry.reasons ?? []]));
      for (const form of forms) {
        if (stillInvalid.has(form.line)) markForm(form, stillInvalid.get(form.line), "server");
        else if (replayedLines.has(form.line)) markReplayed(form, answer.batch_id);
      }
      replace(
        status,
        h(
          "div",
          { class: "alert alert-success", role: "status", "data-replay-child": formatValue(answer.batch_id) },
          h("p", null, `${answer.duplicate ? "Already replayed" : "Replayed"} ${formatInt(answer.records)} record${answer.records === 1 ? "" : "s"} into batch `, batchLink(answer.batch_id), "."),
          stillInvalid.size ? h("p", null, `${formatInt(stillInvalid.size)} still invalid, kept here with the API's reasons.`) : null,
        ),
      );
      onReplayed(answer);
    } catch (error) {
      if (error?.status === 422 && error.code === "still_invalid") {
        const byLine = new Map(error.details.map((entry) => [Number(entry.line), entry.reasons ?? []]));
        let firstInvalid = null;
        for (const form of forms) {
          markForm(form, byLine.get(form.line) ?? [], "server");
          if (byLine.has(form.line)) firstInvalid ??= form.fields.find((field) => field.element.classList.contains("is-invalid"))?.input ?? null;
        }
        replace(
          status,
          h(
            "p",
            { class: "alert alert-danger", role: "alert", "data-still-invalid": String(byLine.size) },
            `The API still refuses ${formatInt(byLine.size)} of ${formatInt(records.length)} record${records.length === 1 ? "" : "s"}, so nothing was replayed. Its reasons are next to the fields; fix them, or replay the valid ones only.`,
          ),
        );
        firstInvalid?.focus();
      } else {
        replace(status, errorBox(error, { title: error?.scope ? "Replaying needs a key with the admin scope" : "The replay was refused" }));
      }
    } finally {
      section.busy = false;
      syncButton();
    }
  };
  button.addEventListener("click", send);
  return section;
}

/**
 * An editor for the rejects the inbox items stand for (items of kind "rejects"), one
 * section per batch. `requiredFor(dataset)` names the fields a dataset requires, when known.
 */
export function createReplayEditor(items, { requiredFor = () => [], onReplayed = () => {}, onClose = () => {} } = {}) {
  const byBatch = new Map();
  for (const item of items) {
    if (!byBatch.has(item.batch_id)) byBatch.set(item.batch_id, []);
    byBatch.get(item.batch_id).push(item);
  }
  const sections = [...byBatch].map(([batchId, batchItems], index) =>
    batchSection(batchId, batchItems, { index, required: requiredFor(batchItems[0]?.dataset ?? null), onReplayed }),
  );
  const close = h("button", { type: "button", class: "button button-quiet", "data-action": "close-editor" }, "Close");
  close.addEventListener("click", onClose);
  const count = items.reduce((sum, item) => sum + (item.count ?? 0), 0);
  const element = h(
    "div",
    { class: "replay-editor", "data-region": "replay-editor" },
    h(
      "div",
      { class: "replay-editor-head" },
      h(
        "p",
        { class: "replay-editor-lead" },
        `Edit ${formatInt(count)} rejected record${count === 1 ? "" : "s"} where they stand, then replay them into a new batch linked to its parent. `,
        "Each field shows why it was refused; fields marked * are required.",
      ),
      close,
    ),
    sections.map((section) => section.element),
  );
  return {
    element,
    load: (signal) => Promise.all(sections.map((section) => section.load(signal))),
  };
}
