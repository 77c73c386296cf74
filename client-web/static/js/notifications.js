// The user's notification list (their user:<id> queue): newest first, one entry per id whatever path it
// came by (REST load, live, replay after a reconnect), unread badge, mark-as-read, and a detail view that
// fetches the full stored message over REST (seed 000's AJAX step).
import { api } from './api.js';
import { h, icon, clear, setText, relativeTime, timeLabel, senderName } from './dom.js';

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
  constructor({ userId, list, empty, badges, markAllButton, modal }) {
    super();
    this.userId = userId;
    this.list = list;
    this.empty = empty;
    this.badges = badges;
    this.markAllButton = markAllButton;
    this.modal = modal;
    this.items = new Map(); // id -> {message, el}
    this.unread = 0;
    markAllButton?.addEventListener('click', () => this.markAllRead());
    // Relative times ("2 min ago") age in place.
    setInterval(() => this.refreshTimes(), 15000);
  }

  /** Replaces the list with a REST page ({notifications, unread}). */
  load(page) {
    for (const { el } of this.items.values()) el.remove();
    this.items.clear();
    for (const n of page.notifications || []) this.insert(n, { read: Boolean(n.read) });
    this.setUnread(Number(page.unread) || 0);
    this.updateEmpty();
  }

  /** A message from the live feed; false if this id is already listed. */
  add(message) {
    if (this.items.has(message.id)) return false;
    this.insert(message, { read: Boolean(message.read), fresh: true });
    if (!message.read) this.setUnread(this.unread + 1);
    this.updateEmpty();
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
    // Newest first: before the first listed item with a smaller id.
    let before = null;
    for (const child of this.list.children) {
      if (Number(child.dataset.id) < message.id) {
        before = child;
        break;
      }
    }
    this.list.insertBefore(el, before);
    this.items.set(message.id, { message, el, read });
    while (this.items.size > MAX_ITEMS) {
      const oldest = Math.min(...this.items.keys());
      this.items.get(oldest).el.remove();
      this.items.delete(oldest);
    }
  }

  render(message, read) {
    const look = lookFor(message);
    const time = h('time', { class: 'rel-time', datetime: message.timestamp, title: timeLabel(message.timestamp) },
      relativeTime(message.timestamp));
    const markButton = h('button', {
      type: 'button',
      class: 'btn btn-sm btn-light mark-read',
      title: 'Mark as read',
      'aria-label': 'Mark as read',
      onclick: (e) => {
        e.stopPropagation();
        this.markRead(message.id);
      },
    }, icon('check'));
    const el = h('li', {
      class: `notification list-group-item list-group-item-action${read ? '' : ' unread'}`,
      dataset: { id: message.id, level: levelOf(message) },
      tabindex: '0',
      role: 'button',
      onclick: () => this.open(message.id),
      onkeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          this.open(message.id);
        }
      },
    },
    h('div', { class: `level-icon tone-${look.tone}` }, icon(look.icon)),
    h('div', { class: 'body' },
      h('div', { class: 'd-flex align-items-baseline gap-2' },
        h('span', { class: 'title' }, titleOf(message)),
        h('span', { class: 'unread-dot', title: 'Unread' }),
        h('span', { class: 'ms-auto meta text-nowrap' }, time)),
      message.message ? h('div', { class: 'text' }, String(message.message)) : null,
      h('div', { class: 'meta' },
        message.sender ? h('span', {}, `from ${senderName(message.sender)}`) : null,
        h('span', { class: 'id' }, `#${message.id}`))),
    markButton);
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

  setRead(id) {
    const item = this.items.get(id);
    if (item && !item.read) {
      item.read = true;
      item.el.classList.remove('unread');
      return true;
    }
    return false;
  }

  async markRead(id) {
    const wasUnread = this.setRead(id);
    try {
      const r = await api.markRead(id);
      if (Number.isInteger(r.unread)) this.setUnread(r.unread);
    } catch (err) {
      if (wasUnread) {
        const item = this.items.get(id);
        item.read = false;
        item.el.classList.add('unread');
      }
      this.dispatchEvent(new CustomEvent('failure', { detail: { action: 'mark as read', error: err } }));
    }
  }

  async markAllRead() {
    try {
      const r = await api.markAllRead(this.userId);
      for (const id of this.items.keys()) this.setRead(id);
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
