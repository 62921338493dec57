// The Sluice HTTP API, as the dashboard uses it.
//
// Every request sends the signed-in key as a bearer token. A 401 (or a 403 on a read)
// means the key is no good: the app clears it and goes back to sign-in. The routes that
// act on failures (and the reads that only serve them) need an admin key: a 403 there
// means the key lacks the scope, so it is shown as such and the key is kept.

import { API_BASE_URL } from "../config.js";

const KEY_STORAGE = "sluice.apiKey";
const BASE = String(API_BASE_URL ?? "").replace(/\/+$/, "");

let authFailureHandler = () => {};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const message = body && typeof body.message === "string" ? body.message : fallback;
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = body && typeof body.code === "string" ? body.code : null;
    this.details = body && Array.isArray(body.details) ? body.details : [];
    this.auth = false;
    // The key is fine but may not call this route (it lacks the admin scope).
    this.scope = false;
  }
}

export function getKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function clearKey() {
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage may be unavailable (private mode); nothing to clear then.
  }
}

/** Call this when a request's key is refused (the app signs out). */
export function onAuthFailure(handler) {
  authFailureHandler = handler;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 300) };
  }
}

function url(path, query) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const suffix = search.toString();
  return `${BASE}${path}${suffix ? `?${suffix}` : ""}`;
}

