// Kill -9 the server under a live page, publish while the page is away, restart on the same port and data
// dir: the page shows its countdown, "retry now" works, and every missed notification appears exactly once,
// in order. Over WebSocket (default) and SSE (?transport=sse).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeraldServer, listedIds, openApp, screenshot, sleep, useBrowser } from '../lib.js';

const browser = useBrowser();

const state = (page) => page.evaluate(() => window.herald.state);

/** Waits until the page is counting down to a retry at least `seconds` away (backoff grows per failure). */
async function waitForCountdown(page, seconds) {
  await page.waitForFunction((min) => {
    const banner = document.querySelector('#offline-banner');
    const n = Number(document.querySelector('#countdown').textContent);
    return window.herald.state === 'waiting' && !banner.classList.contains('d-none') && n >= min;
  }, seconds, { timeout: 60000, polling: 100 });
}

async function publishFails(server) {
  try {
    await server.publish({ channel: 'user:1', title: 'lost' });
  } catch (err) {
    return /fetch failed|ECONNREFUSED/.test(String(err.message) + String(err.cause?.code));
  }
  return false;
}

async function outageAndCatchUp(server, page, watch, { label }) {
  const before = await listedIds(page);
  watch.expectOutage(true);
  await server.kill('SIGKILL');
  assert.ok(await publishFails(server), 'publishing is impossible while the server is down');

  // The page notices, shows a countdown and keeps retrying with growing delays.
  await page.locator('#offline-banner:not(.d-none)').waitFor();
  await waitForCountdown(page, 3);
  assert.match(await page.textContent('#conn-label'), /^Offline · retry in \d+ s$/);
  await screenshot(page, `${label}-countdown`);

  // Back on the same port and data dir, and three notifications (and a chat line) published while the page
  // is still waiting out its countdown.
  await server.start();
  const missed = [];
  for (let i = 1; i <= 3; i++) missed.push(await server.publish({ channel: 'user:1', type: 'notification', title: `Missed ${label} ${i}`, message: `published while away (${i})` }));
  const chatId = await server.publish({ channel: 'chat', type: 'chat', message: `chat while away (${label})`, sender: 'User 2', data: { user_id: '2' } });
  assert.equal(await state(page), 'waiting', 'the page was still disconnected when they were published');

  await page.click('#retry-now');
  await page.waitForFunction(() => window.herald.state === 'live', null, { timeout: 15000 });
  await page.locator(`#notification-list li[data-id="${missed[2]}"]`).waitFor();
  await page.locator(`#chat-list .chat-msg[data-id="${chatId}"]`).waitFor();
  watch.expectOutage(false);
  await page.locator('#offline-banner.d-none').waitFor({ state: 'attached' });

  if (label === 'ws') {
    // The WebSocket's replay frame (SSE streams get one only when something could not be recovered).
    const replay = await page.evaluate(() => window.herald.lastReplay);
    assert.equal(replay.recovered, true);
    assert.equal(replay.count, 4, 'three notifications and one chat line replayed');
    await page.locator('#toasts .toast', { hasText: '3 missed notifications caught up' }).waitFor();
  }
  // Each exactly once, in order (newest first), after what was there.
  await sleep(300);
  assert.deepEqual(await listedIds(page), [...missed].reverse().concat(before));
  assert.equal(await page.locator(`#chat-list .chat-msg[data-id="${chatId}"]`).count(), 1);
  return missed;
}

test('WebSocket: kill -9, publish while away, restart: countdown, retry now, each missed one once, in order', { timeout: 180000 }, async () => {
  const server = await HeraldServer.start();
  let context;
  try {
    const opened = await openApp(browser, server, '?user_id=1');
    context = opened.context;
    const { page, watch } = opened;
    assert.equal(await page.textContent('#conn-transport'), 'WebSocket');
    const first = await server.publish({ channel: 'user:1', title: 'Before the outage' });
    await page.locator(`#notification-list li[data-id="${first}"]`).waitFor();

    const missed = await outageAndCatchUp(server, page, watch, { label: 'ws' });

    // Live again: three more after the restart arrive at once, once each.
    const live = [];
    for (let i = 1; i <= 3; i++) live.push(await server.publish({ channel: 'user:1', title: `After restart ${i}` }));
    await page.locator(`#notification-list li[data-id="${live[2]}"]`).waitFor();
    await sleep(300);
    assert.deepEqual(await listedIds(page), [...live].reverse().concat([...missed].reverse(), [first]));
    assert.equal(await page.textContent('#unread-count'), '7');

    // A second outage, this time without touching the page: it comes back by itself and catches up.
    watch.expectOutage(true);
    await server.kill('SIGKILL');
    await page.locator('#offline-banner:not(.d-none)').waitFor();
    await server.start();
    const late = await server.publish({ channel: 'user:1', title: 'While reconnecting on its own' });
    await page.waitForFunction(() => window.herald.state === 'live', null, { timeout: 45000 });
    await page.locator(`#notification-list li[data-id="${late}"]`).waitFor();
    watch.expectOutage(false);
    await sleep(300);
    const ids = await listedIds(page);
    assert.equal(ids[0], late);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.equal(ids.length, 8);
    assert.deepEqual(watch.errors, []);
  } finally {
    await context?.close();
    await server.stop();
  }
});

test('SSE (?transport=sse): receives a notification, survives a restart, chat over REST', { timeout: 180000 }, async () => {
  const server = await HeraldServer.start();
  let context;
  try {
    const opened = await openApp(browser, server, '?user_id=1&transport=sse');
    context = opened.context;
    const { page, watch } = opened;
    assert.equal(await page.textContent('#conn-transport'), 'SSE');
    const first = await server.publish({ channel: 'user:1', type: 'notification', title: 'Over SSE', message: 'hello' });
    await page.locator(`#notification-list li[data-id="${first}"]`).waitFor();
    await page.waitForFunction(() => document.querySelector('#unread-count').textContent === '1');

    // Chat in SSE mode goes out over REST and comes back on the stream.
    await page.fill('#chat-input', 'sent from an SSE page');
    await page.press('#chat-input', 'Enter');
    await page.locator('#chat-list .chat-msg.mine', { hasText: 'sent from an SSE page' }).waitFor();

    await outageAndCatchUp(server, page, watch, { label: 'sse' });

    // Any message type arrives, not just a known list (the stream is unnamed).
    await server.publish({ channel: 'broadcast', type: 'launch_party', title: 'Cake in the kitchen' });
    await page.locator('#activity-list .activity-item', { hasText: 'Cake in the kitchen' }).waitFor();
    const after = await server.publish({ channel: 'user:1', title: 'Live after restart' });
    await page.locator(`#notification-list li[data-id="${after}"]`).waitFor();
    const ids = await listedIds(page);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.equal(ids.length, 5);
    assert.deepEqual(watch.errors, []);
  } finally {
    await context?.close();
    await server.stop();
  }
});
