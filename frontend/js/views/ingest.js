// Ingest: post a batch as pasted JSON or as a CSV / NDJSON file, and show the API's answer.

import { postBatch } from "../api.js";
import { batchLink, errorBox, pageHeader, panel } from "../components.js";
import { h, replace } from "../dom.js";
import { formatInt } from "../format.js";

const FILE_TYPES = [
  { pattern: /\.csv$/i, contentType: "text/csv" },
  { pattern: /\.(ndjson|jsonl)$/i, contentType: "application/x-ndjson" },
];

const EXAMPLE = {
  dataset: "flights",
  records: [
    {
      year: 2013, month: 1, day: 1, dep_time: 517, sched_dep_time: 515, dep_delay: 2, arr_time: 830,
      sched_arr_time: 819, arr_delay: 11, carrier: "UA", flight: 1545, tailnum: "N14228", origin: "EWR",
      dest: "IAH", air_time: 227, distance: 1400, hour: 5, minute: 15, time_hour: "2013-01-01T10:00:00Z",
    },
  ],
};

export function contentTypeFor(fileName) {
  return FILE_TYPES.find((type) => type.pattern.test(fileName))?.contentType ?? null;
}

function field(id, label, control, hint = null) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id, class: "label" }, label),
    control,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
  );
}

export function mountIngest(container) {
  const controller = new AbortController();
  let inFlight = false;

  const sourceJson = h("input", { type: "radio", name: "source", id: "source-json", value: "json", checked: true, class: "radio" });
  const sourceFile = h("input", { type: "radio", name: "source", id: "source-file", value: "file", class: "radio" });
  const textarea = h("textarea", {
    id: "ingest-json",
    class: "input textarea mono",
    rows: 12,
    spellcheck: "false",
    placeholder: '{"dataset": "flights", "records": [ … ]}',
    "aria-describedby": "ingest-json-hint",
  });
  const exampleButton = h("button", { type: "button", class: "button button-quiet" }, "Insert an example");
  exampleButton.addEventListener("click", () => {
    textarea.value = JSON.stringify(EXAMPLE, null, 2);
    textarea.focus();
  });
  const fileInput = h("input", {
    id: "ingest-file",
    type: "file",
    class: "input input-file",
    accept: ".csv,.ndjson,.jsonl,text/csv,application/x-ndjson",
    "aria-describedby": "ingest-file-hint",
  });
  const datasetInput = h("input", { id: "ingest-dataset", type: "text", class: "input", value: "flights", list: "dataset-options", autocomplete: "off", spellcheck: "false" });
  const keyInput = h("input", { id: "ingest-idempotency", type: "text", class: "input mono", autocomplete: "off", spellcheck: "false", "aria-describedby": "ingest-idempotency-hint" });
  const generateButton = h("button", { type: "button", class: "button button-quiet" }, "Generate");
  generateButton.addEventListener("click", () => {
    keyInput.value = crypto.randomUUID();
  });
  const submit = h("button", { type: "submit", class: "button button-primary", id: "ingest-submit" }, "Send batch");
  const result = h("div", { class: "ingest-result", id: "ingest-result", "aria-live": "polite" });

  const jsonPanel = h(
    "div",
    { class: "source-panel", id: "source-json-panel" },
    field("ingest-json", "Batch as JSON", textarea, 'An object with "dataset" and "records"; sent as application/json.'),
    h("div", { class: "row-actions" }, exampleButton),
  );
  const filePanel = h(
    "div",
    { class: "source-panel", id: "source-file-panel", hidden: true },
    field("ingest-file", "File", fileInput, "A .csv file is sent as text/csv; .ndjson or .jsonl as application/x-ndjson."),
    field("ingest-dataset", "Dataset", datasetInput, "Which dataset the file's rows belong to."),
    h("datalist", { id: "dataset-options" }, h("option", { value: "flights" })),
  );
  const syncSource = () => {
    jsonPanel.hidden = !sourceJson.checked;
    filePanel.hidden = !sourceFile.checked;
  };
  sourceJson.addEventListener("change", syncSource);
  sourceFile.addEventListener("change", syncSource);

  const form = h(
    "form",
    { class: "ingest-form", novalidate: true },
    h(
      "fieldset",
      { class: "segmented" },
      h("legend", { class: "label" }, "Source"),
      h("div", { class: "segmented-options" },
        h("div", { class: "segmented-option" }, sourceJson, h("label", { for: "source-json" }, "Paste JSON")),
        h("div", { class: "segmented-option" }, sourceFile, h("label", { for: "source-file" }, "Upload a CSV or NDJSON file")),
      ),
    ),
    jsonPanel,
    filePanel,
    field(
      "ingest-idempotency",
      "Idempotency-Key (optional)",
      h("div", { class: "input-group" }, keyInput, generateButton),
      "Posting again with the same key and body returns the first batch instead of a new one.",
    ),
    h("div", { class: "form-actions" }, submit),
  );

  const showError = (error) => {
    replace(
      result,
      error?.status
        ? errorBox(error, { title: "The API refused this batch" })
        : errorBox({ message: error?.message ?? String(error) }, { title: "The batch was not sent" }),
    );
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (inFlight) return;
    let request;
    if (sourceFile.checked) {
      const file = fileInput.files?.[0];
      if (!file) return showError(new Error("Choose a file first."));
      const contentType = contentTypeFor(file.name);
      if (!contentType) return showError(new Error(`${file.name} is neither .csv, .ndjson nor .jsonl.`));
      const dataset = datasetInput.value.trim();
      if (!dataset) return showError(new Error("Name the dataset the file belongs to."));
      request = { body: file, contentType, dataset, label: file.name };
    } else {
      const text = textarea.value;
      if (!text.trim()) return showError(new Error("Paste a JSON batch first (or insert the example)."));
      request = { body: text, contentType: "application/json", dataset: null, label: "pasted JSON" };
    }
    inFlight = true;
    submit.disabled = true;
    submit.textContent = "Sending…";
    replace(result, h("p", { class: "hint" }, `Sending ${request.label}…`));
    try {
      const answer = await postBatch({ ...request, idempotencyKey: keyInput.value.trim() || null, signal: controller.signal });
      const accepted = answer.data ?? {};
      replace(
        result,
        h(
          "div",
          { class: "alert alert-success", role: "status", "data-accepted": accepted.batch_id },
          h("p", { class: "alert-title" }, `Accepted ${formatInt(accepted.records_received)} records`),
          accepted.duplicate ? h("p", null, "This Idempotency-Key was used before with the same body: this is the earlier batch.") : null,
          h("p", null, "Batch ", batchLink(accepted.batch_id)),
          h("p", null, h("a", { href: `#/batches/${encodeURIComponent(accepted.batch_id)}`, class: "button button-primary", id: "ingest-open-batch" }, "Follow this batch →")),
        ),
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (error?.status === 401) return; // the app signs out
      showError(error);
    } finally {
      inFlight = false;
      submit.disabled = false;
      submit.textContent = "Send batch";
    }
    return undefined;
  });

  container.appendChild(
    h(
      "div",
      { class: "view view-ingest" },
      pageHeader("Ingest", "Post a batch to the pipeline: JSON, CSV or NDJSON, up to 5 MB or 100,000 records."),
      h("div", { class: "grid grid-3-2" }, panel({ title: "New batch", id: "new-batch" }, form), panel({ title: "Answer", id: "answer" }, result)),
    ),
  );
  replace(result, h("p", { class: "hint" }, "The API's answer appears here: the new batch, or why it was refused."));
  return () => controller.abort();
}
