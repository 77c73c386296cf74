// Everything that is neither the user's own queue nor chat: broadcasts, seed 003 "notify" relays,
// messages on channels the user subscribed to. Newest first, one per id.
import { h, icon, timeLabel, senderName } from './dom.js';
import { titleOf } from './notifications.js';

const MAX_ITEMS = 100;

function iconFor(message) {
  if (message.type === 'notify') return 'megaphone';
  if (message.channel === 'broadcast') return 'radio';
  return 'hash';
}

export class ActivityFeed {
  constructor({ list, empty }) {
    this.list = list;
    this.empty = empty;
    this.ids = new Set();
  }

  /** Empties the feed (the server's history was reset: these ids now name other messages). */
  clear() {
    this.ids.clear();
    this.list.replaceChildren();
    this.empty.classList.remove('d-none');
  }

  add(message) {
    const key = message.id ?? `${message.timestamp}|${message.message}`;
    if (this.ids.has(key)) return false;
    this.ids.add(key);
    const el = h('li', { class: 'activity-item', dataset: { id: message.id ?? '', channel: message.channel || '' } },
      h('div', { class: 'activity-icon' }, icon(iconFor(message))),
      h('div', { class: 'flex-grow-1 min-w-0' },
        h('div', { class: 'd-flex gap-2 align-items-baseline' },
          h('span', { class: 'fw-semibold text-truncate' }, titleOf(message)),
          h('span', { class: 'badge rounded-pill channel-badge ms-auto' }, message.channel || '')),
        message.message ? h('div', { class: 'text' }, String(message.message)) : null,
        h('div', { class: 'meta' },
          h('time', { datetime: message.timestamp }, timeLabel(message.timestamp)),
          message.sender ? ` · from ${senderName(message.sender)}` : null)));
    let before = null;
    for (const child of this.list.children) {
      if (Number(child.dataset.id) < Number(message.id)) {
        before = child;
        break;
      }
    }
    this.list.insertBefore(el, before);
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild.remove();
    this.empty.classList.add('d-none');
    return true;
  }
}
