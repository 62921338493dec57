// Overview: totals (and what everything cost, from GET /usage), running batches' stage
// progress, throughput, the stage funnel, the newest batches and the recent pipeline
// events, refreshed by polling the batch list.

import { getBatch, getUsage, listRecentBatches } from "../api.js";
import { funnel, throughputChart, throughputSeries } from "../charts.js";
import {
  TERMINAL,
  batchLink,
  batchProgress,
  chunkProgressBar,
  chunkSummary,
  emptyState,
  pageHeader,
  panel,
  progressBar,
  statCard,
  statusBadge,
  table,
} from "../components.js";
import { h, renderIfChanged } from "../dom.js";
import { durationBetween, formatAgo, formatBytes, formatClock, formatDuration, formatInt, formatUsd, formatValue, parseTime } from "../format.js";
import { Poller, pollProblem, stopsPolling } from "../poller.js";

const REFRESH_MS = 5_000;
const PAGES = 3;
const MAX_RUNNING_DETAILS = 8;
const NEWEST_ROWS = 15;
const EVENT_ROWS = 10;
// What everything cost changes with every batch, but it is a sum over all of them: less often.
const USAGE_EVERY_MS = 15_000;

export const STAGES = [
  { key: "validate", label: "Validate" },
  { key: "transform", label: "Transform" },
  { key: "enrich", label: "Enrich" },
  { key: "store", label: "Store" },
];

const EVENT_TYPE = {
  SUCCEEDED: { type: "BatchSucceeded", tone: "success", glyph: "✓" },
  COMPLETED_WITH_REJECTS: { type: "BatchCompletedWithRejects", tone: "warning", glyph: "!" },
  FAILED: { type: "BatchFailed", tone: "danger", glyph: "✕" },
};

function totals(batches) {
  const sum = { batches: batches.length, received: 0, processed: 0, rejected: 0, failed: 0, failedBatches: 0, running: 0 };
  for (const batch of batches) {
    sum.received += batch.counts?.received ?? 0;
    sum.processed += batch.counts?.processed ?? 0;
    sum.rejected += batch.counts?.rejected ?? 0;
    sum.failed += batch.counts?.failed ?? 0;
    if (batch.status === "FAILED") sum.failedBatches += 1;
    if (batch.status === "RUNNING" || batch.status === "RECEIVED") sum.running += 1;
  }
  return sum;
}

/** Records leaving each stage: from stage totals when known, else from the batch's counts. */
function funnelStages(batches, details) {
  const out = { received: 0, validate: 0, transform: 0, enrich: 0, store: 0 };
  for (const listed of batches) {
    const batch = details.get(listed.batch_id) ?? listed;
    const counts = batch.counts ?? {};
    out.received += counts.received ?? 0;
    const stages = batch.stages ?? {};
    if (Object.keys(stages).length) {
      for (const stage of STAGES) out[stage.key] += stages[stage.key]?.processed ?? 0;
    } else if (TERMINAL.has(batch.status)) {
      // Only validation rejects records; failed chunks count as not having got through.
      out.validate += Math.max(0, (counts.received ?? 0) - (counts.rejected ?? 0) - (counts.failed ?? 0));
      for (const key of ["transform", "enrich", "store"]) out[key] += counts.processed ?? 0;
    }
  }
  return [
    { key: "received", label: "Received", value: out.received },
    { key: "validate", label: "Validated", value: out.validate },
    { key: "transform", label: "Transformed", value: out.transform },
    { key: "enrich", label: "Enriched", value: out.enrich },
    { key: "store", label: "Stored", value: out.store },
  ];
}

function costCard(usage) {
  if (!usage) return null;
  const cost = usage.cost ?? {};
  const hint = [
    typeof usage.batches === "number" ? `${formatInt(usage.batches)} batches` : null,
    cost.prices_recorded ? `AWS list prices of ${formatValue(cost.prices_recorded)}` : "AWS list prices",
  ].filter(Boolean).join(" · ");
  return statCard({ id: "cost", label: "Cost so far", value: formatUsd(cost.total_usd), hint });
}

function renderTotals(sum, complete, usage = null) {
  return h(
    "div",
    { class: "stats" },
    statCard({ id: "batches", label: "Batches", value: formatInt(sum.batches), hint: complete ? `${formatInt(sum.running)} in flight` : `newest ${formatInt(sum.batches)} · ${formatInt(sum.running)} in flight` }),
    statCard({ id: "received", label: "Records received", value: formatInt(sum.received) }),
    statCard({ id: "processed", label: "Processed", value: formatInt(sum.processed), tone: "success" }),
    statCard({ id: "rejected", label: "Rejected", value: formatInt(sum.rejected), tone: "warning", hint: sum.failed ? `${formatInt(sum.failed)} failed` : null }),
    statCard({ id: "failed-batches", label: "Failed batches", value: formatInt(sum.failedBatches), tone: sum.failedBatches ? "danger" : null }),
    costCard(usage),
  );
}

