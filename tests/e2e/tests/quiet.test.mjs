// Issue 20, quiet hours in the page: set in the user menu (and seen by the user's other tabs), a message the
// server flags quiet is listed with its marker but neither rings, toasts nor pops up; the page applies the same
// rule to broadcasts; urgent ones still ring.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notificationItem, usePages } from '../lib.js';

const { withServer } = usePages();

const item = notificationItem;
const hhmm = (d) => d.toISOString().slice(11, 16);

test('quiet hours: set in the page, seen by the other tab; quiet messages are marked and make no noise', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const a = await open('?user_id=1');
    const b = await open('?user_id=1');
    // Quiet from an hour ago to an hour from now, in UTC.
    const now = Date.now();
    await a.page.click('#user-menu');
    await a.page.click('#open-settings');
    await a.page.locator('#settings-modal.show').waitFor();
    await a.page.waitForFunction(() => document.querySelector('#settings-state').textContent === '');
    await a.page.check('#quiet-enabled');
    await a.page.fill('#quiet-start', hhmm(new Date(now - 3600000)));
    await a.page.fill('#quiet-end', hhmm(new Date(now + 3600000)));
    await a.page.fill('#quiet-timezone', 'UTC');
    await a.page.selectOption('#quiet-min-priority', '4');
    await a.page.click('#settings-save');
    await a.page.locator('#settings-state', { hasText: 'Saved' }).waitFor();
    const stored = await server.json('GET', '/api/users/1/settings');
    assert.equal(stored.json.min_priority, 4);
    assert.equal(stored.json.quiet_hours.timezone, 'UTC');
    // The other tab hears of it (a settings event on reads:1).
    await b.page.waitForFunction(() => window.herald.settings?.quiet_hours?.timezone === 'UTC');
    await a.page.keyboard.press('Escape');

    // The first click unlocks sound, so a ring would be a play() attempt.
    for (const tab of [a, b]) await tab.page.click('#counts-card');
    const before = await b.page.evaluate(() => ({ ...window.herald.sound, toasts: document.querySelectorAll('#toasts .toast').length }));
    const quiet = await server.publish({ channel: 'user:1', title: 'Newsletter', priority: 3 });
    const urgent = await server.publish({ channel: 'user:1', title: 'Server down', priority: 5 });
    await item(b.page, urgent).waitFor();
    await item(b.page, quiet).waitFor();
    assert.equal(await item(b.page, quiet).locator('.quiet-marker').count(), 1);
    assert.equal(await item(b.page, urgent).locator('.quiet-marker').count(), 0);
    await b.page.waitForFunction((id) => window.herald.alerts.some((x) => x.id === id), urgent);
    const alerts = await b.page.evaluate(() => window.herald.alerts);
    assert.deepEqual(alerts.filter((x) => x.id === quiet || x.id === urgent).map((x) => [x.id, x.quiet]), [[quiet, true], [urgent, false]]);
    const after = await b.page.evaluate(() => ({ ...window.herald.sound }));
    assert.equal(after.played + after.refused + after.skipped - (before.played + before.refused + before.skipped), 1, 'one ring: the urgent one');
    assert.equal(await b.page.locator('#toasts .toast', { hasText: 'Newsletter' }).count(), 0, 'no toast for the quiet one');
    assert.equal(await b.page.locator('#toasts .toast', { hasText: 'Server down' }).count(), 1);

    // A broadcast below the threshold: quiet by the page's own rule.
    const id = await server.publish({ channel: 'broadcast', type: 'broadcast', title: 'Lunch', message: 'pizza', priority: 2 });
    await b.page.waitForFunction((id) => window.herald.alerts.some((x) => x.id === id), id);
    assert.equal((await b.page.evaluate(() => window.herald.alerts)).find((x) => x.id === id).quiet, true);
  }));

test('a quiet message raises no browser notification, an urgent one does', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    // Quiet hours over REST, from an hour ago to an hour from now in UTC, below priority 4.
    const now = Date.now();
    const put = await server.json('PUT', '/api/users/1/settings', {
      quiet_hours: { start: hhmm(new Date(now - 3600000)), end: hhmm(new Date(now + 3600000)), timezone: 'UTC' },
      min_priority: 4,
    });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const one = await open('?user_id=1');
    await one.page.waitForFunction(() => window.herald.settings?.quiet_hours?.timezone === 'UTC');
    await one.context.grantPermissions(['notifications'], { origin: server.base });
    await one.page.click('#desktop-toggle');
    await one.page.waitForFunction(() => window.herald.desktop.enabled);
    // Alerts pop up while the tab is hidden: a headless tab never is, so it is told it is.
    await one.page.evaluate(() => Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }));

    // The quiet one first: by the time the urgent one pops up, the page has dealt with both.
    const quiet = await server.publish({ channel: 'user:1', title: 'Newsletter', message: 'weekly digest', priority: 2 });
    const urgent = await server.publish({ channel: 'user:1', title: 'Server down', message: 'db01 unreachable', priority: 5 });
    await item(one.page, urgent).waitFor();
    await item(one.page, quiet).waitFor();
    assert.equal(await item(one.page, quiet).locator('.quiet-marker').count(), 1, 'the quiet one is marked');
    assert.equal(await item(one.page, urgent).locator('.quiet-marker').count(), 0);
    const stored = (await server.json('GET', '/api/notifications?user_id=1')).json.notifications;
    assert.deepEqual(stored.map((n) => [n.id, n.quiet === true]), [[quiet, true], [urgent, false]], 'the server flagged it');

    const notifications = async () => one.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration('/static/js/');
      return (await reg.getNotifications()).map((n) => ({ title: n.title, tag: n.tag }));
    });
    await one.page.waitForFunction((id) => window.herald.alerts.some((x) => x.id === id), urgent);
    await one.page.waitForFunction(() => window.herald.desktop.shown >= 1);
    assert.deepEqual(await notifications(), [{ title: 'Server down', tag: `herald-${urgent}` }], 'one browser notification: the urgent one');
    assert.equal(await one.page.evaluate(() => window.herald.desktop.shown), 1);
  }));
