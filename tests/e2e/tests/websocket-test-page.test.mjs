// Seed 004's test page (/static/websocket-test.html): connect to a model channel, create a user through its
// form and see the "created" event in the log and the list, ping, stats, disconnect.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { HeraldServer, launchBrowser, screenshot, stopAllServers, watchConsole } from '../lib.js';

after(stopAllServers);

test('seed 004 test page: connect to users, create a user, see the created event; ping and stats', { timeout: 120000 }, async () => {
  const server = await HeraldServer.start();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const watch = watchConsole(page, 'websocket-test');
    await page.goto(server.url('/static/websocket-test.html'));

    await page.click('#connect-users');
    await page.waitForFunction(() => document.querySelector('#status-users').textContent === 'connected');
    await page.locator('#log li[data-type="connection"][data-channel="users"]').waitFor();
    assert.match(await page.textContent('#log li[data-type="connection"] pre'), /Connected to channel: users/);

    await page.fill('#user-name', 'Ann <b>Lee</b>');
    await page.fill('#user-email', 'ann@example.com');
    await page.click('#user-form button[type="submit"]');
    const created = page.locator('#log li[data-type="created"][data-channel="users"]');
    await created.waitFor();
    const event = JSON.parse(await created.locator('pre').textContent());
    assert.equal(event.type, 'created');
    assert.equal(event.model, 'users');
    assert.equal(event.data.email, 'ann@example.com');
    assert.equal(event.data.name, 'Ann <b>Lee</b>');
    await page.locator('#user-list li', { hasText: 'ann@example.com' }).waitFor();
    assert.equal(await page.locator('#user-list li .fw-semibold').first().textContent(), 'Ann <b>Lee</b>');
    assert.match(await page.textContent('#user-result'), /^Created user #\d+$/);

    // A change made elsewhere (REST from this test) shows up live too.
    const other = await server.json('POST', '/users/', { name: 'Bob', email: 'bob@example.com' });
    assert.equal(other.status, 201);
    await page.locator('#user-list li', { hasText: 'bob@example.com' }).waitFor();

    // A bad email is refused with the server's reason.
    await watch.expectHttpError(422, async () => {
      await page.fill('#user-name', 'Nobody');
      await page.fill('#user-email', 'not-an-email');
      await page.click('#user-form button[type="submit"]');
      await page.waitForFunction(() => /^422/.test(document.querySelector('#user-result').textContent));
      await page.locator('#log li.kind-error').first().waitFor();
    });

    await page.click('#ping');
    await page.locator('#log li[data-type="pong"]').waitFor();
    await page.click('#get-stats');
    await page.locator('#log li[data-type="stats"]').waitFor();
    assert.ok(Number(await page.textContent('#stat-connections')) >= 1);
    await page.click('#connect-posts');
    await page.waitForFunction(() => document.querySelector('#status-posts').textContent === 'connected');
    await page.click('#http-stats');
    await page.waitForFunction(() => Number(document.querySelector('#stat-connections').textContent) >= 2);
    await screenshot(page, 'websocket-test-page');

    await page.click('#disconnect-users');
    await page.waitForFunction(() => document.querySelector('#status-users').textContent === 'disconnected');
    await page.locator('#log li[data-type="closed"][data-channel="users"]').waitFor();
    assert.deepEqual(watch.errors, []);
    await context.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});
