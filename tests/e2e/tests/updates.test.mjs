// Issue 20, updates and withdrawals in the page: a message published with `replaces` takes the place of the one it
// names (same position, new content and id), a chain stays one entry through any number of updates and a reload,
// and a withdraw removes it live; on another user's subscribed channel too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listedIds, notificationItem, screenshot, usePages } from '../lib.js';

const { withServer } = usePages();

const item = notificationItem;
const texts = (page) => page.$$eval('#notification-list li.notification .text', (els) => els.map((e) => e.textContent));

test('an update chain updates one entry in place; a withdraw removes it; a reload shows the latest state', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const before = await server.publish({ channel: 'user:1', title: 'Before', message: 'before' });
    const first = await server.publish({
      channel: 'user:1', title: 'Build 9', message: '40%', priority: 5, tags: ['ci'],
      actions: [
        { action: 'view', label: 'Open', url: server.url('/healthz') },
        { action: 'reply', label: 'Cancel', channel: 'ci.commands' },
      ],
    });
    const after = await server.publish({ channel: 'user:1', title: 'After', message: 'after' });
    await item(one.page, after).waitFor();
    assert.deepEqual(await listedIds(one.page), [after, first, before]);
    assert.equal(await one.page.textContent('#unread-count'), '3');

    // 80%: the new id where the old one was (between "after" and "before"), the old id gone.
    const second = await server.publish({ channel: 'user:1', title: 'Build 9', message: '80%', priority: 5, replaces: first });
    await item(one.page, second).waitFor();
    assert.equal(await item(one.page, first).count(), 0);
    assert.deepEqual(await listedIds(one.page), [after, second, before]);
    assert.deepEqual(await texts(one.page), ['after', '80%', 'before']);
    assert.equal(await one.page.textContent('#unread-count'), '3', 'still one unread entry for the chain');

    // "done", naming the chain's first id: the server resolves it to the latest, and the page follows.
    const third = await server.publish({ channel: 'user:1', title: 'Build 9', message: 'done', priority: 3, replaces: first });
    await item(one.page, third).waitFor();
    assert.equal(await item(one.page, second).count(), 0);
    assert.deepEqual(await listedIds(one.page), [after, third, before]);
    assert.deepEqual(await texts(one.page), ['after', 'done', 'before']);
    assert.equal(await item(one.page, third).getAttribute('data-priority'), '3');
    assert.equal(await item(one.page, third).locator('.prio-badge').count(), 0, 'the update\'s own fields');
    await screenshot(one.page, 'notifications-updated');

    // A reload lists the chain once, as its latest state.
    await one.page.reload();
    await one.page.waitForFunction(() => window.herald && window.herald.state === 'live');
    assert.deepEqual((await listedIds(one.page)).sort((a, b) => a - b), [before, after, third]);
    assert.equal(await one.page.textContent('#unread-count'), '3');

    // Withdrawn (naming any id of the chain): gone, and the unread count with it.
    const r = await server.json('DELETE', `/api/messages/${first}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    await item(one.page, third).waitFor({ state: 'detached' });
    assert.deepEqual(await listedIds(one.page), [after, before]);
    assert.equal(await one.page.textContent('#unread-count'), '2');
  }));

test('updates and withdrawals on a subscribed channel, under Activity', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    await one.page.fill('#subscribe-input', 'builds');
    await one.page.press('#subscribe-input', 'Enter');
    await one.page.waitForFunction(async () => {
      const r = await fetch('/api/channels');
      return (await r.json()).channels.some((c) => c.name === 'builds' && c.subscribers > 0);
    });
    const activity = (id) => one.page.locator(`#activity-list .activity-item[data-id="${id}"]`);
    const first = await server.publish({ channel: 'builds', title: 'Build 10', message: '10%' });
    await activity(first).waitFor();
    const second = await server.publish({ channel: 'builds', title: 'Build 10', message: '90%', replaces: first });
    await activity(second).waitFor();
    assert.equal(await activity(first).count(), 0);
    assert.equal(await activity(second).locator('.text').textContent(), '90%');
    assert.equal((await server.json('DELETE', `/api/messages/${second}`)).status, 200);
    await activity(second).waitFor({ state: 'detached' });
  }));

test('a page that was away while its entry was updated twice resumes with the latest state alone (chain)', { timeout: 180000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const a = await server.publish({ channel: 'user:1', title: 'Build 11', message: '40%' });
    await item(one.page, a).waitFor();

    // Away (kill -9) while A becomes B and then C: C comes back with `replaces: B`, an id the page never held,
    // and `chain: A`, the one it shows.
    one.watch.expectOutage(true);
    await server.kill('SIGKILL');
    await one.page.waitForFunction(() => {
      const n = Number(document.querySelector('#countdown').textContent);
      return window.herald.state === 'waiting' && n >= 3;
    }, null, { timeout: 60000, polling: 100 });
    await server.start();
    const b = await server.publish({ channel: 'user:1', title: 'Build 11', message: '80%', replaces: a });
    const c = await server.publish({ channel: 'user:1', title: 'Build 11', message: 'done', replaces: b });
    assert.equal(await one.page.evaluate(() => window.herald.state), 'waiting', 'still away when they were published');

    await one.page.click('#retry-now');
    await one.page.waitForFunction(() => window.herald.state === 'live', null, { timeout: 15000 });
    await item(one.page, c).waitFor();
    one.watch.expectOutage(false);
    assert.deepEqual(await listedIds(one.page), [c], 'A gave its place to C');
    assert.deepEqual(await texts(one.page), ['done']);
    assert.equal(await one.page.textContent('#unread-count'), '1');

    // Withdrawn while away again, naming the chain's first id: the replayed event removes C.
    await server.kill('SIGKILL');
    one.watch.expectOutage(true);
    await one.page.waitForFunction(() => {
      const n = Number(document.querySelector('#countdown').textContent);
      return window.herald.state === 'waiting' && n >= 3;
    }, null, { timeout: 60000, polling: 100 });
    await server.start();
    assert.equal((await server.json('DELETE', `/api/messages/${a}`)).status, 200);
    await one.page.click('#retry-now');
    await one.page.waitForFunction(() => window.herald.state === 'live', null, { timeout: 15000 });
    await item(one.page, c).waitFor({ state: 'detached' });
    one.watch.expectOutage(false);
    assert.deepEqual(await listedIds(one.page), []);
  }));
