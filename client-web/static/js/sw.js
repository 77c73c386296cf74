// Herald's service worker: only for browser notifications, since only a worker's notifications may carry action
// buttons. It caches nothing and intercepts no request. A click on a notification focuses (or opens) the page,
// or opens the message's click target; a "view" button opens its URL; a "reply" button is handed to an open page
// ('herald-action'), which publishes the reply over its own connection with its own credentials.
const safeUrl = (value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
};

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('notificationclick', (event) => {
  const n = event.notification;
  const data = n.data || {};
  n.close();
  event.waitUntil((async () => {
    const pages = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const page = pages.find((c) => new URL(c.url).pathname === '/') || null;
    const action = event.action !== '' && Array.isArray(data.actions) ? data.actions[Number(event.action)] : null;
    if (action && action.action === 'view' && safeUrl(action.url)) {
      await self.clients.openWindow(safeUrl(action.url));
    } else if (action && action.action === 'reply') {
      if (page) page.postMessage({ type: 'herald-action', action, id: data.id });
      else if (data.page) await self.clients.openWindow(data.page);
    } else if (!action && safeUrl(data.click)) {
      await self.clients.openWindow(safeUrl(data.click));
    } else if (page) {
      await page.focus();
    } else if (data.page) {
      await self.clients.openWindow(data.page);
    }
  })());
});
