// Ingest: post a batch as pasted JSON or as a CSV / NDJSON file (gzip or not), and show
// the API's answer. A file above the request-body limit (or any file, when asked) goes
// through POST /uploads and a presigned POST straight to S3, with a progress bar.

import { MAX_BODY_BYTES, createUpload, listDatasets, postBatch } from "../api.js";
import { batchLink, errorBox, pageHeader, panel, uploadProgressView } from "../components.js";
import { h, replace } from "../dom.js";
import { formatBytes, formatInt } from "../format.js";
import { fileFingerprint, forgetKey, latestUpload, rememberKey, rememberedKey, startUpload } from "../upload.js";

const FILE_TYPES = [
  { pattern: /\.csv(\.gz)?$/i, contentType: "text/csv", label: "CSV" },
  { pattern: /\.(ndjson|jsonl)(\.gz)?$/i, contentType: "application/x-ndjson", label: "NDJSON" },
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

/** The content type a file is sent as, from its name (a ".gz" suffix means gzip). */
export function describeFile(fileName) {
  const type = FILE_TYPES.find((candidate) => candidate.pattern.test(fileName));
  return type ? { contentType: type.contentType, label: type.label, gzip: /\.gz$/i.test(fileName) } : null;
}

async function startsLikeGzip(file) {
  try {
    const bytes = new Uint8Array(await file.slice(0, 2).arrayBuffer());
    return bytes.length === 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  } catch {
    return false;
  }
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

function followLink(batchId) {
  return h("a", { href: `#/batches/${encodeURIComponent(batchId)}`, class: "button button-primary", id: "ingest-open-batch" }, "Follow this batch →");
}

export function mountIngest(container) {
  const controller = new AbortController();
  let inFlight = false;
  // The key this form generated (not typed): replaced when another file is chosen.
  let generatedKey = null;
  let unsubscribe = () => {};

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
    accept: ".csv,.ndjson,.jsonl,.gz,text/csv,application/x-ndjson,application/gzip",
    "aria-describedby": "ingest-file-hint ingest-file-summary",
  });
  const fileSummary = h("p", { class: "hint file-summary", id: "ingest-file-summary", "aria-live": "polite" });
  const viaUpload = h("input", { type: "checkbox", id: "ingest-via-upload", class: "checkbox", "aria-describedby": "ingest-via-upload-hint" });
  const datasetInput = h("input", { id: "ingest-dataset", type: "text", class: "input", value: "flights", list: "dataset-options", autocomplete: "off", spellcheck: "false" });
  const datasetOptions = h("datalist", { id: "dataset-options" }, h("option", { value: "flights" }));
  const keyInput = h("input", { id: "ingest-idempotency", type: "text", class: "input mono", autocomplete: "off", spellcheck: "false", "aria-describedby": "ingest-idempotency-hint" });
  const generateButton = h("button", { type: "button", class: "button button-quiet" }, "Generate");
  generateButton.addEventListener("click", () => {
    keyInput.value = crypto.randomUUID();
    generatedKey = null;
  });
  const submit = h("button", { type: "submit", class: "button button-primary", id: "ingest-submit" }, "Send batch");
  const result = h("div", { class: "ingest-result", id: "ingest-result", "aria-live": "polite" });

  const chosenFile = () => fileInput.files?.[0] ?? null;
  const goesThroughUpload = (file) => viaUpload.checked || file.size > MAX_BODY_BYTES;

  const describeChoice = () => {
    const file = chosenFile();
    if (!file) {
      replace(fileSummary);
      return;
    }
    const type = describeFile(file.name);
    const how = goesThroughUpload(file)
      ? file.size > MAX_BODY_BYTES
        ? `over the ${formatInt(MAX_BODY_BYTES)}-byte body limit, so it is uploaded straight to S3`
        : "uploaded straight to S3"
      : "sent as the request body";
    replace(
      fileSummary,
      h("strong", null, file.name),
      ` · ${formatBytes(file.size)} (${formatInt(file.size)} bytes)${type ? ` · ${type.label}${type.gzip ? ", gzip" : ""}` : ""} · ${how}`,
    );
  };

  // A remembered key (an earlier upload of this very file did not finish) resumes its batch.
  const offerKeyFor = () => {
    const file = chosenFile();
    if (generatedKey !== null && keyInput.value === generatedKey) keyInput.value = "";
    generatedKey = null;
    if (!file || keyInput.value.trim()) return;
    const remembered = rememberedKey(fileFingerprint(file, datasetInput.value.trim()));
    if (remembered) {
      keyInput.value = remembered;
      generatedKey = remembered;
      replace(result, h("p", { class: "alert alert-info", role: "status" }, `An earlier upload of ${file.name} from this tab did not finish. Sending it again with the same Idempotency-Key resumes that batch.`));
    }
  };
  fileInput.addEventListener("change", () => {
    offerKeyFor();
    describeChoice();
  });
  viaUpload.addEventListener("change", describeChoice);

  const jsonPanel = h(
    "div",
    { class: "source-panel", id: "source-json-panel" },
    field("ingest-json", "Batch as JSON", textarea, 'An object with "dataset" and "records"; sent as application/json.'),
    h("div", { class: "row-actions" }, exampleButton),
  );
  const filePanel = h(
    "div",
    { class: "source-panel", id: "source-file-panel", hidden: true },
    field(
      "ingest-file",
      "File",
      fileInput,
      `.csv as text/csv; .ndjson or .jsonl as application/x-ndjson; add .gz for gzip. Over ${formatInt(MAX_BODY_BYTES)} bytes (up to 5 GB) the file is uploaded straight to S3.`,
    ),
    fileSummary,
    h(
      "div",
      { class: "check-row check-row-tight" },
      viaUpload,
      h("label", { for: "ingest-via-upload" }, "Upload to S3 even when the file is small"),
    ),
    h("p", { class: "hint hint-under-check", id: "ingest-via-upload-hint" }, "Shows upload progress; the batch appears once S3 has the file, and a bad header is reported on the batch, not here."),
    field("ingest-dataset", "Dataset", datasetInput, "Which dataset the file's rows belong to."),
    datasetOptions,
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
      "Posting again with the same key and body returns the first batch instead of a new one. An upload without one gets a generated key, so trying again after an interrupted upload resumes the same batch.",
    ),
    h("div", { class: "form-actions" }, submit),
  );

  const showError = (error, title = null) => {
    replace(
      result,
      error?.status
        ? errorBox(error, { title: title ?? "The API refused this batch" })
        : errorBox({ message: error?.message ?? String(error) }, { title: title ?? "The batch was not sent" }),
    );
  };

  const setBusy = (busy, label = "Sending…") => {
    inFlight = busy;
    submit.disabled = busy;
    submit.textContent = busy ? label : "Send batch";
  };

  const showAccepted = (accepted) => {
    replace(
      result,
      h(
        "div",
        { class: "alert alert-success", role: "status", "data-accepted": accepted.batch_id },
        h("p", { class: "alert-title" }, `Accepted ${formatInt(accepted.records_received)} records`),
        accepted.duplicate ? h("p", null, "This Idempotency-Key was used before with the same body: this is the earlier batch.") : null,
        h("p", null, "Batch ", batchLink(accepted.batch_id)),
        h("p", null, followLink(accepted.batch_id)),
      ),
    );
  };

  /** Follow an upload job in the answer panel: bar, figures, then the outcome. */
  const showJob = (job, { key, retry }) => {
    unsubscribe();
    const progress = uploadProgressView(job);
    const outcome = h("div", { class: "upload-outcome" });
    const cancel = h("button", { type: "button", class: "button button-quiet", id: "upload-cancel" }, "Cancel upload");
    cancel.addEventListener("click", () => job.cancel());
    const batchLine = h("p", { class: "hint" }, "Batch ", batchLink(job.batchId), " — it appears once S3 has the file.");
    replace(
      result,
      h("div", { class: "upload-card", "data-upload-batch": job.batchId }, h("p", { class: "upload-title" }, `Upload to S3 · ${formatBytes(job.total)}`), progress.element, batchLine, outcome),
    );
    let shown = null;
    unsubscribe = job.subscribe(() => {
      progress.update();
      if (shown === job.state) return;
      shown = job.state;
      if (job.state === "uploading") {
        replace(outcome, h("div", { class: "row-actions" }, cancel));
      } else if (job.state === "done") {
        replace(
          outcome,
          h(
            "div",
            { class: "alert alert-success", role: "status", "data-uploaded": job.batchId },
            h("p", { class: "alert-title" }, `Uploaded ${job.file.name}`),
            h("p", null, "S3 has the file. The pipeline registers it as a batch within a few seconds, then splits it into chunks."),
            h("p", null, followLink(job.batchId)),
          ),
        );
      } else {
        const again = h("button", { type: "button", class: "button button-primary", id: "upload-retry" }, "Try again");
        again.addEventListener("click", retry);
        replace(
          outcome,
          h(
            "div",
            { class: "alert alert-danger", role: "alert", "data-upload-failed": job.error?.kind ?? "failed" },
            h("p", { class: "alert-title" }, job.state === "cancelled" ? "The upload was cancelled" : "The upload did not finish"),
            job.state === "cancelled" ? null : h("p", null, job.error?.message ?? "S3 did not take the file."),
            job.error?.code ? h("p", { class: "alert-meta" }, job.error.status ? h("span", null, "HTTP ", String(job.error.status)) : null, h("code", { class: "error-code" }, job.error.code)) : null,
            h("p", null, "Trying again with the Idempotency-Key ", h("code", null, key), " sends the file to the same batch."),
            h("p", { class: "row-actions" }, again),
          ),
        );
      }
    });
  };

  const upload = async ({ file, dataset, type, gzip, note = null }) => {
    const fingerprint = fileFingerprint(file, dataset);
    let key = keyInput.value.trim();
    if (!key) {
      key = rememberedKey(fingerprint) ?? `upload-${crypto.randomUUID()}`;
      keyInput.value = key;
      generatedKey = key;
    }
    rememberKey(fingerprint, key);
    setBusy(true, "Uploading…");
    replace(result, note ? h("p", { class: "alert alert-info" }, note) : null, h("p", { class: "hint" }, `Asking the API where to upload ${file.name}…`));
    let ticket;
    try {
      ticket = await createUpload({
        dataset,
        filename: file.name,
        contentType: type.contentType,
        sizeBytes: file.size,
        contentEncoding: gzip ? "gzip" : null,
        idempotencyKey: key,
        signal: controller.signal,
      });
    } catch (error) {
      setBusy(false);
      if (error?.name === "AbortError" || error?.status === 401) return;
      showError(error, "The API refused this upload");
      return;
    }
    if (ticket.duplicate || !ticket.upload) {
      forgetKey(fingerprint);
      setBusy(false);
      replace(
        result,
        h(
          "div",
          { class: "alert alert-success", role: "status", "data-uploaded": ticket.batch_id },
          h("p", { class: "alert-title" }, "This file has arrived already"),
          h("p", null, "The Idempotency-Key was used for this same file, which S3 has: this is its batch."),
          h("p", null, "Batch ", batchLink(ticket.batch_id)),
          h("p", null, followLink(ticket.batch_id)),
        ),
      );
      return;
    }
    const job = startUpload(ticket, file, { key, dataset, gzip });
    showJob(job, { key, retry: () => upload({ file, dataset, type, gzip }) });
    try {
      await job.send();
      forgetKey(fingerprint);
      // The next file gets a key of its own.
      if (keyInput.value === generatedKey) keyInput.value = "";
      generatedKey = null;
    } catch {
      // The job shows what went wrong, and how to try again.
    } finally {
      setBusy(false);
    }
  };

  const sendFile = async () => {
    const file = chosenFile();
    if (!file) return showError(new Error("Choose a file first."));
    const type = describeFile(file.name);
    if (!type) return showError(new Error(`${file.name} is neither .csv, .ndjson nor .jsonl (optionally .gz).`));
    const dataset = datasetInput.value.trim();
    if (!dataset) return showError(new Error("Name the dataset the file belongs to."));
    const gzipped = await startsLikeGzip(file);
    if (type.gzip && !gzipped) return showError(new Error(`${file.name} is named .gz but is not a gzip file.`));
    const gzip = type.gzip || gzipped;
    if (goesThroughUpload(file)) return upload({ file, dataset, type, gzip });
    setBusy(true);
    replace(result, h("p", { class: "hint" }, `Sending ${file.name}…`));
    let tooLarge = null;
    try {
      const answer = await postBatch({
        body: file,
        contentType: type.contentType,
        contentEncoding: gzip ? "gzip" : null,
        dataset,
        idempotencyKey: keyInput.value.trim() || null,
        signal: controller.signal,
      });
      showAccepted(answer.data ?? {});
    } catch (error) {
      if (error?.name === "AbortError" || error?.status === 401) return undefined;
      // Too many records (or too large once inflated) for one request body: S3 takes it whole.
      if (error?.status === 413) tooLarge = error;
      else showError(error);
    } finally {
      setBusy(false);
    }
    if (tooLarge) {
      return upload({ file, dataset, type, gzip, note: `The API cannot take ${file.name} in one request (${tooLarge.message}); uploading it to S3 instead.` });
    }
    return undefined;
  };

  const sendJson = async () => {
    const text = textarea.value;
    if (!text.trim()) return showError(new Error("Paste a JSON batch first (or insert the example)."));
    setBusy(true);
    replace(result, h("p", { class: "hint" }, "Sending pasted JSON…"));
    try {
      const answer = await postBatch({ body: text, contentType: "application/json", dataset: null, idempotencyKey: keyInput.value.trim() || null, signal: controller.signal });
      showAccepted(answer.data ?? {});
    } catch (error) {
      if (error?.name === "AbortError" || error?.status === 401) return undefined;
      showError(error);
    } finally {
      setBusy(false);
    }
    return undefined;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (inFlight) return;
    unsubscribe();
    unsubscribe = () => {};
    await (sourceFile.checked ? sendFile() : sendJson());
  });

  container.appendChild(
    h(
      "div",
      { class: "view view-ingest" },
      pageHeader("Ingest", `Post a batch to the pipeline: JSON, CSV or NDJSON. Up to ${formatInt(MAX_BODY_BYTES)} bytes go in one request; larger files (up to 5 GB) are uploaded straight to S3, with progress.`),
      h("div", { class: "grid grid-3-2" }, panel({ title: "New batch", id: "new-batch" }, form), panel({ title: "Answer", id: "answer" }, result)),
    ),
  );
  replace(result, h("p", { class: "hint" }, "The API's answer appears here: the new batch, or why it was refused."));

  listDatasets({ signal: controller.signal })
    .then((answer) => {
      const names = (answer?.datasets ?? []).map((dataset) => String(dataset.name));
      if (names.length) replace(datasetOptions, names.map((name) => h("option", { value: name })));
    })
    .catch(() => {
      // The list only helps typing; the API checks the name anyway.
    });

  // Coming back to Ingest while an upload from this tab is still going: show it again.
  const going = latestUpload();
  if (going?.state === "uploading") {
    setBusy(true, "Uploading…");
    showJob(going, { key: going.key, retry: () => upload({ file: going.file, dataset: going.dataset, type: describeFile(going.file.name), gzip: going.gzip }) });
    going.done.catch(() => {}).finally(() => setBusy(false));
  }
  return () => {
    unsubscribe();
    controller.abort();
  };
}
