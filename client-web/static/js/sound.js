// The arrival sound, within the browsers' autoplay rule (seed 000 hit "NotAllowedError: play() failed
// because the user didn't interact with the document first"): nothing is played before the first user
// gesture on the page, a play() that is still refused is caught quietly, and a mute toggle is remembered.

const GESTURES = ['pointerdown', 'keydown', 'touchstart'];

export class Sound extends EventTarget {
  constructor(src, { storageKey = 'herald.muted' } = {}) {
    super();
    this.src = src;
    this.storageKey = storageKey;
    this.audio = null;
    this.muted = localStorage.getItem(storageKey) === '1';
    // A reload after the user already interacted keeps the activation (Chrome's sticky activation).
    this.unlocked = Boolean(navigator.userActivation && navigator.userActivation.hasBeenActive);
    this.stats = { played: 0, skipped: 0, refused: 0 };
    this.onGesture = () => this.unlock();
    if (!this.unlocked) for (const g of GESTURES) window.addEventListener(g, this.onGesture, { capture: true });
  }

  unlock() {
    if (this.unlocked) return;
    this.unlocked = true;
    for (const g of GESTURES) window.removeEventListener(g, this.onGesture, { capture: true });
    this.ensureAudio();
    this.emit();
  }

  ensureAudio() {
    if (!this.audio) {
      this.audio = new Audio(this.src);
      this.audio.preload = 'auto';
      this.audio.volume = 0.6;
    }
    return this.audio;
  }

  setMuted(muted) {
    this.muted = Boolean(muted);
    localStorage.setItem(this.storageKey, this.muted ? '1' : '0');
    this.emit();
  }

  toggleMuted() {
    this.setMuted(!this.muted);
  }

  /** 'muted' | 'locked' (waiting for a first click) | 'on' */
  get state() {
    if (this.muted) return 'muted';
    return this.unlocked ? 'on' : 'locked';
  }

  play() {
    if (this.muted || !this.unlocked) {
      this.stats.skipped += 1;
      return Promise.resolve(false);
    }
    const audio = this.ensureAudio();
    try {
      audio.currentTime = 0;
    } catch {
      /* not seekable yet */
    }
    let result;
    try {
      result = audio.play();
    } catch {
      this.stats.refused += 1;
      return Promise.resolve(false);
    }
    return Promise.resolve(result).then(
      () => {
        this.stats.played += 1;
        return true;
      },
      () => {
        // Refused after all (no audio device, a policy): counted, never an uncaught rejection.
        this.stats.refused += 1;
        return false;
      },
    );
  }

  emit() {
    this.dispatchEvent(new CustomEvent('change', { detail: { state: this.state } }));
  }
}

/**
 * The optional browser Notification API: asked for only from a click, used while the tab is hidden. Through the
 * page's service worker (static/js/sw.js) where there is one, since only its notifications may carry action
 * buttons (a button press then comes back to the page as a 'herald-action' message); else a plain Notification.
 */
export class DesktopAlerts extends EventTarget {
  constructor({ storageKey = 'herald.desktop', worker = '/static/js/sw.js' } = {}) {
    super();
    this.storageKey = storageKey;
    this.worker = worker;
    this.supported = typeof window.Notification === 'function';
    this.wanted = localStorage.getItem(storageKey) === '1';
    this.shown = new Map(); // tag -> Notification (plain ones: closed by tag on a withdraw)
    this.registration = null;
    this.stats = { shown: 0, withActions: 0 };
    if (this.enabled) this.register();
  }

  get permission() {
    return this.supported ? Notification.permission : 'unsupported';
  }

  get enabled() {
    return this.wanted && this.permission === 'granted';
  }

  /** The service worker's registration, once; null where there is none (no support, not a secure context). */
  register() {
    if (!this.registration) {
      this.registration = ('serviceWorker' in navigator && window.isSecureContext
        ? navigator.serviceWorker.register(this.worker).then(async (reg) => {
          const worker = reg.installing || reg.waiting;
          if (worker && !reg.active) {
            await new Promise((resolve) => {
              worker.addEventListener('statechange', () => worker.state === 'activated' && resolve());
            });
          }
          return reg;
        })
        : Promise.resolve(null)).catch(() => null);
    }
    return this.registration;
  }

  async toggle() {
    if (!this.supported) return 'unsupported';
    if (this.enabled) {
      this.wanted = false;
    } else {
      let permission = Notification.permission;
      if (permission === 'default') {
        try {
          permission = await Notification.requestPermission();
        } catch {
          permission = 'denied';
        }
      }
      this.wanted = permission === 'granted';
      if (this.wanted) this.register();
    }
    localStorage.setItem(this.storageKey, this.wanted ? '1' : '0');
    this.dispatchEvent(new CustomEvent('change'));
    return this.enabled ? 'on' : this.permission;
  }

  /**
   * Shows (or, with the tag of one still shown, silently updates) a notification while the tab is hidden.
   * `actions`: [{action, label, url, channel, message}] as the message carries them; `data` travels with it.
   */
  async show({ title, body = '', tag, icon, actions = [], urgent = false, silent = false, data = {} }, { force = false } = {}) {
    if (!this.enabled || (!force && !document.hidden)) return false;
    const options = { body, tag, icon: icon || '/static/favicon.svg', requireInteraction: urgent, silent, data };
    const reg = await this.register();
    try {
      if (reg) {
        if (actions.length && Notification.maxActions > 0) {
          options.actions = actions.slice(0, Notification.maxActions).map((a, i) => ({ action: String(i), title: a.label }));
          options.data = { ...data, actions };
          this.stats.withActions += 1;
        }
        await reg.showNotification(title, options);
      } else {
        const n = new Notification(title, options);
        this.shown.set(tag, n);
        n.onclick = () => {
          window.focus();
          n.close();
        };
        n.onclose = () => this.shown.get(tag) === n && this.shown.delete(tag);
      }
      this.stats.shown += 1;
      return true;
    } catch {
      return false; // some platforms allow notifications only from a service worker
    }
  }

  /** Closes the notification shown under this tag (its message was withdrawn, read or expired). */
  async close(tag) {
    this.shown.get(tag)?.close();
    this.shown.delete(tag);
    const reg = this.registration ? await this.registration : null;
    if (!reg) return;
    try {
      for (const n of await reg.getNotifications({ tag })) n.close();
    } catch {
      /* nothing shown */
    }
  }
}
