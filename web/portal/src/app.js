// The portal's shell: sign-in with a pasted token, who is signed in, the
// sections their roles open, and hash routing (#/partner/P, #/invoices/P, …)
// so the back button and bookmarks work without a token in any URL.
import { api, errorBox, h, session } from './lib.js';
import { partnerViews } from './partner.js';
import { platformViews } from './platform.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

// The caller: principal, roles, and what they open.
let me = null;
// Each route() is one navigation; a page still loading when the user moves
// on (or signs out) must not draw over the newer one.
let navigation = 0;

function rolesOf(principal) {
  const roles = principal.roleAssignments ?? [];
  const platform = roles.some((r) => r.role === 'PlatformAdmin' && r.scope === '/');
  const partners = roles.filter((r) => r.role === 'PartnerAdmin' && r.scope.startsWith('/partners/'))
    .map((r) => r.scope.slice('/partners/'.length));
  return { platform, partners };
}

function show(...content) {
  main.replaceChildren(...content.filter((c) => c !== null && c !== undefined && c !== false));
  main.focus();
}

function signInPage(problem) {
  ++navigation;  // a page still loading for the previous principal draws nothing

  const input = h('input', {
    id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'token-help',
  });
  const form = h('form', {
    class: 'signin',
    onsubmit: async (event) => {
      event.preventDefault();
      session.signIn(input.value.trim());
      input.value = '';
      await start();
    },
  },
  h('h1', {}, 'Sign in'),
  h('label', { for: 'token' }, 'stackbill token', input),
  h('p', { id: 'token-help', class: 'muted' },
    'Paste a token from `stackbill token create` or POST /v1/principals/{id}/tokens. ',
    'It is kept in this tab only and sent in a header, never in a link.'),
  h('button', { type: 'submit' }, 'Sign in'));
  nav.replaceChildren();
  who.replaceChildren();
  show(...(problem ? [errorBox(problem)] : []), form);
  input.focus();
}

function sections() {
  const { platform, partners } = rolesOf(me);
  const items = [];
  if (platform || partners.length) {
    items.push(['#/partner', 'Usage & charges'], ['#/invoices', 'Invoices'], ['#/customers', 'Customers']);
  }
  if (partners.length) items.push(['#/statements', 'Statements']);
  if (platform) {
    items.push(['#/stacks', 'Stacks'], ['#/quarantine', 'Quarantine'], ['#/periods', 'Billing periods'],
      ['#/audit', 'Audit log']);
  }
  return items;
}

function renderChrome() {
  const current = location.hash.split('/').slice(0, 2).join('/') || '#/';
  nav.replaceChildren(...sections().map(([href, label]) =>
    h('a', { href, 'aria-current': href === current ? 'page' : null }, label)));
  who.replaceChildren(
    h('span', { class: 'muted', title: `directory ${me.directoryId}` }, `principal ${me.principalId}`),
    h('button', {
      class: 'secondary', type: 'button',
      onclick: () => { session.signOut(); me = null; location.hash = '#/'; signInPage(); },
    }, 'Sign out'));
}

const views = { ...partnerViews, ...platformViews };

async function route() {
  if (!me) return;
  renderChrome();
  const current = ++navigation;
  const showIfCurrent = (...content) => { if (current === navigation) show(...content); };
  const [, name, ...args] = location.hash.replace(/^#/, '').split('/').map(decodeURIComponent);
  const view = views[name];
  const context = { me, roles: rolesOf(me), show: showIfCurrent, args };
  if (!view) {
    const first = sections()[0];
    if (first) { location.hash = first[0]; return; }
    // A customer-directory principal (R8) or one without roles: no billing data here.
    show(h('h1', {}, 'Nothing to show'),
      h('p', {}, 'Your roles do not include billing: usage billed through a CSP partner is the partner\'s, ',
        'and customers see it on their partner\'s statements, not here.'));
    main.dataset.loaded = location.hash;
    return;
  }
  delete main.dataset.loaded;
  show(h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  try {
    await view(context);
    // For tests and assistive tools: the page of this address is complete.
    if (current === navigation) main.dataset.loaded = location.hash;
  } catch (error) {
    if (current !== navigation) return;
    if (error.status === 401) { session.signOut(); me = null; signInPage(error); return; }
    show(errorBox(error));
    main.dataset.loaded = location.hash;
  }
}

async function start() {
  if (!session.token()) { signInPage(); return; }
  try {
    me = await api('/v1/me');
  } catch (error) {
    session.signOut();
    signInPage(error);
    return;
  }
  await route();
}

window.addEventListener('hashchange', route);
start();
