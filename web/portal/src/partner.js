// Partner views: month-to-date usage and estimated charges per customer and
// per meter with a daily and a monthly chart, invoices with their lines and
// CSV downloads, customers with their stacks (and the tenants that fall to a
// default subscription), re-billing statements. Every figure comes from the
// public API as it stands; sums are exact decimals.
import { api, apiAll, decimalSum, download, errorBox, h, money, table, utcMonth, utcTime } from './lib.js';

// The partner a view is about: the one in the route, else the caller's own,
// else (PlatformAdmin) the first one listed.
async function pickPartner({ args, roles }) {
  if (args[0]) return args[0];
  if (roles.partners.length) return roles.partners[0];
  const partners = await apiAll('/v1/partners');
  return partners[0]?.id;
}

async function partnerChoice(section, partnerId, { roles }) {
  const ids = roles.platform ? (await apiAll('/v1/partners')).map((p) => p.id) : roles.partners;
  if (ids.length < 2) return h('span');
  return h('label', {}, 'Partner',
    h('select', {
      onchange: (event) => { location.hash = `#/${section}/${encodeURIComponent(event.target.value)}`; },
    }, ids.map((id) => h('option', { value: id, selected: id === partnerId }, id))));
}

const customerOf = (line) => line.customerName || line.subscriptionName || line.subscriptionId;
const NO_CUSTOMER = 'No customer (default subscriptions, the partner\'s own)';

function monthWindow(period) {
  const start = new Date(`${period}-01T00:00:00Z`);
  const next = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  const hour = new Date();
  hour.setUTCMinutes(0, 0, 0);
  hour.setUTCHours(hour.getUTCHours() + 1);
  const end = next < hour ? next : hour;
  if (end <= start) return null;  // a month that has not begun
  return { from: start.toISOString(), to: end.toISOString() };
}

function chart(canvas, type, labels, label, data) {
  if (!window.Chart) return;
  // eslint-disable-next-line no-new
  new window.Chart(canvas, {
    type,
    data: { labels, datasets: [{ label, data, backgroundColor: '#0b5cad' }] },
    options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } },
  });
}

