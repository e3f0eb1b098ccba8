// What the web app's pages share: the signed-in host (API key, access token, profile)
// kept in localStorage so the host page opened from the landing page (or another tab)
// knows them, the status line, and small DOM helpers. Viewers need none of this: their
// link carries a room ticket.

const STORAGE = {
  apiKey: 'webinar.apiKey',
  token: 'webinar.token',
  user: 'webinar.user',
};

export const $ = (selector, root = document) => root.querySelector(selector);

export function savedSession() {
  let user = null;
  try {
    user = JSON.parse(localStorage.getItem(STORAGE.user) ?? 'null');
  } catch {
    user = null;
  }
  return {
    apiKey: localStorage.getItem(STORAGE.apiKey) ?? '',
    token: localStorage.getItem(STORAGE.token) ?? '',
    user,
  };
}

export function saveApiKey(apiKey) {
  localStorage.setItem(STORAGE.apiKey, apiKey);
}

export function saveSignIn(token, user) {
  localStorage.setItem(STORAGE.token, token);
  localStorage.setItem(STORAGE.user, JSON.stringify(user));
}

export function signOut() {
  localStorage.removeItem(STORAGE.token);
  localStorage.removeItem(STORAGE.user);
}

// `#key=...` in the address (what `make run` prints) sets the API key, then leaves the address.
export function takeKeyFromAddress() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const key = fragment.get('key');
  if (!key) return null;
  saveApiKey(key);
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return key;
}

// Writes `message` to the page's status line (a polite live region); kind: 'info' | 'error' | 'ok'.
export function say(message, kind = 'info') {
  const status = $('#status');
  status.textContent = message;
  status.dataset.kind = kind;
}

// Runs `action`, showing what went wrong on the status line instead of failing silently.
export async function run(action) {
  try {
    return await action();
  } catch (error) {
    say(error.message ?? String(error), 'error');
    console.warn(error);
    return undefined;
  }
}

// The full name of a user as the API answers it.
export function fullName(user) {
  return [user?.fName, user?.lName].filter(Boolean).join(' ') || user?.email || 'Host';
}

// Copies `text`, or selects it in `input` when the clipboard is not available (http pages).
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input?.focus();
    input?.select();
    return false;
  }
}
