// The failure inbox (#/failures): failed batches, failed chunks, rejected records grouped
// by rule and dead letters, newest first, from GET /failures; filterable by dataset, rule,
// batch and state (the filters live in the route's query, so a link or a reload shows the
// same items). A selection takes bulk actions: retry chunks, edit and replay rejects,
// redrive or discard dead letters, mark handled with a note. The page is one client of
// the API: every action is a route, and every item's state is what the API says.

import {
  discardDeadLetters,
  handleFailures,
  listDatasets,
  listBatches,
  listDeadLetters,
  listFailures,
  redriveDeadLetters,
  retryBatch,
} from "../../api.js";
import { batchLink, emptyState, errorBox, pageHeader, panel } from "../../components.js";
import { h, renderIfChanged, replace } from "../../dom.js";
import { formatInt, formatValue } from "../../format.js";
import { Poller, pollProblem, stopsPolling } from "../../poller.js";
import { STATES, canReplay, canRetry, isDeadLetter, itemKey, renderInboxList, renderSummary } from "./items.js";
import { createReplayEditor } from "./replay.js";

const REFRESH_MS = 15_000;
const PAGE = 100;
// The dead-letter queues are peeked (each look hides their messages for a moment): seldom.
const DEAD_LETTERS_EVERY_MS = 30_000;
const DEFAULT_STATE = "open";

function filtersFrom(queryString) {
  const query = new URLSearchParams(queryString ?? "");
  return {
    dataset: query.get("dataset") ?? "",
    rule: query.get("rule") ?? "",
    batch: query.get("batch") ?? "",
    state: query.has("state") ? query.get("state") : DEFAULT_STATE,
  };
}

function queryOf(filters) {
  const query = new URLSearchParams();
  for (const name of ["dataset", "rule", "batch"]) if (filters[name]) query.set(name, filters[name]);
  if (filters.state !== DEFAULT_STATE) query.set("state", filters.state);
  const text = query.toString();
  return text ? `?${text}` : "";
}

function plural(count, one, many = `${one}s`) {
  return `${formatInt(count)} ${count === 1 ? one : many}`;
}

