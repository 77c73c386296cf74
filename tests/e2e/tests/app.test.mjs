// The client page "/" in a real browser: per-user notifications, unread badge, mark-as-read, the detail view,
// chat between two users, notify/broadcast, escaping, the autoplay rule, and the screenshot of the product.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeraldServer, listedIds, openApp, screenshot, sleep, watchConsole, useBrowser } from '../lib.js';

const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

const browser = useBrowser();

/** Runs body with a fresh server, closing every context and the server afterwards. */
async function withServer(body) {
  const server = await HeraldServer.start();
  const contexts = [];
  const open = async (query, opts) => {
    const o = await openApp(browser, server, query, opts);
    contexts.push(o);
    return o;
  };
  try {
    await body(server, open);
    for (const { watch } of contexts) assert.deepEqual(watch.errors, [], 'no console errors');
  } finally {
    for (const { context } of contexts) await context.close();
    await server.stop();
  }
}

test('a notification reaches only its user; unread badge goes up, mark-as-read brings it down', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');
    assert.equal(await one.page.textContent('#unread-count'), '0');

    const id = await server.publish({ channel: 'user:1', type: 'notification', title: 'Deploy finished', message: 'herald is live', data: { level: 'success' } });
    const item = one.page.locator(`#notification-list li[data-id="${id}"]`);
    await item.waitFor();
    assert.equal(await item.locator('.title').textContent(), 'Deploy finished');
    assert.equal(await item.locator('.text').textContent(), 'herald is live');
    assert.match(await item.getAttribute('class'), /\bunread\b/);
    await one.page.waitForFunction(() => document.querySelector('#unread-count').textContent === '1');
    assert.equal(await one.page.textContent('#bell-count'), '1');

    // User 2 gets its own marker, published after: once it is there, user 1's would have been too.
    const marker = await server.publish({ channel: 'user:2', title: 'For two', message: 'only user 2' });
    await two.page.locator(`#notification-list li[data-id="${marker}"]`).waitFor();
    assert.deepEqual(await listedIds(two.page), [marker]);
    assert.equal(await two.page.textContent('#unread-count'), '1');
    assert.deepEqual(await listedIds(one.page), [id]);

    // Mark as read: the badge goes down on the page and on the server.
    await item.locator('button.mark-read').click();
    await one.page.waitForFunction(() => document.querySelector('#unread-count').textContent === '0');
    assert.doesNotMatch(await item.getAttribute('class'), /\bunread\b/);
    const rest = await server.json('GET', '/api/notifications?user_id=1');
    assert.equal(rest.json.unread, 0);
    assert.equal(rest.json.notifications[0].read, true);

    // Opening one fetches it in full over REST (seed 000's AJAX step) and marks it read.
    const second = await server.publish({ channel: 'user:1', type: 'notification', title: 'Invoice paid', message: 'Invoice #1042', data: { amount: 49, currency: 'EUR' } });
    await one.page.waitForFunction(() => document.querySelector('#unread-count').textContent === '1');
    await one.page.locator(`#notification-list li[data-id="${second}"]`).click();
    await one.page.locator('#detail-modal.show .data-json').waitFor();
    assert.equal(await one.page.textContent('#detail-title'), 'Invoice paid');
    assert.deepEqual(JSON.parse(await one.page.textContent('#detail-modal .data-json')), { amount: 49, currency: 'EUR' });
    await one.page.waitForFunction(() => document.querySelector('#unread-count').textContent === '0');
    await one.page.keyboard.press('Escape');

    // A reload shows the same list from REST, read states kept.
    await one.page.reload();
    await one.page.waitForFunction(() => window.herald && window.herald.state === 'live');
    assert.deepEqual(await listedIds(one.page), [second, id]);
    assert.equal(await one.page.textContent('#unread-count'), '0');
  }));

