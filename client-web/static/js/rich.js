// The rich fields of a notification (docs/protocol.md, "Notifications"): priority, tags, click target, action
// buttons, icon, attachment, quiet, expiry. Shared by the notification list and the activity feed.
//
// Every value is data from whoever published it: it goes in as text (h() has no markup path), and a URL becomes
// an href or a src only when it is an absolute http(s) URL. The server refuses anything else, but the page does
// not rely on that (a message stored by an older server, a proxy, a bug).
import { h, icon } from './dom.js';

/** The URL if it is an absolute http or https one, else null. */
export function safeUrl(value) {
  if (typeof value !== 'string' || value.length > 2048) return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/** 1 to 5; 3 when absent or unreadable. */
export function priorityOf(message) {
  const p = Number(message?.priority);
  return Number.isInteger(p) && p >= 1 && p <= 5 ? p : 3;
}

export function isQuiet(message) {
  return message?.quiet === true;
}

/** The expiry as milliseconds since 1970, or null for none (or unreadable). */
export function expiresAt(message) {
  if (typeof message?.expires !== 'string') return null;
  const t = Date.parse(message.expires);
  return Number.isNaN(t) ? null : t;
}

/**
 * The update chain a message belongs to: the id of the chain's first message, which the server sends as
 * `chain` on updates and withdrawn events; a message without one starts its own chain (its id).
 */
export function chainOf(message) {
  return namedChain(message) ?? message?.id;
}

/** The `chain` the server named on an update or withdrawn event, or undefined. */
function namedChain(message) {
  return Number.isInteger(message?.chain) && message.chain > 0 ? message.chain : undefined;
}

/**
 * The id of what an update or withdrawn event supersedes among `known` (id -> message): the id it names
 * (`replaces`/`withdraws`, `field`), else the entry of its chain. A client that was offline while the chain
 * moved on holds an id the event does not name, but the same chain.
 */
export function supersededId(message, field, known) {
  const named = message?.[field];
  if (Number.isInteger(named) && known.has(named)) return named;
  const chain = namedChain(message);
  if (chain === undefined) return undefined;
  for (const [id, held] of known) if (id !== message.id && chainOf(held) === chain) return id;
  return undefined;
}

/**
 * The same for a list of elements that carry data-id and data-chain (chainOf of their message): the element
 * an update or withdrawn event supersedes, or null.
 */
export function supersededElement(list, message, field) {
  const named = message?.[field];
  const chain = namedChain(message);
  let byChain = null;
  for (const child of list.children) {
    if (Number.isInteger(named) && Number(child.dataset.id) === named) return child;
    if (chain !== undefined && !byChain && Number(child.dataset.chain) === chain && Number(child.dataset.id) !== message.id) {
      byChain = child;
    }
  }
  return byChain;
}

export function isExpired(message, now = Date.now()) {
  const t = expiresAt(message);
  return t !== null && t <= now;
}

export function tagsOf(message) {
  const tags = message?.tags;
  if (!Array.isArray(tags)) return [];
  return tags.filter((t) => typeof t === 'string' && t).slice(0, 10);
}

/** The buttons a message carries that this page knows (view with a safe URL, reply with a channel). */
export function actionsOf(message) {
  const actions = message?.actions;
  if (!Array.isArray(actions)) return [];
  return actions.slice(0, 3).filter((a) => a && typeof a === 'object' && typeof a.label === 'string' && a.label
    && ((a.action === 'view' && safeUrl(a.url)) || (a.action === 'reply' && typeof a.channel === 'string' && a.channel)));
}

export function attachmentOf(message) {
  const a = message?.attachment;
  const url = safeUrl(typeof a === 'string' ? a : a?.url);
  if (!url) return null;
  const name = typeof a?.name === 'string' && a.name ? a.name : decodeURIComponent(new URL(url).pathname.split('/').pop() || '') || url;
  return { url, name };
}

const PRIORITY_LABELS = { 5: 'Urgent', 4: 'High', 2: 'Low', 1: 'Min' };

/** The badge for a priority other than the default (none for 3). */
export function priorityBadge(message) {
  const p = priorityOf(message);
  if (p === 3) return null;
  return h('span', { class: `badge prio-badge prio-badge-${p}`, title: `Priority ${p}`, dataset: { priority: p } }, PRIORITY_LABELS[p]);
}

/** The title: a link to the click target (new tab, no opener) when there is a safe one, else text. */
export function titleElement(message, text, className = 'title') {
  const click = safeUrl(message?.click);
  if (!click) return h('span', { class: className }, text);
  return h('a', {
    class: `${className} click-link`,
    href: click,
    target: '_blank',
    rel: 'noopener noreferrer',
    title: click,
    onclick: (e) => e.stopPropagation(), // the link, not the item's detail view
  }, text);
}

/** The publisher's icon as an image, or null (the caller keeps its own). */
export function iconElement(message) {
  const src = safeUrl(message?.icon);
  if (!src) return null;
  return h('img', { class: 'msg-icon', src, alt: '', referrerpolicy: 'no-referrer', loading: 'lazy', width: 36, height: 36 });
}

export function tagChips(message) {
  const tags = tagsOf(message);
  if (!tags.length) return null;
  return h('div', { class: 'tags' }, tags.map((t) => h('span', { class: 'chip tag' }, t)));
}

export function quietMarker(message) {
  if (!isQuiet(message)) return null;
  return h('span', { class: 'quiet-marker', title: 'Delivered in quiet hours: no sound, no pop-up' }, icon('moon'), 'quiet');
}

export function attachmentLink(message) {
  const a = attachmentOf(message);
  if (!a) return null;
  return h('a', {
    class: 'attachment', href: a.url, target: '_blank', rel: 'noopener noreferrer', title: a.url,
    onclick: (e) => e.stopPropagation(),
  }, icon('paperclip'), a.name);
}

/**
 * The action buttons. `onReply(action, message)` publishes a reply and resolves when the server took it; the
 * button then says it was sent. A view button opens its URL in a new tab without an opener.
 */
export function actionButtons(message, { onReply }) {
  const actions = actionsOf(message);
  if (!actions.length) return null;
  return h('div', { class: 'actions' }, actions.map((a) => {
    const button = h('button', {
      type: 'button',
      class: `btn btn-sm ${a.action === 'view' ? 'btn-outline-primary' : 'btn-outline-secondary'} action`,
      dataset: { action: a.action },
      title: a.action === 'view' ? safeUrl(a.url) : `Sends “${a.message || a.label}” to ${a.channel}`,
      onclick: async (e) => {
        e.stopPropagation();
        if (a.action === 'view') {
          window.open(safeUrl(a.url), '_blank', 'noopener,noreferrer');
          return;
        }
        if (!onReply || button.disabled) return;
        button.disabled = true;
        button.classList.add('sending');
        try {
          await onReply(a, message);
          button.classList.remove('sending');
          button.classList.add('sent');
          button.replaceChildren(icon('check'), ` ${a.label}`);
          button.title = `Sent to ${a.channel}`;
        } catch {
          button.classList.remove('sending');
          button.disabled = false; // the caller said why; it may be pressed again
        }
      },
    }, a.action === 'view' ? [icon('external'), ` ${a.label}`] : a.label);
    return button;
  }));
}

/**
 * One timer for every element that expires: `track(id, atMs)`, `untrack(id)`; `onExpired(id)` is called when
 * its time passes. Waits are clamped (setTimeout overflows past 2^31 ms) and the earliest is re-armed.
 */
export class ExpiryTimer {
  constructor(onExpired) {
    this.onExpired = onExpired;
    this.due = new Map(); // id -> ms
    this.timer = null;
  }

  track(id, at) {
    if (at === null || at === undefined) return;
    this.due.set(id, at);
    this.arm();
  }

  untrack(id) {
    if (this.due.delete(id)) this.arm();
  }

  clear() {
    this.due.clear();
    this.arm();
  }

  arm() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.due.size) return;
    const next = Math.min(...this.due.values());
    const wait = Math.min(Math.max(0, next - Date.now()), 3600000);
    this.timer = setTimeout(() => this.fire(), wait);
  }

  fire() {
    const now = Date.now();
    for (const [id, at] of [...this.due]) {
      if (at <= now) {
        this.due.delete(id);
        this.onExpired(id);
      }
    }
    this.arm();
  }
}
