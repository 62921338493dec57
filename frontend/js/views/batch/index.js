// One batch: counts, chunk progress, its runs (with Retry), the batches it was replayed
// from or into, stages, timings, what it cost, its chunks from the ledger, its execution
// drawn as a graph, its rejected and processed records, and one record's lineage. Polls while the batch is in flight (or while its upload has not arrived) and
// stops once both the batch and its execution have finished.
//
// Each refresh reads the batch (one item, however many chunks); the chunk page, the
// execution and the records only when what they show can have changed, and no more often
// than their own intervals.

import { getBatch, getChunk, getChunks, getDataset, getExecution, getRecords, retryBatch } from "../../api.js";
import { TERMINAL, chunkSummary, costBreakdown, emptyState, errorBox, pageHeader, panel, statusBadge } from "../../components.js";
import { h, renderIfChanged, replace } from "../../dom.js";
import { formatInt } from "../../format.js";
import { executionGraph } from "../../graph.js";
import { Poller, pollProblem, stopsPolling } from "../../poller.js";
import { UNKNOWN_DISPLAY, displayOf } from "../../record-display.js";
import { uploadFor } from "../../upload.js";
import { CHUNK_FILTERS, CHUNK_PAGE, emptyChunkList, nextToken, renderChunkDetail, renderChunkTable, visibleChunks } from "./chunks.js";
import { firstFailingState, renderEvents, renderStateDetails, renderStateTable } from "./execution.js";
import { renderProcessed, renderRejected } from "./records.js";
import { renderReplayLinks, renderRetryAction, renderRetryOutcome, renderRuns } from "./runs.js";
import { progressKey, renderCounts, renderError, renderPending, renderProgress, renderStages, renderTimings } from "./summary.js";

const REFRESH_MS = 1_500;
const REJECTED_LIMIT = 100;
const PROCESSED_LIMIT = 50;
// While a batch runs, these change on most refreshes: read them at most this often.
const CHUNKS_EVERY_MS = 3_000;
const EXECUTION_EVERY_MS = 3_000;
const RECORDS_EVERY_MS = 6_000;
// Once the batch is terminal its execution may still be publishing the outcome: a few more looks.
const EXTRA_LOOKS_AFTER_TERMINAL = 10;