test('chat from page 1 reaches pages 1 and 2; notify and broadcast reach every page', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');

    await one.page.fill('#chat-input', 'Hello from user 1');
    await one.page.press('#chat-input', 'Enter');
    for (const { page } of [one, two]) {
      await page.locator('#chat-list .chat-msg', { hasText: 'Hello from user 1' }).waitFor();
    }
    assert.match(await one.page.locator('#chat-list .chat-msg').first().getAttribute('class'), /\bmine\b/);
    const theirs = two.page.locator('#chat-list .chat-msg').first();
    assert.doesNotMatch(await theirs.getAttribute('class'), /\bmine\b/);
    assert.match(await theirs.locator('.who').textContent(), /^User 1/);

    await two.page.fill('#chat-input', 'Hi user 1, user 2 here');
    await two.page.click('#chat-send');
    await one.page.locator('#chat-list .chat-msg', { hasText: 'user 2 here' }).waitFor();
    assert.equal(await one.page.locator('#chat-list .chat-msg').count(), 2);
    assert.equal(await two.page.locator('#chat-list .chat-msg').count(), 2);

    // Seed 003's notify, and a broadcast, from page 1's compose card: both pages list them under Activity.
    await one.page.selectOption('#compose-kind', 'notify');
    await one.page.fill('#compose-message', 'Coffee is ready');
    await one.page.click('#compose-send');
    await one.page.selectOption('#compose-kind', 'broadcast');
    await one.page.fill('#compose-title', 'Maintenance');
    await one.page.fill('#compose-message', 'Restart in 5 minutes');
    await one.page.click('#compose-send');
    for (const { page } of [one, two]) {
      await page.locator('#activity-list .activity-item', { hasText: 'Coffee is ready' }).waitFor();
      await page.locator('#activity-list .activity-item', { hasText: 'Restart in 5 minutes' }).waitFor();
    }
    // To another user: only that user's list gets it.
    await one.page.selectOption('#compose-kind', 'user');
    await one.page.fill('#compose-target', '2');
    await one.page.fill('#compose-message', 'A note for user 2');
    await one.page.click('#compose-send');
    await two.page.locator('#notification-list li.notification', { hasText: 'A note for user 2' }).waitFor();
    assert.equal(await one.page.locator('#notification-list li.notification').count(), 0);

    // Counts come live on each page's one socket (/ws?counts=1): two pages are two clients, not four.
    await one.page.waitForFunction(() => document.querySelector('#count-clients').textContent === '2');
    assert.ok(Number(await one.page.textContent('#count-subscribers')) >= 2);

    // Subscribing to a channel: its messages arrive under Activity.
    await two.page.fill('#subscribe-input', 'news');
    await two.page.press('#subscribe-input', 'Enter');
    await two.page.locator('#channel-list .chip[data-channel="news"]').waitFor();
    await two.page.waitForFunction(async () => {
      const r = await fetch('/api/channels');
      return (await r.json()).channels.some((c) => c.name === 'news' && c.subscribers > 0);
    });
    await server.publish({ channel: 'news', type: 'headline', title: 'Herald 0.1 released', message: 'Read all about it' });
    await two.page.locator('#activity-list .activity-item', { hasText: 'Herald 0.1 released' }).waitFor();
  }));

test('an injected <script> message renders as text, everywhere', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');

    const id = await server.publish({ channel: 'user:1', title: XSS, message: XSS, sender: XSS });
    await two.page.fill('#chat-input', XSS);
    await two.page.press('#chat-input', 'Enter');
    await server.json('POST', '/api/broadcast', { type: 'broadcast', title: XSS, message: XSS, sender: XSS });
    await server.publish({ channel: 'chat', type: 'chat', message: XSS, sender: XSS });

    const item = one.page.locator(`#notification-list li[data-id="${id}"]`);
    await item.waitFor();
    assert.equal(await item.locator('.title').textContent(), XSS);
    assert.equal(await item.locator('.text').textContent(), XSS);
    await one.page.locator('#chat-list .chat-msg').nth(1).waitFor();
    await one.page.locator('#activity-list .activity-item').first().waitFor();
    for (const { page } of [one, two]) {
      await page.locator('#chat-list .chat-msg .bubble', { hasText: '<script>' }).first().waitFor();
    }
    assert.equal(await one.page.locator('#chat-list .bubble').first().textContent(), XSS);
    // The detail view too.
    await item.click();
    await one.page.locator('#detail-modal.show dd').first().waitFor();
    assert.equal(await one.page.textContent('#detail-title'), XSS);
    await sleep(300);

    for (const { page } of [one, two]) {
      assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected handler or script ran');
      assert.equal(await page.locator('main img[src="x"], .toast img, .modal img').count(), 0, 'no injected element');
      assert.equal(await page.locator('#app script, #toasts script, .modal script').count(), 0);
    }
    await screenshot(one.page, 'xss-as-text');
  }));

test('sound: nothing before the first gesture, mute toggle, never a NotAllowedError', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    assert.equal(await one.page.getAttribute('#sound-toggle', 'data-state'), 'locked');

    const first = await server.publish({ channel: 'user:1', title: 'Before any click' });
    await one.page.locator(`#notification-list li[data-id="${first}"]`).waitFor();
    // A message published just after "live" may come in the connection's replay rather than live; the page
    // then rings once for the caught-up batch, 300 ms later. Either way exactly one ring is skipped.
    await one.page.waitForFunction(() => window.herald.sound.skipped === 1);
    let s = await one.page.evaluate(() => window.herald.sound);
    assert.equal(s.played + s.refused, 0, 'no play() attempted before a user gesture');

    // The first click (on the mute toggle) unlocks sound and mutes it.
    await one.page.click('#sound-toggle');
    assert.equal(await one.page.getAttribute('#sound-toggle', 'data-state'), 'muted');
    const second = await server.publish({ channel: 'user:1', title: 'While muted' });
    await one.page.locator(`#notification-list li[data-id="${second}"]`).waitFor();
    await one.page.waitForFunction(() => window.herald.sound.skipped === 2);
    s = await one.page.evaluate(() => window.herald.sound);
    assert.equal(s.played + s.refused, 0, 'muted: nothing played');

    // Unmuted after a gesture: it plays (or, without an audio device, is refused quietly).
    await one.page.click('#sound-toggle');
    assert.equal(await one.page.getAttribute('#sound-toggle', 'data-state'), 'on');
    const third = await server.publish({ channel: 'user:1', title: 'Unmuted' });
    await one.page.locator(`#notification-list li[data-id="${third}"]`).waitFor();
    await one.page.waitForFunction(() => window.herald.sound.played + window.herald.sound.refused === 1);

    // The choice survives a reload.
    await one.page.click('#sound-toggle');
    await one.page.reload();
    await one.page.waitForFunction(() => window.herald && window.herald.state === 'live');
    assert.equal(await one.page.getAttribute('#sound-toggle', 'data-state'), 'muted');
  }));

