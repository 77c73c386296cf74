// Issue 20 in the page: a notification's priority, tags, click target, action buttons, icon, attachment and
// quiet marker rendered as text and safe links; replies published from a button; expiry, updates in place,
// withdrawals and read state kept live (two tabs of one user agree); the send panel's new fields.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listedIds, notificationItem, screenshot, sleep, usePages } from '../lib.js';

const { withServer } = usePages();

const item = notificationItem;
const unreadBadge = (page) => page.textContent('#unread-count');

test('a priority-5 message with two actions, tags, click, icon and attachment; a reply button publishes', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');
    // User 2 listens on the channel the reply button names.
    await two.page.fill('#subscribe-input', 'ci.commands');
    await two.page.press('#subscribe-input', 'Enter');
    await two.page.waitForFunction(async () => {
      const r = await fetch('/api/channels');
      return (await r.json()).channels.some((c) => c.name === 'ci.commands' && c.subscribers > 0);
    });

    const click = server.url('/healthz?build=7');
    const logUrl = server.url('/healthz?log=7');
    const id = await server.publish({
      channel: 'user:1', title: 'Build 7 failed', message: 'tests red on main', priority: 5, tags: ['ci', 'build'],
      click,
      actions: [
        { action: 'view', label: 'Open log', url: logUrl },
        { action: 'reply', label: 'Retry', channel: 'ci.commands', message: 'retry 7' },
      ],
      icon: server.url('/static/favicon.svg'),
      attachment: { url: server.url('/static/icons.svg'), name: 'log.txt' },
    });
    const li = item(one.page, id);
    await li.waitFor();
    assert.equal(await li.getAttribute('data-priority'), '5');
    assert.match(await li.getAttribute('class'), /\bprio-5\b/);
    assert.equal(await li.locator('.prio-badge').textContent(), 'Urgent');
    // Urgent stands out: a red left border.
    assert.equal(await li.evaluate((el) => getComputedStyle(el).borderLeftColor), 'rgb(220, 38, 38)');
    assert.deepEqual(await li.locator('.tags .chip.tag').allTextContents(), ['ci', 'build']);
    const title = li.locator('a.title');
    assert.equal(await title.textContent(), 'Build 7 failed');
    assert.equal(await title.getAttribute('href'), click);
    assert.equal(await title.getAttribute('target'), '_blank');
    assert.match(await title.getAttribute('rel'), /\bnoopener\b/);
    assert.equal(await li.locator('img.msg-icon').getAttribute('src'), server.url('/static/favicon.svg'));
    const attachment = li.locator('a.attachment');
    assert.equal(await attachment.textContent(), 'log.txt');
    assert.equal(await attachment.getAttribute('href'), server.url('/static/icons.svg'));
    assert.match(await attachment.getAttribute('rel'), /\bnoopener\b/);
    assert.deepEqual(await li.locator('.actions button.action').allTextContents(), [' Open log', 'Retry']);
    assert.equal(await li.locator('.quiet-marker').count(), 0, 'not quiet');

    // "view" opens its URL in a new tab, without an opener.
    const [popup] = await Promise.all([
      one.context.waitForEvent('page'),
      li.locator('button.action[data-action="view"]').click(),
    ]);
    await popup.waitForLoadState();
    assert.equal(popup.url(), logUrl);
    assert.equal(await popup.evaluate(() => window.opener), null);
    await popup.close();

    // "reply" publishes its message to its channel, as user 1, and the button says it was sent.
    const retry = li.locator('button.action[data-action="reply"]');
    await retry.click();
    await one.page.waitForFunction((sel) => document.querySelector(sel)?.classList.contains('sent'),
      `#notification-list li[data-id="${id}"] button.action[data-action="reply"]`);
    assert.equal(await retry.isDisabled(), true);
    const heard = two.page.locator('#activity-list .activity-item[data-channel="ci.commands"]');
    await heard.waitFor();
    assert.equal(await heard.locator('.text').textContent(), 'retry 7');
    // The button opened nothing and the detail view stayed shut: its click was the button's alone.
    assert.equal(await one.page.locator('#detail-modal.show').count(), 0);

    // A priority-1 message is muted, a message without priority shows no badge.
    const low = await server.publish({ channel: 'user:1', title: 'FYI', priority: 1 });
    const plain = await server.publish({ channel: 'user:1', title: 'Plain' });
    await item(one.page, plain).waitFor();
    assert.match(await item(one.page, low).getAttribute('class'), /\bprio-1\b/);
    assert.ok(Number(await item(one.page, low).evaluate((el) => getComputedStyle(el).opacity)) < 1);
    assert.equal(await item(one.page, plain).locator('.prio-badge').count(), 0);
    assert.equal(await item(one.page, plain).locator('a').count(), 0, 'no click target, no link');
    await screenshot(one.page, 'notifications-rich');
  }));