export function mountBatch(container, { params }) {
  const batchId = params[0];
  const state = {
    batch: null,
    pending: null,
    execution: null,
    executionError: null,
    executionKey: null,
    executionAt: 0,
    rejected: null,
    processed: null,
    // How the batch's dataset shows a stored record (GET /datasets), once known.
    display: null,
    rejectedError: null,
    processedError: null,
    recordsKey: null,
    recordsAt: 0,
    selectedState: null,
    autoSelected: false,
    lineage: null,
    extraLooks: 0,
    chunks: emptyChunkList(),
    chunk: null,
    retrying: false,
    retryOutcome: null,
  };

  const headerRegion = h("div", { class: "region" });
  const problem = h("div", { class: "region" });
  const pendingRegion = h("div", { class: "region" });
  const countsRegion = h("div", { class: "region" });
  const errorRegion = h("div", { class: "region" });
  const progressRegion = h("div", { class: "region" });
  const stagesRegion = h("div", { class: "region" });
  const timingsRegion = h("div", { class: "region" });
  const replayRegion = h("div", { class: "region", "data-region": "replays" });
  const runsRegion = h("div", { class: "region", "data-region": "runs" });
  const retryRegion = h("div", { class: "region" });
  const retryOutcomeRegion = h("div", { class: "region", "aria-live": "polite" });
  const costRegion = h("div", { class: "region", "data-region": "cost" });
  const filterSelect = h("select", { id: "chunk-filter", class: "input select" });
  const chunkFilterRegion = h("div", { class: "filter" }, h("label", { for: "chunk-filter", class: "label label-inline" }, "Show"), filterSelect);
  const chunksRegion = h("div", { class: "region", "data-region": "chunks" });
  const chunkDetailRegion = h("div", { class: "region chunk-detail", id: "chunk-detail", "data-region": "chunk-detail", tabindex: -1 });
  const graphRegion = h("div", { class: "graph-scroll", tabindex: -1 });
  const detailsRegion = h("div", { class: "region" });
  const stateTableRegion = h("div", { class: "region" });
  const historyRegion = h("div", { class: "region" });
  const rejectedRegion = h("div", { class: "region", "data-region": "rejected" });
  const inboxLink = h(
    "a",
    { href: `#/failures?batch=${encodeURIComponent(batchId)}`, class: "button button-quiet", "data-action": "open-inbox", hidden: true },
    "Fix and replay in the inbox →",
  );
  const processedRegion = h("div", { class: "region", "data-region": "processed" });
  const batchSections = h(
    "div",
    { class: "view-batch-body", hidden: true },
    replayRegion,
    countsRegion,
    errorRegion,
    panel({ title: "Runs", id: "runs", actions: retryRegion }, retryOutcomeRegion, runsRegion),
    panel({ title: "Chunks", id: "chunks", actions: chunkFilterRegion }, progressRegion, chunksRegion, chunkDetailRegion),
    panel({ title: "Stages", id: "stages" }, stagesRegion),
    h(
      "div",
      { class: "grid grid-2-1" },
      panel({ title: "Timings and source", id: "timings" }, timingsRegion),
      panel({ title: "Cost", id: "cost" }, costRegion),
    ),
    panel(
      { title: "Execution", id: "execution" },
      h("div", { class: "graph-layout" }, graphRegion, h("aside", { class: "graph-side", "aria-label": "Selected state" }, detailsRegion)),
      stateTableRegion,
      historyRegion,
    ),
    panel({ title: "Rejected records", id: "rejected", actions: inboxLink }, rejectedRegion),
    panel({ title: "Processed records", id: "processed" }, processedRegion),
  );

  container.appendChild(h("div", { class: "view view-batch", "data-batch": batchId }, headerRegion, problem, pendingRegion, batchSections));

  const backLink = () => h("a", { href: "#/", class: "button button-quiet" }, "← Overview");
  renderIfChanged(headerRegion, ["loading"], () => pageHeader("Batch", null, backLink()));

  // ------------------------------------------------------------------ chunks

  const syncFilterOptions = () => {
    const summary = chunkSummary(state.batch ?? {});
    const options = CHUNK_FILTERS.map((filter) => [filter.value, `${filter.label} (${formatInt(filter.count(summary))})`]);
    const key = JSON.stringify([options, state.chunks.filter]);
    if (filterSelect.dataset.key === key) return;
    filterSelect.dataset.key = key;
    replace(filterSelect, options.map(([value, label]) => h("option", { value }, label)));
    filterSelect.value = state.chunks.filter;
  };

  const renderChunks = () => {
    const batch = state.batch;
    if (!batch) return;
    const summary = chunkSummary(batch);
    syncFilterOptions();
    const list = state.chunks;
    const selected = state.chunk?.index ?? null;
    const none = summary.total === null && !visibleChunks(list).length;
    chunkFilterRegion.hidden = none;
    renderIfChanged(chunksRegion, [visibleChunks(list), list.filter, list.loaded, list.error?.message, list.loadingMore, nextToken(list), selected, summary, TERMINAL.has(batch.status)], () => {
      if (!none) return renderChunkTable(list, { selected, summary, terminal: TERMINAL.has(batch.status) });
      // The progress above says why there are none (not split yet, or never).
      return TERMINAL.has(batch.status) ? [] : emptyState("The chunks are listed once split has made them.");
    });
    renderIfChanged(chunkDetailRegion, [state.chunk?.index ?? null, state.chunk?.data ?? null, state.chunk?.error?.message ?? null], () =>
      state.chunk ? renderChunkDetail(state.chunk, { batchExecutionArn: batch.execution_arn }) : [],
    );
  };

  const loadChunks = async (signal, { force = false } = {}) => {
    const batch = state.batch;
    if (!batch || chunkSummary(batch).total === null) return;
    const key = JSON.stringify([batch.chunks, batch.status, state.chunks.filter]);
    const due = force || TERMINAL.has(batch.status) || Date.now() - state.chunks.fetchedAt >= CHUNKS_EVERY_MS;
    if (!force && (key === state.chunks.key || !due)) return;
    const filter = state.chunks.filter;
    try {
      const page = await getChunks(batchId, { status: filter || null, limit: CHUNK_PAGE, signal });
      if (state.chunks.filter !== filter) return;
      Object.assign(state.chunks, { first: page.chunks ?? [], firstNext: page.next ?? null, loaded: true, error: null, fetchedAt: Date.now(), key });
    } catch (error) {
      if (stopsPolling(error)) throw error;
      Object.assign(state.chunks, { error, fetchedAt: Date.now() });
    }
  };

  const loadChunkDetail = async (signal, { force = false } = {}) => {
    const selected = state.chunk;
    if (!selected) return;
    const entry = selected.data?.chunk;
    // A stored or failed chunk does not change any more.
    if (!force && entry && (entry.status === "stored" || entry.status === "failed")) return;
    try {
      const data = await getChunk(batchId, selected.index, { signal });
      if (state.chunk?.index === selected.index) Object.assign(state.chunk, { data, error: null });
    } catch (error) {
      if (stopsPolling(error)) throw error;
      if (state.chunk?.index === selected.index) state.chunk.error = error;
    }
  };

  const openChunk = async (index) => {
    if (state.chunk?.index === index) {
      state.chunk = null;
      renderChunks();
      return;
    }
    state.chunk = { index, data: null, error: null };
    renderChunks();
    chunkDetailRegion.scrollIntoView({ block: "nearest" });
    try {
      await loadChunkDetail(undefined, { force: true });
    } catch {
      // A refused key signs out; the next refresh tries again otherwise.
    }
    renderChunks();
  };

  filterSelect.addEventListener("change", async () => {
    state.chunks = emptyChunkList(filterSelect.value);
    renderChunks();
    try {
      await loadChunks(undefined, { force: true });
    } catch {
      // As above.
    }
    renderChunks();
  });

  const loadMoreChunks = async () => {
    const list = state.chunks;
    const next = nextToken(list);
    if (!next || list.loadingMore) return;
    list.loadingMore = true;
    renderChunks();
    try {
      const page = await getChunks(batchId, { status: list.filter || null, limit: CHUNK_PAGE, next });
      if (state.chunks === list) Object.assign(list, { extra: [...list.extra, ...(page.chunks ?? [])], extraNext: page.next ?? null, loadedMore: true, error: null });
    } catch (error) {
      if (state.chunks === list) list.error = error;
    } finally {
      list.loadingMore = false;
    }
    renderChunks();
    chunksRegion.querySelector("[data-action='more-chunks']")?.focus();
  };

  container.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const chunkButton = target.closest("[data-chunk], [data-open-chunk]");
    if (chunkButton) {
      const index = Number(chunkButton.getAttribute("data-chunk") ?? chunkButton.getAttribute("data-open-chunk"));
      if (Number.isInteger(index)) openChunk(index);
      return;
    }
    if (target.closest("[data-action='more-chunks']")) {
      loadMoreChunks();
      return;
    }
    if (target.closest("[data-action='close-chunk']")) {
      const index = state.chunk?.index;
      state.chunk = null;
      renderChunks();
      chunksRegion.querySelector(`[data-chunk='${index}']`)?.focus();
      return;
    }
    const lineage = target.closest("[data-lineage]");
    if (lineage) {
      const key = lineage.getAttribute("data-lineage");
      state.lineage = state.lineage === key ? null : key;
      renderRecords();
    }
  });

  // ------------------------------------------------------------------ execution

  const renderGraph = () => {
    const execution = state.execution;
    if (!execution) {
      const error = state.executionError;
      // A batch restored after the local runtime restarted keeps everything but its history.
      const text = error?.code === "execution_gone"
        ? error.message
        : error?.status === 404 || !state.batch?.execution_arn
          ? "The execution has not started yet."
          : `Could not load the execution: ${error?.message ?? "unknown error"}`;
      renderIfChanged(graphRegion, ["none", text], () => emptyState(text));
      renderIfChanged(detailsRegion, null, () => []);
      return;
    }
    const chunks = chunkSummary(state.batch ?? {});
    const key = [execution.states, execution.status, execution.map_runs, chunks, state.selectedState];
    renderIfChanged(graphRegion, key, () =>
      executionGraph(execution.definition, execution.states, {
        selected: state.selectedState,
        mapRuns: execution.map_runs ?? [],
        chunks,
        onSelect: (name) => {
          state.selectedState = state.selectedState === name ? null : name;
          renderGraph();
          const node = [...graphRegion.querySelectorAll("[data-state]")].find((element) => element.getAttribute("data-state") === name);
          node?.focus();
        },
      }),
    );
    renderIfChanged(detailsRegion, key, () => renderStateDetails(execution, state.selectedState, { chunksTotal: chunks.total }));
    // Keep a disclosure the user opened open across refreshes.
    const wasOpen = (region) => Boolean(region.querySelector("details")?.open);
    const tableOpen = wasOpen(stateTableRegion);
    renderIfChanged(stateTableRegion, [execution.states], () =>
      h("details", { class: "states-details", open: tableOpen }, h("summary", null, "All states as a table"), renderStateTable(execution)),
    );
    const historyOpen = wasOpen(historyRegion);
    renderIfChanged(historyRegion, [execution.events?.length, execution.status], () => renderEvents(execution, { open: historyOpen }));
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

  const loadExecution = async (signal) => {
    const batch = state.batch;
    if (!batch.execution_arn && batch.status === "RECEIVED") return;
    const key = JSON.stringify([batch.status, batch.chunks, batch.stages, batch.split_bytes_read]);
    const due = TERMINAL.has(batch.status) || Date.now() - state.executionAt >= EXECUTION_EVERY_MS;
    const settled = state.execution && state.execution.status !== "RUNNING" && TERMINAL.has(batch.status);
    if (state.execution && (settled || (!due && key === state.executionKey))) return;
    try {
      state.execution = await getExecution(batchId, { signal });
      state.executionError = null;
      state.executionKey = key;
      state.executionAt = Date.now();
    } catch (error) {
      if (stopsPolling(error)) throw error;
      state.executionError = error;
      state.executionAt = Date.now();
    }
    if (state.execution && !state.autoSelected) {
      const failing = firstFailingState(state.execution);
      if (failing) {
        state.selectedState = failing;
        state.autoSelected = true;
      }
    }
  };

  // ------------------------------------------------------------------ records

  const renderRecords = () => {
    // "Loading" until the first answer, and while the batch can still add records.
    const loading = !TERMINAL.has(state.batch?.status) || state.recordsKey === null;
    const selected = state.lineage;
    renderIfChanged(rejectedRegion, [loading, state.rejected, state.rejectedError?.message, selected?.startsWith("rejected:") ? selected : null], () =>
      renderRejected(state.rejected, { loading, error: state.rejectedError, selected }),
    );
    const display = state.display ?? UNKNOWN_DISPLAY;
    renderIfChanged(processedRegion, [loading, state.processed, state.processedError?.message, selected?.startsWith("processed:") ? selected : null, display], () =>
      renderProcessed(state.processed, { loading, error: state.processedError, selected, display }),
    );
  };

  const loadRecords = async (signal) => {
    const batch = state.batch;
    const recordsKey = JSON.stringify([batch.status, batch.counts, batch.stages?.store?.processed ?? 0, batch.stages?.validate?.rejected ?? 0]);
    const started = batch.stages?.store?.chunks_done || batch.stages?.validate?.rejected || TERMINAL.has(batch.status);
    const due = TERMINAL.has(batch.status) || Date.now() - state.recordsAt >= RECORDS_EVERY_MS;
    if (recordsKey === state.recordsKey || !started || !due) return;
    const [rejected, processed, display] = await Promise.allSettled([
      getRecords(batchId, "rejected", { limit: REJECTED_LIMIT, signal }),
      getRecords(batchId, "processed", { limit: PROCESSED_LIMIT, signal }),
      state.display ?? getDataset(batch.dataset, { signal }).then(displayOf),
    ]);
    for (const result of [rejected, processed, display]) {
      if (result.status === "rejected" && stopsPolling(result.reason)) throw result.reason;
    }
    state.rejected = rejected.status === "fulfilled" ? rejected.value : state.rejected;
    state.rejectedError = rejected.status === "rejected" ? rejected.reason : null;
    state.processed = processed.status === "fulfilled" ? processed.value : state.processed;
    state.display = display.status === "fulfilled" ? display.value : null;
    // Records are shown only as their dataset's display lays them out: without it, say why (and ask again).
    state.processedError = processed.status === "rejected" ? processed.reason : display.status === "rejected" ? display.reason : null;
    state.recordsKey = display.status === "fulfilled" ? recordsKey : null;
    state.recordsAt = Date.now();
  };

  // ------------------------------------------------------------------ the batch itself

  let pendingView = null;
  let stopFollowingUpload = () => {};

  const showPending = (error) => {
    state.pending ??= { since: Date.now() };
    const job = uploadFor(batchId);
    renderIfChanged(headerRegion, ["pending"], () =>
      pageHeader(
        h("span", null, "Batch ", h("span", { class: "mono page-id" }, batchId)),
        null,
        h("span", { "data-batch-status": "UPLOAD_PENDING", class: "badge tone-neutral" }, h("span", { class: "badge-glyph", "aria-hidden": "true" }, "…"), "Waiting for the file"),
        backLink(),
      ),
    );
    const waitedMinute = Date.now() - state.pending.since > 60_000;
    renderIfChanged(pendingRegion, ["pending", error.message, job ? job.state : null, waitedMinute], () => {
      stopFollowingUpload();
      pendingView = renderPending({ error, since: state.pending.since, job });
      if (job) stopFollowingUpload = job.subscribe(() => pendingView?.update());
      return pendingView.element;
    });
  };

  const leavePending = () => {
    if (!state.pending) return;
    state.pending = null;
    stopFollowingUpload();
    stopFollowingUpload = () => {};
    renderIfChanged(pendingRegion, null, () => []);
  };

  // ------------------------------------------------------------------ retry

  const renderRetry = () => {
    renderIfChanged(retryRegion, [state.batch?.status, state.batch?.chunks, state.retrying], () => renderRetryAction(state.batch, { busy: state.retrying }));
    renderIfChanged(retryOutcomeRegion, [state.retryOutcome?.accepted ?? null, state.retryOutcome?.error?.message ?? null], () => renderRetryOutcome(state.retryOutcome));
  };

  const retry = async () => {
    if (state.retrying) return;
    state.retrying = true;
    state.retryOutcome = null;
    renderRetry();
    try {
      state.retryOutcome = { accepted: await retryBatch(batchId) };
      // A new run: its execution, chunks and records are read afresh, and the page follows it.
      Object.assign(state, { execution: null, executionError: null, executionKey: null, executionAt: 0, recordsKey: null, extraLooks: 0, autoSelected: false, selectedState: null });
      state.chunks = emptyChunkList(state.chunks.filter);
      state.chunk = null;
    } catch (error) {
      state.retryOutcome = { error };
    } finally {
      state.retrying = false;
    }
    renderRetry();
    if (state.retryOutcome.accepted) {
      if (poller.stopped) poller.start();
      else poller.refresh();
    }
  };

  retryRegion.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-action='retry-batch']")) retry();
  });

  const problems = pollProblem(problem, "the batch");
  const poller = new Poller(async (signal) => {
    let batch;
    try {
      batch = await getBatch(batchId, { signal });
    } catch (error) {
      if (error?.status === 404 && error.code === "upload_pending") {
        problems.clear();
        showPending(error);
        return true;
      }
      if (error?.status === 404) {
        leavePending();
        replace(headerRegion, pageHeader("Batch not found", null, backLink()));
        replace(problem, errorBox(error, { title: `There is no batch ${batchId}` }));
        return false;
      }
      problems.fail(error);
    }
    problems.clear();
    leavePending();
    state.batch = batch;
    batchSections.hidden = false;
    renderIfChanged(headerRegion, [batch.status, batch.dataset, batch.filename], () =>
      pageHeader(
        h("span", null, "Batch ", h("span", { class: "mono page-id" }, batch.batch_id)),
        batch.filename ? `${batch.filename} · ${batch.dataset}` : null,
        h("span", { "data-batch-status": batch.status }, statusBadge(batch.status)),
        backLink(),
      ),
    );
    renderIfChanged(replayRegion, [batch.replay_of ?? null, batch.replays ?? []], () => renderReplayLinks(batch));
    renderIfChanged(countsRegion, [batch.counts, batch.chunks, batch.chunks_total, batch.chunks_failed], () => renderCounts(batch));
    renderIfChanged(runsRegion, [batch.runs ?? [], batch.execution_arn], () => renderRuns(batch));
    renderRetry();
    inboxLink.hidden = !(batch.counts?.rejected > 0 || batch.status === "FAILED");
    renderIfChanged(costRegion, [batch.cost ?? null], () => costBreakdown(batch.cost ?? null));
    renderIfChanged(errorRegion, [batch.error], () => renderError(batch));
    renderIfChanged(progressRegion, progressKey(batch), () => renderProgress(batch));
    renderIfChanged(stagesRegion, [batch.stages, batch.chunks], () => renderStages(batch));
    renderIfChanged(timingsRegion, [batch.received_at, batch.started_at, batch.finished_at, batch.execution_arn, batch.size_bytes, TERMINAL.has(batch.status) ? 0 : Math.floor(Date.now() / 1000)], () => renderTimings(batch));

    await Promise.all([loadChunks(signal), loadChunkDetail(signal), loadExecution(signal)]);
    renderChunks();
    renderGraph();
    renderRecords();
    await loadRecords(signal);
    renderRecords();

    if (!TERMINAL.has(batch.status)) return true;
    const executionDone = state.execution ? state.execution.status !== "RUNNING" : true;
    state.extraLooks += 1;
    return !(executionDone || state.extraLooks > EXTRA_LOOKS_AFTER_TERMINAL);
  }, { interval: REFRESH_MS }).start();

  return () => {
    poller.stop();
    stopFollowingUpload();
  };
}