async function partnerOverview(context) {
  const partnerId = await pickPartner(context);
  if (!partnerId) { context.show(h('p', {}, 'No partner is visible to you.')); return; }
  const period = context.args[1] ?? utcMonth();
  const estimate = await api(`/v1/invoices/estimate?partnerId=${encodeURIComponent(partnerId)}&period=${period}`);
  const lines = estimate.lines ?? [];
  const currency = estimate.currency;

  const byMeter = new Map();
  for (const line of lines) {
    const m = `${line.meterName || line.meterId || line.description || ''}`;
    byMeter.set(m, [...(byMeter.get(m) ?? []), line]);
  }
  // The server's own exact subtotals per customer (lines of no customer — a
  // default subscription's, the partner's own — under one row).
  const customerRows = (estimate.customers ?? []).map((c) => [c.customerName || NO_CUSTOMER, c.subtotal]);
  const meterRows = [...byMeter].map(([name, ls]) =>
    [name, ls[0].unit ?? '', decimalSum(ls.map((l) => l.quantity)), decimalSum(ls.map((l) => l.amount))])
    .sort((a, b) => a[0].localeCompare(b[0]));

  const daily = h('canvas', { id: 'daily-chart', role: 'img', 'aria-label': 'Usage per day this month' });
  const monthly = h('canvas', { id: 'monthly-chart', role: 'img', 'aria-label': 'Charges per month this year' });
  const meterSelect = h('select', { id: 'daily-meter' },
    meterRows.map(([name]) => h('option', { value: name }, name)));
  context.show(
    h('h1', {}, `Usage & charges — ${partnerId}`),
    h('form', { class: 'inline', onsubmit: (e) => e.preventDefault() },
      await partnerChoice('partner', partnerId, context),
      h('label', {}, 'Month (UTC)', h('input', {
        type: 'month', value: period,
        onchange: (e) => { location.hash = `#/partner/${encodeURIComponent(partnerId)}/${e.target.value}`; },
      }))),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'muted' }, `Estimated charges, ${period}`),
        h('div', { class: 'value', id: 'estimate-total' }, money(estimate.total, currency))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Subscriptions billed'),
        h('div', { class: 'value' }, String(new Set(lines.map((l) => l.subscriptionId)).size))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Estimated at'),
        h('div', { class: 'value' }, utcTime(new Date().toISOString())))),
    lines.length === 0 ? h('p', { class: 'notice' }, 'No usage has been billed to this partner this month yet.') : null,
    h('h2', {}, 'Per customer'),
    h('div', { id: 'per-customer' }, table(['Customer or subscription', `Amount (${currency})`], customerRows, { numeric: [1] })),
    h('h2', {}, 'Per meter'),
    table(['Meter', 'Unit', 'Quantity', `Amount (${currency})`], meterRows, { numeric: [2, 3] }),
    h('h2', {}, 'Usage per day (UTC)'),
    h('form', { class: 'inline', onsubmit: (e) => e.preventDefault() }, h('label', {}, 'Meter', meterSelect)),
    h('div', { class: 'chart' }, daily),
    h('h2', {}, `Charges per month, ${period.slice(0, 4)}`),
    h('div', { class: 'chart' }, monthly));

  // The daily chart: this partner's subscriptions' usage per day and meter.
  const subscriptions = new Set(lines.map((l) => l.subscriptionId));
  const window = monthWindow(period);
  const rows = window ? await apiAll(`/v1/usage?from=${window.from}&to=${window.to}&granularity=day&groupBy=subscription,meter&$top=100000`) : [];
  let dailyChart = null;
  const drawDaily = () => {
    const meter = meterSelect.value;
    const days = new Map();
    for (const row of rows) {
      if (!subscriptions.has(row.subscriptionId) || (row.meterName || row.meterId) !== meter) continue;
      const day = row.usageStartTime.slice(0, 10);
      days.set(day, decimalSum([days.get(day) ?? '0', row.quantity]));
    }
    const labels = [...days.keys()].sort();
    dailyChart?.destroy();
    chart(daily, 'bar', labels, meter, labels.map((d) => Number(days.get(d))));
    dailyChart = window.Chart?.getChart(daily);
  };
  meterSelect.addEventListener('change', drawDaily);
  drawDaily();

  // The monthly chart: issued invoices of the year, and this month's estimate.
  const invoices = await apiAll(`/v1/invoices?partnerId=${encodeURIComponent(partnerId)}`);
  const months = new Map();
  for (const invoice of invoices) {
    if (invoice.period?.startsWith(period.slice(0, 4))) {
      months.set(invoice.period, decimalSum([months.get(invoice.period) ?? '0', invoice.total]));
    }
  }
  if (!months.has(period)) months.set(period, estimate.total);
  const labels = [...months.keys()].sort();
  chart(monthly, 'bar', labels, currency, labels.map((m) => Number(months.get(m))));
}

async function invoicesView(context) {
  const partnerId = await pickPartner(context);
  const invoices = await apiAll(`/v1/invoices?partnerId=${encodeURIComponent(partnerId ?? '')}`);
  context.show(
    h('h1', {}, `Invoices — ${partnerId}`),
    h('form', { class: 'inline', onsubmit: (e) => e.preventDefault() }, await partnerChoice('invoices', partnerId, context)),
    invoices.length === 0 ? h('p', { class: 'notice' }, 'No invoices yet: a month is invoiced when it closes.') :
      table(['Number', 'Period', 'Total', 'Issued (UTC)'], invoices.map((i) => [
        h('a', { href: `#/invoice/${encodeURIComponent(i.id)}` }, i.number),
        i.period, money(i.total, i.currency), utcTime(i.issuedAt)]), { numeric: [2] }));
}

async function invoiceView(context) {
  const id = context.args[0];
  const invoice = await api(`/v1/invoices/${encodeURIComponent(id)}`);
  const save = (suffix, path) => async () => {
    try {
      download(`${invoice.number}${suffix}.csv`, await api(path, { as: 'text' }), 'text/csv');
    } catch (error) { context.show(errorBox(error)); }
  };
  context.show(
    h('h1', {}, `Invoice ${invoice.number}`),
    h('p', {}, `Period ${invoice.period} · total `, h('strong', { id: 'invoice-total' }, money(invoice.total, invoice.currency)),
      ` · issued ${utcTime(invoice.issuedAt)}`),
    h('p', {},
      h('button', { type: 'button', id: 'download-csv', onclick: save('', `/v1/invoices/${encodeURIComponent(id)}?format=csv`) }, 'Download CSV'),
      ' ',
      h('button', { type: 'button', class: 'secondary', id: 'download-reconciliation', onclick: save('-reconciliation', `/v1/invoices/${encodeURIComponent(id)}/reconciliation?format=csv`) }, 'Reconciliation CSV')),
    table(['#', 'Customer or subscription', 'Meter', 'Quantity', 'Unit', 'Amount'],
      (invoice.lines ?? []).map((l) => [String(l.lineNo ?? ''), customerOf(l), l.meterName ?? l.meterId ?? l.description ?? '',
        l.quantity ?? '', l.unit ?? '', l.amount]), { numeric: [3, 5] }));
}

