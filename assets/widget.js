/*!
 * showroom chat widget
 *
 * Embed with one tag on any page:
 *   <script src="https://bot.example.com/widget.js" defer></script>
 *
 * Optional attributes on that tag:
 *   data-title="Autos del Valle"   panel title (default "Asistente" / "Assistant")
 *   data-color="#c2410c"           accent colour (any CSS colour)
 *   data-lang="es" | "en"          language of the widget's own texts (default "es")
 *   data-open="true"               open the panel on load (not on phone-sized screens)
 *   data-position="left"           launcher bottom-left instead of bottom-right
 *
 * Plain ES2020, no dependencies. Everything lives in an open shadow root.
 * Wire protocol: JSON text frames over ws(s)://<server>/api/v1/chat/ws[?session=<token>].
 * "Continue on Telegram/Viber": GET /api/v1/chat/channels says which apps are offered;
 * POST /api/v1/chat/link {session, channel} returns a one-time deep link to open.
 */
(() => {
  'use strict';

  // --- Where we were loaded from (must be read synchronously) -----------------
  const script =
    document.currentScript ||
    (() => {
      const all = document.querySelectorAll('script[src*="widget.js"]');
      return all.length ? all[all.length - 1] : null;
    })();
  if (!script || !script.src) {
    console.warn('[showroom] widget.js: cannot find its own <script src>; not starting.');
    return;
  }
  if (window.__showroomWidget) return; // included twice: keep the first one
  window.__showroomWidget = true;

  const SCRIPT_URL = new URL(script.src, location.href);
  const SERVER_ORIGIN = SCRIPT_URL.origin;
  // Resolved next to the script, so /widget.js -> /api/v1/chat/ws on the same host
  // (and a reverse-proxy prefix such as /bot/widget.js -> /bot/api/v1/chat/ws).
  const WS_URL = (() => {
    const u = new URL('api/v1/chat/ws', SCRIPT_URL);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    u.hash = '';
    return u.href;
  })();
  const CHANNELS_URL = new URL('api/v1/chat/channels', SCRIPT_URL).href;
  const LINK_URL = new URL('api/v1/chat/link', SCRIPT_URL).href;

  const MAX_INPUT = 2000;
  const MAX_ITEMS = 200; // transcript entries kept in sessionStorage
  const TYPING_TIMEOUT_MS = 15000;
  const HANDSHAKE_TIMEOUT_MS = 15000;
  const BACKOFF_MAX_MS = 30000;

  // --- Configuration from data-* -------------------------------------------------
  const ds = script.dataset;
  const LANG = /^en\b/i.test(ds.lang || '') ? 'en' : 'es';
  const STRINGS = {
    es: {
      defaultTitle: 'Asistente',
      open: 'Abrir chat',
      close: 'Cerrar chat',
      log: 'Conversación',
      inputLabel: 'Escribe tu mensaje',
      placeholder: 'Escribe tu mensaje…',
      send: 'Enviar',
      bot: 'Asistente:',
      you: 'Tú:',
      typing: 'escribiendo…',
      online: 'En línea',
      connecting: 'Conectando…',
      reconnecting: 'Reconectando…',
      sources: 'Fuentes',
      quickReplies: 'Respuestas rápidas',
      newConversation: 'La conversación anterior expiró. Empezamos una nueva.',
      otherApps: 'Continuar en otra app',
      continueOn: { telegram: 'Continuar en Telegram', viber: 'Continuar en Viber' },
      linkFailed: 'No pudimos abrir el enlace. Intenta de nuevo en un momento.',
      errors: {
        message_too_large: 'El mensaje es demasiado largo.',
        rate_limited: 'Estás enviando mensajes muy rápido. Espera un momento.',
        invalid_frame: 'No pudimos procesar ese mensaje.',
        internal: 'Algo salió mal. Intenta de nuevo.',
        unavailable: 'El servicio no está disponible en este momento.',
        default: 'Algo salió mal. Intenta de nuevo.',
      },
    },
    en: {
      defaultTitle: 'Assistant',
      open: 'Open chat',
      close: 'Close chat',
      log: 'Conversation',
      inputLabel: 'Type your message',
      placeholder: 'Type your message…',
      send: 'Send',
      bot: 'Assistant:',
      you: 'You:',
      typing: 'typing…',
      online: 'Online',
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting…',
      sources: 'Sources',
      quickReplies: 'Quick replies',
      newConversation: 'The previous conversation expired. Starting a new one.',
      otherApps: 'Continue in another app',
      continueOn: { telegram: 'Continue on Telegram', viber: 'Continue on Viber' },
      linkFailed: 'The link could not be opened. Please try again in a moment.',
      errors: {
        message_too_large: 'That message is too long.',
        rate_limited: 'You are sending messages too quickly. Please wait a moment.',
        invalid_frame: 'That message could not be processed.',
        internal: 'Something went wrong. Please try again.',
        unavailable: 'The service is unavailable right now.',
        default: 'Something went wrong. Please try again.',
      },
    },
  };
  const T = STRINGS[LANG];
  const TITLE = (ds.title || '').trim() || T.defaultTitle;
  const POSITION = /left/i.test(ds.position || '') ? 'left' : 'right';
  const AUTO_OPEN = ds.open === 'true';

  // --- Storage (namespaced by server origin; falls back to memory) ---------------
  const NS = `showroom:${SERVER_ORIGIN}:`;
  function makeStore(name) {
    let area = null;
    try {
      area = window[name];
      area.setItem(NS + 'probe', '1');
      area.removeItem(NS + 'probe');
    } catch (_) {
      area = null;
    }
    const mem = new Map();
    return {
      get(k) {
        try {
          if (area) return area.getItem(NS + k);
        } catch (_) { /* fall through */ }
        return mem.has(k) ? mem.get(k) : null;
      },
      set(k, v) {
        try {
          if (area) { area.setItem(NS + k, v); return; }
        } catch (_) { /* quota or blocked: keep in memory */ }
        mem.set(k, v);
      },
      del(k) {
        try { if (area) area.removeItem(NS + k); } catch (_) { /* ignore */ }
        mem.delete(k);
      },
    };
  }
  const local = makeStore('localStorage'); // session token: survives tabs and visits
  const tab = makeStore('sessionStorage'); // rendered transcript + open state: this tab

  // --- Small helpers --------------------------------------------------------------
  const str = (v) => (typeof v === 'string' ? v : v == null ? '' : String(v));
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }
  function safeUrl(u) {
    try {
      const url = new URL(str(u), SERVER_ORIGIN);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (_) {
      return null;
    }
  }
  function cleanButtons(list) {
    if (!Array.isArray(list)) return [];
    return list
      .filter((b) => b && typeof b === 'object' && str(b.title).trim())
      .map((b) => ({ title: str(b.title), payload: str(b.payload) }));
  }
  function cleanSources(list) {
    if (!Array.isArray(list)) return [];
    return list
      .filter((s) => s && typeof s === 'object' && (str(s.title).trim() || str(s.url).trim()))
      .map((s) => ({ title: str(s.title), section: str(s.section), url: str(s.url) }));
  }

  const ICONS = {
    chat:
      '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1-.1 1.3-.6 2.6-1.6 3.6-.2.2-.1.6.2.6 2 0 3.7-.8 4.9-1.8 1.1.3 2.2.5 3.4.5 5.5 0 10-3.8 10-8.5S17.5 3 12 3Zm-4.5 9.7a1.2 1.2 0 1 1 0-2.4 1.2 1.2 0 0 1 0 2.4Zm4.5 0a1.2 1.2 0 1 1 0-2.4 1.2 1.2 0 0 1 0 2.4Zm4.5 0a1.2 1.2 0 1 1 0-2.4 1.2 1.2 0 0 1 0 2.4Z"/></svg>',
    down:
      '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round" d="m6 9 6 6 6-6"/></svg>',
    close:
      '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6 6 18"/></svg>',
    send:
      '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="currentColor" d="M3.4 20.4 21 12.8c.8-.4.8-1.5 0-1.9L3.4 3.6c-.7-.3-1.4.3-1.3 1l1.4 6.1 9 1.3-9 1.3-1.4 6.1c-.1.7.6 1.3 1.3 1Z"/></svg>',
    bot:
      '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false"><path fill="currentColor" d="M5.5 11.2 7 7.1A2.5 2.5 0 0 1 9.3 5.5h5.4A2.5 2.5 0 0 1 17 7.1l1.5 4.1a2.5 2.5 0 0 1 1.5 2.3v3.8c0 .7-.6 1.2-1.2 1.2H18v1.3c0 .6-.5 1.2-1.2 1.2h-.6c-.7 0-1.2-.6-1.2-1.2v-1.3H9v1.3c0 .6-.5 1.2-1.2 1.2h-.6C6.5 20.5 6 20 6 19.3V18h-.8c-.7 0-1.2-.5-1.2-1.2v-3.3c0-1 .6-1.9 1.5-2.3Zm2 .3h9l-1.2-3.6c-.1-.4-.5-.6-.9-.6H9.6c-.4 0-.8.2-.9.6l-1.2 3.6ZM7.7 16a1.3 1.3 0 1 0 0-2.6 1.3 1.3 0 0 0 0 2.6Zm8.6 0a1.3 1.3 0 1 0 0-2.6 1.3 1.3 0 0 0 0 2.6Z"/></svg>',
  };

  const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.root {
  --accent: #1d4ed8;
  --ink: #ffffff;
  --accent-text: #1d4ed8;
  --bg: #ffffff;
  --body-bg: #f5f6f8;
  --text: #1b1f24;
  --muted: #5d6672;
  --line: #e3e6ea;
  --radius: 18px;
  --focus: #1d4ed8;
  font: 400 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif,
    "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji";
  color: var(--text);
  -webkit-font-smoothing: antialiased;
  -webkit-text-size-adjust: 100%;
  text-size-adjust: 100%;
}
button, textarea { font: inherit; color: inherit; margin: 0; }
button { cursor: pointer; -webkit-tap-highlight-color: transparent; }
.sr-only {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0;
}
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }

/* Launcher */
.launcher {
  position: fixed; bottom: 20px; right: 20px; z-index: 2147483000;
  width: 60px; height: 60px; border-radius: 50%; border: 0; padding: 0;
  display: grid; place-items: center;
  background: var(--accent); color: var(--ink);
  box-shadow: 0 6px 20px rgba(15, 23, 42, .28), 0 2px 6px rgba(15, 23, 42, .18);
  transition: transform .16s ease, box-shadow .16s ease;
}
.root[data-position="left"] .launcher { right: auto; left: 20px; }
.launcher:hover { transform: translateY(-2px) scale(1.04); box-shadow: 0 10px 26px rgba(15, 23, 42, .32), 0 3px 8px rgba(15, 23, 42, .2); }
.launcher:active { transform: scale(.97); }
.launcher:focus-visible { outline: 3px solid var(--focus); outline-offset: 3px; box-shadow: 0 0 0 3px #fff, 0 6px 20px rgba(15, 23, 42, .28); }
.launcher svg { display: block; }
.launcher .i-down { display: none; }
.launcher[aria-expanded="true"] .i-chat { display: none; }
.launcher[aria-expanded="true"] .i-down { display: block; }
.badge {
  position: absolute; top: 2px; right: 2px; width: 14px; height: 14px; border-radius: 50%;
  background: #e11d48; border: 2px solid #fff;
}

/* Panel */
.panel {
  position: fixed; right: 20px; bottom: 92px; z-index: 2147483001;
  width: 380px; max-width: calc(100vw - 40px);
  height: 640px; max-height: calc(100vh - 116px);
  display: flex; flex-direction: column;
  background: var(--bg); border-radius: var(--radius); overflow: hidden;
  box-shadow: 0 24px 60px rgba(15, 23, 42, .28), 0 4px 14px rgba(15, 23, 42, .14);
  border: 1px solid rgba(15, 23, 42, .08);
  animation: sr-pop .2s cubic-bezier(.2, .8, .3, 1);
  transform-origin: bottom right;
}
.root[data-position="left"] .panel { right: auto; left: 20px; transform-origin: bottom left; }
@keyframes sr-pop { from { opacity: 0; transform: translateY(12px) scale(.97); } to { opacity: 1; transform: none; } }

.head {
  flex: none; display: flex; align-items: center; gap: 12px;
  padding: 14px 12px 14px 16px; background: var(--accent); color: var(--ink);
}
.avatar {
  flex: none; width: 38px; height: 38px; border-radius: 50%; display: grid; place-items: center;
  background: color-mix(in srgb, var(--ink) 18%, transparent);
}
.head-text { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 16px; font-weight: 650; line-height: 1.25; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.status { margin: 2px 0 0; font-size: 12.5px; line-height: 1.3; opacity: .92; display: flex; align-items: center; gap: 6px; }
.status .dot { width: 8px; height: 8px; border-radius: 50%; background: #f59e0b; box-shadow: 0 0 0 2px color-mix(in srgb, var(--ink) 35%, transparent); }
.status[data-state="online"] .dot { background: #22c55e; }
.close {
  flex: none; width: 38px; height: 38px; border-radius: 50%; border: 0; background: transparent; color: inherit;
  display: grid; place-items: center;
}
.close:hover { background: color-mix(in srgb, var(--ink) 16%, transparent); }
.close:focus-visible { outline-color: var(--ink); outline-offset: -3px; }

.body {
  flex: 1; min-height: 0; overflow-y: auto; overscroll-behavior: contain;
  background: var(--body-bg); padding: 16px 14px 8px;
  scrollbar-width: thin;
}
.log { display: flex; flex-direction: column; gap: 10px; }
.msg { display: flex; flex-direction: column; max-width: 86%; min-width: 0; }
.msg[data-author="bot"] { align-self: flex-start; align-items: flex-start; }
.msg[data-author="user"] { align-self: flex-end; align-items: flex-end; }
.bubble {
  padding: 9px 13px; border-radius: var(--radius); white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
  max-width: 100%;
}
.msg[data-author="bot"] .bubble {
  background: #fff; color: var(--text); border: 1px solid var(--line); border-bottom-left-radius: 5px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .05);
}
.msg[data-author="user"] .bubble { background: var(--accent); color: var(--ink); border-bottom-right-radius: 5px; }
.msg[aria-busy="true"] .text::after {
  content: ""; display: inline-block; width: 7px; height: 1em; margin-left: 2px; vertical-align: -2px;
  background: currentColor; opacity: .45; animation: sr-caret 1s steps(2) infinite;
}
@keyframes sr-caret { 50% { opacity: 0; } }

.sources { margin: 6px 2px 0; font-size: 12.5px; color: var(--muted); }
.sources-label { font-weight: 600; text-transform: uppercase; letter-spacing: .04em; font-size: 11px; }
.sources ul { list-style: none; margin: 2px 0 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.sources li { position: relative; padding-left: 12px; }
.sources li::before { content: ""; position: absolute; left: 2px; top: .6em; width: 4px; height: 4px; border-radius: 50%; background: currentColor; opacity: .6; }
.sources a { color: var(--accent-text); text-decoration: underline; text-underline-offset: 2px; }
.sources a:hover { text-decoration-thickness: 2px; }

.quick { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.quick button {
  border: 1.5px solid var(--accent-text); background: #fff; color: var(--accent-text);
  border-radius: 999px; padding: 6px 14px; font-size: 14px; font-weight: 550; line-height: 1.3;
  text-align: left; transition: background-color .12s ease, color .12s ease;
}
.quick button:hover:not(:disabled) { background: var(--accent); border-color: var(--accent); color: var(--ink); }
.quick button:disabled { opacity: .45; cursor: default; }

.notice {
  align-self: center; max-width: 92%; text-align: center; font-size: 12.5px; line-height: 1.35;
  color: #7c2d12; background: #fff7ed; border: 1px solid #fed7aa; border-radius: 10px; padding: 6px 10px;
}

.typing {
  margin-top: 10px; display: inline-flex; gap: 5px; align-items: center;
  padding: 13px 14px; background: #fff; border: 1px solid var(--line);
  border-radius: var(--radius); border-bottom-left-radius: 5px;
}
.typing span { width: 7px; height: 7px; border-radius: 50%; background: #8a939f; animation: sr-bounce 1.2s infinite ease-in-out; }
.typing span:nth-child(2) { animation-delay: .15s; }
.typing span:nth-child(3) { animation-delay: .3s; }
@keyframes sr-bounce { 0%, 60%, 100% { transform: translateY(0); opacity: .55; } 30% { transform: translateY(-4px); opacity: 1; } }

.composer {
  flex: none; display: flex; align-items: flex-end; gap: 8px;
  padding: 10px 12px 12px; border-top: 1px solid var(--line); background: var(--bg); margin: 0;
}
.composer textarea {
  flex: 1; min-width: 0; resize: none; display: block;
  border: 1px solid #cfd5dc; border-radius: 20px; background: #fff; color: var(--text);
  padding: 9px 14px; font-size: 15px; line-height: 1.4; max-height: 128px; overflow-y: auto;
}
.composer textarea::placeholder { color: #7d8691; opacity: 1; }
.composer textarea:focus-visible { outline: 2px solid var(--focus); outline-offset: -1px; border-color: var(--focus); }
.send {
  flex: none; width: 42px; height: 42px; border-radius: 50%; border: 0; padding: 0;
  display: grid; place-items: center; background: var(--accent); color: var(--ink);
  transition: opacity .12s ease, transform .12s ease;
}
.send:hover:not(:disabled) { transform: scale(1.05); }
.send:disabled { background: #c3c9d1; color: #fff; cursor: not-allowed; }

/* Phones: full screen */
@media (max-width: 479.98px) {
  .panel {
    inset: 0; right: 0; left: 0; bottom: 0; width: 100%; max-width: none;
    height: 100%; height: 100dvh; max-height: none; border-radius: 0; border: 0;
  }
  .root[data-position="left"] .panel { left: 0; }
  .root[data-open] .launcher { display: none; }
  .launcher { bottom: 16px; right: 16px; }
  .root[data-position="left"] .launcher { left: 16px; }
  .composer { padding-bottom: max(12px, env(safe-area-inset-bottom)); }
  .composer textarea { font-size: 16px; } /* no zoom-on-focus in iOS */
  .msg { max-width: 88%; }
}

/* "Continue on Telegram/Viber": quiet links under the messages */
.channels {
  flex: none; display: flex; flex-wrap: wrap; justify-content: center; gap: 4px 14px;
  padding: 6px 12px; background: var(--body-bg); border-top: 1px solid var(--line);
}
.channels button {
  border: 0; background: transparent; padding: 2px 4px; border-radius: 6px;
  color: var(--accent-text); font-size: 13px; font-weight: 550; line-height: 1.3;
  text-decoration: underline; text-underline-offset: 2px;
}
.channels button:hover:not(:disabled) { text-decoration-thickness: 2px; }
.channels button:disabled { opacity: .45; cursor: default; }

@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation: none !important; transition: none !important; }
  .launcher:hover, .send:hover:not(:disabled) { transform: none; }
  .typing span:nth-child(1) { opacity: .9; }
  .typing span:nth-child(2) { opacity: .6; }
  .typing span:nth-child(3) { opacity: .35; }
}

@media (forced-colors: active) {
  .launcher, .send, .bubble, .quick button, .typing, .notice, .panel { border: 1px solid CanvasText; }
  .status .dot { forced-color-adjust: none; }
}
`;

  // --- Host + shadow root ------------------------------------------------------------
  const host = document.createElement('showroom-chat');
  host.setAttribute('data-showroom', '');
  const shadow = host.attachShadow({ mode: 'open' });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS); // constructable sheet: not blocked by a strict style-src CSP
    shadow.adoptedStyleSheets = [sheet];
  } catch (_) {
    shadow.append(el('style', { text: CSS }));
  }

  const launcher = el('button', {
    class: 'launcher', type: 'button', 'aria-label': T.open, 'aria-expanded': 'false', 'aria-controls': 'sr-panel',
  });
  launcher.innerHTML = `<span class="i-chat">${ICONS.chat}</span><span class="i-down">${ICONS.down}</span>`;
  const badge = el('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  launcher.append(badge);

  const titleEl = el('h2', { class: 'title', id: 'sr-title', text: TITLE });
  const statusText = el('span', { class: 'status-text', text: T.connecting });
  const statusEl = el('p', { class: 'status', role: 'status', 'data-state': 'connecting' },
    el('span', { class: 'dot', 'aria-hidden': 'true' }), statusText);
  const avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' });
  avatar.innerHTML = ICONS.bot;
  const closeBtn = el('button', { class: 'close', type: 'button', 'aria-label': T.close });
  closeBtn.innerHTML = ICONS.close;
  const head = el('div', { class: 'head' }, avatar, el('div', { class: 'head-text' }, titleEl, statusEl), closeBtn);

  const log = el('div', {
    class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions text', 'aria-label': T.log,
  });
  const typing = el('div', { class: 'typing', role: 'img', 'aria-label': T.typing, hidden: true },
    el('span'), el('span'), el('span'));
  const body = el('div', { class: 'body' }, log, typing);
  const channelsBar = el('div', { class: 'channels', role: 'group', 'aria-label': T.otherApps, hidden: true });

  const input = el('textarea', {
    id: 'sr-input', rows: '1', maxlength: String(MAX_INPUT), placeholder: T.placeholder,
    autocomplete: 'off', enterkeyhint: 'send',
  });
  const sendBtn = el('button', { class: 'send', type: 'submit', 'aria-label': T.send, disabled: true });
  sendBtn.innerHTML = ICONS.send;
  const form = el('form', { class: 'composer', novalidate: true },
    el('label', { class: 'sr-only', for: 'sr-input', text: T.inputLabel }), input, sendBtn);

  const panel = el('div', {
    class: 'panel', id: 'sr-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'sr-title', hidden: true,
  }, head, body, channelsBar, form);

  const root = el('div', { class: 'root', lang: LANG, 'data-position': POSITION }, launcher, panel);
  shadow.append(root);

  // --- Accent colour --------------------------------------------------------------
  function applyAccent(color) {
    if (!color || !(window.CSS && CSS_supports('color', color))) return;
    root.style.setProperty('--accent', color);
    root.style.setProperty('--focus', color);
    // Pick readable text colours for the accent (WCAG relative luminance).
    const probe = el('span');
    probe.style.color = color;
    root.append(probe);
    const rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
    probe.remove();
    if (rgb.length !== 3 || rgb.some((n) => Number.isNaN(n))) return;
    const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const L = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
    const onWhite = 1.05 / (L + 0.05);
    const onDark = (L + 0.05) / 0.0556; // against #111418
    root.style.setProperty('--ink', onWhite >= onDark ? '#ffffff' : '#111418');
    root.style.setProperty('--accent-text', onWhite >= 4.5 ? color : '#1b1f24');
    root.style.setProperty('--focus', onWhite >= 3 ? color : '#1b1f24');
  }
  function CSS_supports(p, v) {
    try { return window.CSS.supports(p, v); } catch (_) { return false; }
  }

  // --- State ------------------------------------------------------------------------
  const state = {
    items: [], // {k:'bot'|'user', id, text, buttons?, sources?, done?, used?}
    session: null, // the session the rendered transcript belongs to
    open: false,
    started: false,
    paused: false,
    ws: null,
    connected: false,
    everConnected: false,
    attempts: 0,
    retryTimer: 0,
    handshakeTimer: 0,
    typingTimer: 0,
    saveTimer: 0,
    localSeq: 0,
  };
  const views = new Map(); // item id -> {item, node, textNode, quickNode}

  function localId(prefix) {
    state.localSeq += 1;
    return `${prefix}-${Date.now().toString(36)}-${state.localSeq}`;
  }

  // --- Transcript persistence -----------------------------------------------------------
  function loadTranscript() {
    let data = null;
    try { data = JSON.parse(tab.get('transcript') || 'null'); } catch (_) { data = null; }
    if (!data || !Array.isArray(data.items)) return;
    state.session = typeof data.session === 'string' ? data.session : null;
    for (const raw of data.items) {
      if (!raw || (raw.k !== 'bot' && raw.k !== 'user') || !raw.id || views.has(str(raw.id))) continue;
      const item = { k: raw.k, id: str(raw.id), text: str(raw.text) };
      if (raw.k === 'bot') {
        item.buttons = cleanButtons(raw.buttons);
        item.sources = cleanSources(raw.sources);
        item.done = raw.done !== false;
        item.used = !!raw.used;
      }
      state.items.push(item);
      renderItem(item);
    }
    refreshQuickReplies();
  }
  function saveSoon() {
    if (state.saveTimer) return;
    state.saveTimer = setTimeout(saveNow, 120);
  }
  function saveNow() {
    clearTimeout(state.saveTimer);
    state.saveTimer = 0;
    if (state.items.length > MAX_ITEMS) {
      for (const old of state.items.splice(0, state.items.length - MAX_ITEMS)) {
        const v = views.get(old.id);
        if (v) { v.node.remove(); views.delete(old.id); }
      }
    }
    tab.set('transcript', JSON.stringify({ v: 1, session: state.session, items: state.items }));
  }
  function clearTranscript() {
    state.items = [];
    views.clear();
    log.replaceChildren();
    setBusy();
  }

  // --- Rendering ----------------------------------------------------------------------
  function nearBottom() {
    return body.scrollHeight - body.scrollTop - body.clientHeight < 96;
  }
  function scrollToEnd() {
    body.scrollTop = body.scrollHeight;
  }
  function withScroll(force, fn) {
    const stick = force || nearBottom();
    fn();
    if (stick) scrollToEnd();
  }

  function renderItem(item) {
    const textNode = document.createTextNode(item.text);
    const bubble = el('div', { class: 'bubble' },
      el('span', { class: 'sr-only', text: (item.k === 'bot' ? T.bot : T.you) + ' ' }),
      el('span', { class: 'text' }, textNode));
    const node = el('div', { class: 'msg', 'data-author': item.k, 'data-id': item.id }, bubble);
    const view = { item, node, textNode, quickNode: null, sourcesNode: null };
    views.set(item.id, view);
    if (item.k === 'bot') {
      if (!item.done) node.setAttribute('aria-busy', 'true');
      renderSources(view);
    }
    log.append(node);
    return view;
  }

  function renderSources(view) {
    const { item, node } = view;
    if (view.sourcesNode || !item.sources || !item.sources.length) return;
    const ul = el('ul', { 'aria-label': T.sources });
    for (const s of item.sources) {
      const label = [s.title.trim(), s.section.trim()].filter(Boolean).join(' — ') || s.url;
      const href = s.url ? safeUrl(s.url) : null;
      ul.append(el('li', null, href
        ? el('a', { href, target: '_blank', rel: 'noopener', text: label })
        : el('span', { text: label })));
    }
    view.sourcesNode = el('div', { class: 'sources' },
      el('div', { class: 'sources-label', 'aria-hidden': 'true', text: T.sources }), ul);
    node.append(view.sourcesNode);
  }

  function lastBot() {
    for (let i = state.items.length - 1; i >= 0; i--) if (state.items[i].k === 'bot') return state.items[i];
    return null;
  }

  // Quick replies are shown only under the newest bot message.
  function refreshQuickReplies() {
    const latest = lastBot();
    for (const view of views.values()) {
      const { item } = view;
      const show = item === latest && item.buttons && item.buttons.length > 0;
      if (!show) {
        if (view.quickNode) { view.quickNode.remove(); view.quickNode = null; }
        continue;
      }
      if (!view.quickNode) {
        view.quickNode = el('div', { class: 'quick', role: 'group', 'aria-label': T.quickReplies });
        for (const b of item.buttons) {
          const btn = el('button', { type: 'button', text: b.title });
          btn.addEventListener('click', () => onQuickReply(item, b));
          view.quickNode.append(btn);
        }
        view.node.append(view.quickNode);
      }
      for (const btn of view.quickNode.querySelectorAll('button')) btn.disabled = !state.connected || !!item.used;
    }
  }

  function setBusy() {
    const streaming = state.items.some((i) => i.k === 'bot' && !i.done);
    if (streaming) log.setAttribute('aria-busy', 'true');
    else log.removeAttribute('aria-busy');
  }

  function addNotice(text) {
    const last = log.lastElementChild;
    if (last && last.dataset.author === 'system' && last.textContent === text) return; // e.g. every retry
    withScroll(false, () => {
      log.append(el('div', { class: 'notice', 'data-author': 'system', role: 'note', text }));
    });
  }

  function addItem(item, forceScroll) {
    state.items.push(item);
    withScroll(forceScroll, () => {
      renderItem(item);
      refreshQuickReplies();
    });
    saveSoon();
  }

  function markUnread() {
    if (!state.open) badge.hidden = false;
  }

  // --- Typing indicator ----------------------------------------------------------------
  function showTyping() {
    clearTimeout(state.typingTimer);
    withScroll(false, () => { typing.hidden = false; });
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }
  function hideTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = 0;
    typing.hidden = true;
  }

  // --- Incoming frames -----------------------------------------------------------------
  function onFrame(data) {
    if (typeof data !== 'string') return;
    let f;
    try { f = JSON.parse(data); } catch (_) { return; }
    if (!f || typeof f !== 'object') return;
    switch (f.type) {
      case 'session': onSession(f); break;
      case 'message': onBotMessage(f); break;
      case 'delta': onDelta(f); break;
      case 'message_end': onMessageEnd(f); break;
      case 'typing': showTyping(); break;
      case 'error': onError(f); break;
      default: break; // unknown frame types are ignored (forward compatible)
    }
  }

  function onSession(f) {
    const token = str(f.session);
    if (!token) return;
    clearTimeout(state.handshakeTimer);
    local.set('session', token);
    if (state.session !== token && (state.items.length || state.session)) {
      // Expired or unknown session: the server started a new conversation.
      const hadTranscript = state.items.length > 0;
      clearTranscript();
      if (hadTranscript) addNotice(T.newConversation);
    }
    state.session = token;
    state.attempts = 0;
    state.everConnected = true;
    setConnected(true);
    saveNow();
  }

  function onBotMessage(f) {
    const id = str(f.id) || localId('m');
    const text = str(f.text);
    const buttons = cleanButtons(f.buttons);
    const sources = cleanSources(f.sources);
    hideTyping();
    const existing = views.get(id);
    if (existing) {
      const item = existing.item;
      if (item.k !== 'bot' || item.done) return; // re-sent on resume: already shown
      // A message we only had partially (streaming interrupted): take the full text.
      finishStreamed(existing, text, buttons, sources);
      return;
    }
    addItem({ k: 'bot', id, text, buttons, sources, done: true, used: false }, false);
    markUnread();
  }

  // A streamed answer is complete: the committed text replaces the pieces (the server's
  // grounding check may have replaced an answer it could not verify).
  function finishStreamed(view, text, buttons, sources) {
    withScroll(false, () => {
      view.item.text = text;
      view.item.buttons = buttons;
      view.item.sources = sources;
      view.item.done = true;
      view.textNode.data = text;
      view.node.removeAttribute('aria-busy');
      renderSources(view);
      refreshQuickReplies();
    });
    setBusy();
    saveSoon();
  }

  function onDelta(f) {
    const id = str(f.id);
    if (!id) return;
    const piece = str(f.text);
    hideTyping();
    const existing = views.get(id);
    if (existing) {
      if (existing.item.k !== 'bot' || existing.item.done) return;
      withScroll(false, () => {
        existing.item.text += piece;
        existing.textNode.appendData(piece);
      });
      saveSoon();
      return;
    }
    addItem({ k: 'bot', id, text: piece, buttons: [], sources: [], done: false, used: false }, false);
    setBusy();
    markUnread();
  }

  function onMessageEnd(f) {
    const id = str(f.id);
    const view = id && views.get(id);
    if (!view || view.item.k !== 'bot' || view.item.done) return;
    const text = typeof f.text === 'string' ? f.text : view.item.text;
    finishStreamed(view, text, cleanButtons(f.buttons), cleanSources(f.sources));
  }

  function onError(f) {
    hideTyping();
    const code = str(f.code);
    const text = str(f.message).trim() || T.errors[code] || T.errors.default;
    addNotice(text);
    // Let the customer try the quick replies again if the click was refused.
    const latest = lastBot();
    if (latest && latest.used) {
      latest.used = false;
      refreshQuickReplies();
      saveSoon();
    }
  }

  // --- Outgoing ---------------------------------------------------------------------
  function sendFrame(obj) {
    const ws = state.ws;
    if (!state.connected || !ws || ws.readyState !== WebSocket.OPEN) return false;
    try {
      ws.send(JSON.stringify(obj));
      return true;
    } catch (_) {
      return false;
    }
  }

  function sendText() {
    const text = input.value.trim().slice(0, MAX_INPUT);
    if (!text) return;
    if (!sendFrame({ type: 'message', text })) return; // disconnected: keep the text in the box
    addItem({ k: 'user', id: localId('u'), text }, true);
    input.value = '';
    autosize();
  }

  function onQuickReply(item, button) {
    if (item.used) return;
    if (!sendFrame({ type: 'button', payload: button.payload })) return;
    item.used = true;
    addItem({ k: 'user', id: localId('u'), text: button.title }, true);
  }

  // --- Connection ---------------------------------------------------------------------
  function setConnected(on) {
    state.connected = on;
    sendBtn.disabled = !on;
    if (on) {
      statusEl.dataset.state = 'online';
      statusText.textContent = T.online;
    } else {
      const again = state.everConnected || state.attempts > 0;
      statusEl.dataset.state = again ? 'reconnecting' : 'connecting';
      statusText.textContent = again ? T.reconnecting : T.connecting;
    }
    refreshQuickReplies();
  }

  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = 0;
    if (state.ws) return;
    const url = new URL(WS_URL);
    const token = local.get('session');
    if (token) url.searchParams.set('session', token);
    let ws;
    try {
      ws = new WebSocket(url.href);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    setConnected(false);
    // A socket that opens but never says hello is treated as dead.
    clearTimeout(state.handshakeTimer);
    state.handshakeTimer = setTimeout(() => {
      if (state.ws === ws && !state.connected) {
        try { ws.close(); } catch (_) { /* ignore */ }
        dropSocket(ws);
      }
    }, HANDSHAKE_TIMEOUT_MS);
    ws.onmessage = (ev) => { if (state.ws === ws) onFrame(ev.data); };
    ws.onclose = () => dropSocket(ws);
    ws.onerror = () => { /* a close event follows */ };
  }

  function dropSocket(ws) {
    if (state.ws !== ws) return;
    state.ws = null;
    clearTimeout(state.handshakeTimer);
    hideTyping();
    // A stream cut by the disconnect may be re-sent in full on resume.
    setConnected(false);
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (state.retryTimer || state.ws || state.paused) return;
    const base = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** state.attempts);
    const delay = Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + Math.random() * 0.4)));
    state.attempts = Math.min(state.attempts + 1, 10);
    state.retryTimer = setTimeout(() => { state.retryTimer = 0; connect(); }, delay);
  }

  function reconnectNow() {
    if (!state.started || state.ws || state.paused) return;
    state.attempts = 0;
    connect();
  }

  function start() {
    if (state.started) return;
    state.started = true;
    connect();
    loadChannels();
  }

  // --- Continue on Telegram / Viber --------------------------------------------------
  const APPS = ['telegram', 'viber'];
  async function loadChannels() {
    let offered;
    try {
      const res = await fetch(CHANNELS_URL, { headers: { accept: 'application/json' } });
      if (!res.ok) return;
      offered = await res.json();
    } catch (_) {
      return; // an older server, or offline: no links, the chat works as before
    }
    if (!offered || typeof offered !== 'object') return;
    channelsBar.replaceChildren();
    for (const app of APPS) {
      if (offered[app] !== true) continue;
      const link = el('button', { type: 'button', 'data-channel': app, text: T.continueOn[app] });
      link.addEventListener('click', () => continueOn(app, link));
      channelsBar.append(link);
    }
    channelsBar.hidden = !channelsBar.childElementCount;
  }

  async function continueOn(app, link) {
    if (!state.session || link.disabled) {
      addNotice(T.linkFailed);
      return;
    }
    // A window opened after an await is blocked as a pop-up: open it within the click.
    // Viber links are an app scheme (viber://): they open from this page instead.
    const popup = app === 'telegram' ? window.open('', '_blank') : null;
    link.disabled = true;
    try {
      const res = await fetch(LINK_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ session: state.session, channel: app }),
      });
      const answer = await res.json().catch(() => null);
      const url = res.ok && answer && typeof answer.url === 'string' ? answer.url : '';
      const allowed = app === 'telegram' ? /^https:\/\/t\.me\//.test(url) : /^viber:\/\//.test(url);
      if (!allowed) throw new Error((answer && answer.message) || `HTTP ${res.status}`);
      if (popup) {
        popup.opener = null;
        popup.location.href = url;
      } else {
        window.location.href = url;
      }
    } catch (err) {
      if (popup) popup.close();
      console.warn('[showroom] could not get the link:', err);
      addNotice(T.linkFailed);
    } finally {
      link.disabled = false;
    }
  }

  // --- Open / close ------------------------------------------------------------------
  function openPanel(focus) {
    if (state.open) return;
    state.open = true;
    panel.hidden = false;
    root.setAttribute('data-open', '');
    launcher.setAttribute('aria-expanded', 'true');
    badge.hidden = true;
    tab.set('open', '1');
    start();
    scrollToEnd();
    if (focus) input.focus({ preventScroll: true });
  }
  function closePanel(returnFocus) {
    if (!state.open) return;
    state.open = false;
    panel.hidden = true;
    root.removeAttribute('data-open');
    launcher.setAttribute('aria-expanded', 'false');
    tab.set('open', '0');
    if (returnFocus) launcher.focus();
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 128)}px`;
  }

  // --- Events -------------------------------------------------------------------------
  launcher.addEventListener('click', () => (state.open ? closePanel(false) : openPanel(true)));
  closeBtn.addEventListener('click', () => closePanel(true));
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.open) {
      e.stopPropagation();
      closePanel(true);
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sendText();
    input.focus({ preventScroll: true });
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendText();
    }
  });
  input.addEventListener('input', autosize);

  // Full screen on phones: the page behind is covered, so the panel acts as a modal
  // dialog and Tab cycles inside it.
  const phoneMq = window.matchMedia('(max-width: 479.98px)');
  const syncModal = () => panel.setAttribute('aria-modal', phoneMq.matches ? 'true' : 'false');
  if (phoneMq.addEventListener) phoneMq.addEventListener('change', syncModal);
  syncModal();
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab' || !phoneMq.matches) return;
    const focusables = [...panel.querySelectorAll('button, textarea, a[href]')]
      .filter((n) => !n.disabled && n.getClientRects().length > 0);
    if (!focusables.length) return;
    const first = focusables[0];
    const last = focusables[focusables.length - 1];
    const active = shadow.activeElement;
    if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
  });

  window.addEventListener('pagehide', (e) => {
    saveNow();
    if (e.persisted && state.ws) {
      // Entering the back/forward cache: close cleanly, resume on pageshow.
      state.paused = true;
      const ws = state.ws;
      state.ws = null;
      try { ws.close(1000); } catch (_) { /* ignore */ }
      setConnected(false);
    }
  });
  window.addEventListener('pageshow', (e) => {
    if (e.persisted && state.paused) {
      state.paused = false;
      reconnectNow();
    }
  });
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });

  // --- Boot ---------------------------------------------------------------------------
  function boot() {
    document.body.append(host);
    applyAccent((ds.color || '').trim());
    loadTranscript();
    const wasOpen = tab.get('open') === '1';
    const roomy = window.matchMedia('(min-width: 480px)').matches;
    if (wasOpen || (AUTO_OPEN && roomy && tab.get('open') !== '0')) openPanel(false);
    // A conversation in progress in this tab reconnects straight away (to get replies
    // that arrived meanwhile); otherwise the socket opens with the panel.
    if (state.items.length && local.get('session')) start();
  }

  window.showroomChat = Object.freeze({
    open: () => openPanel(true),
    close: () => closePanel(false),
  });

  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot, { once: true });
})();
