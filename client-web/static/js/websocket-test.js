// Seed 004's test client (/static/websocket-test.html): connect to and disconnect from the model channels
// (/ws/users, /ws/posts), watch their events, create users over REST and see the "created" event arrive,
// ping, stats. A channel is joined the way docs/protocol.md describes for a late joiner: list first, read
// X-Herald-Last-Id, connect with ?since= that id, so no change is missed or shown twice.
import { $, h, clear, setText, timeLabel } from './dom.js';

const MODEL_CHANNELS = ['users', 'posts'];
const sockets = new Map(); // channel -> WebSocket
let logCount = 0;

// --- log ---------------------------------------------------------------------------------------------------

function log(kind, channel, type, payload) {
  const known = ['created', 'updated', 'deleted', 'connection', 'pong', 'stats'];
  const entry = h('li', { class: `kind-${kind}`, dataset: { channel: channel || '', type: type || '' } },
    h('div', { class: 'head' },
      h('span', { class: 'meta' }, timeLabel(new Date().toISOString())),
      h('span', { class: 'meta' }, kind === 'out' ? '→' : kind === 'in' ? '←' : '•'),
      channel ? h('span', { class: 'badge rounded-pill channel-badge' }, channel) : null,
      h('span', { class: `badge rounded-pill type-badge type-${known.includes(type) ? type : 'other'}` }, type || kind)),
    payload === undefined ? null
      : h('pre', {}, typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2)));
  const list = $('#log');
  list.prepend(entry);
  while (list.children.length > 500) list.lastElementChild.remove();
  logCount += 1;
  setText($('#log-count'), logCount);
}

$('#clear-log').addEventListener('click', () => {
  clear($('#log'));
  logCount = 0;
  setText($('#log-count'), 0);
});

// --- users list --------------------------------------------------------------------------------------------

const users = new Map();

function renderUsers() {
  const list = $('#user-list');
  list.replaceChildren(...[...users.values()].sort((a, b) => a.id - b.id).map((u) =>
    h('li', { class: 'list-group-item', dataset: { id: u.id } },
      h('span', { class: 'avatar' }, String(u.name || '?').slice(0, 1).toUpperCase()),
      h('div', { class: 'flex-grow-1 min-w-0' },
        h('div', { class: 'fw-semibold text-truncate' }, String(u.name ?? '')),
        h('div', { class: 'meta text-truncate' }, String(u.email ?? ''))),
      h('button', {
        type: 'button', class: 'btn btn-sm btn-link text-danger', title: `Delete user ${u.id}`,
        onclick: () => deleteUser(u.id),
      }, 'Delete'))));
  $('#users-empty').classList.toggle('d-none', users.size > 0);
}

function applyModelEvent(frame) {
  if (frame.channel !== 'users' || !frame.data) return;
  if (frame.type === 'created' || frame.type === 'updated') users.set(frame.data.id, frame.data);
  else if (frame.type === 'deleted') users.delete(frame.data.id);
  renderUsers();
}

async function loadUsers() {
  const r = await fetch('/users/?limit=1000');
  if (!r.ok) throw new Error(`GET /users/ answered ${r.status}`);
  const list = await r.json();
  users.clear();
  for (const u of list) users.set(u.id, u);
  renderUsers();
  const lastId = Number.parseInt(r.headers.get('X-Herald-Last-Id') || '', 10);
  return Number.isInteger(lastId) ? lastId : null;
}

async function deleteUser(id) {
  log('out', 'users', 'DELETE', `DELETE /users/${id}`);
  const r = await fetch(`/users/${encodeURIComponent(id)}`, { method: 'DELETE' });
  const body = await r.json().catch(() => null);
  if (!r.ok) log('error', 'users', `HTTP ${r.status}`, body);
}

// --- channels ----------------------------------------------------------------------------------------------

function renderChannel(channel) {
  const ws = sockets.get(channel);
  const open = ws && ws.readyState === WebSocket.OPEN;
  const connecting = ws && ws.readyState === WebSocket.CONNECTING;
  const state = $(`#status-${channel}`);
  state.className = `badge rounded-pill state ${open ? 'bg-success' : connecting ? 'bg-warning text-dark' : 'bg-secondary'}`;
  setText(state, open ? 'connected' : connecting ? 'connecting' : 'disconnected');
  $(`#connect-${channel}`).disabled = Boolean(ws);
  $(`#disconnect-${channel}`).disabled = !ws;
}

