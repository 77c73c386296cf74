// Herald's REST API (docs/protocol.md, "HTTP"). Every call resolves to the parsed JSON or throws an
// ApiError carrying Herald's {"error":code,"detail":…}.

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

// With --auth token the page is opened as /?user_id=…&token=<JWT> (or is given one when it asks): the token
// goes on every request.
let token = null;
export function setToken(value) {
  token = value || null;
}
export function getToken() {
  return token;
}

// Called with the ApiError of every 401 (no token, or a bad or expired one), so the page can ask for a token
// wherever the refusal came from. A 403 (the token does not allow this one thing) is the caller's to say.
let onRefused = null;
export function setRefusedHandler(fn) {
  onRefused = fn;
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'unreachable', 'Herald is not reachable');
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json?.error, json?.detail);
    if (response.status === 401 && onRefused) onRefused(error);
    throw error;
  }
  return json;
}

const enc = encodeURIComponent;

export const api = {
  health: () => request('GET', '/healthz'),
  stats: () => request('GET', '/api/stats'),
  /** One page of channels, in name order: pass the previous page's `next` as `after` while `has_more`. */
  channels: ({ limit, after } = {}) => {
    const q = new URLSearchParams();
    if (limit !== undefined) q.set('limit', String(limit));
    if (after !== undefined) q.set('after', after);
    const query = q.toString();
    return request('GET', query ? `/api/channels?${query}` : '/api/channels');
  },
  /** One channel's entry of /api/channels, or null: the pages from just before its name, until past it. */
  async channel(name) {
    let after = name.slice(0, -1) || undefined; // a prefix sorts before the name
    for (;;) {
      const page = await api.channels({ limit: 1000, after });
      for (const c of page.channels || []) {
        if (c.name === name) return c;
        if (c.name > name) return null;
      }
      if (!page.has_more) return null;
      after = page.next;
    }
  },
  notifications: (userId, { limit = 50, since, before } = {}) => {
    const q = new URLSearchParams({ user_id: userId, limit: String(limit) });
    if (since !== undefined) q.set('since', String(since));
    if (before !== undefined) q.set('before', String(before));
    return request('GET', `/api/notifications?${q}`);
  },
  /** One stored notification, in full: the oldest of the user's queue after id - 1 (seed 000's AJAX fetch). */
  async notification(userId, id) {
    const page = await api.notifications(userId, { since: id - 1, limit: 1 });
    const found = (page.notifications || []).find((n) => n.id === id);
    if (!found) throw new ApiError(404, 'not_found', `notification ${id} is no longer stored`);
    return found;
  },
  markRead: (id) => request('POST', `/api/notifications/${enc(id)}/read`),
  // upTo: the newest id the page shows, so that one on its way stays unread (0: all the server has sent).
  markAllRead: (userId, upTo = 0) => request('POST', `/api/notifications/read-all?user_id=${enc(userId)}${upTo > 0 ? `&up_to=${upTo}` : ''}`),
  markUnread: (id) => request('POST', `/api/notifications/${enc(id)}/unread`),
  deleteNotification: (id) => request('DELETE', `/api/notifications/${enc(id)}`),
  /** Several at once: {"user_id":…,"ids":[…]} to /api/notifications/read or /unread. */
  markManyRead: (userId, ids) => request('POST', '/api/notifications/read', { user_id: userId, ids }),
  markManyUnread: (userId, ids) => request('POST', '/api/notifications/unread', { user_id: userId, ids }),
  settings: (userId) => request('GET', `/api/users/${enc(userId)}/settings`),
  saveSettings: (userId, settings) => request('PUT', `/api/users/${enc(userId)}/settings`, settings),
  withdraw: (id) => request('DELETE', `/api/messages/${enc(id)}`),
  scheduled: () => request('GET', '/api/scheduled'),
  cancelScheduled: (handle) => request('DELETE', `/api/scheduled/${enc(handle)}`),
  history: (channel, { limit = 50, since } = {}) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (since !== undefined) q.set('since', String(since));
    return request('GET', `/api/channels/${enc(channel)}/history?${q}`);
  },
  publish: (message) => request('POST', '/api/publish', message),
  broadcast: (message) => request('POST', '/api/broadcast', message),
};