export function stageProgressRows(batch) {
  const total = chunkSummary(batch).total ?? 0;
  return h(
    "div",
    { class: "stage-rows" },
    STAGES.map((stage) => {
      const summary = batch.stages?.[stage.key] ?? {};
      const done = summary.chunks_done ?? 0;
      return h(
        "div",
        { class: "stage-row", "data-stage": stage.key },
        h("span", { class: "stage-name" }, stage.label),
        progressBar({
          label: `${stage.label}: ${done} of ${total} chunks`,
          total: Math.max(total, 1),
          caption: `${formatInt(done)}/${formatInt(total)} chunks`,
          segments: [{ value: total ? done : 0, tone: done >= total && total ? "success" : "info", label: "Chunks done" }],
        }),
        h("span", { class: "stage-records" }, `${formatInt(summary.received ?? 0)} in → ${formatInt(summary.processed ?? 0)} out`),
      );
    }),
  );
}

/** A running batch's chunks, or how far split has read its file before the chunks are counted. */
function runningProgress(batchId, batch) {
  const chunks = chunkSummary(batch);
  if (chunks.total) return h("div", { class: "running-chunks" }, chunkProgressBar(chunks, { label: `Batch ${batchId} chunks` }));
  if (typeof batch.split_bytes_read !== "number") return null;
  const size = typeof batch.size_bytes === "number" && batch.size_bytes > 0 ? batch.size_bytes : null;
  const read = size ? Math.min(batch.split_bytes_read, size) : batch.split_bytes_read;
  return h(
    "div",
    { class: "running-chunks" },
    progressBar({
      label: `Batch ${batchId}: file read by split`,
      total: size ?? 1,
      caption: size ? `splitting · ${formatBytes(read)} of ${formatBytes(size)}` : `splitting · ${formatBytes(read)} read`,
      segments: [{ value: size ? read : 0, tone: "info", label: "Read" }],
      indeterminate: !size,
    }),
  );
}

function renderRunning(running, details) {
  if (!running.length) return emptyState("No batch is running right now.");
  return h(
    "div",
    { class: "running-list" },
    running.map((listed) => {
      const batch = details.get(listed.batch_id) ?? listed;
      return h(
        "article",
        { class: "running-card", "data-batch": listed.batch_id },
        h(
          "div",
          { class: "running-head" },
          batchLink(listed.batch_id, { short: true }),
          statusBadge(batch.status),
          h("span", { class: "muted" }, `${formatInt(batch.counts?.received ?? 0)} records · ${batch.dataset}`),
        ),
        runningProgress(listed.batch_id, batch),
        stageProgressRows(batch),
      );
    }),
  );
}

function renderBatchesTable(batches, details, now) {
  const rows = batches.slice(0, NEWEST_ROWS).map((batch) => {
    const counts = batch.counts ?? {};
    const duration = durationBetween(batch.received_at, batch.finished_at);
    return h(
      "tr",
      { "data-batch": batch.batch_id },
      h("td", null, batchLink(batch.batch_id, { short: true })),
      h("td", null, statusBadge(batch.status)),
      h("td", { class: "cell-progress" }, batchProgress(batch, details.get(batch.batch_id))),
      h("td", { class: "num" }, formatInt(counts.received)),
      h("td", { class: "num" }, formatInt(counts.processed)),
      h("td", { class: "num" }, formatInt(counts.rejected)),
      h("td", { class: "num" }, formatInt(counts.failed)),
      h("td", null, h("span", { title: batch.received_at }, formatAgo(batch.received_at, now))),
      h("td", { class: "num" }, duration === null ? "—" : formatDuration(duration)),
    );
  });
  return table({
    caption: "Newest batches",
    empty: "No batches yet. Post one from the Ingest page.",
    columns: [
      { label: "Batch" },
      { label: "Status" },
      { label: "Progress" },
      { label: "Received", className: "num" },
      { label: "Processed", className: "num" },
      { label: "Rejected", className: "num" },
      { label: "Failed", className: "num" },
      { label: "Posted" },
      { label: "Took", className: "num" },
    ],
    rows,
  });
}

