// DOM helpers. Every string that reaches the page goes in as a text node or an attribute value, never as
// markup: h() has no innerHTML path, so a message or a name cannot inject elements or scripts.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Escapes text for the rare place that needs an HTML string (none of Herald's own pages do). */
export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function appendChildren(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * h('li', {class: 'x', dataset: {id: 3}, onclick: fn, title: 'y'}, 'text', otherNode)
 * Attributes named on* must be functions (listeners); a string there is refused, so data can never
 * become an inline handler.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = String(value);
    else if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  appendChildren(el, children);
  return el;
}

// Icons made by script draw from a copy of the sprite inside the page once inlineSprite() has put it there: a
// <use> of the external file is fetched for each new icon, so with the server gone (the "Not sent" toast of
// an outage) it drew nothing but the icon's empty tile.
let spriteInline = false;

/** Copies the icon sprite into the page (call once at start, while the server answers). */
export async function inlineSprite(url = '/static/icons.svg') {
  try {
    const response = await fetch(url);
    if (!response.ok) return false;
    const doc = new DOMParser().parseFromString(await response.text(), 'image/svg+xml');
    if (doc.documentElement.namespaceURI !== SVG_NS || doc.documentElement.localName !== 'svg') return false;
    const sprite = document.importNode(doc.documentElement, true);
    sprite.setAttribute('aria-hidden', 'true');
    sprite.setAttribute('style', 'position:absolute;width:0;height:0;overflow:hidden');
    sprite.id = 'icon-sprite';
    document.body.prepend(sprite);
    spriteInline = true;
    return true;
  } catch {
    return false;
  }
}

/** An icon from the sprite: icon('bell', 'me-1'). */
export function icon(name, extraClass = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', `icon ${extraClass}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', spriteInline ? `#${name}` : `/static/icons.svg#${name}`);
  svg.appendChild(use);
  return svg;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function setText(el, value) {
  if (el) el.textContent = String(value ?? '');
}

export function show(el, visible) {
  if (el) el.classList.toggle('d-none', !visible);
}

export function timeLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString()} ${time}`;
}

export function relativeTime(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

/** Two letters for an avatar. */
export function initials(name) {
  const parts = String(name || '?').replace(/[^\p{L}\p{N} _.:-]/gu, '').split(/[\s_.:-]+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return parts[0].slice(0, 2).toUpperCase();
  return (parts[0][0] + parts[parts.length - 1][0]).toUpperCase();
}

/**
 * How a sender reads. The server sets `sender` itself (the token's user, or in open mode the client id), so a
 * page tab's id web-<user>-<8 hex> reads as "User <user>"; anything else as it is.
 */
export function senderName(sender) {
  const s = String(sender ?? '');
  const m = /^web-(.+)-[0-9a-f]{8}$/.exec(s);
  return m ? `User ${m[1]}` : s;
}

/** A stable hue per name, so each chat sender keeps a colour. */
export function hueFor(name) {
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}