async function request(method, path, { query, body, headers, signal, key, reportAuthFailure = true, adminOnly = false } = {}) {
  const token = key ?? getKey();
  const response = await fetch(url(path, query), {
    method,
    body,
    signal,
    cache: "no-store",
    credentials: "omit",
    headers: { Accept: "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const data = await readBody(response);
  if (!response.ok) {
    const error = new ApiError(response.status, data, `${method} ${path} answered HTTP ${response.status}`);
    // A write may be refused for lack of permission (403) with a key that still reads fine.
    error.auth = response.status === 401 || (response.status === 403 && method === "GET" && !adminOnly);
    error.scope = response.status === 403 && !error.auth;
    if (error.auth && reportAuthFailure) authFailureHandler(error);
    throw error;
  }
  return { status: response.status, data };
}

const batchPath = (batchId) => `/batches/${encodeURIComponent(batchId)}`;

export async function verifyKey(key, signal) {
  await request("GET", "/batches", { query: { limit: 1 }, key, signal, reportAuthFailure: false });
}

export async function listBatches({ limit = 200, next = null, signal } = {}) {
  return (await request("GET", "/batches", { query: { limit, next }, signal })).data;
}

/** Up to `pages` pages of batches, newest first. */
export async function listRecentBatches({ pages = 3, limit = 200, signal } = {}) {
  const batches = [];
  let next = null;
  for (let page = 0; page < pages; page += 1) {
    const answer = await listBatches({ limit, next, signal });
    batches.push(...(answer.batches ?? []));
    next = answer.next;
    if (!next) return { batches, complete: true };
  }
  return { batches, complete: false };
}

export async function getBatch(batchId, { signal } = {}) {
  return (await request("GET", batchPath(batchId), { signal })).data;
}

export async function getExecution(batchId, { signal } = {}) {
  return (await request("GET", `${batchPath(batchId)}/execution`, { signal })).data;
}

export async function getRecords(batchId, status, { limit = 50, next = null, signal } = {}) {
  return (await request("GET", `${batchPath(batchId)}/records`, { query: { status, limit, next }, signal })).data;
}

/** The body limit of POST /batches; a larger file goes through POST /uploads. */
export const MAX_BODY_BYTES = 5_000_000;

/**
 * POST a batch; `body` is a string or a Blob, sent as-is with the given content type
 * (and `Content-Encoding: gzip` for a compressed CSV or NDJSON file).
 */
export async function postBatch({ body, contentType, contentEncoding = null, dataset, idempotencyKey, signal }) {
  const headers = { "Content-Type": contentType };
  if (contentEncoding) headers["Content-Encoding"] = contentEncoding;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  return request("POST", "/batches", { query: { dataset }, body, headers, signal });
}

/**
 * Declare a file and get a presigned S3 POST for it (POST /uploads). The answer is
 * `{upload_id, batch_id, status_url, key, max_bytes, upload: {url, fields, expires_at} | null, duplicate}`;
 * `upload` is null (and `duplicate` true) when the key's file has arrived already.
 */
export async function createUpload({ dataset, filename, contentType, sizeBytes, contentEncoding = null, idempotencyKey, signal }) {
  const declared = { dataset, filename, content_type: contentType, size_bytes: sizeBytes };
  if (contentEncoding) declared.content_encoding = contentEncoding;
  const headers = { "Content-Type": "application/json" };
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  return (await request("POST", "/uploads", { body: JSON.stringify(declared), headers, signal })).data;
}

/** One page of a batch's chunk ledger, in chunk order; `status` filters (the page may be short and still have a next). */
export async function getChunks(batchId, { status = null, limit = 25, next = null, signal } = {}) {
  return (await request("GET", `${batchPath(batchId)}/chunks`, { query: { status, limit, next }, signal })).data;
}

/** One chunk: `{chunk, execution}` (execution is its child execution on AWS, null locally). */
export async function getChunk(batchId, index, { signal } = {}) {
  return (await request("GET", `${batchPath(batchId)}/chunks/${encodeURIComponent(String(index))}`, { signal })).data;
}

// The registered datasets change only with a deployment: one GET /datasets per page load.
let datasetsAnswer = null;

/** Settle with `promise`, or reject with an AbortError as soon as `signal` aborts. */
function untilAborted(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason ?? new DOMException("The request was aborted", "AbortError"));
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/**
 * The registered datasets, `{datasets: [{name, csv_columns, filters, display}]}`, asked
 * for once per page load and shared by every view (a failed answer is not kept, so the
 * next call asks again). `signal` only stops this caller's wait, not the shared request.
 */
export function listDatasets({ signal } = {}) {
  datasetsAnswer ??= request("GET", "/datasets").then(
    ({ data }) => data,
    (error) => {
      datasetsAnswer = null;
      throw error;
    },
  );
  return untilAborted(datasetsAnswer, signal);
}

/** One dataset's entry of GET /datasets (null when no dataset of that name is registered). */
export async function getDataset(name, { signal } = {}) {
  const answer = await listDatasets({ signal });
  return (answer?.datasets ?? []).find((dataset) => dataset.name === name) ?? null;
}

/** The key's usage across every batch: `{cost, batches}` (cost as in a batch's `cost`). */
export async function getUsage({ signal } = {}) {
  return (await request("GET", "/usage", { signal, adminOnly: true })).data;
}

// ------------------------------------------------------------------ acting on failures

function jsonBody(value) {
  return { body: JSON.stringify(value), headers: { "Content-Type": "application/json" } };
}

/**
 * Run a failed batch again (POST /batches/{id}/retry): the chosen chunks, or every failed one.
 * Answers `{batch_id, run, kind, execution_name, chunks, status_url}`.
 */
export async function retryBatch(batchId, { chunks = null, signal } = {}) {
  return (await request("POST", `${batchPath(batchId)}/retry`, { ...jsonBody(chunks ? { chunks } : {}), signal })).data;
}

/**
 * Replay edited rejects of a batch into a child batch (POST /batches/{id}/replay).
 * `records` is `[{line, values}]`; a 422 `still_invalid` carries `[{line, reasons}]` in its details.
 */
export async function replayRecords(batchId, { records, partial = false, idempotencyKey = null, signal } = {}) {
  const { body, headers } = jsonBody({ records, partial });
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  return (await request("POST", `${batchPath(batchId)}/replay`, { body, headers, signal })).data;
}

/** The whole story of one source line of a batch (GET /batches/{id}/records/{line}). */
export async function getRecordLineage(batchId, line, { signal } = {}) {
  return (await request("GET", `${batchPath(batchId)}/records/${encodeURIComponent(String(line))}`, { signal })).data;
}

/** One page of the failure inbox, newest first: `{items, next}`. */
export async function listFailures({ dataset = null, batch = null, rule = null, state = null, limit = 100, next = null, signal } = {}) {
  return (await request("GET", "/failures", { query: { dataset, batch, rule, state, limit, next }, signal, adminOnly: true })).data;
}

/** Mark inbox items (`[{kind, id}]`) handled, with a note: `{handled}`. */
export async function handleFailures(items, note, { signal } = {}) {
  return (await request("POST", "/failures/handle", { ...jsonBody({ items, note }), signal })).data;
}

/** The messages in the ingest and pipeline dead-letter queues (peeked, not taken). */
export async function listDeadLetters({ signal } = {}) {
  return (await request("GET", "/dead-letters", { signal, adminOnly: true })).data;
}

/** Move dead letters back to their source queue: `{results: [{message_id, outcome, reason}]}`. */
export async function redriveDeadLetters({ queue = null, messageIds = null, signal } = {}) {
  return (await request("POST", "/dead-letters/redrive", { ...jsonBody({ queue, message_ids: messageIds }), signal })).data;
}

/** Discard chosen dead letters, with a note of why. */
export async function discardDeadLetters({ messageIds, note = null, signal } = {}) {
  return (await request("DELETE", "/dead-letters", { ...jsonBody({ message_ids: messageIds, note }), signal })).data;
}
