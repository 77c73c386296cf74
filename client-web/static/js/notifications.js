// The user's notification list (their user:<id> queue): newest first, one entry per id whatever path it
// came by (REST load, live, replay after a reconnect), unread badge, mark-as-read, and a detail view that
// fetches the full stored message over REST (seed 000's AJAX step).
import { api } from './api.js';
import { h, icon, clear, setText, relativeTime, timeLabel, senderName } from './dom.js';
import {
  ExpiryTimer, actionButtons, attachmentLink, expiresAt, iconElement, isExpired, isQuiet, priorityBadge, priorityOf,
  quietMarker, supersededId, tagChips, tagsOf, titleElement,
} from './rich.js';

const MAX_ITEMS = 200;

const LEVELS = {
  success: { icon: 'check-circle', tone: 'success' },
  warning: { icon: 'alert', tone: 'warning' },
  error: { icon: 'alert', tone: 'danger' },
  danger: { icon: 'alert', tone: 'danger' },
  info: { icon: 'info', tone: 'info' },
};

export function levelOf(message) {
  const level = message?.data && typeof message.data === 'object' ? message.data.level : undefined;
  return LEVELS[level] ? level : LEVELS[message?.type] ? message.type : 'default';
}

function lookFor(message) {
  return LEVELS[levelOf(message)] || { icon: 'bell', tone: 'primary' };
}

export function titleOf(message) {
  if (message.title) return String(message.title);
  const type = String(message.type || 'message');
  return type.charAt(0).toUpperCase() + type.slice(1);
}

export class NotificationCenter extends EventTarget {
  constructor({ userId, list, empty, badges, markAllButton, modal, onReply }) {
    super();
    this.userId = userId;
    this.list = list;
    this.empty = empty;
    this.badges = badges;
    this.markAllButton = markAllButton;
    this.modal = modal;
    this.onReply = onReply;
    this.items = new Map(); // id -> {message, el, read}
    this.unread = 0;
    // A message leaves the list when its `expires` passes (the server sends no event for that).
    this.expiry = new ExpiryTimer((id) => this.remove(id));
    markAllButton?.addEventListener('click', () => this.markAllRead());
    // Relative times ("2 min ago") age in place.
    setInterval(() => this.refreshTimes(), 15000);
  }

  /** Forgets every listed message (after a reset of the server's data their ids name other messages). */
  clear() {
    for (const { el } of this.items.values()) el.remove();
    this.items.clear();
    this.expiry.clear();
    this.setUnread(0);
    this.updateEmpty();
  }

  /**
   * Replaces the list with a REST page ({notifications, unread, last_id}). What arrived live while the page
   * was being fetched, after the server's `last_id` for it, is not in it and stays (added again on top).
   */
  load(page) {
    const snapshot = Number.isInteger(page.last_id) ? page.last_id : Infinity;
    const later = [...this.items.values()]
      .filter(({ message }) => message.id > snapshot)
      .map(({ message, read }) => ({ ...message, read }));
    this.clear();
    for (const n of page.notifications || []) {
      if (!isExpired(n)) this.insert(n, { read: Boolean(n.read) });
    }
    this.setUnread(Number(page.unread) || 0);
    for (const m of later) this.add(m);
    this.updateEmpty();
  }

  /**
   * A message from the live feed: 'new', 'updated' (it replaced the message it names, in place), or false
   * (this id is already listed, or it has expired).
   */
  add(message) {
    if (this.items.has(message.id) || isExpired(message)) return false;
    const read = Boolean(message.read);
    const oldId = supersededId(message, 'replaces', this.messages());
    const old = oldId === undefined ? undefined : this.items.get(oldId);
    if (old) {
      // The new state of a message already shown: same place in the list, new content and id.
      const el = this.render(message, read);
      el.classList.add('fresh', 'updated');
      el.dataset.sort = old.el.dataset.sort;
      this.list.replaceChild(el, old.el);
      this.items.delete(oldId);
      this.expiry.untrack(oldId);
      this.items.set(message.id, { message, el, read });
      this.expiry.track(message.id, expiresAt(message));
      this.setUnread(this.unread - (old.read ? 0 : 1) + (read ? 0 : 1));
      return 'updated';
    }
    this.insert(message, { read, fresh: true });
    if (!read) this.setUnread(this.unread + 1);
    this.updateEmpty();
    return 'new';
  }

  /** The listed messages by id (what supersededId looks through). */
  messages() {
    return new Map([...this.items].map(([id, item]) => [id, item.message]));
  }

  /** A withdrawn event: takes what it withdraws off the list, by id or else by chain. */
  withdraw(event) {
    const id = supersededId(event, 'withdraws', this.messages());
    return id !== undefined && this.remove(id);
  }

