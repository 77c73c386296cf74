// Live counts: a /ws/client socket (seed 003's client route) gets {"type":"counts","subscribers":…,"clients":…}
// pushed on every change. It reconnects with its own backoff; GET /api/stats fills in at start and after
// each reconnect (the push only comes on a change).
import { api, getToken } from './api.js';
import { Backoff } from './connection.js';

export class CountsFeed extends EventTarget {
  constructor() {
    super();
    this.backoff = new Backoff({ base: 1000, cap: 30000 });
    this.socket = null;
    this.timer = null;
    this.counts = { clients: null, subscribers: null, channels: null };
  }

  start() {
    this.open();
  }

  /** The main connection came back: the server is up, so do not wait out this socket's countdown. */
  nudge() {
    if (!this.socket) {
      clearTimeout(this.timer);
      this.open();
    }
  }

  open() {
    this.timer = null;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = getToken();
    const ws = new WebSocket(`${proto}//${location.host}/ws/client${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    this.socket = ws;
    ws.onopen = () => {
      this.backoff.reset();
      this.refresh();
    };
    ws.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame && frame.type === 'counts') this.update({ clients: frame.clients, subscribers: frame.subscribers });
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.update({ clients: null, subscribers: null, channels: null });
      this.timer = setTimeout(() => this.open(), this.backoff.next());
    };
  }

  async refresh() {
    try {
      const s = await api.stats();
      this.update({ clients: s.clients, subscribers: s.subscribers, channels: s.total_channels });
    } catch {
      /* the socket's close handles an absent server */
    }
  }

  update(partial) {
    Object.assign(this.counts, partial);
    this.dispatchEvent(new CustomEvent('change', { detail: { ...this.counts } }));
  }
}
