// The execution as a graph: the state machine's ASL definition laid out top-down (the
// pure layout is in graph-layout.js), each state drawn as SVG and coloured (and
// labelled) by its status in this execution.
//
// A Distributed Map's box carries its Map Run's item counts and a bar of them; the states
// inside it are coloured from the chunk ledger and say how many chunks got through. However
// many chunks a batch has, the graph has one node per state.

import { STATE_STATUS } from "./components.js";
import { s } from "./dom.js";
import { formatDuration, formatInt } from "./format.js";
import { hasError, isDistributedMap, layoutGraph, stateStatus } from "./graph-layout.js";

const MARGIN = 12;
const CHAR_WIDTH = 7.2;

function pathThrough(points, back) {
  let path = `M ${points[0].x} ${points[0].y}`;
  if (back) {
    for (const point of points.slice(1)) path += ` L ${point.x} ${point.y}`;
    return path;
  }
  for (let index = 1; index < points.length; index += 1) {
    const a = points[index - 1];
    const b = points[index];
    const middle = (a.y + b.y) / 2;
    path += a.x === b.x ? ` L ${b.x} ${b.y}` : ` C ${a.x} ${middle}, ${b.x} ${middle}, ${b.x} ${b.y}`;
  }
  return path;
}

function fit(text, width) {
  const room = Math.max(4, Math.floor(width / CHAR_WIDTH));
  const value = String(text);
  return value.length > room ? `${value.slice(0, room - 1)}…` : value;
}

/** "✓ Succeeded · 107 ms", with "×3" (short) or "3 attempts" when a task was retried. */
export function statusLine(info, status, { short = false } = {}) {
  const label = STATE_STATUS[status] ?? STATE_STATUS.NOT_STARTED;
  const parts = [`${label.glyph} ${label.label}`];
  if (typeof info?.duration_ms === "number") parts.push(formatDuration(info.duration_ms));
  if ((info?.attempts ?? 0) > 1) parts.push(short ? `×${info.attempts}` : `${info.attempts} attempts`);
  return parts.join(" · ");
}

/**
 * A state inside a Distributed Map runs once per chunk: "● Running · 12/56 chunks" (done of
 * all), with what got caught there and the failed attempts spelled out in the long form.
 */
export function chunkStatusLine(info, status, total, { short = false } = {}) {
  const label = STATE_STATUS[status] ?? STATE_STATUS.NOT_STARTED;
  const entered = info?.entered ?? 0;
  const caught = info?.caught ?? 0;
  const done = Math.max(entered - caught, 0);
  const parts = [`${label.glyph} ${label.label}`];
  if (entered > 0 || (!short && typeof total === "number")) {
    parts.push(typeof total === "number" ? `${formatInt(done)}/${formatInt(total)} chunks` : `${formatInt(done)} chunk${done === 1 ? "" : "s"}`);
  }
  if (!short) {
    if (caught) parts.push(`${formatInt(caught)} caught here`);
    const failedAttempts = Math.max((info?.attempts ?? 0) - done, 0);
    if (failedAttempts) parts.push(`${formatInt(failedAttempts)} failed attempt${failedAttempts === 1 ? "" : "s"}`);
    if (typeof info?.duration_ms === "number") parts.push(`first to last ${formatDuration(info.duration_ms)}`);
  }
  return parts.join(" · ");
}

/** The first of `candidates` that fits `width` (else the last one, cut). */
function fitFirst(candidates, width) {
  const room = Math.max(4, Math.floor(width / CHAR_WIDTH));
  return fit(candidates.find((candidate) => candidate.length <= room) ?? candidates.at(-1), width);
}

/** Shorter and shorter forms of a chunk state's line, for a node of limited width. */
function chunkStatusCandidates(info, status, total) {
  const full = chunkStatusLine(info, status, total, { short: true });
  return [full, full.replace(/ chunks?$/, ""), `${(STATE_STATUS[status] ?? STATE_STATUS.NOT_STARTED).glyph} ${(STATE_STATUS[status] ?? STATE_STATUS.NOT_STARTED).label}`];
}

/**
 * A Map Run's item counts as {succeeded, failed, running, pending, total}. `chunksTotal`
 * (the manifest's length, from the ledger) wins when larger: moto's Map Run counts only
 * the items it has started so far.
 */
export function mapRunCounts(run, chunksTotal = null) {
  const counts = run?.item_counts ?? {};
  const number = (name) => (typeof counts[name] === "number" ? counts[name] : 0);
  const succeeded = number("succeeded");
  const failed = number("failed") + number("timedOut") + number("aborted");
  const running = number("running");
  const total = Math.max(number("total"), typeof chunksTotal === "number" ? chunksTotal : 0);
  return { succeeded, failed, running, pending: Math.max(total - succeeded - failed - running, 0), total };
}

