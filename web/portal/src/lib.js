// What every page of the portal shares: building DOM from data (text only —
// never HTML from data), the API over fetch with the session's token, errors
// in plain words with the request id, exact decimal sums, downloads.

const TOKEN_KEY = 'stackbill.token';

export const session = {
  // The token lives in this tab's session storage only: never in a URL,
  // never logged, gone when the tab closes.
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

// h('td', {class: 'num'}, text, child…): an element whose strings become text
// nodes. Attributes are set one by one; `on*` keys add listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// What the API's error codes mean, in words a billing engineer would use.
const PLAIN = {
  UnauthorizedCspRegistration:
    'This stack\'s registration is not approved for multi-tenancy, so it cannot take customer subscriptions (R5).',
  CustomerSubscriptionsNotAllowed:
    'A Capacity registration does not take customer subscriptions (R5).',
  InvalidCustomerSubscriptionId: 'There is no subscription with that id (R6).',
  InvalidCSPSubscription: 'Only a CSP subscription can be a customer subscription (R6).',
  BadCustomerSubscriptionId:
    'That subscription does not belong to this registration\'s CSP partner or a reseller under it (R6).',
  TenantMismatch: 'That tenant is not the directory of the customer subscription (R6).',
  AuthenticationFailed: 'The token was not accepted: it is unknown, expired or revoked. Sign in again.',
  AuthorizationFailed: 'Your roles do not allow this.',
  PeriodNotClosed: 'That month is still open.',
};

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
  get plain() {
    return PLAIN[this.code] ?? this.message;
  }
}

export async function api(path, { method = 'GET', body, as = 'json' } = {}) {
  const headers = { Authorization: `Bearer ${session.token()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError(0, 'NetworkError', 'The server could not be reached.', null);
  }
  const requestId = response.headers.get('x-ms-request-id');
  if (!response.ok) {
    let error = {};
    try { error = (await response.json()).error ?? {}; } catch { /* not JSON */ }
    throw new ApiError(response.status, error.code, error.message, requestId);
  }
  const text = await response.text();
  if (as === 'text') return text;
  return text ? JSON.parse(text) : null;  // e.g. a DELETE's empty 200
}

// Every page of a list (value + nextLink), same-origin links only.
export async function apiAll(path) {
  const items = [];
  for (let next = path, guard = 0; next && guard < 1000; guard++) {
    const page = await api(next);
    items.push(...(page.value ?? []));
    next = page.nextLink ? new URL(page.nextLink).pathname + new URL(page.nextLink).search : null;
  }
  return items;
}

// The error box: plain words, the code and the request id for support.
export function errorBox(error) {
  const e = error instanceof ApiError ? error : new ApiError(0, null, String(error?.message ?? error), null);
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, e.plain),
    e.code && e.code !== 'NetworkError' ? h('div', { class: 'muted' }, `Code ${e.code}`) : null,
    e.requestId ? h('div', { class: 'muted' }, `Request id ${e.requestId}`) : null);
}

// Exact sums of decimal strings ("12.3400", "-0.5"): BigInt at the largest
// scale seen, never floating point (amounts are money).
export function decimalSum(values) {
  let scale = 0;
  for (const v of values) scale = Math.max(scale, (String(v).split('.')[1] ?? '').length);
  let total = 0n;
  for (const v of values) {
    const [whole, fraction = ''] = String(v).replace('-', '').split('.');
    const units = BigInt(whole + fraction.padEnd(scale, '0'));
    total += String(v).startsWith('-') ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

export const money = (amount, currency) => `${amount} ${currency ?? ''}`.trim();

// Saves text as a file through a same-origin blob link (the token stays in
// the request header; nothing goes into a URL).
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function table(headers, rows, { numeric = [] } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {}, headers.map((text, i) =>
        h('th', { scope: 'col', class: numeric.includes(i) ? 'num' : null }, text)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) =>
        h('td', { class: numeric.includes(i) ? 'num' : null }, cell)))))));
}

export const utcMonth = (date = new Date()) => date.toISOString().slice(0, 7);
export const utcTime = (iso) => (iso ? `${iso.replace('T', ' ').replace(/\.\d+/, '').replace('Z', '')} UTC` : '—');