const XSS_TAG = '<img src=x onerror=__xss=1>';
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

test('every value is text, and only http(s) URLs become links', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    // The server refuses a javascript: click (and icon, attachment, view URL) with the field named.
    for (const [field, value] of [
      ['click', 'javascript:window.__xss=3'],
      ['icon', 'javascript:window.__xss=3'],
      ['attachment', { url: 'javascript:window.__xss=3', name: 'x' }],
      ['actions', [{ action: 'view', label: 'x', url: 'javascript:window.__xss=3' }]],
    ]) {
      const r = await server.json('POST', '/api/publish', { channel: 'user:1', title: 'x', [field]: value });
      assert.equal(r.status, 422, `${field} refused`);
      assert.match(r.json.detail, new RegExp(field));
    }
    const id = await server.publish({
      channel: 'user:1', title: XSS, message: XSS, tags: [XSS_TAG, 'ok'], priority: 5,
      actions: [{ action: 'reply', label: XSS_TAG, channel: 'ci.commands', message: XSS }],
      attachment: { url: server.url('/static/icons.svg'), name: XSS },
    });
    const li = item(one.page, id);
    await li.waitFor();
    assert.equal(await li.locator('.title').textContent(), XSS);
    assert.equal(await li.locator('.text').textContent(), XSS);
    assert.deepEqual(await li.locator('.chip.tag').allTextContents(), [XSS_TAG, 'ok']);
    assert.equal(await li.locator('button.action').textContent(), XSS_TAG);
    assert.equal(await li.locator('a.attachment').textContent(), XSS);
    assert.equal(await li.locator('img').count(), 0, 'no injected image (and no icon was given)');

    // The page itself never makes a link of anything but http(s), whatever a message says (one from an older
    // server, a proxy): its renderer, given what the server would refuse.
    const rendered = await one.page.evaluate(async () => {
      const rich = await import('/static/js/rich.js');
      const bad = {
        id: 1, click: 'javascript:window.__xss=4', icon: 'javascript:window.__xss=4',
        attachment: { url: 'javascript:window.__xss=4', name: 'a' },
        actions: [{ action: 'view', label: 'v', url: 'javascript:window.__xss=4' }, { action: 'view', label: 'd', url: 'data:text/html,<b>' }],
      };
      return {
        title: rich.titleElement(bad, 't').tagName,
        icon: rich.iconElement(bad),
        attachment: rich.attachmentLink(bad),
        actions: rich.actionButtons(bad, {}),
        relative: rich.safeUrl('/static/x'),
        https: rich.safeUrl('https://example.com/a'),
      };
    });
    assert.deepEqual(rendered, { title: 'SPAN', icon: null, attachment: null, actions: null, relative: null, https: 'https://example.com/a' });
    await sleep(300);
    assert.equal(await one.page.evaluate(() => window.__xss), undefined, 'nothing injected ran');
    assert.equal(await one.page.locator('#app a[href^="javascript:"], #app img[src="x"]').count(), 0);
  }));

test('a message leaves the page when its expiry passes', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const keep = await server.publish({ channel: 'user:1', title: 'Stays' });
    const id = await server.publish({ channel: 'user:1', title: 'Short-lived', expires: '3s' });
    await item(one.page, id).waitFor();
    assert.equal(await unreadBadge(one.page), '2');
    await item(one.page, id).waitFor({ state: 'detached', timeout: 15000 });
    assert.deepEqual(await listedIds(one.page), [keep]);
    assert.equal(await unreadBadge(one.page), '1');
  }));

