// Herald's client page: one user's notifications, the chat room, subscriptions, notify/broadcast and live
// counts over one live connection (WebSocket, or SSE with ?transport=sse).
//
// Start-up without gaps: read the hub's last id (/healthz) first, then load the lists over REST, then
// connect with ?since=<that id>: whatever was published meanwhile is replayed, and every list drops an id
// it already shows. Every reconnect resumes from the last id seen the same way.
import { api, setToken, setRefusedHandler } from './api.js';
import { ActivityFeed } from './activity.js';
import { ChatPanel, displayName } from './chat.js';
import { Connection, CHANNEL_RE } from './connection.js';
import { CountsFeed } from './counts.js';
import { $, h, icon, inlineSprite, setText, show, initials } from './dom.js';
import { NotificationCenter, titleOf } from './notifications.js';
import { Sound, DesktopAlerts } from './sound.js';
import { actionsOf, isQuiet, priorityOf, safeUrl } from './rich.js';

const ID_RE = /^[A-Za-z0-9_.:-]{1,121}$/;
const params = new URLSearchParams(location.search);
const userId = params.get('user_id');
const transport = params.get('transport') === 'sse' ? 'sse' : 'ws';
// A token given once in the URL (or pasted when the page asks) is kept for the tab, so links without it
// (switching transport or user) still work.
const TOKEN_KEY = 'herald.token';
const token = params.get('token') || sessionStorage.getItem(TOKEN_KEY);
if (params.get('token')) {
  sessionStorage.setItem(TOKEN_KEY, params.get('token'));
  // Out of the address bar (and of screenshots and shared links).
  const clean = new URLSearchParams(params);
  clean.delete('token');
  history.replaceState(null, '', `${location.pathname}?${clean}`);
}
setToken(token);

function pageUrl(user, t) {
  const q = new URLSearchParams();
  q.set('user_id', user);
  if (t === 'sse') q.set('transport', 'sse');
  return `/?${q}`;
}

// --- toasts ------------------------------------------------------------------------------------------------

function toast(title, body, { tone = 'primary', iconName = 'bell', delay = 4500 } = {}) {
  const el = h('div', { class: 'toast app-toast', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' },
    h('div', { class: 'toast-header' },
      h('span', { class: `toast-icon tone-${tone}` }, icon(iconName)),
      h('strong', { class: 'me-auto text-truncate' }, title),
      h('small', { class: 'text-muted' }, 'now'),
      h('button', { type: 'button', class: 'btn-close', 'data-bs-dismiss': 'toast', 'aria-label': 'Close' })),
    body ? h('div', { class: 'toast-body' }, h('div', { class: 'toast-text' }, body)) : null);
  const container = $('#toasts');
  container.appendChild(el);
  const max = window.matchMedia('(max-width: 575.98px)').matches ? 2 : 3;
  while (container.children.length > max) container.firstElementChild.remove();
  el.addEventListener('hidden.bs.toast', () => el.remove());
  new window.bootstrap.Toast(el, { delay }).show();
  return el;
}

// --- no user: the picker -----------------------------------------------------------------------------------

const ID_RULE = 'A user id is 1 to 121 letters, digits or _ . : - (no spaces).';

function showPicker() {
  show($('#picker'), true);
  for (const el of document.querySelectorAll('.app-only, #conn-status')) el.classList.add('d-none');
  const input = $('#picker-input');
  const error = $('#picker-error');
  const refuse = (id) => {
    input.classList.add('is-invalid');
    setText(error, id ? `“${id}” is not a user id. ${ID_RULE}` : ID_RULE);
  };
  if (userId !== null) {
    // A bad ?user_id=: say why, and leave what was asked for in the field to be corrected.
    input.value = userId;
    refuse(userId);
  } else {
    // The last user is offered as a button, not typed into the field as if the visitor had entered it.
    const last = localStorage.getItem('herald.lastUser');
    if (last && ID_RE.test(last) && last !== '1' && last !== '2') {
      const link = $('#picker-last');
      link.href = pageUrl(last, transport);
      setText(link, `${displayName(last)} (last used)`);
      show(link, true);
    }
  }
  input.addEventListener('input', () => {
    input.classList.remove('is-invalid');
    setText(error, '');
  });
  $('#picker-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (ID_RE.test(id)) location.href = pageUrl(id, transport);
    else refuse(id);
  });
}

// --- the app -----------------------------------------------------------------------------------------------

