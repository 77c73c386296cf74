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

/** The optional browser Notification API: asked for only from a click, used while the tab is hidden. */
export class DesktopAlerts extends EventTarget {
  constructor({ storageKey = 'herald.desktop' } = {}) {
    super();
    this.storageKey = storageKey;
    this.supported = typeof window.Notification === 'function';
    this.wanted = localStorage.getItem(storageKey) === '1';
  }

  get permission() {
    return this.supported ? Notification.permission : 'unsupported';
  }

  get enabled() {
    return this.wanted && this.permission === 'granted';
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
    }
    localStorage.setItem(this.storageKey, this.wanted ? '1' : '0');
    this.dispatchEvent(new CustomEvent('change'));
    return this.enabled ? 'on' : this.permission;
  }

  show(title, body, tag) {
    if (!this.enabled || !document.hidden) return;
    try {
      const n = new Notification(title, { body, tag, icon: '/static/favicon.svg' });
      n.onclick = () => {
        window.focus();
        n.close();
      };
    } catch {
      /* some platforms only allow notifications from a service worker */
    }
  }
}
