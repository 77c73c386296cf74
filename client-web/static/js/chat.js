// The chat room (channel "chat"): bubbles in id order, one per id, the user's own on the right.
import { h, setText, timeLabel, initials, hueFor, senderName } from './dom.js';
import { MessageList } from './messagelist.js';
import { chainOf, expiresAt, isExpired, supersededElement } from './rich.js';

const MAX_MESSAGES = 300;

export function displayName(userId) {
  return `User ${userId}`;
}

export class ChatPanel extends MessageList {
  constructor({ userId, clientId, list, empty, form, input, onSend }) {
    super({ list, empty });
    this.userId = userId;
    this.clientId = clientId;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.disabled = true;
      try {
        if (await onSend(text)) input.value = '';
      } finally {
        input.disabled = false;
        input.focus();
      }
    });
  }

  isMine(message) {
    const d = message.data && typeof message.data === 'object' ? message.data : {};
    if (d.user_id !== undefined) return String(d.user_id) === String(this.userId);
    return message.sender === this.clientId;
  }

  add(message) {
    if (this.ids.has(message.id) || isExpired(message)) return false;
    this.ids.add(message.id);
    this.expiry.track(message.id, expiresAt(message));
    const mine = this.isMine(message);
    const sender = senderName(message.sender) || 'anonymous';
    const bubble = h('li', { class: `chat-msg${mine ? ' mine' : ''}`, dataset: { id: message.id, chain: chainOf(message) } },
      mine ? null : h('div', { class: 'avatar', style: `--hue:${hueFor(sender)}`, 'aria-hidden': 'true' }, initials(sender)),
      h('div', { class: 'bubble-wrap' },
        h('div', { class: 'who' }, mine ? 'You' : sender,
          h('time', { datetime: message.timestamp }, timeLabel(message.timestamp))),
        h('div', { class: 'bubble' }, String(message.message ?? ''))));
    // By the id it names, else by its chain (what a page that was offline meanwhile shows of it).
    const old = supersededElement(this.list, message, 'replaces');
    if (old) {
      // An edit: the new text where the old one was.
      const oldId = Number(old.dataset.id);
      this.list.replaceChild(bubble, old);
      this.ids.delete(oldId);
      this.expiry.untrack(oldId);
      return true;
    }
    // In id order: replayed messages can land between ones already shown.
    let after = null;
    for (const child of this.list.children) {
      if (Number(child.dataset.id) > message.id) {
        after = child;
        break;
      }
    }
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.insertBefore(bubble, after);
    while (this.list.children.length > MAX_MESSAGES) {
      this.ids.delete(Number(this.list.firstElementChild.dataset.id));
      this.list.firstElementChild.remove();
    }
    this.empty.classList.add('d-none');
    if (atBottom || mine) this.list.scrollTop = this.list.scrollHeight;
    return true;
  }

  setOnline(online) {
    setText(this.list.closest('.card')?.querySelector('.chat-state'), online ? '' : 'offline');
  }
}