/**
 * A child that records its chunk as failed (RecordChunkFailure) ends successfully, so the
 * Map Run counts it as succeeded; the ledger knows better, and its count wins.
 */
function withLedgerFailures(counts, chunks) {
  const failed = chunks?.failed ?? 0;
  if (failed <= counts.failed) return counts;
  const moved = failed - counts.failed;
  return { ...counts, succeeded: Math.max(counts.succeeded - moved, 0), failed, recordedFailed: moved };
}

/** "40/56 items succeeded · 1 failed · 4 running". */
export function mapRunLine(counts) {
  const parts = [`${formatInt(counts.succeeded)}/${formatInt(counts.total)} items succeeded`];
  if (counts.failed) parts.push(`${formatInt(counts.failed)} failed`);
  if (counts.running) parts.push(`${formatInt(counts.running)} running`);
  return parts.join(" · ");
}

function shape(node) {
  const { x, y, w, h } = node;
  const type = node.state.Type;
  if (type === "Choice") {
    const cut = 14;
    return s("polygon", {
      class: "node-shape",
      points: `${x + cut},${y} ${x + w - cut},${y} ${x + w},${y + h / 2} ${x + w - cut},${y + h} ${x + cut},${y + h} ${x},${y + h / 2}`,
    });
  }
  const rounded = type === "Succeed" || type === "Fail" ? h / 2 : 9;
  return s("rect", { class: "node-shape", x, y, width: w, height: h, rx: rounded });
}

/** The Map Run's bar and counts inside a Distributed Map's box (or the ledger's, before a Map Run shows). */
function mapRunParts(node, run, chunks) {
  const counts = run
    ? withLedgerFailures(mapRunCounts(run, chunks?.total), chunks)
    : chunks && typeof chunks.total === "number"
      ? { succeeded: chunks.stored ?? 0, failed: chunks.failed ?? 0, running: chunks.running ?? 0, pending: chunks.pending ?? 0, total: chunks.total }
      : null;
  const x = node.x + 14;
  const width = node.w - 28;
  const barY = node.y + 42;
  const parts = [s("rect", { class: "map-run-track", x, y: barY, width, height: 8, rx: 4 })];
  if (!counts) {
    parts.push(s("text", { class: "map-run-text", x, y: node.y + 66 }, "Map Run not started"));
    return { parts, text: "Map Run not started" };
  }
  let at = x;
  for (const [key, tone] of [["succeeded", "success"], ["failed", "danger"], ["running", "info"]]) {
    if (!counts[key] || !counts.total) continue;
    const share = Math.min(counts[key] / counts.total, 1) * width;
    parts.push(s("rect", { class: `map-run-bar tone-${tone}`, x: at, y: barY, width: Math.max(share, 2), height: 8, rx: 2, "data-map-run": key }));
    at += share;
  }
  const text = `${run ? "" : "Chunks: "}${mapRunLine(counts)}`;
  parts.push(s("text", { class: "map-run-text", x, y: node.y + 66, "data-map-run-counts": `${counts.succeeded}/${counts.failed}/${counts.total}` }, fit(text, width)));
  const note = counts.recordedFailed
    ? ` (failed from the chunk ledger: the Map Run counts ${formatInt(counts.recordedFailed)} of them as succeeded, as their children recorded the failure and ended normally)`
    : "";
  return { parts, text: run ? `Map Run: ${text}${note}` : text };
}

