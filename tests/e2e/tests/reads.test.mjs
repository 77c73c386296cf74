// Issue 20, read state in sync between two tabs of one user: marking one, several or all read, unread, or
// deleting, in one tab (or over REST) shows in the other through the reads:<id> channel, badge and list alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listedIds, notificationItem, usePages } from '../lib.js';

const { withServer } = usePages();

const item = notificationItem;
const isUnread = (page, id) => page.$eval(`#notification-list li.notification[data-id="${id}"]`, (el) => el.classList.contains('unread'));
/** Waits until both the list and the badge of `page` show this; returns how long it took after `since`. */
async function agrees(page, { unread, readIds = [], unreadIds = [], goneIds = [] }, since) {
  await page.waitForFunction(({ unread, readIds, unreadIds, goneIds }) => {
    const el = (id) => document.querySelector(`#notification-list li.notification[data-id="${id}"]`);
    return document.querySelector('#unread-count').textContent === String(unread)
      && document.querySelector('#bell-count').textContent === String(unread)
      && readIds.every((id) => el(id) && !el(id).classList.contains('unread'))
      && unreadIds.every((id) => el(id) && el(id).classList.contains('unread'))
      && goneIds.every((id) => !el(id));
  }, { unread, readIds, unreadIds, goneIds });
  return Date.now() - since;
}

test('read state syncs between two tabs of one user: read, unread, all, delete, and REST', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const a = await open('?user_id=1');
    const b = await open('?user_id=1');
    const ids = [];
    for (const n of [1, 2, 3, 4]) ids.push(await server.publish({ channel: 'user:1', title: `Note ${n}` }));
    for (const tab of [a, b]) await agrees(tab.page, { unread: 4, unreadIds: ids }, Date.now());
    const took = [];

    // Read in tab A: gone from tab B's unread.
    let t = Date.now();
    await item(a.page, ids[0]).locator('button.mark-read').click();
    took.push(await agrees(b.page, { unread: 3, readIds: [ids[0]] }, t));

    // Unread again in tab B: back in tab A.
    t = Date.now();
    await item(b.page, ids[0]).hover();
    await item(b.page, ids[0]).locator('button.mark-unread').click();
    took.push(await agrees(a.page, { unread: 4, unreadIds: [ids[0]] }, t));

    // Several over REST (another device): both tabs.
    t = Date.now();
    const several = await server.json('POST', '/api/notifications/read', { user_id: '1', ids: [ids[1], ids[2]] });
    assert.equal(several.status, 200, JSON.stringify(several.json));
    for (const tab of [a, b]) took.push(await agrees(tab.page, { unread: 2, readIds: [ids[1], ids[2]], unreadIds: [ids[0], ids[3]] }, t));

    // Deleted in tab A: gone from tab B.
    t = Date.now();
    await item(a.page, ids[3]).hover();
    await item(a.page, ids[3]).locator('button.delete').click();
    took.push(await agrees(b.page, { unread: 1, goneIds: [ids[3]] }, t));

    // All read in tab B: tab A's badge to zero, every entry read.
    t = Date.now();
    await b.page.click('#mark-all');
    took.push(await agrees(a.page, { unread: 0, readIds: ids.slice(0, 3) }, t));
    assert.deepEqual(await listedIds(a.page), ids.slice(0, 3).reverse());
    assert.equal(await isUnread(a.page, ids[0]), false);

    // The server agrees.
    const rest = await server.json('GET', '/api/notifications?user_id=1');
    assert.equal(rest.json.unread, 0);
    console.log(`read sync between tabs took ${took.join(', ')} ms`);
  }));
