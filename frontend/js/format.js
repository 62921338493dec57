// Numbers, times and durations as people read them.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

export function formatInt(value) {
  return typeof value === "number" && Number.isFinite(value) ? integer.format(value) : "—";
}

export function formatPercent(part, whole) {
  return whole > 0 ? percent.format(part / whole) : "—";
}

export function parseTime(iso) {
  if (!iso) return null;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? null : time;
}

function pad(number, width = 2) {
  return String(number).padStart(width, "0");
}

/** Local clock time, e.g. "14:03:09". */
export function formatClock(iso) {
  const time = parseTime(iso);
  if (time === null) return "—";
  const date = new Date(time);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Local date and time, e.g. "2026-11-26 14:03:09". */
export function formatDateTime(iso) {
  const time = parseTime(iso);
  if (time === null) return "—";
  const date = new Date(time);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${formatClock(iso)}`;
}

/** Local date and time to the millisecond, e.g. "2026-11-26 14:03:09.412". */
export function formatPrecise(iso) {
  const time = parseTime(iso);
  if (time === null) return "—";
  return `${formatDateTime(iso)}.${pad(new Date(time).getMilliseconds(), 3)}`;
}

/** A UTC timestamp as "2013-01-01 10:15 UTC". */
export function formatUtc(iso) {
  const time = parseTime(iso);
  if (time === null) return "—";
  const date = new Date(time);
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

/** Milliseconds as "850 ms", "2.4 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${pad(Math.round(seconds % 60))} s`;
  return `${Math.floor(minutes / 60)} h ${pad(minutes % 60)} min`;
}

export function durationBetween(startIso, endIso) {
  const start = parseTime(startIso);
  const end = parseTime(endIso);
  return start === null || end === null ? null : end - start;
}

/** "just now", "4 min ago", "2 h ago", else the date. */
export function formatAgo(iso, now = Date.now()) {
  const time = parseTime(iso);
  if (time === null) return "—";
  const seconds = Math.round((now - time) / 1000);
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return formatDateTime(iso);
}

/** Any JSON value as one short line of text (for raw record values). */
export function formatValue(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const BYTE_UNITS = ["kB", "MB", "GB", "TB"];

/** Bytes in decimal units, as S3 and the API's limits count them: "812 B", "5.1 MB", "2.0 GB". */
export function formatBytes(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1000) return `${integer.format(bytes)} B`;
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 ? integer.format(value) : decimal.format(value)} ${BYTE_UNITS[unit]}`;
}

/** A transfer rate, e.g. "3.2 MB/s". */
export function formatRate(bytesPerSecond) {
  return typeof bytesPerSecond === "number" && Number.isFinite(bytesPerSecond) && bytesPerSecond > 0 ? `${formatBytes(bytesPerSecond)}/s` : "—";
}

const dollars = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const cents = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumSignificantDigits: 3 });

/** US dollars: "$1.24", and small amounts to three significant digits, "$0.00412" (not "$0.00"). */
export function formatUsd(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (value === 0) return dollars.format(0);
  return Math.abs(value) >= 1 ? dollars.format(value) : cents.format(value);
}