test('the send panel sets priority, tags, click, icon, attachment, buttons and expiry', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    const two = await open('?user_id=2');
    const p = one.page;
    await p.selectOption('#compose-kind', 'user');
    await p.fill('#compose-target', '2');
    await p.fill('#compose-title', 'Deploy 12');
    await p.fill('#compose-message', 'waiting for approval');
    await p.click('#compose-more summary');
    await p.selectOption('#compose-priority', '5');
    await p.fill('#compose-tags', 'deploy, prod');
    await p.fill('#compose-click', server.url('/healthz?deploy=12'));
    await p.fill('#compose-icon', server.url('/static/favicon.svg'));
    await p.fill('#compose-attachment', server.url('/static/icons.svg'));
    const rows = p.locator('#compose-actions .compose-action');
    await rows.nth(0).locator('.action-kind').selectOption('view');
    await rows.nth(0).locator('.action-label').fill('Diff');
    await rows.nth(0).locator('.action-target').fill(server.url('/healthz?diff=12'));
    await rows.nth(1).locator('.action-kind').selectOption('reply');
    await rows.nth(1).locator('.action-label').fill('Approve');
    await rows.nth(1).locator('.action-target').fill('user:1');
    await rows.nth(1).locator('.action-message').fill('approved 12');
    await p.fill('#compose-expires', '1h');
    await p.click('#compose-send');

    const li = two.page.locator('#notification-list li.notification', { hasText: 'waiting for approval' });
    await li.waitFor();
    assert.equal(await li.getAttribute('data-priority'), '5');
    assert.deepEqual(await li.locator('.chip.tag').allTextContents(), ['deploy', 'prod']);
    assert.equal(await li.locator('a.title').getAttribute('href'), server.url('/healthz?deploy=12'));
    assert.equal(await li.locator('a.attachment').textContent(), 'icons.svg');
    assert.equal(await li.locator('img.msg-icon').count(), 1);
    assert.equal(await li.locator('.expires').count(), 1);
    const id = Number(await li.getAttribute('data-id'));
    const stored = (await server.json('GET', `/api/notifications?user_id=2&since=${id - 1}&limit=1`)).json.notifications[0];
    assert.equal(stored.priority, 5);
    assert.deepEqual(stored.actions.map((a) => a.action), ['view', 'reply']);
    assert.ok(Date.parse(stored.expires) > Date.now() + 50 * 60000);

    // Approve from user 2's page: the reply lands in user 1's list, from user 2.
    await li.locator('button.action[data-action="reply"]').click();
    const approved = p.locator('#notification-list li.notification', { hasText: 'approved 12' });
    await approved.waitFor();

    // A bad value is refused with the field named, and what was typed stays.
    await p.fill('#compose-click', 'javascript:alert(1)');
    await p.fill('#compose-message', 'second try');
    await one.watch.expectHttpError(422, async () => {
      await p.click('#compose-send');
      await p.locator('#toasts .toast', { hasText: 'click' }).waitFor();
    });
    assert.equal(await p.inputValue('#compose-message'), 'second try');
  }));

test('browser notifications: shown through the service worker with their action buttons', { timeout: 120000 }, () =>
  withServer(async (server, open) => {
    const one = await open('?user_id=1');
    await one.context.grantPermissions(['notifications'], { origin: server.base });
    await one.page.click('#desktop-toggle');
    await one.page.waitForFunction(() => window.herald.desktop.enabled);
    // Alerts pop up while the tab is hidden: a headless tab never is, so it is told it is.
    await one.page.evaluate(() => Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }));
    const id = await server.publish({
      channel: 'user:1', title: 'Build 7 failed', priority: 5,
      actions: [
        { action: 'view', label: 'Open log', url: server.url('/healthz') },
        { action: 'reply', label: 'Retry', channel: 'ci.commands' },
      ],
    });
    await item(one.page, id).waitFor();
    await one.page.waitForFunction(() => window.herald.desktop.shown === 1);
    const shown = await one.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration('/static/js/');
      return (await reg.getNotifications()).map((n) => ({ title: n.title, tag: n.tag, actions: n.actions.map((a) => a.title), sticky: n.requireInteraction }));
    });
    assert.deepEqual(shown, [{ title: 'Build 7 failed', tag: `herald-${id}`, actions: ['Open log', 'Retry'], sticky: true }]);
  }));
