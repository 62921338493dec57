// Charts drawn by hand as inline SVG (no chart library): throughput over time and the stage funnel.

import { h, s } from "./dom.js";
import { formatInt, formatPercent, parseTime } from "./format.js";

const MINUTE = 60_000;

function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function clock(time) {
  const date = new Date(time);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

/** Records processed per minute, by the minute each batch finished, over up to the last hour. */
export function throughputSeries(batches, now = Date.now()) {
  const end = Math.ceil((now + 1) / MINUTE) * MINUTE;
  const horizon = end - 60 * MINUTE;
  const finished = batches
    .map((batch) => ({ time: parseTime(batch.finished_at), processed: batch.counts?.processed ?? 0 }))
    .filter((point) => point.time !== null && point.time >= horizon && point.time <= end);
  if (!finished.length) return null;
  const earliest = Math.floor(Math.min(...finished.map((point) => point.time)) / MINUTE) * MINUTE;
  const start = Math.min(earliest, end - 15 * MINUTE);
  const bins = [];
  for (let time = start; time < end; time += MINUTE) bins.push({ time, value: 0, batches: 0 });
  for (const point of finished) {
    const bin = bins[Math.floor((point.time - start) / MINUTE)];
    if (bin) {
      bin.value += point.processed;
      bin.batches += 1;
    }
  }
  return bins;
}

/** Bars of records per minute; `width` is the room it has, so text stays readable on a phone. */
export function throughputChart(bins, width = 720) {
  if (!bins) return h("p", { class: "empty" }, "No batch finished in the last hour.");
  const height = width < 480 ? 180 : 220;
  const margin = { top: 14, right: 12, bottom: 30, left: 52 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const peak = Math.max(...bins.map((bin) => bin.value));
  const yMax = niceCeiling(peak);
  const slot = plotWidth / bins.length;
  const barWidth = Math.max(2, slot * 0.72);
  const total = bins.reduce((sum, bin) => sum + bin.value, 0);
  const peakBin = bins.find((bin) => bin.value === peak);
  const summary = `Records processed per minute from ${clock(bins[0].time)} to ${clock(bins.at(-1).time + MINUTE)}: ${formatInt(total)} in total, peak ${formatInt(peak)} at ${clock(peakBin.time)}.`;

  const grid = [];
  for (let index = 0; index <= 4; index += 1) {
    const value = (yMax / 4) * index;
    const y = margin.top + plotHeight - (value / yMax) * plotHeight;
    grid.push(
      s("line", { class: index === 0 ? "chart-axis" : "chart-grid", x1: margin.left, x2: width - margin.right, y1: y, y2: y }),
      s("text", { class: "chart-tick", x: margin.left - 8, y: y + 4, "text-anchor": "end" }, formatInt(value)),
    );
  }
  const labelEvery = Math.max(1, Math.ceil(bins.length / Math.max(3, Math.floor(plotWidth / 80))));
  const bars = bins.map((bin, index) => {
    const barHeight = (bin.value / yMax) * plotHeight;
    const x = margin.left + index * slot + (slot - barWidth) / 2;
    return s(
      "g",
      null,
      bin.value > 0
        ? s(
            "rect",
            { class: "chart-bar", x, y: margin.top + plotHeight - barHeight, width: barWidth, height: Math.max(barHeight, 1.5), rx: Math.min(3, barWidth / 3) },
            s("title", null, `${clock(bin.time)} — ${formatInt(bin.value)} records processed (${bin.batches} batch${bin.batches === 1 ? "" : "es"})`),
          )
        : null,
      index % labelEvery === 0
        ? s("text", { class: "chart-tick", x: margin.left + index * slot + slot / 2, y: height - 10, "text-anchor": "middle" }, clock(bin.time))
        : null,
    );
  });

  return h(
    "figure",
    { class: "chart" },
    s(
      "svg",
      { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary, class: "chart-svg", "data-chart": "throughput" },
      ...grid,
      ...bars,
    ),
    h("figcaption", { class: "chart-caption" }, summary),
  );
}

/** The stage funnel: [{label, value}], each bar relative to the first stage. */
export function funnel(stages) {
  const first = stages[0]?.value ?? 0;
  return h(
    "ol",
    { class: "funnel", "aria-label": "Records through each stage" },
    stages.map((stage, index) => {
      const share = first > 0 ? stage.value / first : 0;
      return h(
        "li",
        { class: "funnel-row", "data-stage": stage.key },
        h("span", { class: "funnel-label" }, stage.label),
        h(
          "span",
          { class: "funnel-track" },
          h("span", { class: ["funnel-bar", `funnel-bar-${index}`], style: { width: `${Math.max(share * 100, stage.value > 0 ? 2 : 0)}%` } }),
        ),
        h("span", { class: "funnel-value" }, formatInt(stage.value), h("span", { class: "funnel-share" }, formatPercent(stage.value, first))),
      );
    }),
  );
}
