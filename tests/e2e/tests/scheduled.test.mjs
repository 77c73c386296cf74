// Issue 20, scheduled delivery from the page's send panel: a send with a delay answers with a schedule handle,
// which the page shows (a "Scheduled" toast with its time and a Cancel button); the message arrives once, not
// before its time; a scheduled send cancelled over REST never arrives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { usePages } from '../lib.js';

const { withServer } = usePages();

const entries = (page, text) => page.locator('#notification-list li.notification', { hasText: text });

/** Sends `message` to user 2 from the send panel with this delay; resolves to the answer the page kept. */
async function scheduleFromPanel(page, message, delay) {
  const before = await page.evaluate(() => window.herald.lastScheduled?.scheduled ?? null);
  await page.fill('#compose-message', message);
  await page.fill('#compose-delay', delay);
  await page.click('#compose-send');
  await page.waitForFunction((before) => {
    const s = window.herald.lastScheduled?.scheduled;
    return s && s !== before;
  }, before);
  return page.evaluate(() => window.herald.lastScheduled);
}

test('a scheduled send from the send panel: its handle shows, it arrives once after its time; a cancelled one never arrives', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');
    // When each entry appeared in user 2's list (the page's clock, the server's machine).
    await two.page.evaluate(() => {
      window.__arrived = [];
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.addedNodes) {
            if (n.nodeType === 1 && n.matches('li.notification')) window.__arrived.push({ id: Number(n.dataset.id), at: Date.now() });
          }
        }
      }).observe(document.querySelector('#notification-list'), { childList: true });
    });

    const p = one.page;
    await p.selectOption('#compose-kind', 'user');
    await p.fill('#compose-target', '2');
    await p.fill('#compose-title', 'Standup');
    await p.click('#compose-more summary');

    // A: 8 s ahead. The answer is a handle and a time, no id; the page shows it in a toast with a Cancel button.
    const a = await scheduleFromPanel(p, 'in a few seconds', '8s');
    assert.equal(a.channel, 'user:2');
    assert.match(a.scheduled, /^[0-9a-f]{16}$/);
    assert.equal(a.id, undefined, 'no id until it is delivered');
    const toast = p.locator('#toasts .toast', { hasText: 'Scheduled' });
    await toast.waitFor();
    const shownAt = await p.evaluate((at) => `For ${new Date(at).toLocaleString()}`, a.at);
    assert.match(await toast.locator('.toast-body').textContent(), new RegExp(`^${shownAt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.equal(await toast.locator('button.cancel-scheduled').count(), 1);
    assert.equal(await p.inputValue('#compose-message'), '', 'the message field is cleared once it is taken');
    const pending = await server.json('GET', `/api/scheduled/${a.scheduled}`);
    assert.equal(pending.status, 200, JSON.stringify(pending.json));
    assert.equal(pending.json.channel, 'user:2');
    assert.equal(pending.json.message.message, 'in a few seconds');
    assert.equal(pending.json.message.title, 'Standup');

    // B: 3 s ahead, so due before A; cancelled over REST.
    const b = await scheduleFromPanel(p, 'cancelled before its time', '3s');
    assert.notEqual(b.scheduled, a.scheduled);
    assert.ok(Date.parse(b.at) < Date.parse(a.at), `B (${b.at}) is due before A (${a.at})`);
    const cancelled = await server.json('DELETE', `/api/scheduled/${b.scheduled}`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
    assert.deepEqual(cancelled.json, { handle: b.scheduled, cancelled: true });
    assert.equal((await server.json('GET', `/api/scheduled/${b.scheduled}`)).status, 404);

    // Nothing has arrived while A waits.
    assert.equal((await server.json('GET', `/api/scheduled/${a.scheduled}`)).status, 200);
    assert.equal(await entries(two.page, 'in a few seconds').count(), 0);
    assert.deepEqual(await two.page.evaluate(() => window.__arrived), []);

    // A arrives, not before its time. Had B not been cancelled it would have come first (due earlier,
    // delivered in id order), so once A is here B is known never to come.
    const arrived = entries(two.page, 'in a few seconds');
    await arrived.waitFor({ timeout: 60000 });
    const id = Number(await arrived.getAttribute('data-id'));
    const when = await two.page.evaluate(() => window.__arrived);
    assert.deepEqual(when.map((x) => x.id), [id], 'A alone arrived');
    assert.ok(when[0].at >= Date.parse(a.at), `arrived at ${new Date(when[0].at).toISOString()}, due ${a.at}`);
    assert.equal((await server.json('GET', `/api/scheduled/${a.scheduled}`)).status, 404, 'delivered: no longer scheduled');

    // Once: a later message comes after it and nothing else in between (no second delivery, no B).
    const marker = await server.publish({ channel: 'user:2', title: 'Marker', message: 'after the schedule' });
    await entries(two.page, 'after the schedule').waitFor();
    assert.deepEqual((await two.page.evaluate(() => window.__arrived)).map((x) => x.id), [id, marker]);
    assert.equal(await entries(two.page, 'in a few seconds').count(), 1);
    assert.equal(await entries(two.page, 'cancelled before its time').count(), 0);
    const stored = (await server.json('GET', '/api/notifications?user_id=2')).json.notifications;
    assert.deepEqual(stored.map((n) => n.message), ['in a few seconds', 'after the schedule'], 'oldest first: A once, no B');
    assert.deepEqual((await server.json('GET', '/api/scheduled')).json.scheduled, []);
  }));