test('the picker: "/" without a user asks who you are', { timeout: 60000 }, async () => {
  const server = await HeraldServer.start();
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  try {
    const page = await context.newPage();
    const watch = watchConsole(page, 'picker');
    await page.goto(server.url('/'));
    await page.locator('#picker').waitFor();
    await page.fill('#picker-input', 'alice');
    await page.press('#picker-input', 'Enter');
    await page.waitForURL(/\?user_id=alice$/);
    await page.waitForFunction(() => window.herald && window.herald.state === 'live');
    assert.equal(await page.textContent('#user-name'), 'User alice');
    assert.deepEqual(watch.errors, []);
  } finally {
    await context.close();
    await server.stop();
  }
});

test('screenshot: user 1 with live notifications, chat and counts (desktop and phone)', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');
    const notes = [
      { title: 'Deploy finished', message: 'herald 0.1.0 is live on production (3 nodes).', sender: 'ci', data: { level: 'success' } },
      { title: 'Disk almost full', message: 'db-2: /var is at 91 %. Consider a shorter --history-ttl.', sender: 'monitoring', data: { level: 'warning' } },
      { title: 'New follower', message: 'Ann started following your channel #news.', sender: 'social', data: { level: 'info' } },
      { title: 'Invoice paid', message: 'Invoice #1042 was paid: 49.00 EUR.', sender: 'billing' },
      { title: 'Build #418 passed', message: 'All 214 tests green on main in 3 min 12 s.', sender: 'ci', data: { level: 'success' } },
    ];
    let last;
    for (const n of notes) {
      last = await server.publish({ channel: 'user:1', type: 'notification', ...n });
      await sleep(120);
    }
    await one.page.locator(`#notification-list li[data-id="${last}"]`).waitFor();
    const ids = await listedIds(one.page);
    await one.page.locator(`#notification-list li[data-id="${ids[ids.length - 1]}"] button.mark-read`).click();

    await two.page.fill('#chat-input', 'Morning! Did the deploy go out?');
    await two.page.press('#chat-input', 'Enter');
    await one.page.locator('#chat-list .chat-msg').first().waitFor();
    await one.page.fill('#chat-input', 'Yes, 0.1.0 is live. Notifications show up instantly.');
    await one.page.press('#chat-input', 'Enter');
    await two.page.fill('#chat-input', 'Great, the unread badge just ticked up here too.');
    await two.page.press('#chat-input', 'Enter');
    await server.json('POST', '/api/broadcast', { type: 'maintenance', title: 'Maintenance window', message: 'Saturday 02:00 UTC, about 5 minutes.' });
    await one.page.locator('#chat-list .chat-msg').nth(2).waitFor();
    await one.page.locator('#activity-list .activity-item').first().waitFor();
    // Let the earlier toasts time out, so the picture shows one, for the newest arrival.
    await one.page.waitForFunction(() => document.querySelectorAll('#toasts .toast').length === 0, null, { timeout: 15000 });
    const toastId = await server.publish({ channel: 'user:1', type: 'notification', title: 'Payment received', message: 'Ann sent you 25.00 EUR.', sender: 'billing', data: { level: 'success' } });
    await one.page.locator(`#notification-list li[data-id="${toastId}"]`).waitFor();
    await one.page.waitForFunction(() => document.querySelector('#count-clients').textContent !== '–');
    await sleep(900); // let the arrival highlight fade
    await screenshot(one.page, 'client-user1');
    await one.page.setViewportSize({ width: 390, height: 844 });
    // On a phone the toast would cover the chat under the list: the picture waits for it to go.
    await one.page.waitForFunction(() => document.querySelectorAll('#toasts .toast').length === 0, null, { timeout: 15000 });
    await sleep(300);
    await screenshot(one.page, 'client-user1-phone');
    assert.equal(await one.page.textContent('#unread-count'), String(notes.length));
  }));
