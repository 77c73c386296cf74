// One live feed from Herald over WebSocket (/ws) or Server-Sent Events (/events), with automatic reconnect
// (exponential backoff with jitter, a countdown the page can show, retryNow()) and resume: every reconnect
// hands back the last message id seen (?since=), so the hub replays what was missed, in order.
//
// "Live" means the server accepted the connection: a WebSocket's 'connected' frame (an upgrade alone proves
// nothing in token mode, where a socket without a token is closed at its first frame), an event stream's 200.
//
// Events (CustomEvent, detail in brackets):
//   status   {state: 'connecting'|'live'|'waiting'|'refused'|'stopped', retryAt, attempt, transport}
//   refused  {code, reason}           closed 1008 (no token, token expired, client id of another user…): no
//                                    retry until retryNow(), since the same request would be refused again
//   failed   {}                       an attempt ended before the server accepted it (then 'waiting')
//   message  {message, replayed}     every published message (chat, notifications, broadcasts…)
//   replay   {since, count, recovered, last_id, epoch, reason}   before the replayed messages (on SSE: only when
//            not recovered); reason 'reset': the server's history is another than the one the ids came from
//
// Ids are comparable only within one epoch of the server's history (a new data dir is a new epoch): the last
// id goes with the epoch it came from (?epoch=), and a frame showing another epoch makes the held id worthless,
// so it is replaced by the server's own position rather than sent again.
//   reply    {frame}                  other frames: connected, published, pong, stats, subscribed, error…

export const CHANNEL_RE = /^[A-Za-z0-9_.:-]{1,128}$/;


/** Exponential backoff with "equal jitter": half of each step is fixed, half random. */
export class Backoff {
  constructor({ base = 1000, cap = 30000, factor = 2, random = Math.random } = {}) {
    Object.assign(this, { base, cap, factor, random });
    this.attempt = 0;
  }

  next() {
    const step = Math.min(this.cap, this.base * this.factor ** this.attempt);
    this.attempt += 1;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  reset() {
    this.attempt = 0;
  }
}

export class Connection extends EventTarget {
  /**
   * @param {object} o
   * @param {'ws'|'sse'} o.transport
   * @param {string} o.userId     subscribes to user:<id>
   * @param {string} o.clientId
   * @param {string[]} o.channels extra channels (chat, …)
   * @param {string[]} o.fixed    channels always subscribed, never listed in `channels` (reads:<id>)
   * @param {number|null} o.since resume point for the first connection
   * @param {string|null} o.epoch the epoch of the server's history that `since` comes from
   */
  constructor({ transport = 'ws', userId, clientId, channels = [], fixed = [], since = null, epoch = null, token = null, backoff = new Backoff() }) {
    super();
    this.token = token;
    this.transport = transport === 'sse' ? 'sse' : 'ws';
    this.userId = userId;
    this.clientId = clientId;
    this.channels = [...new Set(channels)];
    this.fixed = [...new Set(fixed)];
    this.lastId = Number.isInteger(since) ? since : null;
    this.epoch = typeof epoch === 'string' && epoch ? epoch : null;
    this.backoff = backoff;
    this.state = 'stopped';
    this.retryAt = 0;
    this.socket = null;
    this.source = null;
    this.timer = null;
    this.watchdog = null;
    this.replayLeft = 0;
    this.lastFrameAt = 0;
    this.everLive = false;
    this.pending = new Map(); // ref -> {resolve, reject, timer}: requests waiting for their answer
    this.nextRef = 1;
  }

  start() {
    if (this.state !== 'stopped') return;
    this.open();
  }

  stop() {
    this.teardown();
    this.setState('stopped');
  }

  /** Skip the countdown and try at once (the "retry now" button). */
  retryNow() {
    if (this.state === 'waiting' || this.state === 'stopped' || this.state === 'refused') {
      clearTimeout(this.timer);
      this.open();
    }
  }

  /** Sends a frame on the WebSocket once the server accepted it; false otherwise (or on SSE, which is one-way). */
  send(frame) {
    if (this.state !== 'live') return false;
    return this.sendRaw(frame);
  }

