// The dashboard shell: hash routing, the signed-in session and the live-status line.
//
// Routes: #/ (overview), #/batches/<id>, #/batches/<id>/records/<line> (one record's
// lineage), #/ingest, #/failures[?filters] (the failure inbox), #/signin. Each view is a
// function (container, params) → cleanup that owns its polling.

import { clearKey, getKey, onAuthFailure } from "./api.js";
import { formatClock } from "./format.js";
import { onPollStatus } from "./poller.js";
import { mountBatch } from "./views/batch/index.js";
import { mountInbox } from "./views/inbox/index.js";
import { mountIngest } from "./views/ingest.js";
import { mountOverview } from "./views/overview.js";
import { mountRecord } from "./views/record.js";
import { mountSignIn } from "./views/signin.js";

const ROUTES = [
  { name: "signin", pattern: /^#\/signin$/, mount: mountSignIn, title: "Sign in", public: true },
  { name: "overview", pattern: /^#\/?$/, mount: mountOverview, title: "Overview" },
  { name: "batch", pattern: /^#\/batches\/([^/?#]+)$/, mount: mountBatch, title: "Batch" },
  { name: "record", pattern: /^#\/batches\/([^/?#]+)\/records\/(\d+)$/, mount: mountRecord, title: "Record" },
  { name: "ingest", pattern: /^#\/ingest$/, mount: mountIngest, title: "Ingest" },
  // The inbox keeps its filters in the query (so a link or a reload shows the same items).
  { name: "failures", pattern: /^#\/failures(?:\?([^#]*))?$/, mount: mountInbox, title: "Failures", rawParams: true },
];

const main = document.getElementById("main");
const nav = document.getElementById("main-nav");
const liveStatus = document.getElementById("live-status");
const signOutButton = document.getElementById("sign-out");

const session = {
  // What sign-in shows once ("Your key was refused", "Signed out").
  flash: null,
  // Where to go after signing in.
  returnTo: "#/",
};

let unmount = null;

function matchRoute(hash) {
  for (const route of ROUTES) {
    const match = route.pattern.exec(hash);
    if (match) return { route, params: match.slice(1).map((part) => (part === undefined ? "" : route.rawParams ? part : decodeURIComponent(part))) };
  }
  return null;
}

function render() {
  const hash = location.hash || "#/";
  let matched = matchRoute(hash);
  if (!matched) {
    location.replace("#/");
    return;
  }
  if (!matched.route.public && !getKey()) {
    session.returnTo = hash;
    if (hash !== "#/signin") {
      location.replace("#/signin");
      return;
    }
    matched = matchRoute("#/signin");
  }
  if (unmount) unmount();
  unmount = null;
  main.replaceChildren();
  liveStatus.textContent = "";
  delete liveStatus.dataset.state;
  const signedIn = Boolean(getKey());
  document.body.classList.toggle("signed-out", matched.route.name === "signin");
  signOutButton.hidden = !signedIn;
  for (const link of nav.querySelectorAll("a")) {
    const current = link.dataset.route === matched.route.name;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${matched.route.title} · Sluice`;
  unmount = matched.route.mount(main, { params: matched.params, session, navigate });
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  const heading = main.querySelector("h1");
  if (heading && !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function signOut(message) {
  clearKey();
  session.flash = message;
  session.returnTo = "#/";
  navigate("#/signin");
}

onAuthFailure(() => {
  // Several requests in flight may all be refused; the first one signs out.
  if (!getKey()) return;
  const current = location.hash || "#/";
  signOut({ tone: "danger", text: "Your key was refused. Sign in with a valid API key." });
  if (current !== "#/signin") session.returnTo = current;
});

signOutButton.addEventListener("click", () => signOut({ tone: "info", text: "You are signed out." }));

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  (main.querySelector("h1") ?? main).focus();
});

const announcer = document.getElementById("live-announcer");
const ANNOUNCEMENTS = {
  error: "The API is not answering; retrying.",
  hidden: "Updates slowed down while this tab is hidden.",
  live: "Live updates resumed.",
};

onPollStatus((status) => {
  const previous = liveStatus.dataset.state;
  liveStatus.dataset.state = status.state;
  if (previous && previous !== status.state && ANNOUNCEMENTS[status.state]) announcer.textContent = ANNOUNCEMENTS[status.state];
  const seconds = Math.round((status.retryInMs ?? 0) / 1000);
  if (status.state === "live") liveStatus.textContent = `Live · updated ${formatClock(new Date(status.at).toISOString())}`;
  else if (status.state === "hidden") liveStatus.textContent = `Tab hidden · checking every ${seconds} s`;
  else if (status.state === "error") liveStatus.textContent = `API unreachable · retrying in ${seconds} s`;
  else if (status.state === "done") liveStatus.textContent = `Up to date · ${formatClock(new Date(status.at).toISOString())}`;
});

window.addEventListener("hashchange", render);
render();