  /** Takes a message off the list (withdrawn, expired, deleted); its unread mark goes with it. */
  remove(id, { count = true } = {}) {
    const item = this.items.get(id);
    if (!item) return false;
    item.el.remove();
    this.items.delete(id);
    this.expiry.untrack(id);
    if (count && !item.read) this.setUnread(this.unread - 1);
    this.updateEmpty();
    return true;
  }

  /**
   * An event of the user's reads:<id> channel (another tab, device or REST client changed the read state):
   * {type: 'read'|'unread'|'deleted', ids} or {type: 'read', all: true, up_to}, with the queue's `unread`
   * count after the change, which the badge takes as it is.
   */
  applyReadEvent(event) {
    const ids = Array.isArray(event.ids) ? event.ids.filter(Number.isInteger) : [];
    let delta = 0;
    if (event.type === 'read') {
      const upTo = Number.isInteger(event.up_to) ? event.up_to : Infinity;
      const which = event.all === true ? [...this.items.keys()].filter((id) => id <= upTo) : ids;
      for (const id of which) if (this.setRead(id, true)) delta -= 1;
    } else if (event.type === 'unread') {
      for (const id of ids) if (this.setRead(id, false)) delta += 1;
    } else if (event.type === 'deleted') {
      for (const id of ids) {
        const item = this.items.get(id);
        if (item && this.remove(id, { count: false }) && !item.read) delta -= 1;
      }
    } else {
      return false;
    }
    this.setUnread(Number.isInteger(event.unread) ? event.unread : this.unread + delta);
    return true;
  }

  has(id) {
    return this.items.has(id);
  }

  ids() {
    return [...this.items.keys()].sort((a, b) => a - b);
  }

  insert(message, { read, fresh = false }) {
    const el = this.render(message, read);
    if (fresh) el.classList.add('fresh');
    // Newest first: before the first listed item with a smaller sort key (an updated message keeps the
    // place, and so the key, of the one it replaced).
    el.dataset.sort = String(message.id);
    let before = null;
    for (const child of this.list.children) {
      if (Number(child.dataset.sort) < message.id) {
        before = child;
        break;
      }
    }
    this.list.insertBefore(el, before);
    this.items.set(message.id, { message, el, read });
    this.expiry.track(message.id, expiresAt(message));
    while (this.items.size > MAX_ITEMS) {
      const oldest = Math.min(...this.items.keys());
      this.items.get(oldest).el.remove();
      this.items.delete(oldest);
      this.expiry.untrack(oldest);
    }
  }

  render(message, read) {
    const look = lookFor(message);
    const priority = priorityOf(message);
    const time = h('time', { class: 'rel-time', datetime: message.timestamp, title: timeLabel(message.timestamp) },
      relativeTime(message.timestamp));
    const itemButton = (cls, title, iconName, fn) => h('button', {
      type: 'button',
      class: `btn btn-sm btn-light item-button ${cls}`,
      title,
      'aria-label': title,
      onclick: (e) => {
        e.stopPropagation();
        fn();
      },
    }, icon(iconName));
    const el = h('li', {
      class: `notification list-group-item list-group-item-action prio-${priority}${read ? '' : ' unread'}${isQuiet(message) ? ' quiet' : ''}`,
      dataset: { id: message.id, level: levelOf(message), priority },
      tabindex: '0',
      role: 'button',
      onclick: () => this.open(message.id),
      onkeydown: (e) => {
        if (e.target === e.currentTarget && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          this.open(message.id);
        }
      },
    },
    h('div', { class: `level-icon tone-${priority === 5 ? 'danger' : look.tone}` }, iconElement(message) || icon(look.icon)),
    h('div', { class: 'body' },
      h('div', { class: 'd-flex align-items-baseline gap-2' },
        titleElement(message, titleOf(message)),
        priorityBadge(message),
        h('span', { class: 'unread-dot', title: 'Unread' }),
        h('span', { class: 'ms-auto meta text-nowrap' }, time)),
      message.message ? h('div', { class: 'text' }, String(message.message)) : null,
      tagChips(message),
      actionButtons(message, { onReply: this.onReply }),
      attachmentLink(message),
      h('div', { class: 'meta' },
        quietMarker(message),
        message.sender ? h('span', {}, `from ${senderName(message.sender)}`) : null,
        Number.isInteger(message.replaces) ? h('span', { class: 'updated-marker' }, 'updated') : null,
        expiresAt(message) !== null ? h('span', { class: 'expires', title: timeLabel(message.expires) }, `until ${timeLabel(message.expires)}`) : null,
        h('span', { class: 'id' }, `#${message.id}`))),
    h('div', { class: 'item-buttons' },
      itemButton('mark-read', 'Mark as read', 'check', () => this.markRead(message.id)),
      itemButton('mark-unread', 'Mark as unread', 'mail', () => this.markUnread(message.id)),
      itemButton('delete', 'Delete', 'trash', () => this.delete(message.id))));
    return el;
  }