  /**
   * Sends a frame and waits for the server's answer to it, matched by "ref": resolves with the reply (e.g.
   * 'published'), rejects with the message of an error frame (forbidden, rate_limited…) or when no answer
   * comes. null when not live (the caller falls back to REST). Only for requests the server answers.
   */
  request(frame, { timeout = 10000 } = {}) {
    if (this.state !== 'live' || this.transport !== 'ws') return null;
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error('Herald did not answer: it may not have been sent'));
      }, timeout);
      this.pending.set(ref, { resolve, reject, timer });
      this.sendRaw({ ...frame, ref });
    });
  }

  sendRaw(frame) {
    if (this.transport !== 'ws' || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  get isLive() {
    return this.state === 'live';
  }

  subscribe(channel) {
    if (!CHANNEL_RE.test(channel) || this.channels.includes(channel)) return false;
    this.channels.push(channel);
    this.channelsChanged({ action: 'subscribe', channel });
    return true;
  }

  unsubscribe(channel) {
    const i = this.channels.indexOf(channel);
    if (i < 0) return false;
    this.channels.splice(i, 1);
    this.channelsChanged({ action: 'unsubscribe', channel });
    return true;
  }

  // --- internals -------------------------------------------------------------------------------------------

  channelsChanged(frame) {
    if (this.transport === 'ws') {
      this.sendRaw(frame); // also in the URL of every later reconnect
    } else if (this.state === 'live' || this.state === 'connecting') {
      // An EventSource cannot change its channels: reopen it from the last id, so nothing is lost.
      this.teardown();
      this.open();
    }
  }

  url() {
    const q = new URLSearchParams();
    q.set('client_id', this.clientId);
    if (this.userId) q.set('user_id', this.userId);
    const channels = [...this.fixed, ...this.channels.filter((c) => !this.fixed.includes(c))];
    if (channels.length) q.set('channels', channels.join(','));
    if (this.lastId !== null) {
      q.set('since', String(this.lastId));
      if (this.epoch) q.set('epoch', this.epoch);
    }
    if (this.token) q.set('token', this.token);
    q.set('counts', '1'); // the live counts on this connection too: no second one to count the tab twice
    if (this.transport === 'sse') {
      // Unnamed events: EventSource hands a named event only to a listener for that very name, so a named
      // stream would drop every message type the page did not list in advance. Each message carries its
      // type in its JSON anyway. (The replay notice then comes only when something could not be recovered.)
      q.set('named', '0');
    }
    if (this.transport === 'ws') {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      return `${proto}//${location.host}/ws?${q}`;
    }
    return `/events?${q}`;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state) {
    this.state = state;
    this.emit('status', { state, retryAt: this.retryAt, attempt: this.backoff.attempt, transport: this.transport });
  }

  open() {
    this.teardown();
    this.replayLeft = 0;
    this.setState('connecting');
    if (this.transport === 'ws') this.openWebSocket();
    else this.openEventSource();
  }

  teardown() {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error('The connection ended before Herald answered: it may not have been sent'));
    }
    this.pending.clear();
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.timer = null;
    this.watchdog = null;
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) s.close(1000, 'bye');
    }
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  becameLive() {
    this.backoff.reset();
    this.everLive = true;
    this.lastFrameAt = Date.now();
    this.setState('live');
  }

  scheduleReconnect() {
    if (this.state === 'connecting') this.emit('failed', {});
    this.teardown();
    const delay = this.backoff.next();
    this.retryAt = Date.now() + delay;
    this.setState('waiting');
    this.timer = setTimeout(() => this.open(), delay);
  }

  openWebSocket() {
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      // Not live yet: that takes the server's 'connected' frame (handleFrame).
      this.lastFrameAt = Date.now();
      // A silent network (no FIN, no RST) would leave the socket "open" forever: ping, and give up on a
      // connection that has said nothing for a minute.
      this.watchdog = setInterval(() => {
        if (Date.now() - this.lastFrameAt > 60000) ws.close(4000, 'no traffic');
        else this.sendRaw({ type: 'ping' });
      }, 25000);
    };
    ws.onmessage = (e) => {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      this.handleFrame(frame);
    };
    ws.onclose = (e) => {
      if (this.socket !== ws) return;
      if (e.code === 1008) {
        // Policy: no token, an expired one, a client id another user holds. Trying again would only be
        // refused again, so wait for the user (a new token, or retryNow()).
        this.teardown();
        this.emit('refused', { code: e.code, reason: e.reason || 'refused by the server' });
        this.setState('refused');
        return;
      }
      // 4001: an administrator disconnected this client; come back all the same, but not at once.
      if (e.code === 4001) this.backoff.attempt = Math.max(this.backoff.attempt, 3);
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  openEventSource() {
    const es = new EventSource(this.url());
    this.source = es;
    es.onopen = () => this.becameLive();
    const onEvent = (e) => {
      if (this.source !== es) return;
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      this.handleFrame(frame, e.lastEventId);
    };
    es.onmessage = onEvent;
    es.addEventListener('replay', onEvent); // should a server name it all the same
    es.onerror = () => {
      if (this.source !== es) return;
      // EventSource would retry on its own, but without our countdown and from its own Last-Event-ID; the
      // page drives the retries itself (resuming with ?since=) so both transports behave alike.
      this.scheduleReconnect();
    };
  }

  /** Takes the epoch a frame shows; another than the one held voids the last id (see the top of the file). */
  adoptEpoch(frame) {
    if (typeof frame.epoch !== 'string' || !frame.epoch || frame.epoch === this.epoch) return;
    const previous = this.epoch;
    this.epoch = frame.epoch;
    if (previous === null) return;
    this.lastId = Number.isInteger(frame.last_id) ? frame.last_id : null;
    this.emit('reset', { epoch: frame.epoch, previous });
  }

  handleFrame(frame, sseId) {
    if (!frame || typeof frame !== 'object') return;
    const waiting = frame.ref !== undefined && this.pending.get(frame.ref);
    if (waiting) {
      // The answer to a request(): its caller says what it means (an error is not also a 'reply').
      this.pending.delete(frame.ref);
      clearTimeout(waiting.timer);
      if (frame.type === 'error') waiting.reject(new Error(String(frame.message || frame.code)));
      else waiting.resolve(frame);
      return;
    }
    switch (frame.type) {
      case 'connected':
        this.adoptEpoch(frame);
        // A fresh connection (no resume point) starts from the hub's current id.
        if (this.lastId === null && Number.isInteger(frame.last_id)) this.lastId = frame.last_id;
        if (this.state === 'connecting') this.becameLive();
        this.emit('reply', { frame });
        return;
      case 'counts':
        this.emit('counts', frame);
        return;
      case 'replay':
        this.replayLeft = Number(frame.count) || 0;
        this.adoptEpoch(frame);
        // The history no longer covers the gap (or the server's data was reset): start from its present.
        if (frame.recovered === false && Number.isInteger(frame.last_id)) this.lastId = frame.last_id;
        this.emit('replay', frame);
        return;
      case 'pong':
      case 'published':
      case 'subscribed':
      case 'unsubscribed':
      case 'stats':
      case 'error':
      case 'disconnected':
        if (!('channel' in frame && 'id' in frame && 'timestamp' in frame)) {
          this.emit('reply', { frame });
          return;
        }
        break;
      default:
        break;
    }
    if (!('channel' in frame) || frame.id === undefined) {
      this.emit('reply', { frame });
      return;
    }
    const id = Number.isInteger(frame.id) ? frame.id : Number.parseInt(sseId, 10);
    if (Number.isInteger(id) && (this.lastId === null || id > this.lastId)) this.lastId = id;
    const replayed = this.replayLeft > 0;
    if (replayed) this.replayLeft -= 1;
    this.emit('message', { message: frame, replayed });
  }
}
