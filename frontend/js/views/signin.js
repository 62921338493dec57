// Sign-in: paste an API key, check it with GET /batches?limit=1, keep it for this tab only.

import { setKey, verifyKey } from "../api.js";
import { h } from "../dom.js";

export function mountSignIn(container, { session, navigate }) {
  const flash = session.flash;
  session.flash = null;
  const controller = new AbortController();

  const message = h("div", { class: "signin-message", id: "signin-message", "aria-live": "polite" });
  if (flash) {
    message.appendChild(h("p", { class: ["alert", `alert-${flash.tone}`], role: flash.tone === "danger" ? "alert" : "status" }, flash.text));
  }

  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-hint signin-message",
    class: "input mono",
  });
  const reveal = h("input", { id: "reveal-key", type: "checkbox", class: "checkbox" });
  reveal.addEventListener("change", () => {
    input.type = reveal.checked ? "text" : "password";
  });
  const submit = h("button", { type: "submit", class: "button button-primary button-block" }, "Sign in");

  const form = h(
    "form",
    { class: "signin-form", novalidate: true },
    h("label", { for: "api-key", class: "label" }, "API key"),
    input,
    h("p", { class: "hint", id: "api-key-hint" }, "Kept in this tab only (session storage) and sent as a bearer token."),
    h("div", { class: "check-row" }, reveal, h("label", { for: "reveal-key" }, "Show key")),
    submit,
    message,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    message.replaceChildren();
    if (!key) {
      message.appendChild(h("p", { class: "alert alert-danger", role: "alert" }, "Paste an API key first."));
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Checking…";
    try {
      await verifyKey(key, controller.signal);
      setKey(key);
      const target = session.returnTo && session.returnTo !== "#/signin" ? session.returnTo : "#/";
      session.returnTo = "#/";
      navigate(target);
    } catch (error) {
      if (error?.name === "AbortError") return;
      const text = error?.auth
        ? "Your key was refused. Check it and try again."
        : `Could not reach the API: ${error?.message ?? error}`;
      message.appendChild(h("p", { class: "alert alert-danger", role: "alert" }, text));
      submit.disabled = false;
      submit.textContent = "Sign in";
      input.focus();
      input.select();
    }
  });

  container.appendChild(
    h(
      "div",
      { class: "signin" },
      h(
        "div",
        { class: "signin-card" },
        h("h1", { class: "signin-title", tabindex: -1 }, "Sign in to Sluice"),
        h("p", { class: "signin-lead" }, "Watch batches move through validate → transform → enrich → store, ingest data, and inspect failures."),
        form,
      ),
    ),
  );
  input.focus();
  return () => controller.abort();
}
