// What the activity feed and the chat room share: a list element of messages, one per data-id, an element
// shown while it is empty, and expiry that takes a message off when its time passes.
import { ExpiryTimer, supersededElement } from './rich.js';

export class MessageList {
  constructor({ list, empty }) {
    this.list = list;
    this.empty = empty;
    this.ids = new Set();
    this.expiry = new ExpiryTimer((id) => this.remove(id));
  }

  /** Empties the list (the server's history was reset: these ids now name other messages). */
  clear() {
    this.ids.clear();
    this.expiry.clear();
    this.list.replaceChildren();
    this.empty.classList.remove('d-none');
  }

  find(id) {
    for (const child of this.list.children) if (Number(child.dataset.id) === id) return child;
    return null;
  }

  /** A withdrawn event: takes what it withdraws off the list, by id or else by chain. */
  withdraw(event) {
    const el = supersededElement(this.list, event, 'withdraws');
    return Boolean(el) && this.remove(Number(el.dataset.id));
  }

  /** Takes a message off the list (withdrawn or expired). */
  remove(id) {
    const el = this.find(id);
    this.expiry.untrack(id);
    if (!el) return false;
    el.remove();
    this.ids.delete(id);
    this.empty.classList.toggle('d-none', this.list.children.length > 0);
    return true;
  }
}
