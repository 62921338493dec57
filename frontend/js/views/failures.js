// Failures: failed batches with their errors, and rejected records across recent batches,
// filterable by the rule that rejected them.

import { getRecords, listRecentBatches } from "../api.js";
import { TERMINAL, batchLink, emptyState, pageHeader, panel, rawValues, reasonsList, statusBadge, table } from "../components.js";
import { h, renderIfChanged, replace } from "../dom.js";
import { formatAgo, formatDateTime, formatInt, formatValue } from "../format.js";
import { Poller } from "../poller.js";

const REFRESH_MS = 15_000;
const MAX_BATCHES_WITH_REJECTS = 10;
const REJECTS_PER_BATCH = 100;
const ALL_RULES = "";

function renderFailedBatches(batches, now) {
  const failed = batches.filter((batch) => batch.status === "FAILED" || (batch.counts?.failed ?? 0) > 0);
  const rows = failed.map((batch) =>
    h(
      "tr",
      { "data-batch": batch.batch_id },
      h("td", null, batchLink(batch.batch_id, { short: true })),
      h("td", null, statusBadge(batch.status)),
      h("td", null, h("span", { title: formatDateTime(batch.finished_at ?? batch.received_at) }, formatAgo(batch.finished_at ?? batch.received_at, now))),
      h("td", null, batch.error ? h("code", { class: "error-code" }, formatValue(batch.error.type)) : h("span", { class: "muted" }, "—")),
      h("td", { class: "wrap cell-message" }, batch.error ? formatValue(batch.error.message) : `${formatInt(batch.chunks_failed)} chunk(s) failed`),
      h("td", { class: "num" }, formatInt(batch.counts?.failed)),
      h("td", { class: "num" }, formatInt(batch.counts?.received)),
    ),
  );
  return table({
    caption: "Failed batches",
    empty: "No failed batches. Good.",
    columns: [
      { label: "Batch" },
      { label: "Status" },
      { label: "When" },
      { label: "Error" },
      { label: "Message" },
      { label: "Failed records", className: "num" },
      { label: "Received", className: "num" },
    ],
    rows,
  });
}

function ruleCounts(rejects) {
  const counts = new Map();
  for (const item of rejects) {
    for (const rule of new Set((item.reasons ?? []).map((reason) => formatValue(reason.rule)))) counts.set(rule, (counts.get(rule) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function renderRejects(rejects, rule) {
  const shown = rule === ALL_RULES ? rejects : rejects.filter((item) => (item.reasons ?? []).some((reason) => formatValue(reason.rule) === rule));
  const rows = shown.map((item) =>
    h(
      "tr",
      { "data-line": item.lineage?.line ?? item.line },
      h("td", null, batchLink(item.batch_id ?? item.lineage?.batch_id, { short: true })),
      h("td", { class: "num" }, formatInt(item.lineage?.line ?? item.line)),
      h("td", { class: "cell-reasons" }, reasonsList(item.reasons, rule === ALL_RULES ? null : rule)),
      h("td", { class: "cell-values" }, rawValues(item)),
    ),
  );
  return [
    h("p", { class: "hint", id: "rejects-count", role: "status" }, `Showing ${formatInt(shown.length)} of ${formatInt(rejects.length)} rejected records.`),
    table({
      caption: "Rejected records across recent batches",
      empty: "No rejected record matches.",
      className: "table-rejects",
      columns: [{ label: "Batch" }, { label: "Line", className: "num" }, { label: "Reasons" }, { label: "Values as received" }],
      rows,
    }),
  ];
}

export function mountFailures(container) {
  const failedRegion = h("div", { class: "region" });
  const filterRegion = h("div", { class: "region filter-bar" });
  const rejectsRegion = h("div", { class: "region" });
  const problem = h("div", { class: "region" });
  const cache = new Map();
  let rejects = [];
  let rule = ALL_RULES;
  let partialNote = null;

  const select = h("select", { id: "rule-filter", class: "input select" });
  select.addEventListener("change", () => {
    rule = select.value;
    replace(rejectsRegion, renderRejects(rejects, rule));
  });

  container.appendChild(
    h(
      "div",
      { class: "view view-failures" },
      pageHeader("Failures", "Batches that failed, and the records validation rejected, newest batches first."),
      problem,
      panel({ title: "Failed batches", id: "failed-batches" }, failedRegion),
      panel({ title: "Rejected records", id: "rejected-records", actions: filterRegion }, rejectsRegion),
    ),
  );

  const poller = new Poller(async (signal) => {
    let batches;
    try {
      ({ batches } = await listRecentBatches({ pages: 3, signal }));
    } catch (error) {
      if (!error?.auth && error?.name !== "AbortError") {
        renderIfChanged(problem, ["error", error.message], () => h("p", { class: "alert alert-danger", role: "alert" }, `Could not load batches: ${error.message}`));
      }
      throw error;
    }
    renderIfChanged(problem, null, () => []);
    const now = Date.now();
    renderIfChanged(failedRegion, [batches.filter((batch) => batch.status === "FAILED" || batch.counts?.failed), Math.floor(now / 60_000)], () => renderFailedBatches(batches, now));

    const withRejects = batches.filter((batch) => (batch.counts?.rejected ?? 0) > 0).slice(0, MAX_BATCHES_WITH_REJECTS);
    const pages = await Promise.all(
      withRejects.map(async (batch) => {
        const cached = cache.get(batch.batch_id);
        if (cached && cached.rejected === batch.counts.rejected && TERMINAL.has(batch.status)) return cached.records;
        const page = await getRecords(batch.batch_id, "rejected", { limit: REJECTS_PER_BATCH, signal });
        const records = page.records.map((item) => ({ ...item, batch_id: batch.batch_id }));
        cache.set(batch.batch_id, { rejected: batch.counts.rejected, records });
        return records;
      }),
    );
    rejects = pages.flat();
    const counts = ruleCounts(rejects);
    if (rule !== ALL_RULES && !counts.some(([name]) => name === rule)) rule = ALL_RULES;
    renderIfChanged(filterRegion, counts, () => {
      replace(
        select,
        h("option", { value: ALL_RULES }, `All rules (${formatInt(rejects.length)})`),
        counts.map(([name, count]) => h("option", { value: name }, `${name} (${formatInt(count)})`)),
      );
      select.value = rule;
      return h("div", { class: "filter" }, h("label", { for: "rule-filter", class: "label label-inline" }, "Rule"), select);
    });
    const note = batches.filter((batch) => (batch.counts?.rejected ?? 0) > 0).length > MAX_BATCHES_WITH_REJECTS
      ? `From the ${MAX_BATCHES_WITH_REJECTS} newest batches with rejects (up to ${REJECTS_PER_BATCH} each).`
      : null;
    partialNote = note;
    renderIfChanged(rejectsRegion, [rejects.map((item) => [item.batch_id, item.lineage?.line]), rule, partialNote], () =>
      rejects.length ? [renderRejects(rejects, rule), partialNote ? h("p", { class: "hint" }, partialNote) : null] : emptyState("No rejected records in recent batches."),
    );
  }, { interval: REFRESH_MS }).start();

  return () => poller.stop();
}
