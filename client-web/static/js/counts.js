// Live counts: the page's one connection carries them (/ws?counts=1 or /events?counts=1), pushed by the
// server on every change of clients, subscribers or channels, first right after connecting. No REST poll and
// no socket of its own: a second connection would count the tab twice, and a poll answered after a newer push
// would show an older figure.

export class CountsFeed extends EventTarget {
  constructor() {
    super();
    this.counts = { clients: null, subscribers: null, channels: null };
  }

  /** A counts frame; figures it lacks (an older server's frame has no channels) are left as they are. */
  take(frame) {
    const partial = { clients: frame.clients, subscribers: frame.subscribers };
    if (Number.isInteger(frame.channels)) partial.channels = frame.channels;
    this.update(partial);
  }

  /** The connection is not live: nothing shown is known to be current. */
  unknown() {
    this.update({ clients: null, subscribers: null, channels: null });
  }

  update(partial) {
    Object.assign(this.counts, partial);
    this.dispatchEvent(new CustomEvent('change', { detail: { ...this.counts } }));
  }
}