function renderEvents(batches) {
  const finished = batches
    .filter((batch) => TERMINAL.has(batch.status) && batch.finished_at)
    .sort((a, b) => parseTime(b.finished_at) - parseTime(a.finished_at))
    .slice(0, EVENT_ROWS);
  if (!finished.length) return emptyState("No pipeline events yet.");
  return h(
    "ol",
    { class: "events" },
    finished.map((batch) => {
      const event = EVENT_TYPE[batch.status];
      const counts = batch.counts ?? {};
      return h(
        "li",
        { class: ["event", `tone-${event.tone}`], "data-event": event.type },
        h("span", { class: "event-dot", "aria-hidden": "true" }, event.glyph),
        h(
          "div",
          { class: "event-body" },
          h("div", { class: "event-line" }, h("span", { class: "event-type" }, event.type), h("time", { datetime: batch.finished_at, class: "event-time" }, formatClock(batch.finished_at))),
          h(
            "div",
            { class: "event-meta" },
            batchLink(batch.batch_id, { short: true }),
            h("span", null, ` · ${formatInt(counts.processed)} processed, ${formatInt(counts.rejected)} rejected${counts.failed ? `, ${formatInt(counts.failed)} failed` : ""}`),
          ),
          batch.error ? h("div", { class: "event-error" }, `${batch.error.type}: ${batch.error.message}`) : null,
        ),
      );
    }),
  );
}

export function mountOverview(container) {
  const totalsRegion = h("div", { class: "region", "aria-live": "off" });
  const runningRegion = h("div", { class: "region" });
  const chartRegion = h("div", { class: "region" });
  const funnelRegion = h("div", { class: "region" });
  const tableRegion = h("div", { class: "region" });
  const eventsRegion = h("div", { class: "region" });
  const problem = h("div", { class: "region" });

  container.appendChild(
    h(
      "div",
      { class: "view view-overview" },
      pageHeader("Overview", "Every batch the API lists, refreshed every few seconds.", h("a", { href: "#/ingest", class: "button button-primary" }, "Ingest data")),
      problem,
      totalsRegion,
      h(
        "div",
        { class: "grid grid-2-1" },
        panel({ title: "Throughput", id: "throughput" }, chartRegion),
        panel({ title: "Stage funnel", id: "funnel" }, funnelRegion),
      ),
      h(
        "div",
        { class: "grid grid-2-1" },
        panel({ title: "Running batches", id: "running" }, runningRegion),
        panel({ title: "Recent pipeline events", id: "events" }, eventsRegion),
      ),
      panel({ title: "Newest batches", id: "newest" }, tableRegion),
    ),
  );

  let lastSeries = null;
  const usage = { value: null, at: 0, unavailable: false };
  const loadUsage = async (signal) => {
    if (usage.unavailable || Date.now() - usage.at < USAGE_EVERY_MS) return;
    try {
      usage.value = await getUsage({ signal });
    } catch (error) {
      if (stopsPolling(error)) throw error;
      // A key without the scope, or an API without the route: the overview goes on without it.
      if (error?.scope || error?.status === 404) usage.unavailable = true;
    }
    usage.at = Date.now();
  };
  const drawChart = () => {
    const width = Math.max(280, Math.min(960, Math.round(chartRegion.clientWidth || 720)));
    renderIfChanged(chartRegion, [lastSeries, width], () => throughputChart(lastSeries, width));
  };
  let resizeTimer = null;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawChart, 150);
  };
  window.addEventListener("resize", onResize);

  const problems = pollProblem(problem, "batches");
  const poller = new Poller(async (signal) => {
    let listing;
    try {
      [listing] = await Promise.all([listRecentBatches({ pages: PAGES, signal }), loadUsage(signal)]);
    } catch (error) {
      problems.fail(error);
    }
    problems.clear();
    const { batches, complete } = listing;
    const running = batches.filter((batch) => batch.status === "RUNNING").slice(0, MAX_RUNNING_DETAILS);
    const details = new Map();
    await Promise.all(
      running.map(async (batch) => {
        try {
          details.set(batch.batch_id, await getBatch(batch.batch_id, { signal }));
        } catch (error) {
          if (stopsPolling(error)) throw error;
        }
      }),
    );
    const now = Date.now();
    const minute = Math.floor(now / 60_000);
    renderIfChanged(totalsRegion, [totals(batches), complete, usage.value], () => renderTotals(totals(batches), complete, usage.value));
    lastSeries = throughputSeries(batches, now);
    drawChart();
    const stages = funnelStages(batches, details);
    renderIfChanged(funnelRegion, stages, () => funnel(stages));
    const runningDetails = running.map((batch) => details.get(batch.batch_id) ?? batch);
    renderIfChanged(runningRegion, runningDetails, () => renderRunning(running, details));
    const newest = batches.slice(0, NEWEST_ROWS);
    renderIfChanged(tableRegion, [newest, runningDetails, minute], () => renderBatchesTable(batches, details, now));
    renderIfChanged(eventsRegion, batches.filter((batch) => TERMINAL.has(batch.status)).slice(0, 50).map((batch) => [batch.batch_id, batch.status]), () => renderEvents(batches));
  }, { interval: REFRESH_MS }).start();

  return () => {
    poller.stop();
    clearTimeout(resizeTimer);
    window.removeEventListener("resize", onResize);
  };
}