function clientIdFor(user) {
  // One id per tab, kept across reloads of that tab: chat senders and the admin feed can tell tabs apart.
  const key = `herald.clientId.${user}`;
  let id = sessionStorage.getItem(key);
  if (!id || !ID_RE.test(id)) {
    const rand = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
    id = `web-${user}-${rand}`.slice(0, 121);
    sessionStorage.setItem(key, id);
  }
  return id;
}

function startApp() {
  localStorage.setItem('herald.lastUser', userId);
  show($('#app'), true);
  const clientId = clientIdFor(userId);
  const me = displayName(userId);
  setText($('#user-name'), me);
  setText($('#user-avatar'), initials(me));
  $('#switch-user-input').value = userId;
  $('#transport-ws').href = pageUrl(userId, 'ws');
  $('#transport-sse').href = pageUrl(userId, 'sse');
  $(transport === 'sse' ? '#transport-sse' : '#transport-ws').classList.add('active');
  $('#switch-user-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = $('#switch-user-input').value.trim();
    if (ID_RE.test(id)) location.href = pageUrl(id, transport);
    else {
      $('#switch-user-input').classList.add('is-invalid');
      setText($('#switch-user-error'), ID_RULE);
    }
  });
  show($('#forget-token'), Boolean(token));
  $('#forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });

  // Sound and desktop alerts.
  const sound = new Sound('/static/notification.wav');
  const desktop = new DesktopAlerts();
  const soundButton = $('#sound-toggle');
  const renderSound = () => {
    soundButton.dataset.state = sound.state;
    soundButton.setAttribute('aria-pressed', String(sound.muted));
    const label = { muted: 'Sound off (click to unmute)', locked: 'Sound on after your first click', on: 'Sound on (click to mute)' }[sound.state];
    soundButton.title = label;
    soundButton.setAttribute('aria-label', label);
  };
  sound.addEventListener('change', renderSound);
  renderSound();
  soundButton.addEventListener('click', () => sound.toggleMuted());
  const desktopButton = $('#desktop-toggle');
  const renderDesktop = () => {
    desktopButton.classList.toggle('active', desktop.enabled);
    desktopButton.setAttribute('aria-pressed', String(desktop.enabled));
  };
  renderDesktop();
  desktop.addEventListener('change', renderDesktop);
  desktopButton.addEventListener('click', async () => {
    const result = await desktop.toggle();
    if (result === 'denied') toast('Desktop alerts blocked', 'The browser refused notifications for this site.', { tone: 'warning', iconName: 'alert' });
    else if (result === 'unsupported') toast('Desktop alerts', 'This browser has no Notification API.', { tone: 'warning', iconName: 'alert' });
  });

  // Lists.
  const modalEl = $('#detail-modal');
  const modal = new window.bootstrap.Modal(modalEl);
  const notifications = new NotificationCenter({
    userId,
    list: $('#notification-list'),
    empty: $('#notifications-empty'),
    badges: [$('#unread-count'), $('#bell-count')],
    markAllButton: $('#mark-all'),
    modal: { body: $('#detail-body'), title: $('#detail-title'), show: () => modal.show() },
    onReply: (action, message) => reply(action, message),
  });
  notifications.addEventListener('failure', (e) => {
    toast(`Could not ${e.detail.action}`, e.detail.error.message, { tone: 'danger', iconName: 'alert' });
  });
  $('#bell').addEventListener('click', () => {
    $('#notifications-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
  const activity = new ActivityFeed({ list: $('#activity-list'), empty: $('#activity-empty'), onReply: (action, message) => reply(action, message) });

  // Channels beyond user:<id>: chat always, plus the user's own picks (remembered per user).
  const channelsKey = `herald.channels.${userId}`;
  let extra = [];
  try {
    extra = JSON.parse(localStorage.getItem(channelsKey) || '[]').filter((c) => typeof c === 'string' && CHANNEL_RE.test(c));
  } catch {
    extra = [];
  }
  // reads:<id> next to user:<id>: every change of this user's read state, from any tab or device.
  const readsChannel = `reads:${userId}`;
  const conn = new Connection({ transport, userId, clientId, channels: ['chat', ...extra], fixed: [readsChannel], token });
  // Set while the server refuses this page ({title, text, askToken}): the connection is stopped (trying again
  // with the same token would be refused again) and the panel above the cards says why.
  let refusal = null;
  let authMode = null; // 'open' | 'token', from /healthz

  const chat = new ChatPanel({
    userId,
    clientId,
    list: $('#chat-list'),
    empty: $('#chat-empty'),
    form: $('#chat-form'),
    input: $('#chat-input'),
    onSend: (text) => send({ kind: 'chat', message: text }),
  });

  // --- sending -------------------------------------------------------------------------------------------

  // Over the live WebSocket, waiting for the server's answer (so a refusal is known before the text is
  // cleared); false when there is none, and the caller sends over REST instead.
  async function viaSocket(frame) {
    const answer = conn.request(frame);
    if (!answer) return false;
    return (await answer) || true;
  }

  // A reply button: its message (or label) published to its channel as this user, over the page's connection
  // or REST. Resolves once Herald took it (the button then says so); rejects after saying why not.
  async function reply(action, message) {
    const payload = {
      channel: action.channel,
      type: 'reply',
      message: action.message || action.label,
      data: { user_id: userId, client_id: clientId, in_reply_to: message?.id ?? null },
    };
    try {
      if (!(await viaSocket({ action: 'publish', ...payload }))) await api.publish(payload);
      toast('Sent', `“${payload.message}” to ${action.channel}`, { tone: 'success', iconName: 'check', delay: 2500 });
    } catch (err) {
      toast('Not sent', err.message, { tone: 'danger', iconName: 'alert' });
      throw err;
    }
  }

  async function send({ kind, message, title, target, fields = {} }) {
    const data = { user_id: userId, client_id: clientId };
    try {
      let answer = null;
      if (kind === 'chat') {
        const payload = { channel: 'chat', type: 'chat', message, sender: me, data };
        if (!(await viaSocket({ action: 'publish', ...payload }))) await api.publish(payload);
      } else if (kind === 'notify') {
        // Seed 003's notify: a "notify" message on broadcast, to every dashboard and every client. Published
        // as such rather than with the notify action, which the server does not acknowledge.
        const payload = { channel: 'broadcast', type: 'notify', message, sender: clientId, data, ...fields };
        answer = (await viaSocket({ action: 'publish', ...payload })) || (await api.publish(payload));
      } else if (kind === 'broadcast') {
        const payload = { type: 'broadcast', message, title, sender: me, data, ...fields };
        answer = (await viaSocket({ action: 'broadcast', ...payload })) || (await api.broadcast(payload));
      } else if (kind === 'user' || kind === 'channel') {
        const channel = kind === 'user' ? `user:${target}` : target;
        const payload = { channel, type: 'notification', message, title: title || `Message from ${me}`, sender: me, data, ...fields };
        answer = (await viaSocket({ action: 'publish', ...payload })) || (await api.publish(payload));
        if (!answer?.scheduled) toast('Sent', `To ${channel}`, { tone: 'success', iconName: 'check', delay: 2500 });
      }
      if (answer?.scheduled) {
        lastScheduled = answer;
        const handle = String(answer.scheduled);
        const cancel = h('button', {
          type: 'button',
          class: 'btn btn-link btn-sm p-0 ms-2 cancel-scheduled',
          onclick: async () => {
            cancel.disabled = true;
            try {
              await api.cancelScheduled(handle);
              cancel.replaceWith(h('span', { class: 'ms-2 text-muted' }, 'cancelled'));
            } catch (err) {
              cancel.replaceWith(h('span', { class: 'ms-2 text-danger' }, `not cancelled: ${err.message}`));
            }
          },
        }, 'Cancel');
        toast('Scheduled', h('span', {}, `For ${new Date(answer.at).toLocaleString()}`, cancel),
          { tone: 'success', iconName: 'clock', delay: 10000 });
      }
      return true;
    } catch (err) {
      // What was typed stays in its field (the callers clear it only on success).
      toast('Not sent', err.message, { tone: 'danger', iconName: 'alert' });
      return false;
    }
  }

  const kindSelect = $('#compose-kind');
  const targetInput = $('#compose-target');
  const titleInput = $('#compose-title');
  const renderKind = () => {
    const kind = kindSelect.value;
    show(targetInput, kind === 'user' || kind === 'channel');
    show(titleInput, kind !== 'notify');
    targetInput.placeholder = kind === 'user' ? 'user id' : 'channel';
    if (kind === 'user' && !targetInput.value) targetInput.value = userId === '1' ? '2' : '1';
  };
  kindSelect.addEventListener('change', renderKind);
  renderKind();
  $('#compose-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const kind = kindSelect.value;
    const message = $('#compose-message').value.trim();
    const target = targetInput.value.trim();
    if (!message) return;
    if ((kind === 'user' && !ID_RE.test(target)) || (kind === 'channel' && !CHANNEL_RE.test(target))) {
      targetInput.classList.add('is-invalid');
      return;
    }
    targetInput.classList.remove('is-invalid');
    let fields;
    try {
      fields = composeFields();
    } catch (err) {
      toast('Not sent', err.message, { tone: 'danger', iconName: 'alert' });
      return;
    }
    if (await send({ kind, message, target, title: titleInput.value.trim() || undefined, fields })) {
      $('#compose-message').value = '';
    }
  });

  // The send panel's options (docs/protocol.md, "Notifications"): only what is filled in is sent; the server
  // checks every value and names the field it refuses.
  let lastScheduled = null;
  function composeFields() {
    const f = {};
    const value = (sel) => $(sel).value.trim();
    const timeOrDuration = (v) => (/^\d+$/.test(v) ? Number(v) : v);
    const priority = Number($('#compose-priority').value);
    if (priority !== 3) f.priority = priority;
    const tags = value('#compose-tags').split(',').map((t) => t.trim()).filter(Boolean);
    if (tags.length) f.tags = tags;
    if (value('#compose-click')) f.click = value('#compose-click');
    if (value('#compose-icon')) f.icon = value('#compose-icon');
    if (value('#compose-attachment')) {
      f.attachment = { url: value('#compose-attachment') };
      if (value('#compose-attachment-name')) f.attachment.name = value('#compose-attachment-name');
    }
    if (value('#compose-expires')) f.expires = timeOrDuration(value('#compose-expires'));
    if (value('#compose-delay')) f.delay = timeOrDuration(value('#compose-delay'));
    if (value('#compose-at')) {
      const at = new Date(value('#compose-at'));
      if (Number.isNaN(at.getTime())) throw new Error('“at” is not a time');
      f.at = at.toISOString();
    }
    if (value('#compose-replaces')) {
      const id = Number(value('#compose-replaces'));
      if (!Number.isInteger(id) || id < 1) throw new Error('“replaces” takes the id of an earlier message');
      f.replaces = id;
    }
    const actions = [];
    for (const row of document.querySelectorAll('#compose-actions .compose-action')) {
      const kind = row.querySelector('.action-kind').value;
      const label = row.querySelector('.action-label').value.trim();
      const target = row.querySelector('.action-target').value.trim();
      const text = row.querySelector('.action-message').value.trim();
      if (!kind) continue;
      if (kind === 'view') actions.push({ action: 'view', label, url: target });
      else actions.push({ action: 'reply', label, channel: target, ...(text ? { message: text } : {}) });
    }
    if (actions.length) f.actions = actions;
    return f;
  }
  for (const row of document.querySelectorAll('#compose-actions .compose-action')) {
    const kind = row.querySelector('.action-kind');
    const renderRow = () => {
      const target = row.querySelector('.action-target');
      target.placeholder = kind.value === 'reply' ? 'channel' : 'https://…';
      for (const el of row.querySelectorAll('.action-label, .action-target')) el.disabled = !kind.value;
      show(row.querySelector('.action-message'), kind.value === 'reply');
    };
    kind.addEventListener('change', renderRow);
    renderRow();
  }
  $('#compose-reset').addEventListener('click', () => {
    for (const el of document.querySelectorAll('#compose-more input')) el.value = '';
    for (const el of document.querySelectorAll('#compose-actions select')) {
      el.value = '';
      el.dispatchEvent(new Event('change'));
    }
    $('#compose-priority').value = '3';
  });

  // --- subscriptions -------------------------------------------------------------------------------------

  const renderChannels = () => {
    const list = $('#channel-list');
    list.replaceChildren(
      h('span', { class: 'chip chip-fixed', title: 'Your notifications' }, icon('user'), `user:${userId}`),
      h('span', { class: 'chip chip-fixed', title: 'Your read marks, from every tab and device' }, icon('check-all'), readsChannel),
      h('span', { class: 'chip chip-fixed', title: 'Reaches every client' }, icon('radio'), 'broadcast'),
      ...conn.channels.map((c) => h('span', { class: 'chip', dataset: { channel: c } }, icon('hash'), c,
        c === 'chat' ? null : h('button', {
          type: 'button', class: 'chip-x', title: `Unsubscribe from ${c}`, 'aria-label': `Unsubscribe from ${c}`,
          onclick: () => {
            conn.unsubscribe(c);
            saveChannels();
            renderChannels();
          },
        }, icon('x')))),
    );
  };
  const saveChannels = () => {
    localStorage.setItem(channelsKey, JSON.stringify(conn.channels.filter((c) => c !== 'chat')));
  };
  renderChannels();
  $('#subscribe-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('#subscribe-input');
    const c = input.value.trim();
    const error = $('#subscribe-error');
    if (!CHANNEL_RE.test(c)) {
      setText(error, 'Use letters, digits and _ . : - (1 to 128)');
      return;
    }
    if (c.startsWith('user:') || c.startsWith('client:') || c.startsWith('reads:')) {
      setText(error, 'Personal channels cannot be subscribed to from here.');
      return;
    }
    setText(error, '');
    if (conn.subscribe(c)) {
      saveChannels();
      renderChannels();
    }
    input.value = '';
  });

  // --- connection status ---------------------------------------------------------------------------------

  const statusEl = $('#conn-status');
  const banner = $('#offline-banner');
  let countdownTimer = null;
  setText($('#conn-transport'), transport === 'sse' ? 'SSE' : 'WebSocket');
  const renderStatus = ({ state, retryAt }) => {
    statusEl.dataset.state = state;
    clearInterval(countdownTimer);
    const labels = {
      connecting: conn.everLive ? 'Reconnecting…' : 'Connecting…',
      live: 'Live',
      stopped: 'Offline',
      refused: refusal?.askToken ? 'Token needed' : 'Refused',
    };
    if (state === 'waiting') {
      const tick = () => {
        const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        setText($('#countdown'), s);
        setText($('#conn-label'), `Offline · retry in ${s} s`);
      };
      tick();
      countdownTimer = setInterval(tick, 250);
    } else {
      setText($('#conn-label'), labels[state] || state);
    }
    // The banner stays up through the reconnect attempt itself, so it does not flicker.
    show(banner, state === 'waiting' || (state === 'connecting' && conn.backoff.attempt > 0));
    show($('#offline-text'), state === 'waiting');
    show($('#reconnecting-text'), state === 'connecting');
    $('#retry-now').disabled = state !== 'waiting';
    chat.setOnline(state === 'live');
  };
  $('#retry-now').addEventListener('click', () => conn.retryNow());

  // --- incoming ------------------------------------------------------------------------------------------

  const userChannel = `user:${userId}`;
  let replayedBatch = 0;

  // A browser notification's tag per update chain: an update replaces the one shown for its predecessor
  // (silently), a withdraw closes it. Keyed by the chain's first id (`chain`), or for a server that does not
  // send it, by the latest id.
  const chainTags = new Map(); // chain (or message id) -> tag
  const tagFor = (message) => {
    const chain = Number.isInteger(message.chain) && message.chain > 0 ? message.chain : null;
    const tag = (chain && chainTags.get(chain)) ||
      (Number.isInteger(message.replaces) && chainTags.get(message.replaces)) || `herald-${message.id}`;
    chainTags.delete(message.replaces);
    chainTags.set(chain ?? message.id, tag);
    if (chainTags.size > 500) chainTags.delete(chainTags.keys().next().value);
    return tag;
  };

  // Quiet hours ({quiet_hours: {start, end, timezone}, min_priority}, from `settings` events on reads:<id>):
  // the server flags what it delivers on user:<id>; the page applies the same rule to the other channels.
  let settings = null;
  const minutesIn = (timeZone, date) => {
    try {
      const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(date);
      const get = (type) => Number(parts.find((p) => p.type === type)?.value);
      return get('hour') * 60 + get('minute');
    } catch {
      return date.getHours() * 60 + date.getMinutes();
    }
  };
  const hhmm = (v) => {
    const m = /^(\d{1,2}):(\d{2})$/.exec(String(v ?? ''));
    return m ? Number(m[1]) * 60 + Number(m[2]) : null;
  };
  function quietByRule(message, now = new Date()) {
    const q = settings?.quiet_hours;
    if (!q || priorityOf(message) >= (Number(settings.min_priority) || 4)) return false;
    const start = hhmm(q.start);
    const end = hhmm(q.end);
    if (start === null || end === null || start === end) return false;
    const t = minutesIn(q.timezone || undefined, now);
    return start < end ? t >= start && t < end : t >= start || t < end;
  }

  // What arrived live and how the page announced it (for the tests): {id, quiet, updated}.
  const alerts = [];
  // Rings, toasts and pops up a browser notification for a live message, unless it is quiet (flagged by the
  // server, or by the user's quiet hours here). An update refreshes the browser notification silently; a
  // priority of 2 makes no sound, a priority of 1 is only listed.
  function announce(message, { updated = false, tone = 'primary', iconName = 'bell' } = {}) {
    const quiet = isQuiet(message) || (message.channel !== userChannel && quietByRule(message));
    const priority = priorityOf(message);
    alerts.push({ id: message.id, quiet, updated });
    if (alerts.length > 200) alerts.shift();
    const tag = tagFor(message);
    // Quiet, or priority 1 ("min"): listed, nothing more.
    if (quiet || priority === 1) return;
    const body = message.message ? String(message.message) : '';
    if (!updated) {
      if (priority >= 3) sound.play();
      toast(titleOf(message), body || null, { tone: priority === 5 ? 'danger' : tone, iconName: priority === 5 ? 'alert' : iconName });
    }
    desktop.show({
      title: titleOf(message),
      body,
      tag,
      icon: safeUrl(message.icon),
      actions: actionsOf(message),
      urgent: priority === 5,
      silent: updated || priority <= 2,
      data: { id: message.id, click: safeUrl(message.click), page: location.href },
    });
  }

  const onMessage = (message, { replayed }) => {
    if (message.channel === readsChannel) {
      if (message.type === 'settings' && message.settings && typeof message.settings === 'object') {
        settings = message.settings;
        if ($('#settings-modal').classList.contains('show')) renderSettings();
      }
      else notifications.applyReadEvent(message);
      return;
    }
    if (message.type === 'withdrawn') {
      const id = message.withdraws;
      if (!Number.isInteger(id)) return;
      // By the id it names, else by its chain: a page that was offline holds an older id of it.
      if (message.channel === userChannel) notifications.withdraw(message);
      else if (message.channel === 'chat') chat.withdraw(message);
      else activity.withdraw(message);
      const chain = Number.isInteger(message.chain) && message.chain > 0 ? message.chain : null;
      const tag = (chain && chainTags.get(chain)) || chainTags.get(id);
      if (tag) desktop.close(tag);
      return;
    }
    if (message.channel === userChannel) {
      const added = notifications.add(message);
      if (!added) return;
      if (!replayed) announce(message, { updated: added === 'updated' });
      else if (added === 'new' && !isQuiet(message)) replayedBatch += 1; // the catch-up rings once, not for quiet ones
    } else if (message.type === 'chat' || message.channel === 'chat') {
      chat.add(message);
    } else {
      const added = activity.add(message);
      if (added && !replayed && message.channel === 'broadcast') {
        announce(message, { updated: added === 'updated', tone: 'info', iconName: message.type === 'notify' ? 'megaphone' : 'radio' });
      }
    }
  };

  // The quiet-hours form (user menu): read from the server when opened, saved with PUT; a `settings` event
  // (from this or another device) refreshes it.
  const settingsModal = new window.bootstrap.Modal($('#settings-modal'));
  const renderSettings = () => {
    const q = settings?.quiet_hours;
    $('#quiet-enabled').checked = Boolean(q);
    if (q) {
      $('#quiet-start').value = String(q.start ?? '');
      $('#quiet-end').value = String(q.end ?? '');
      $('#quiet-timezone').value = String(q.timezone ?? '');
    }
    if (!$('#quiet-timezone').value) $('#quiet-timezone').value = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    $('#quiet-min-priority').value = String(settings?.min_priority ?? 4);
    for (const el of document.querySelectorAll('#quiet-start, #quiet-end, #quiet-timezone')) el.disabled = !$('#quiet-enabled').checked;
  };
  $('#quiet-enabled').addEventListener('change', () => {
    for (const el of document.querySelectorAll('#quiet-start, #quiet-end, #quiet-timezone')) el.disabled = !$('#quiet-enabled').checked;
  });
  $('#open-settings').addEventListener('click', async () => {
    setText($('#settings-error'), '');
    setText($('#settings-state'), 'Loading…');
    renderSettings();
    settingsModal.show();
    try {
      settings = await api.settings(userId);
      renderSettings();
      setText($('#settings-state'), '');
    } catch (err) {
      setText($('#settings-state'), '');
      setText($('#settings-error'), `Could not load them: ${err.message}`);
    }
  });
  $('#settings-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      quiet_hours: $('#quiet-enabled').checked
        ? { start: $('#quiet-start').value, end: $('#quiet-end').value, timezone: $('#quiet-timezone').value.trim() }
        : null,
      min_priority: Number($('#quiet-min-priority').value),
    };
    setText($('#settings-error'), '');
    try {
      const saved = await api.saveSettings(userId, body);
      settings = saved?.settings && typeof saved.settings === 'object' ? saved.settings : (saved && typeof saved === 'object' ? saved : body);
      renderSettings();
      setText($('#settings-state'), 'Saved');
    } catch (err) {
      setText($('#settings-error'), err.message);
    }
  });

  // A button pressed on a browser notification, handed over by the service worker.
  navigator.serviceWorker?.addEventListener('message', (e) => {
    const m = e.data;
    if (m?.type === 'herald-action' && m.action?.action === 'reply' && typeof m.action.channel === 'string') {
      reply(m.action, { id: m.id }).catch(() => {});
    }
  });

  conn.addEventListener('message', (e) => onMessage(e.detail.message, e.detail));
  conn.addEventListener('counts', (e) => counts.take(e.detail));
  let retries = 0;
  conn.addEventListener('status', (e) => {
    if (e.detail.state === 'waiting') retries += 1;
    // Stopped because the server refused us: the refusal panel says why, the pill says so too.
    renderStatus(refusal && e.detail.state === 'stopped' ? { state: 'refused' } : e.detail);
    if (e.detail.state !== 'live') counts.unknown();
    if (e.detail.state === 'live' && !loaded) loadLists();
  });
  conn.addEventListener('refused', (e) => {
    const { reason } = e.detail;
    if (authMode === 'token' && /token|authenticat/i.test(reason)) {
      refuse(/expired/i.test(reason) ? 'Your token has expired' : 'The server wants a token',
        `Herald closed the connection: “${reason}”. Paste a new token to go on.`, { askToken: true });
    } else {
      refuse('The server refused this page', `Herald closed the connection: “${reason}”.`, { askToken: authMode === 'token' });
    }
  });
  // In token mode an attempt that fails before the server accepts it may be a refused token (a WebSocket
  // upgrade refused 401 looks like a network error to a page): ask REST, which says.
  conn.addEventListener('failed', () => {
    if (authMode === 'token') checkAccess();
  });
  conn.addEventListener('replay', (e) => {
    const r = e.detail;
    app.lastReplay = r;
    replayedBatch = 0;
    if (r.reason === 'reset') {
      // What the page shows came from another history of the server (its data was reset): ids mean other
      // messages now, so everything is dropped and loaded again.
      chat.clear();
      activity.clear();
      notifications.clear(); // else load() would keep the old ids as newer than the new history's
      toast('The server was reset', 'Its history started over; the lists were reloaded.', { tone: 'warning', iconName: 'alert', delay: 8000 });
      loadLists();
    } else if (r.recovered === false) {
      toast('Some messages were lost', 'The server no longer had everything you missed; the lists were reloaded.', { tone: 'warning', iconName: 'alert', delay: 8000 });
      loadLists();
    } else if (r.count > 0) {
      // Announce once the replayed messages are in.
      setTimeout(() => {
        if (replayedBatch > 0) {
          sound.play();
          toast('Back online', `${replayedBatch} missed notification${replayedBatch === 1 ? '' : 's'} caught up.`, { tone: 'success', iconName: 'check-circle' });
        }
      }, 300);
    }
  });
  conn.addEventListener('reply', (e) => {
    const f = e.detail.frame;
    if (f.type === 'error') toast('Herald said no', String(f.message || f.code), { tone: 'danger', iconName: 'alert' });
  });

  // --- counts --------------------------------------------------------------------------------------------

  const counts = new CountsFeed();
  counts.addEventListener('change', (e) => {
    const c = e.detail;
    setText($('#count-clients'), c.clients ?? '–');
    setText($('#count-subscribers'), c.subscribers ?? '–');
    if (c.channels !== undefined) setText($('#count-channels'), c.channels ?? '–');
    const tag = $('#counts-live');
    tag.dataset.live = c.clients === null ? '0' : '1';
    setText(tag, c.clients === null ? 'offline' : 'live');
  });

  // --- refusals: token mode ------------------------------------------------------------------------------

  function refuse(title, text, { askToken = authMode === 'token' } = {}) {
    refusal = { title, text, askToken };
    setText($('#auth-title'), title);
    setText($('#auth-text'), text);
    show($('#auth-form'), askToken);
    show($('#auth-help'), askToken);
    show($('#auth-retry'), !askToken);
    show($('#auth-panel'), true);
    if (conn.state !== 'stopped' && conn.state !== 'refused') conn.stop();
    renderStatus({ state: 'refused' });
    counts.unknown();
  }
  setRefusedHandler((err) => {
    if (!refusal) {
      refuse(token ? 'The token was refused' : 'This server needs a token',
        token ? `Herald said: “${err.message}”. Paste another token.` : `Herald said: “${err.message}”.`, { askToken: true });
    }
  });
  setText($('#auth-command'), `herald-server token --sub ${userId} --role publisher --ttl 12h --jwt-secret-file …`);
  $('#auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('#auth-input');
    const value = input.value.trim().replace(/^Bearer\s+/i, '');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value)) {
      input.classList.add('is-invalid');
      setText($('#auth-error'), 'That is not a token: a token is three dot-separated parts, eyJ….');
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, value);
    location.reload(); // every part of the page starts over with it
  });
  $('#auth-input').addEventListener('input', () => {
    $('#auth-input').classList.remove('is-invalid');
    setText($('#auth-error'), '');
  });
  $('#auth-retry').addEventListener('click', () => {
    refusal = null;
    show($('#auth-panel'), false);
    conn.retryNow();
  });

  let checking = false;
  async function checkAccess() {
    if (checking || refusal) return;
    checking = true;
    try {
      await api.notifications(userId, { limit: 1 }); // a 401 reaches refuse() through setRefusedHandler
    } catch (err) {
      if (err.status === 403) refuse('This token may not open this page', `Herald said: “${err.message}”.`, { askToken: true });
    } finally {
      checking = false;
    }
  }

  // --- loading -------------------------------------------------------------------------------------------

  let loaded = false;
  // The newest stored messages of a channel, if it was ever used (its history route is a 404 before that).
  async function recent(channel) {
    const entry = await api.channel(channel);
    if (!entry || !(entry.stored > 0)) return [];
    return (await api.history(channel, { limit: 50 })).messages || [];
  }
  async function loadLists() {
    try {
      const page = await api.notifications(userId, { limit: 50 });
      notifications.load(page);
      // Quiet hours, for the page's own rule on channels other than user:<id> (settings events keep it current).
      settings = await api.settings(userId).catch(() => settings);
      for (const m of await recent('chat')) chat.add(m);
      // Activity: broadcasts (and notify relays, which travel on broadcast) and the user's other channels.
      for (const channel of ['broadcast', ...conn.channels.filter((c) => c !== 'chat')]) {
        for (const m of await recent(channel)) activity.add(m);
      }
      loaded = true;
    } catch (err) {
      loaded = false;
      if (err.status === 403) refuse('This token may not open this page', `Herald said: “${err.message}”.`, { askToken: true });
    }
  }

  async function boot() {
    await inlineSprite();
    try {
      const health = await api.health();
      if (Number.isInteger(health.last_id)) conn.lastId = health.last_id;
      if (typeof health.epoch === 'string' && health.epoch) conn.epoch = health.epoch;
      authMode = health.auth === 'token' ? 'token' : 'open';
    } catch {
      /* no resume point: the connection starts live and the lists load once it is */
    }
    if (authMode === 'token' && !token) {
      // Asked before anything is refused: no 401s, no socket opened only to be closed.
      refuse('This server needs a token', 'Herald runs in token mode here: without a token it shows nothing and accepts nothing.', { askToken: true });
      return;
    }
    if (conn.lastId !== null) await loadLists();
    if (!refusal) conn.start();
  }

  // A handle for debugging (and the end-to-end tests): read-only views of the state.
  const app = {
    userId,
    clientId,
    transport,
    lastReplay: null,
    get lastId() { return conn.lastId; },
    get epoch() { return conn.epoch; },
    get state() { return conn.state; },
    get refusal() { return refusal; },
    get retries() { return retries; }, // connections lost and retried since the page loaded
    get unread() { return notifications.unread; },
    get alerts() { return alerts.slice(); },
    get settings() { return settings; },
    get lastScheduled() { return lastScheduled; },
    get desktop() { return { enabled: desktop.enabled, ...desktop.stats }; },
    get sound() { return { state: sound.state, ...sound.stats }; },
    notificationIds: () => notifications.ids(),
  };
  window.herald = app;
  boot();
}

if (userId && ID_RE.test(userId)) startApp();
else showPicker();
