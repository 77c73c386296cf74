// Everything that is neither the user's own queue nor chat: broadcasts, seed 003 "notify" relays,
// messages on channels the user subscribed to. Newest first, one per id.
import { h, icon, timeLabel, senderName } from './dom.js';
import { MessageList } from './messagelist.js';
import { titleOf } from './notifications.js';
import {
  actionButtons, attachmentLink, expiresAt, iconElement, isExpired, isQuiet, priorityBadge, priorityOf,
  chainOf, quietMarker, supersededElement, tagChips, titleElement,
} from './rich.js';

const MAX_ITEMS = 100;

function iconFor(message) {
  if (message.type === 'notify') return 'megaphone';
  if (message.channel === 'broadcast') return 'radio';
  return 'hash';
}

export class ActivityFeed extends MessageList {
  constructor({ list, empty, onReply }) {
    super({ list, empty });
    this.onReply = onReply;
  }

  render(message) {
    const priority = priorityOf(message);
    return h('li', {
      class: `activity-item prio-${priority}${isQuiet(message) ? ' quiet' : ''}`,
      dataset: { id: message.id ?? '', chain: chainOf(message) ?? '', channel: message.channel || '', priority },
    },
    h('div', { class: 'activity-icon' }, iconElement(message) || icon(iconFor(message))),
    h('div', { class: 'flex-grow-1 min-w-0' },
      h('div', { class: 'd-flex gap-2 align-items-baseline' },
        titleElement(message, titleOf(message), 'fw-semibold text-truncate title'),
        priorityBadge(message),
        h('span', { class: 'badge rounded-pill channel-badge ms-auto' }, message.channel || '')),
      message.message ? h('div', { class: 'text' }, String(message.message)) : null,
      tagChips(message),
      actionButtons(message, { onReply: this.onReply }),
      attachmentLink(message),
      h('div', { class: 'meta' },
        quietMarker(message),
        h('time', { datetime: message.timestamp }, timeLabel(message.timestamp)),
        message.sender ? ` · from ${senderName(message.sender)}` : null)));
  }

  /** 'new', 'updated' (it replaced the message it names, in place), or false (already shown, or expired). */
  add(message) {
    const key = message.id ?? `${message.timestamp}|${message.message}`;
    if (this.ids.has(key) || isExpired(message)) return false;
    this.ids.add(key);
    const el = this.render(message);
    // By the id it names, else by its chain (what a page that was offline meanwhile shows of it).
    const old = supersededElement(this.list, message, 'replaces');
    if (old) {
      const oldId = Number(old.dataset.id);
      el.classList.add('updated');
      el.dataset.sort = old.dataset.sort;
      this.list.replaceChild(el, old);
      this.ids.delete(oldId);
      this.expiry.untrack(oldId);
      this.expiry.track(message.id, expiresAt(message));
      return 'updated';
    }
    el.dataset.sort = String(message.id ?? '');
    let before = null;
    for (const child of this.list.children) {
      if (Number(child.dataset.sort) < Number(message.id)) {
        before = child;
        break;
      }
    }
    this.list.insertBefore(el, before);
    if (message.id !== undefined) this.expiry.track(message.id, expiresAt(message));
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild.remove();
    this.empty.classList.add('d-none');
    return 'new';
  }
}