  setUnread(n) {
    this.unread = Math.max(0, n);
    for (const badge of this.badges) {
      setText(badge, this.unread > 99 ? '99+' : this.unread);
      badge.dataset.count = String(this.unread);
      badge.classList.toggle('d-none', this.unread === 0 && badge.dataset.hideZero === '1');
    }
    if (this.markAllButton) this.markAllButton.disabled = this.unread === 0;
    document.title = this.unread > 0 ? `(${this.unread}) Herald` : 'Herald';
    this.dispatchEvent(new CustomEvent('unread', { detail: { unread: this.unread } }));
  }

  /** Marks one listed item read (or unread); true if that changed it. */
  setRead(id, read = true) {
    const item = this.items.get(id);
    if (!item || item.read === read) return false;
    item.read = read;
    item.el.classList.toggle('unread', !read);
    return true;
  }

  async markRead(id) {
    const changed = this.setRead(id, true);
    if (changed) this.setUnread(this.unread - 1);
    try {
      const r = await api.markRead(id);
      if (Number.isInteger(r?.unread)) this.setUnread(r.unread);
    } catch (err) {
      if (changed && this.setRead(id, false)) this.setUnread(this.unread + 1);
      this.dispatchEvent(new CustomEvent('failure', { detail: { action: 'mark as read', error: err } }));
    }
  }

  async markUnread(id) {
    const changed = this.setRead(id, false);
    if (changed) this.setUnread(this.unread + 1);
    try {
      const r = await api.markUnread(id);
      if (Number.isInteger(r?.unread)) this.setUnread(r.unread);
    } catch (err) {
      if (changed && this.setRead(id, true)) this.setUnread(this.unread - 1);
      this.dispatchEvent(new CustomEvent('failure', { detail: { action: 'mark as unread', error: err } }));
    }
  }

  async delete(id) {
    try {
      const r = await api.deleteNotification(id);
      this.remove(id);
      if (Number.isInteger(r?.unread)) this.setUnread(r.unread);
    } catch (err) {
      this.dispatchEvent(new CustomEvent('failure', { detail: { action: 'delete it', error: err } }));
    }
  }

  async markAllRead() {
    try {
      const shown = [...this.items.keys()].map(Number).filter(Number.isInteger);
      const r = await api.markAllRead(this.userId, shown.length ? Math.max(...shown) : 0);
      for (const id of this.items.keys()) this.setRead(id, true);
      this.setUnread(Number(r.unread) || 0);
    } catch (err) {
      this.dispatchEvent(new CustomEvent('failure', { detail: { action: 'mark all as read', error: err } }));
    }
  }

  /** The detail view: the full stored message fetched over REST, then marked read. */
  async open(id) {
    const { body, title } = this.modal;
    setText(title, `Notification #${id}`);
    clear(body);
    body.appendChild(h('div', { class: 'text-center text-muted py-4' },
      h('div', { class: 'spinner-border spinner-border-sm me-2', role: 'status' }), 'Loading…'));
    this.modal.show();
    let full;
    try {
      full = await api.notification(this.userId, id);
    } catch (err) {
      clear(body);
      body.appendChild(h('div', { class: 'alert alert-warning mb-0' }, `Could not load it: ${err.message}`));
      return;
    }
    clear(body);
    setText(title, titleOf(full));
    const rows = [
      ['Message', full.message],
      ['Priority', full.priority],
      ['Tags', tagsOf(full).join(', ')],
      ['Expires', full.expires ? timeLabel(full.expires) : undefined],
      ['Type', full.type],
      ['Channel', full.channel],
      ['From', full.sender ? senderName(full.sender) : full.sender],
      ['Received', timeLabel(full.timestamp)],
      ['Id', `#${full.id}`],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    body.appendChild(h('dl', { class: 'row mb-0 detail' },
      rows.map(([k, v]) => [h('dt', { class: 'col-sm-3 text-muted fw-normal' }, k),
        h('dd', { class: 'col-sm-9' }, String(v))])));
    if (full.data !== undefined) {
      body.appendChild(h('div', { class: 'small text-muted mt-3 mb-1' }, 'Data'));
      body.appendChild(h('pre', { class: 'data-json' }, JSON.stringify(full.data, null, 2)));
    }
    if (!full.read) this.markRead(id);
  }

  refreshTimes() {
    for (const t of this.list.querySelectorAll('time.rel-time')) {
      t.textContent = relativeTime(t.getAttribute('datetime'));
    }
  }

  updateEmpty() {
    this.empty.classList.toggle('d-none', this.items.size > 0);
  }
}