async function connect(channel) {
  if (sockets.has(channel)) return;
  let since = null;
  if (channel === 'users') {
    try {
      since = await loadUsers();
    } catch (err) {
      log('error', channel, 'error', String(err.message));
    }
  }
  const q = new URLSearchParams();
  const clientId = $('#client-id').value.trim();
  if (clientId) q.set('client_id', clientId);
  if (since !== null) q.set('since', String(since));
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const qs = q.toString();
  const url = `${proto}//${location.host}/ws/${channel}${qs ? `?${qs}` : ''}`;
  const ws = new WebSocket(url);
  sockets.set(channel, ws);
  renderChannel(channel);
  ws.onopen = () => renderChannel(channel);
  ws.onmessage = (e) => {
    let frame;
    try {
      frame = JSON.parse(e.data);
    } catch {
      log('in', channel, 'text', String(e.data));
      return;
    }
    log('in', channel, frame.type, frame);
    if (frame.type === 'stats') showStats(frame.data || {});
    applyModelEvent(frame);
  };
  ws.onclose = (e) => {
    if (sockets.get(channel) === ws) sockets.delete(channel);
    log('event', channel, 'closed', `code ${e.code}${e.reason ? `: ${e.reason}` : ''}`);
    renderChannel(channel);
  };
}

function disconnect(channel) {
  const ws = sockets.get(channel);
  if (!ws) return;
  ws.close(1000, 'bye');
}

for (const channel of MODEL_CHANNELS) {
  $('#channel-rows').appendChild(h('div', { class: 'channel-row', dataset: { channel } },
    h('span', { class: 'name' }, channel),
    h('span', { id: `status-${channel}`, class: 'badge rounded-pill state bg-secondary' }, 'disconnected'),
    h('div', { class: 'ms-auto d-flex gap-2' },
      h('button', { id: `connect-${channel}`, type: 'button', class: 'btn btn-sm btn-primary', onclick: () => connect(channel) }, 'Connect'),
      h('button', { id: `disconnect-${channel}`, type: 'button', class: 'btn btn-sm btn-outline-secondary', disabled: true, onclick: () => disconnect(channel) }, 'Disconnect'))));
}

// --- actions -----------------------------------------------------------------------------------------------

function anyOpenSocket() {
  for (const [channel, ws] of sockets) if (ws.readyState === WebSocket.OPEN) return [channel, ws];
  return [null, null];
}

function sendFrame(frame) {
  const [channel, ws] = anyOpenSocket();
  if (!ws) {
    log('error', null, 'not connected', 'Connect to a channel first.');
    return;
  }
  ws.send(JSON.stringify(frame));
  log('out', channel, frame.type, frame);
}

function showStats(s) {
  setText($('#stat-connections'), s.total_connections ?? '–');
  setText($('#stat-channels'), s.total_channels ?? '–');
  setText($('#stat-subscribers'), s.subscribers ?? '–');
  const per = s.channels && typeof s.channels === 'object' ? Object.entries(s.channels) : [];
  setText($('#stats-channels'), per.map(([k, v]) => `${k}: ${v}`).join(' · '));
}

$('#ping').addEventListener('click', () => sendFrame({ type: 'ping' }));
$('#get-stats').addEventListener('click', () => sendFrame({ type: 'get_stats' }));
$('#http-stats').addEventListener('click', async () => {
  try {
    const r = await fetch('/ws/stats');
    const s = await r.json();
    log('in', null, 'stats', s);
    showStats(s);
  } catch (err) {
    log('error', null, 'error', String(err.message));
  }
});

$('#user-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { name: $('#user-name').value.trim(), email: $('#user-email').value.trim() };
  const result = $('#user-result');
  log('out', 'users', 'POST', body);
  try {
    const r = await fetch('/users/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = await r.json().catch(() => null);
    if (r.ok) {
      result.className = 'small min-w-0 text-success';
      setText(result, `Created user #${json.id}`);
      $('#user-name').value = '';
      $('#user-email').value = '';
    } else {
      result.className = 'small min-w-0 text-danger';
      const detail = json && Array.isArray(json.errors) ? json.errors.map((x) => `${x.field}: ${x.message}`).join('; ') : json?.detail;
      setText(result, `${r.status}: ${detail || json?.error || 'error'}`);
      log('error', 'users', `HTTP ${r.status}`, json);
    }
  } catch (err) {
    result.className = 'small min-w-0 text-danger';
    setText(result, String(err.message));
  }
});

window.addEventListener('pagehide', () => {
  for (const ws of sockets.values()) ws.close(1001, 'page closed');
});

loadUsers().catch(() => renderUsers());