export function mountInbox(container, { params }) {
  const filters = filtersFrom(params[0]);
  const state = {
    items: [],
    extra: [],
    next: null,
    extraNext: null,
    loadedMore: false,
    loaded: false,
    error: null,
    loadingMore: false,
    deadLetters: new Map(),
    deadLettersKey: null,
    deadLettersAt: 0,
    datasets: [],
    datasetInfo: [],
    datasetsAsked: false,
    missingBatch: null,
    rules: new Map(),
    busy: null,
    confirm: null,
  };
  // What is selected, by item key, with the item as it was when selected.
  const selected = new Map();
  let editorController = null;

  // ------------------------------------------------------------------ layout

  const problem = h("div", { class: "region" });
  const summaryRegion = h("div", { class: "region" });
  const listRegion = h("div", { class: "region", "data-region": "inbox" });
  const moreRegion = h("div", { class: "region" });
  const resultsRegion = h("div", { class: "region inbox-results", "aria-live": "polite", "data-region": "results" });
  const editorRegion = h("div", { class: "region" });
  const editorPanel = panel({ title: "Edit and replay", id: "replay-editor", className: "panel-editor" }, editorRegion);
  editorPanel.hidden = true;

  const datasetSelect = h("select", { id: "inbox-dataset", class: "input select" });
  const ruleSelect = h("select", { id: "inbox-rule", class: "input select" });
  const stateSelect = h("select", { id: "inbox-state", class: "input select" }, STATES.map((option) => h("option", { value: option.value }, option.label)));
  const batchInput = h("input", { id: "inbox-batch", type: "search", class: "input mono inbox-batch-input", placeholder: "any batch", autocomplete: "off", spellcheck: "false", value: filters.batch });
  const clearFilters = h("button", { type: "button", class: "button button-quiet", "data-action": "clear-filters" }, "Clear filters");
  const filterBar = h(
    "div",
    { class: "inbox-filters", role: "group", "aria-label": "Filter the failures" },
    h("div", { class: "filter" }, h("label", { for: "inbox-state", class: "label label-inline" }, "State"), stateSelect),
    h("div", { class: "filter" }, h("label", { for: "inbox-dataset", class: "label label-inline" }, "Dataset"), datasetSelect),
    h("div", { class: "filter" }, h("label", { for: "inbox-rule", class: "label label-inline" }, "Rule"), ruleSelect),
    h("div", { class: "filter filter-grow" }, h("label", { for: "inbox-batch", class: "label label-inline" }, "Batch"), batchInput),
    clearFilters,
  );

  const selectionCount = h("span", { class: "action-count", id: "selection-count", role: "status" }, "Nothing selected");
  const actionButton = (action, label) => h("button", { type: "button", class: "button", "data-action": action, "data-focus-key": action, disabled: true }, label);
  const buttons = {
    retry: actionButton("retry", "Retry chunks"),
    replay: actionButton("replay", "Edit and replay"),
    redrive: actionButton("redrive", "Redrive"),
    discard: actionButton("discard", "Discard"),
    handle: actionButton("handle", "Mark handled"),
  };
  const selectAll = h("button", { type: "button", class: "link-button", "data-action": "select-all" }, "Select all shown");
  const clearSelection = h("button", { type: "button", class: "link-button", "data-action": "clear-selection", hidden: true }, "Clear selection");
  const noteInput = h("textarea", { id: "action-note", class: "input action-note", rows: 2, "aria-describedby": "action-note-hint" });
  const noteHint = h("p", { class: "hint", id: "action-note-hint" });
  const confirmButton = h("button", { type: "button", class: "button button-primary", "data-action": "confirm" }, "Confirm");
  const cancelButton = h("button", { type: "button", class: "button button-quiet", "data-action": "cancel" }, "Cancel");
  const noteLabel = h("label", { for: "action-note", class: "label" }, "Note");
  const confirmArea = h(
    "div",
    { class: "action-confirm", hidden: true, "data-region": "confirm" },
    noteLabel,
    noteInput,
    noteHint,
    h("div", { class: "row-actions" }, confirmButton, cancelButton),
  );
  const actionBar = h(
    "div",
    { class: "action-bar", role: "group", "aria-label": "Act on the selected failures" },
    h("div", { class: "action-bar-row" }, selectionCount, selectAll, clearSelection, h("div", { class: "action-buttons" }, Object.values(buttons))),
    confirmArea,
  );

  container.appendChild(
    h(
      "div",
      { class: "view view-inbox" },
      pageHeader("Failures", "One inbox for what went wrong: failed batches and chunks, rejected records by rule, dead letters. Newest first."),
      problem,
      panel(
        { title: "Inbox", id: "inbox-list" },
        filterBar,
        summaryRegion,
        actionBar,
        resultsRegion,
        listRegion,
        moreRegion,
      ),
      editorPanel,
    ),
  );
  stateSelect.value = filters.state;

  // ------------------------------------------------------------------ filters

  const syncSelect = (select, options, value) => {
    const key = JSON.stringify([options, value]);
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    replace(select, options.map(([optionValue, label]) => h("option", { value: optionValue }, label)));
    select.value = value;
  };

  const syncFilters = () => {
    const datasets = [...new Set([...state.datasets, ...(filters.dataset ? [filters.dataset] : [])])];
    syncSelect(datasetSelect, [["", "All datasets"], ...datasets.map((name) => [name, name])], filters.dataset);
    const rules = new Map(state.rules);
    if (filters.rule && !rules.has(filters.rule)) rules.set(filters.rule, null);
    const ruleOptions = [...rules.entries()].sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0) || a[0].localeCompare(b[0]));
    syncSelect(ruleSelect, [["", "All rules"], ...ruleOptions.map(([rule, count]) => [rule, count === null ? rule : `${rule} (${formatInt(count)})`])], filters.rule);
    clearFilters.hidden = !(filters.dataset || filters.rule || filters.batch || filters.state !== DEFAULT_STATE);
  };

  const filtersKey = () => JSON.stringify(filters);

  // Refresh now, or as soon as the refresh under way has finished (its answer may predate an action).
  const refreshSoon = () => {
    if (poller.running) setTimeout(refreshSoon, 250);
    else poller.refresh();
  };

  const applyFilters = () => {
    history.replaceState(null, "", `#/failures${queryOf(filters)}`);
    Object.assign(state, { items: [], extra: [], next: null, extraNext: null, loadedMore: false, loaded: false, error: null });
    syncFilters();
    renderList();
    refreshSoon();
  };

  stateSelect.addEventListener("change", () => {
    filters.state = stateSelect.value;
    applyFilters();
  });
  datasetSelect.addEventListener("change", () => {
    filters.dataset = datasetSelect.value;
    applyFilters();
  });
  ruleSelect.addEventListener("change", () => {
    filters.rule = ruleSelect.value;
    applyFilters();
  });
  batchInput.addEventListener("change", () => {
    const value = batchInput.value.trim();
    if (value === filters.batch) return;
    filters.batch = value;
    applyFilters();
  });
  clearFilters.addEventListener("click", () => {
    Object.assign(filters, { dataset: "", rule: "", batch: "", state: DEFAULT_STATE });
    batchInput.value = "";
    stateSelect.value = DEFAULT_STATE;
    applyFilters();
    stateSelect.focus();
  });

  // ------------------------------------------------------------------ the list and the selection

  const visibleItems = () => {
    const seen = new Set(state.items.map(itemKey));
    return [...state.items, ...state.extra.filter((item) => !seen.has(itemKey(item)))];
  };

  const selectedItems = () => [...selected.values()];

  const syncActions = () => {
    const items = selectedItems();
    const count = (predicate) => items.filter(predicate).length;
    const counts = {
      retry: count(canRetry),
      replay: count(canReplay),
      redrive: count(isDeadLetter),
      discard: count(isDeadLetter),
      handle: items.length,
    };
    const labels = { retry: "Retry chunks", replay: "Edit and replay", redrive: "Redrive", discard: "Discard", handle: "Mark handled" };
    for (const [action, button] of Object.entries(buttons)) {
      button.disabled = Boolean(state.busy) || counts[action] === 0;
      button.textContent = state.busy === action ? "Working…" : counts[action] ? `${labels[action]} (${formatInt(counts[action])})` : labels[action];
    }
    selectionCount.textContent = items.length ? `${plural(items.length, "failure")} selected` : "Nothing selected";
    clearSelection.hidden = items.length === 0;
    const shown = visibleItems();
    selectAll.hidden = !shown.length || shown.every((item) => selected.has(itemKey(item)));
    if (state.confirm && counts[state.confirm] === 0) closeConfirm();
  };

  const syncRows = () => {
    const rows = listRegion.querySelectorAll("tr[data-item-key]");
    let all = rows.length > 0;
    for (const row of rows) {
      const key = row.getAttribute("data-item-key");
      const on = selected.has(key);
      row.classList.toggle("is-selected", on);
      const box = row.querySelector("input[data-select-key]");
      if (box) box.checked = on;
      all &&= on;
    }
    const selectAll = listRegion.querySelector("input[data-select-all]");
    if (selectAll) {
      selectAll.checked = all;
      selectAll.indeterminate = !all && selected.size > 0 && [...rows].some((row) => selected.has(row.getAttribute("data-item-key")));
    }
    syncActions();
  };

  const renderList = () => {
    const items = visibleItems();
    const minute = Math.floor(Date.now() / 60_000);
    const deadLetters = [...state.deadLetters.entries()];
    renderIfChanged(listRegion, [items, deadLetters, state.loaded, state.error?.message ?? null, state.missingBatch ?? null, minute], () =>
      state.missingBatch
        ? emptyState(`There is no batch ${state.missingBatch}.`)
        : renderInboxList({ items, loaded: state.loaded, error: state.error, selected, deadLetters: state.deadLetters, now: Date.now() }),
    );
    renderIfChanged(summaryRegion, [state.loaded, items.map((item) => [item.kind, item.count]), Boolean(state.loadedMore ? state.extraNext : state.next)], () =>
      state.loaded ? renderSummary(items, !(state.loadedMore ? state.extraNext : state.next)) : [],
    );
    const next = state.loadedMore ? state.extraNext : state.next;
    renderIfChanged(moreRegion, [Boolean(next), state.loadingMore], () =>
      next
        ? h("div", { class: "chunk-table-foot" }, h("button", { type: "button", class: "button", "data-action": "more", disabled: state.loadingMore }, state.loadingMore ? "Loading…" : "Load more"))
        : [],
    );
    syncRows();
  };

  listRegion.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.hasAttribute("data-select-all")) {
      for (const item of visibleItems()) {
        if (target.checked) selected.set(itemKey(item), item);
        else selected.delete(itemKey(item));
      }
    } else if (target.hasAttribute("data-select-key")) {
      const key = target.getAttribute("data-select-key");
      const item = visibleItems().find((candidate) => itemKey(candidate) === key);
      if (target.checked && item) selected.set(key, item);
      else selected.delete(key);
    }
    syncRows();
  });

  // ------------------------------------------------------------------ loading

  const loadDeadLetters = async (items, signal) => {
    const ids = items.filter(isDeadLetter).map((item) => item.message_id).sort();
    if (!ids.length) return;
    const key = JSON.stringify(ids);
    if (key === state.deadLettersKey && Date.now() - state.deadLettersAt < DEAD_LETTERS_EVERY_MS) return;
    try {
      const answer = await listDeadLetters({ signal });
      state.deadLetters = new Map((answer.messages ?? []).map((message) => [message.message_id, message]));
      state.deadLettersKey = key;
      state.deadLettersAt = Date.now();
    } catch (error) {
      // The list still shows each dead letter from the inbox's own item.
      if (stopsPolling(error)) throw error;
    }
  };

  const loadDatasets = async (signal) => {
    if (state.datasets.length || state.datasetsAsked) return;
    state.datasetsAsked = true;
    try {
      state.datasetInfo = (await listDatasets({ signal })).datasets ?? [];
      state.datasets = state.datasetInfo.map((dataset) => dataset.name);
    } catch (error) {
      state.datasetsAsked = false;
      if (stopsPolling(error)) throw error;
    }
  };

  const requiredFor = (dataset) => {
    const info = (state.datasetInfo ?? []).find((candidate) => candidate.name === dataset);
    const required = info?.required_fields ?? info?.required ?? [];
    return Array.isArray(required) ? required.map(formatValue) : [];
  };

  const problems = pollProblem(problem, "the failure inbox");
  const poller = new Poller(async (signal) => {
    await loadDatasets(signal);
    let page;
    let asked;
    // Filters changed while a page was on its way: ask again with the new ones.
    do {
      asked = filtersKey();
      try {
        page = await listFailures({ ...filters, state: filters.state || null, limit: PAGE, signal });
      } catch (error) {
        if (stopsPolling(error)) throw error;
        // An answer to filters no longer shown says nothing: ask again with the new ones.
        if (asked !== filtersKey()) continue;
        if (error?.scope) {
          // A refused key is refused everywhere: a read it may do tells a revoked key (signed
          // out from there) from one that only lacks the admin scope.
          await listBatches({ limit: 1, signal });
        }
        if (error?.status === 404 && filters.batch) {
          // A batch filter naming no batch: an empty inbox that says why, not an outage.
          Object.assign(state, { items: [], next: null, loaded: true, error: null, missingBatch: filters.batch });
          problems.clear();
          syncFilters();
          renderList();
          return true;
        }
        if (error?.scope || error?.status === 404) {
          // Not an outage: this key may not read the inbox (or the API has no inbox). Say so and stop.
          Object.assign(state, { error, loaded: false });
          problems.clear();
          renderList();
          return false;
        }
        problems.fail(error);
      }
    } while (asked !== filtersKey());
    problems.clear();
    Object.assign(state, { items: page.items ?? [], next: page.next ?? null, loaded: true, error: null, missingBatch: null });
    if (!filters.rule) {
      state.rules = new Map();
      for (const item of state.items) if (item.rule) state.rules.set(item.rule, (state.rules.get(item.rule) ?? 0) + (item.count ?? 0));
    } else {
      for (const item of state.items) if (item.rule && !state.rules.has(item.rule)) state.rules.set(item.rule, null);
    }
    // What is selected stays selected while it is listed, with its state as the API now says.
    const listed = new Map(visibleItems().map((item) => [itemKey(item), item]));
    for (const key of [...selected.keys()]) {
      if (listed.has(key)) selected.set(key, listed.get(key));
      else selected.delete(key);
    }
    await loadDeadLetters(visibleItems(), signal);
    syncFilters();
    renderList();
  }, { interval: REFRESH_MS });

  const loadMore = async () => {
    const next = state.loadedMore ? state.extraNext : state.next;
    if (!next || state.loadingMore) return;
    state.loadingMore = true;
    renderList();
    const asked = filtersKey();
    try {
      const page = await listFailures({ ...filters, state: filters.state || null, limit: PAGE, next });
      if (asked === filtersKey()) Object.assign(state, { extra: [...state.extra, ...(page.items ?? [])], extraNext: page.next ?? null, loadedMore: true });
    } catch (error) {
      showResults(errorBox(error, { title: "Could not load more failures" }));
    } finally {
      state.loadingMore = false;
    }
    renderList();
    moreRegion.querySelector("[data-action='more']")?.focus();
  };
  moreRegion.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-action='more']")) loadMore();
  });

  // ------------------------------------------------------------------ actions

  const showResults = (...children) => replace(resultsRegion, ...children);

  const outcomeList = (entries) => h("ul", { class: "outcome-list" }, entries);

  // One message's outcome of a redrive or a discard: moved, moving, retried, deleted or skipped (why).
  const messageOutcomes = (results) =>
    outcomeList(
      results.map((result) =>
        h(
          "li",
          { class: ["outcome", result.outcome === "skipped" ? "is-error" : "is-ok"], "data-message": formatValue(result.message_id), "data-outcome": formatValue(result.outcome) },
          h("span", { class: "mono" }, formatValue(result.message_id)),
          `: ${formatValue(result.outcome)}`,
          result.reason ? ` (${formatValue(result.reason)})` : null,
        ),
      ),
    );

  const settle = async (action, work) => {
    state.busy = action;
    syncActions();
    try {
      await work();
    } finally {
      state.busy = null;
      syncActions();
      refreshSoon();
    }
  };

  const retrySelected = () =>
    settle("retry", async () => {
      const byBatch = new Map();
      for (const item of selectedItems().filter(canRetry)) {
        const want = byBatch.get(item.batch_id) ?? { whole: false, chunks: new Set(), keys: [] };
        const chunk = typeof item.chunk === "number" ? item.chunk : item.error?.chunk;
        if (item.kind === "batch" || typeof chunk !== "number") want.whole = true;
        else want.chunks.add(chunk);
        want.keys.push(itemKey(item));
        byBatch.set(item.batch_id, want);
      }
      const entries = [...byBatch.entries()];
      const answers = await Promise.allSettled(
        entries.map(([batchId, want]) => retryBatch(batchId, { chunks: want.whole ? null : [...want.chunks].sort((a, b) => a - b) })),
      );
      let failed = 0;
      const lines = answers.map((answer, index) => {
        const [batchId, want] = entries[index];
        if (answer.status === "fulfilled") {
          for (const key of want.keys) selected.delete(key);
          const run = answer.value;
          const what = run.kind === "rerun" ? "from the start" : run.chunks ? `chunk${run.chunks.length === 1 ? "" : "s"} ${run.chunks.join(", ")}` : "every failed chunk";
          return h(
            "li",
            { class: "outcome is-ok", "data-retried": batchId, "data-run": String(run.run) },
            batchLink(batchId, { short: true }),
            `: run #${formatInt(run.run)} started for ${what}, as execution `,
            h("span", { class: "mono" }, formatValue(run.execution_name)),
          );
        }
        failed += 1;
        const error = answer.reason;
        return h(
          "li",
          { class: "outcome is-error", "data-retry-refused": batchId },
          batchLink(batchId, { short: true }),
          ": ",
          error?.code ? h("code", { class: "error-code" }, error.code) : null,
          " ",
          error?.scope ? "retrying needs a key with the admin scope" : formatValue(error?.message ?? error),
        );
      });
      showResults(
        h(
          "div",
          { class: ["alert", failed ? "alert-danger" : "alert-success"], role: failed ? "alert" : "status" },
          h("p", { class: "alert-title" }, failed ? `${plural(entries.length - failed, "retry", "retries")} started, ${formatInt(failed)} refused` : `${plural(entries.length, "retry", "retries")} started`),
          outcomeList(lines),
        ),
      );
    });

  const redriveSelected = () =>
    settle("redrive", async () => {
      const chosen = selectedItems().filter(isDeadLetter);
      try {
        const answer = await redriveDeadLetters({ messageIds: chosen.map((item) => item.message_id) });
        const results = answer.results ?? [];
        for (const item of chosen) selected.delete(itemKey(item));
        const moved = results.filter((result) => result.outcome !== "skipped").length;
        showResults(
          h(
            "div",
            { class: ["alert", moved === results.length ? "alert-success" : "alert-info"], role: "status", "data-redrive-results": String(results.length) },
            h("p", { class: "alert-title" }, `${plural(moved, "message")} redriven${results.length > moved ? `, ${formatInt(results.length - moved)} skipped` : ""}`),
            messageOutcomes(results),
          ),
        );
      } catch (error) {
        showResults(errorBox(error, { title: error?.scope ? "Redriving needs a key with the admin scope" : "The redrive was refused" }));
      }
    });

  const discardSelected = (note) =>
    settle("discard", async () => {
      const chosen = selectedItems().filter(isDeadLetter);
      try {
        const answer = await discardDeadLetters({ messageIds: chosen.map((item) => item.message_id), note: note || null });
        const results = answer?.results ?? [];
        const deleted = results.filter((result) => result.outcome === "deleted").length;
        for (const item of chosen) selected.delete(itemKey(item));
        showResults(
          h(
            "div",
            { class: ["alert", deleted === results.length ? "alert-success" : "alert-info"], role: "status", "data-discard-results": String(results.length) },
            h("p", { class: "alert-title" }, `${plural(deleted, "dead letter")} discarded${results.length > deleted ? `, ${formatInt(results.length - deleted)} skipped` : ""}`),
            messageOutcomes(results),
          ),
        );
      } catch (error) {
        showResults(errorBox(error, { title: error?.scope ? "Discarding needs a key with the admin scope" : "The discard was refused" }));
      }
    });

  const handleSelected = (note) =>
    settle("handle", async () => {
      const chosen = selectedItems();
      try {
        const answer = await handleFailures(chosen.map((item) => ({ kind: item.kind, id: item.id })), note);
        for (const item of chosen) selected.delete(itemKey(item));
        showResults(h("p", { class: "alert alert-success", role: "status", "data-handled": String(answer.handled ?? chosen.length) }, `${plural(answer.handled ?? chosen.length, "failure")} marked handled.`));
      } catch (error) {
        showResults(errorBox(error, { title: error?.scope ? "Marking handled needs a key with the admin scope" : "Marking handled was refused" }));
      }
    });

  // Mark handled and Discard ask for a note first (handled: required; discard: optional).
  const CONFIRM = {
    handle: {
      label: "Note (required): what was done about it",
      hint: "Kept with each item, with your key's name and the time. A dead letter marked handled is discarded.",
      button: "Mark handled",
      required: true,
    },
    discard: { label: "Note (optional): why they can go", hint: "Discarded messages are deleted from their queue for good; the API records who did it.", button: "Discard for good", required: false },
  };

  function openConfirm(action) {
    const spec = CONFIRM[action];
    state.confirm = action;
    noteLabel.textContent = spec.label;
    noteHint.textContent = spec.hint;
    confirmButton.textContent = spec.button;
    confirmButton.setAttribute("data-confirm", action);
    noteInput.value = "";
    noteInput.removeAttribute("aria-invalid");
    confirmArea.hidden = false;
    noteInput.focus();
  }

  function closeConfirm() {
    const action = state.confirm;
    state.confirm = null;
    confirmArea.hidden = true;
    if (action) buttons[action]?.focus();
  }

  confirmButton.addEventListener("click", () => {
    const action = state.confirm;
    if (!action) return;
    const note = noteInput.value.trim();
    if (CONFIRM[action].required && !note) {
      noteInput.setAttribute("aria-invalid", "true");
      noteHint.textContent = "Write a note first: it says what was done.";
      noteInput.focus();
      return;
    }
    state.confirm = null;
    confirmArea.hidden = true;
    if (action === "handle") handleSelected(note);
    else discardSelected(note);
  });
  cancelButton.addEventListener("click", closeConfirm);

  const openEditor = (items) => {
    editorController?.abort();
    editorController = new AbortController();
    const editor = createReplayEditor(items, {
      requiredFor,
      onReplayed: () => {
        for (const item of items) selected.delete(itemKey(item));
        syncRows();
        refreshSoon();
      },
      onClose: () => {
        editorController?.abort();
        editorPanel.hidden = true;
        replace(editorRegion);
        buttons.replay.focus();
      },
    });
    replace(editorRegion, editor.element);
    editorPanel.hidden = false;
    editorPanel.scrollIntoView({ block: "start" });
    editor
      .load(editorController.signal)
      .then(() => editorRegion.querySelector(".edit-field.has-reasons input, .edit-input")?.focus({ preventScroll: true }))
      .catch(() => {
        // A refused key signs out; an abort means the editor was closed.
      });
  };

  actionBar.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("button[data-action]") : null;
    if (!target || target.disabled) return;
    const action = target.getAttribute("data-action");
    if (action === "retry") retrySelected();
    else if (action === "redrive") redriveSelected();
    else if (action === "discard" || action === "handle") openConfirm(action);
    else if (action === "replay") openEditor(selectedItems().filter(canReplay));
    else if (action === "select-all") {
      for (const item of visibleItems()) selected.set(itemKey(item), item);
      syncRows();
    } else if (action === "clear-selection") {
      selected.clear();
      syncRows();
    }
  });

  listRegion.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-action='edit-one']") : null;
    if (!target) return;
    const key = target.getAttribute("data-item-key");
    const item = visibleItems().find((candidate) => itemKey(candidate) === key);
    if (item) openEditor([item]);
  });

  syncFilters();
  renderList();
  poller.start();

  return () => {
    poller.stop();
    editorController?.abort();
  };
}