function drawLayout(layout, states, dx, dy, context) {
  const group = s("g", { transform: `translate(${dx} ${dy})` });
  const edgeLayer = s("g", { class: "edges" });
  for (const edge of layout.edges) {
    edgeLayer.appendChild(
      s(
        "path",
        {
          class: ["edge", `edge-${edge.kind}`, edge.back && "edge-back"],
          d: pathThrough(edge.points, edge.back),
          "marker-end": edge.kind === "catch" ? "url(#sluice-arrow-catch)" : "url(#sluice-arrow)",
          "data-from": edge.from,
          "data-to": edge.to,
        },
        s("title", null, `${edge.from} → ${edge.to} (${edge.label})`),
      ),
    );
  }
  group.appendChild(edgeLayer);

  for (const node of layout.nodes) {
    const info = states?.[node.name];
    const status = stateStatus(states, node.name);
    const label = STATE_STATUS[status] ?? STATE_STATUS.NOT_STARTED;
    const type = node.state.Type ?? "State";
    const inMapRun = context.chunkTotal !== undefined;
    // Only the states every chunk goes through count "of all"; a failure path counts its chunks.
    const total = inMapRun && context.mainPath?.includes(node.name) ? context.chunkTotal : null;
    const line = inMapRun ? fitFirst(chunkStatusCandidates(info, status, total), node.w - 16) : statusLine(info, status, { short: true });
    const long = inMapRun ? chunkStatusLine(info, status, total) : statusLine(info, status);
    const distributed = Boolean(node.inner) && isDistributedMap(node.state);
    const run = distributed ? context.mapRuns.find((candidate) => candidate.state === node.name) ?? null : null;
    const mapRun = distributed ? mapRunParts(node, run, context.chunks) : null;
    const description = `${node.name}, ${type} state: ${long.slice(2)}${mapRun ? `. ${mapRun.text}` : ""}${hasError(info) ? `. Error ${info.error}` : ""}`;
    const attributes = {
      class: ["node", `node-${type.toLowerCase()}`, node.inner && "node-group", context.selected === node.name && "is-selected"],
      "data-state": node.name,
      "data-status": status,
      "data-type": type,
      tabindex: 0,
      role: "button",
      "aria-label": description,
      "aria-pressed": context.selected === node.name ? "true" : "false",
      "data-focus-key": `state-${node.name}`,
    };
    const select = () => context.onSelect(node.name);
    const element = s("g", {
      ...attributes,
      on: {
        click: select,
        keydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            select();
          }
        },
      },
    });
    element.appendChild(s("title", null, `${node.name} (${type}) — ${long}${mapRun ? ` — ${mapRun.text}` : ""}${info?.error ? ` — ${info.error}` : ""}`));
    if (node.inner) {
      element.appendChild(s("rect", { class: "node-shape group-shape", x: node.x, y: node.y, width: node.w, height: node.h, rx: 12 }));
      element.appendChild(s("text", { class: "node-name", x: node.x + 14, y: node.y + 17 }, fit(`${node.name}`, node.w / 2), s("tspan", { class: "node-type" }, `  ${type}${distributed ? " · distributed" : ""}`)));
      element.appendChild(s("text", { class: "node-status", x: node.x + 14, y: node.y + 32 }, fit(line, node.w - 28)));
      if (mapRun) element.appendChild(s("g", { class: "map-run", "data-map-run-of": node.name }, mapRun.parts));
      group.appendChild(element);
      const chunksTotal = distributed ? (typeof context.chunks?.total === "number" ? context.chunks.total : run ? mapRunCounts(run).total : null) : undefined;
      node.inner.forEach((child, index) => {
        const at = node.innerAt[index];
        group.appendChild(
          drawLayout(child, states, node.x + at.x, node.y + at.y, {
            ...context,
            chunkTotal: distributed ? chunksTotal ?? null : context.chunkTotal,
            mainPath: distributed ? child.mainPath : context.mainPath,
          }),
        );
      });
      continue;
    }
    element.appendChild(shape(node));
    element.appendChild(s("text", { class: "node-name", x: node.x + node.w / 2, y: node.y + 20, "text-anchor": "middle" }, fit(node.name, node.w - 16)));
    element.appendChild(s("text", { class: "node-status", x: node.x + node.w / 2, y: node.y + 37, "text-anchor": "middle" }, fit(line, node.w - 16)));
    if (hasError(info)) {
      element.appendChild(s("text", { class: "node-error", x: node.x + node.w / 2, y: node.y + 55, "text-anchor": "middle" }, fit(info.error, node.w - 16)));
    }
    group.appendChild(element);
  }
  return group;
}

/**
 * The whole execution graph as an <svg>; `onSelect(stateName)` runs when a state is chosen.
 * `mapRuns` are the execution's Map Runs (their item counts go on their Map's box);
 * `chunks` is the batch's chunk summary, shown there until a Map Run has counts.
 */
export function executionGraph(definition, states, { selected = null, onSelect = () => {}, mapRuns = [], chunks = null } = {}) {
  const layout = layoutGraph(definition, states);
  const width = layout.width + 2 * MARGIN;
  const height = layout.height + 2 * MARGIN;
  const arrow = (id, className) =>
    s(
      "marker",
      { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse", markerUnits: "userSpaceOnUse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: className }),
    );
  return s(
    "svg",
    {
      class: "graph-svg",
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "group",
      "aria-label": "State machine graph; each state is a button showing its status",
      "data-graph": "execution",
    },
    s("defs", null, arrow("sluice-arrow", "arrow-head"), arrow("sluice-arrow-catch", "arrow-head arrow-head-catch")),
    drawLayout(layout, states, MARGIN, MARGIN, { selected, onSelect, mapRuns: mapRuns ?? [], chunks, chunkTotal: undefined }),
  );
}
