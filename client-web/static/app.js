// First Herald page: per-user notifications and chat over /ws, counts from /api/stats.
// Every user-supplied string goes through textContent, never innerHTML.
const params = new URLSearchParams(location.search);
const userId = params.get('user_id') || '1';
const $ = (id) => document.getElementById(id);
$('user').textContent = userId;

let unread = 0;
let lastId = 0;
let retry = 0;

function item(list, title, body, meta, isUnread) {
  const li = document.createElement('li');
  li.className = 'list-group-item' + (isUnread ? ' unread' : '');
  const strong = document.createElement('div');
  strong.className = 'fw-semibold';
  strong.textContent = title;
  const text = document.createElement('div');
  text.textContent = body;
  const small = document.createElement('div');
  small.className = 'meta';
  small.textContent = meta;
  li.append(strong, text, small);
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.className = 'badge text-bg-' + kind;
}

function onMessage(msg) {
  if (msg.id) lastId = Math.max(lastId, msg.id);
  if (msg.type === 'chat') {
    item($('chat'), msg.sender || 'anonymous', msg.message || '', new Date(msg.timestamp).toLocaleTimeString());
  } else if (msg.channel && msg.type !== 'error' && msg.type !== 'connected' && msg.type !== 'subscribed') {
    unread++;
    $('unread').textContent = unread;
    item($('notifications'), msg.title || msg.type, msg.message || '', `${msg.channel} · ${new Date(msg.timestamp).toLocaleTimeString()}`, true);
    $('sound').play().catch(() => {}); // blocked until the first click (autoplay rule)
  }
}

let ws;
function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${proto}://${location.host}/ws?user_id=${encodeURIComponent(userId)}&channels=chat`);
  setStatus('connecting…', 'secondary');
  ws.onopen = () => { retry = 0; setStatus('live', 'success'); };
  ws.onmessage = (e) => { try { onMessage(JSON.parse(e.data)); } catch (err) { console.warn(err); } };
  ws.onclose = () => {
    const delay = Math.min(30000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
    setStatus(`reconnecting in ${Math.round(delay / 1000)} s`, 'warning');
    setTimeout(connect, delay);
  };
}

$('chatForm').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('chatText').value.trim();
  if (text && ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ action: 'publish', channel: 'chat', type: 'chat', message: text, sender: `user ${userId}` }));
    $('chatText').value = '';
  }
});
$('markRead').addEventListener('click', () => {
  unread = 0;
  $('unread').textContent = '0';
  document.querySelectorAll('#notifications .unread').forEach((li) => li.classList.remove('unread'));
});

async function refreshCounts() {
  try {
    const stats = await (await fetch('/api/stats')).json();
    $('clients').textContent = stats.clients;
    $('subscribers').textContent = stats.subscribers;
  } catch (err) { /* server away: the WebSocket status says so */ }
}
setInterval(refreshCounts, 2000);
refreshCounts();
connect();