async function customersView(context) {
  const partnerId = await pickPartner(context);
  const [subscriptions, stacks] = await Promise.all([apiAll('/v1/subscriptions'), apiAll('/v1/stacks')]);
  const customers = subscriptions.filter((s) => s.offerType === 'CSP' && s.partnerId === partnerId);
  // Which stack each customer subscription is registered on (R5/R6 mappings).
  const registeredOn = new Map();
  const defaults = new Map();  // default subscription -> stack, of this partner's registrations
  const partnerOf = new Map(subscriptions.map((s) => [s.subscriptionId, s.partnerId]));
  for (const stack of stacks) {
    const reg = stack.registration;
    if (!reg || partnerOf.get(reg.subscriptionId) !== partnerId) continue;
    defaults.set(reg.subscriptionId, stack);
    try {
      const mappings = await apiAll(`${reg.id}/customerSubscriptions?api-version=2022-06-01`);
      for (const m of mappings) {
        const sub = m.id.split('/').pop();  // ARM's name is registration/subscription
        registeredOn.set(sub, [...(registeredOn.get(sub) ?? []), `${reg.name} (${stack.cloudId})`]);
      }
    } catch { /* not readable by this caller */ }
  }
  // Tenants whose usage this month went to a default subscription: not registered.
  const window = monthWindow(utcMonth());
  let unregistered = [];
  try {
    const rows = window ? await apiAll(`/v1/usage?from=${window.from}&to=${window.to}&granularity=month&groupBy=subscription,tenant&$top=100000`) : [];
    unregistered = rows.filter((r) => defaults.has(r.subscriptionId));
  } catch { /* usage not readable */ }
  context.show(
    h('h1', {}, `Customers — ${partnerId}`),
    h('form', { class: 'inline', onsubmit: (e) => e.preventDefault() }, await partnerChoice('customers', partnerId, context)),
    table(['Customer subscription', 'Name', 'Tenant (directory)', 'Registered on'],
      customers.map((s) => [s.subscriptionId, s.displayName ?? '', s.directoryId ?? '',
        (registeredOn.get(s.subscriptionId) ?? []).join(', ') || h('span', { class: 'flag' }, 'not registered on any stack')])),
    h('h2', {}, 'Tenants billed to a default subscription this month'),
    unregistered.length === 0 ? h('p', { class: 'muted' }, 'None: every tenant with usage is registered.') :
      h('div', {},
        h('p', { class: 'notice' }, 'These tenants are not registered as customers, so their usage goes to the stack\'s default subscription. ',
          'If they are your customers, add their CSP subscriptions to the registration.'),
        table(['Tenant', 'Default subscription', 'Usage records this month'],
          unregistered.map((r) => [h('span', { class: 'flag' }, r.tenantId ?? ''), r.subscriptionId, String(r.records)]),
          { numeric: [2] })));
}

async function statementsView(context) {
  const partnerId = await pickPartner(context);
  const period = context.args[1] ?? utcMonth();
  const statements = await apiAll(`/v1/statements?partnerId=${encodeURIComponent(partnerId)}&period=${period}`);
  context.show(
    h('h1', {}, `Customer statements — ${partnerId}, ${period}`),
    h('p', {}, h('button', {
      type: 'button',
      onclick: async () => {
      try {
        download(`statements-${partnerId}-${period}.csv`,
          await api(`/v1/statements?partnerId=${encodeURIComponent(partnerId)}&period=${period}&format=csv`, { as: 'text' }), 'text/csv');
      } catch (error) { context.show(errorBox(error)); }
    },
    }, 'Download CSV')),
    statements.length === 0 ? h('p', { class: 'notice' }, 'No customer usage this month.') :
      table(['Customer', 'Total', 'Prices'], statements.map((s) => [s.customerName ?? s.customerId,
        money(s.total, s.currency), s.priceSheet ? 'customer price sheet' : 'list prices']), { numeric: [1] }));
}

export const partnerViews = {
  partner: partnerOverview,
  invoices: invoicesView,
  invoice: invoiceView,
  customers: customersView,
  statements: statementsView,
};
