// Build DOM nodes without ever parsing a string as HTML.
//
// Everything the API returns is untrusted (a record's fields are whatever someone posted),
// so text goes in through text nodes and attributes through setAttribute with a short
// allowlist. There is no innerHTML anywhere in the dashboard; the page's Trusted Types
// policy would refuse it anyway.

const SVG_NS = "http://www.w3.org/2000/svg";

// Attribute names we set from code. Event-handler attributes (on*), style, srcdoc and
// friends are never set from data; href is checked separately.
const SAFE_ATTRIBUTE = /^(id|class|role|title|tabindex|type|name|value|for|placeholder|rows|cols|accept|autocomplete|novalidate|spellcheck|inputmode|min|max|step|colspan|rowspan|scope|lang|dir|hidden|disabled|checked|selected|required|readonly|multiple|datetime|open|list|download|aria-[a-z-]+|data-[a-z0-9-]+|viewBox|preserveAspectRatio|width|height|x|y|x1|x2|y1|y2|cx|cy|r|rx|ry|d|points|fill|stroke|stroke-width|stroke-dasharray|stroke-linecap|stroke-linejoin|opacity|fill-opacity|text-anchor|dominant-baseline|font-size|font-weight|transform|marker-end|markerWidth|markerHeight|refX|refY|orient|markerUnits|focusable)$/;

/** Return an in-app link target (a hash route) or "#/" when the value is anything else. */
export function safeHref(value) {
  const text = String(value);
  return text.startsWith("#/") ? text : "#/";
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "href") {
      element.setAttribute("href", safeHref(value));
    } else if (SAFE_ATTRIBUTE.test(name)) {
      element.setAttribute(name, value === true ? "" : String(value));
    } else {
      throw new Error(`refusing to set attribute ${name}`);
    }
  }
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(element, child);
    } else if (child instanceof Node) {
      element.appendChild(child);
    } else {
      element.appendChild(document.createTextNode(String(child)));
    }
  }
}

function build(element, props, children) {
  const { class: className, text, on, style, ...attributes } = props ?? {};
  if (className) element.setAttribute("class", Array.isArray(className) ? className.filter(Boolean).join(" ") : className);
  setAttributes(element, attributes);
  if (style) {
    // CSSOM properties, not the style attribute: allowed by the page's CSP and never parsed as markup.
    for (const [property, value] of Object.entries(style)) element.style.setProperty(property, String(value));
  }
  if (on) for (const [event, handler] of Object.entries(on)) element.addEventListener(event, handler);
  if (text !== undefined && text !== null) element.textContent = String(text);
  append(element, children);
  return element;
}

/** Create an HTML element: h("a", {href: "#/", class: "x"}, "text", child, [more]). */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** Create an SVG element the same way. */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

/** Replace an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/**
 * Re-render a region only when the data it shows has changed, so a poll that brings
 * nothing new does not steal keyboard focus or scroll position.
 */
const renderedKeys = new WeakMap();

export function renderIfChanged(element, data, render) {
  const key = JSON.stringify(data) ?? "undefined";
  if (renderedKeys.get(element) === key) return false;
  renderedKeys.set(element, key);
  const active = document.activeElement;
  const focusId = active && element.contains(active) ? active.getAttribute("data-focus-key") : null;
  replace(element, render());
  if (focusId) {
    const again = [...element.querySelectorAll("[data-focus-key]")].find((node) => node.getAttribute("data-focus-key") === focusId);
    if (again) again.focus();
  }
  return true;
}

/** A visually hidden text for screen readers. */
export function srOnly(text) {
  return h("span", { class: "sr-only" }, text);
}
