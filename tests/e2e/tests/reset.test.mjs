// A page open across a reset of the server's data (a fresh data dir on the same port, as after a wipe or on a
// new machine): it holds ids and the epoch of the old history, and the new history's ids are below them. On
// reconnecting it learns of the reset, drops its stale last id for the server's, reloads its lists and shows
// every new message. Over WebSocket and SSE.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HeraldServer, listedIds, openApp, sleep, useBrowser } from '../lib.js';

const browser = useBrowser();

// "ahead": the new history's ids are all below the one the page holds (only that gives the reset away without
// an epoch); "overlapping": messages were published on the new server while the page was away, so its ids
// reach past the page's and only the epoch the page sends tells the histories apart.
const cases = [];
for (const transport of ['ws', 'sse']) for (const overlap of [false, true]) cases.push({ transport, overlap });

for (const { transport, overlap } of cases) {
  test(`${transport}, ${overlap ? 'overlapping' : 'ahead'}: a page holding ids of an earlier history shows the new ones after a reset`, { timeout: 120000 }, async () => {
    const server = await HeraldServer.start();
    let context;
    try {
      const opened = await openApp(browser, server, transport === 'sse' ? '?user_id=1&transport=sse' : '?user_id=1');
      context = opened.context;
      const { page, watch } = opened;
      const oldEpoch = await page.evaluate(() => window.herald.epoch);
      assert.match(oldEpoch, /^[0-9a-f]{16}$/);
      const old = [];
      for (let i = 1; i <= 5; i++) old.push(await server.publish({ channel: 'user:1', title: `Old ${i}` }));
      await page.locator(`#notification-list li[data-id="${old[4]}"]`).waitFor();
      assert.equal(await page.evaluate(() => window.herald.lastId), old[4]);

      // The reset: the same port, a fresh data dir.
      watch.expectOutage(true);
      await server.kill('SIGKILL');
      await page.locator('#offline-banner:not(.d-none)').waitFor();
      rmSync(server.dataDir, { recursive: true, force: true });
      server.dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
      await server.start();
      const freshEpoch = (await server.json('GET', '/healthz')).json.epoch;
      assert.notEqual(freshEpoch, oldEpoch);
      const away = [];
      if (overlap) {
        for (let i = 1; i <= 7; i++) away.push(await server.publish({ channel: 'user:1', title: `Away ${i}` }));
        assert.ok(away[6] > old[4], 'the new history has passed the id the page holds');
      }
      // Unless its own backoff got there first (the publishes above take a while on a loaded machine).
      await page.evaluate(() => {
        const retry = document.querySelector('#retry-now');
        if (retry && !retry.disabled && retry.offsetParent !== null) retry.click();
      });
      await page.waitForFunction(() => window.herald.state === 'live', null, { timeout: 15000 });
      watch.expectOutage(false);
      // Told that nothing could be recovered, the page reloads its lists from the new history (the same ids
      // as the old one's, other messages).
      const reloaded = away.map((id) => `${id} Away`).reverse().join(',');
      await page.waitForFunction((want) => [...document.querySelectorAll('#notification-list li.notification')]
        .map((e) => `${e.dataset.id} ${e.textContent.includes('Away') ? 'Away' : 'Old'}`).join(',') === want,
      reloaded, { timeout: 10000 });

      // New messages, with ids the page has held before (in the old history): every one shows, once.
      const fresh = [];
      for (let i = 1; i <= 2; i++) fresh.push(await server.publish({ channel: 'user:1', title: `New ${i}` }));
      if (!overlap) assert.ok(fresh[1] <= old[4], 'the new ids are below the stale one');
      await page.locator(`#notification-list li[data-id="${fresh[1]}"]`, { hasText: 'New 2' }).waitFor({ timeout: 10000 });
      await page.locator('#notification-list li', { hasText: 'New 1' }).waitFor();
      const chatId = await server.publish({ channel: 'chat', type: 'chat', message: 'chat after the reset', sender: 'User 2', data: { user_id: '2' } });
      await page.locator(`#chat-list .chat-msg[data-id="${chatId}"]`, { hasText: 'chat after the reset' }).waitFor();

      // It was told why, took the new epoch, and holds an id of the new history: no stale id is sent again.
      const replay = await page.evaluate(() => window.herald.lastReplay);
      assert.equal(replay.recovered, false);
      assert.equal(replay.reason, 'reset');
      assert.equal(await page.evaluate(() => window.herald.epoch), freshEpoch);
      assert.equal(await page.evaluate(() => window.herald.lastId), chatId);
      await sleep(300);
      // The old history's notifications are gone from the list (it was reloaded from the new one).
      assert.deepEqual(await listedIds(page), [...fresh].reverse().concat([...away].reverse()));
      assert.deepEqual(watch.errors, []);
    } finally {
      await context?.close();
      await server.stop();
    }
  });
}

// After a reset the page loads its list again over REST while the live feed already runs: a notification that
// arrives live while that answer is on its way (taken before it was published) stays listed when the answer
// replaces the list.
test('a notification that arrives while the list reloads stays listed', { timeout: 90000 }, async () => {
  const server = await HeraldServer.start();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    let armed = false;
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let requested;
    const asked = new Promise((resolve) => { requested = resolve; });
    let answered;
    const delivered = new Promise((resolve) => { answered = resolve; });
    await page.route(/\/api\/notifications\?/, async (route) => {
      if (!armed) return route.continue();
      armed = false;
      const response = await route.fetch(); // the server's list, taken now
      requested();
      await held;
      await route.fulfill({ response });
      answered();
    });
    await page.goto(server.url('/?user_id=1'));
    await page.waitForFunction(() => window.herald && window.herald.state === 'live');
    await server.kill('SIGKILL');
    await page.locator('#offline-banner:not(.d-none)').waitFor();
    rmSync(server.dataDir, { recursive: true, force: true });
    server.dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
    await server.start();
    armed = true;
    await page.evaluate(() => {
      const retry = document.querySelector('#retry-now');
      if (retry && !retry.disabled && retry.offsetParent !== null) retry.click();
    });
    await asked;
    const id = await server.publish({ channel: 'user:1', title: 'During the reload' });
    await page.locator(`#notification-list li[data-id="${id}"]`).waitFor();
    release();
    await delivered;
    await sleep(500);
    assert.deepEqual(await listedIds(page), [id]);
  } finally {
    await context.close();
    await server.stop();
  }
});
