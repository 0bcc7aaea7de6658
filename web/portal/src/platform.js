// Platform views (PlatformAdmin): stacks with their registration and
// forwarding health, a registration's customer subscriptions (add and remove,
// with R5/R6 refusals in plain words), billing-model approvals, the
// quarantine with replay, billing periods with close and adjustments, and the
// audit log.
import { api, apiAll, errorBox, h, table, utcTime } from './lib.js';

const ARM = 'api-version=2022-06-01';

// Runs one of a page's actions; `status` then shows `done(result)` as a
// notice, or the error in plain words.
async function act(status, action, done) {
  try {
    const result = await action();
    status.replaceChildren(h('p', { class: 'notice' }, done(result)));
  } catch (error) {
    status.replaceChildren(errorBox(error));
  }
}

// Records each stack had accepted in the last full hour (by reported time):
// the forwarding rate.
async function lastHourRecords() {
  const end = new Date();
  end.setUTCMinutes(0, 0, 0);
  const start = new Date(end.getTime() - 3600 * 1000);
  const rows = await apiAll(`/v1/usage?from=${start.toISOString()}&to=${end.toISOString()}` +
    '&timeType=reported&granularity=hour&groupBy=stack&$top=100000');
  const records = new Map();
  for (const row of rows) records.set(row.cloudId, (records.get(row.cloudId) ?? 0) + row.records);
  return records;
}

async function stacksView(context) {
  const [stacks, lastHour] = await Promise.all([apiAll('/v1/stacks'), lastHourRecords()]);
  context.show(
    h('h1', {}, 'Stacks'),
    stacks.length === 0 ? h('p', { class: 'notice' }, 'No stack has been registered yet.') :
      table(['Stack (cloud id)', 'Registration', 'Billing model', 'Approval', 'Last usage received',
        'Records, last full hour', 'Records accepted', 'Quarantined'],
      stacks.map((s) => [
        h('a', { href: `#/stack/${encodeURIComponent(s.cloudId)}` }, s.cloudId),
        s.registration ? s.registration.name : h('span', { class: 'flag' }, 'not registered'),
        s.billingModel, s.approval ? 'approved' : h('span', { class: 'flag' }, 'pending'),
        utcTime(s.lastUsageReceivedAt), String(lastHour.get(s.cloudId) ?? 0),
        String(s.usageRecordsAccepted),
        s.quarantineCount ? h('span', { class: 'flag' }, String(s.quarantineCount)) : '0']),
      { numeric: [5, 6, 7] }));
}

async function stackView(context) {
  const cloudId = context.args[0];
  const stack = await api(`/v1/stacks/${encodeURIComponent(cloudId)}`);
  const reg = stack.registration;
  const status = h('div', { id: 'stack-status', 'aria-live': 'polite' });
  const mappings = reg ? await apiAll(`${reg.id}/customerSubscriptions?${ARM}`) : [];
  const subscription = h('input', { id: 'customer-subscription', required: true, size: 38, placeholder: 'CSP subscription id' });
  const tenant = h('input', { id: 'customer-tenant', required: true, size: 38, placeholder: 'tenant (directory) id' });
  const addForm = h('form', {
    class: 'inline',
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api(`${reg.id}/customerSubscriptions/${encodeURIComponent(subscription.value.trim())}?${ARM}`,
          { method: 'PUT', body: { properties: { tenantId: tenant.value.trim() } } });
        await stackView(context);
        document.getElementById('stack-status')?.replaceChildren(h('p', { class: 'notice' }, 'Customer subscription added.'));
      } catch (error) {
        status.replaceChildren(errorBox(error));
      }
    },
  }, h('label', {}, 'Customer subscription', subscription), h('label', {}, 'Tenant', tenant),
  h('button', { type: 'submit' }, 'Add'));
  const remove = (name) => async () => {
    try {
      await api(`${reg.id}/customerSubscriptions/${encodeURIComponent(name)}?${ARM}`, { method: 'DELETE' });
      await stackView(context);
      document.getElementById('stack-status')?.replaceChildren(h('p', { class: 'notice' }, `Customer subscription ${name} removed.`));
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  const model = h('select', { id: 'approval-model' },
    ['PayAsYouUse', 'Capacity', 'Development'].map((m) => h('option', { value: m, selected: m === stack.billingModel }, m)));
  context.show(
    h('h1', {}, `Stack ${cloudId}`),
    status,
    h('p', {}, `Billing model ${stack.billingModel} · ${stack.multiTenant ? 'multi-tenant' : 'single tenant'} · `,
      `last usage ${utcTime(stack.lastUsageReceivedAt)} · ${stack.usageRecordsAccepted} records accepted · `,
      h('a', { href: `#/quarantine/${encodeURIComponent(cloudId)}` }, `${stack.quarantineCount} quarantined`)),
    h('h2', {}, 'Approval of the billing model'),
    h('form', {
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault();
        await act(status,
          () => api(`/v1/stacks/${encodeURIComponent(cloudId)}/approval`, { method: 'PUT', body: { billingModel: model.value } }),
          () => `Approved ${model.value}.`);
      },
    }, h('label', {}, 'Billing model', model), h('button', { type: 'submit' }, 'Approve')),
    h('h2', {}, 'Customer subscriptions'),
    !reg ? h('p', { class: 'notice' }, 'The stack is not registered.') : h('div', {},
      h('p', { class: 'muted' }, `Registration ${reg.name} in ${reg.resourceGroup}, default subscription ${reg.subscriptionId}.`),
      mappings.length === 0 ? h('p', { class: 'muted' }, 'No customer subscriptions: every tenant is billed to the default subscription.') :
        table(['Customer subscription', 'Tenant', ''], mappings.map((m) => {
          const name = m.id.split('/').pop();  // ARM's name is registration/subscription
          return [name, m.properties?.tenantId ?? '',
            h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${name}`, onclick: remove(name) }, 'Remove')];
        })),
      addForm));
}

async function quarantineView(context) {
  const cloudId = context.args[0];
  const entries = await apiAll(`/v1/quarantine?$top=1000${cloudId ? `&cloudId=${encodeURIComponent(cloudId)}` : ''}`);
  const status = h('div', { 'aria-live': 'polite' });
  context.show(
    h('h1', {}, cloudId ? `Quarantine of ${cloudId}` : 'Quarantine'),
    status,
    entries.length === 0 ? h('p', { class: 'muted' }, 'Nothing is quarantined.') : h('div', {},
      h('p', {}, h('button', {
        type: 'button',
        onclick: () => act(status,
          () => api('/v1/quarantine/replay', { method: 'POST', body: { ids: entries.map((e) => e.id) } }),
          (result) => `Replayed: ${JSON.stringify(result)}`),
      }, `Replay these ${entries.length}`)),
      table(['Id', 'Stack', 'Received', 'Reason', 'Message', 'Record'],
        entries.map((e) => [String(e.id), e.cloudId, utcTime(e.receivedAt), e.code, e.message, e.recordId ?? '']))));
}

async function periodsView(context) {
  const periods = await apiAll('/v1/billingPeriods');
  const status = h('div', { 'aria-live': 'polite' });
  const close = (period) => () => act(status,
    () => api(`/v1/billingPeriods/${period}/close`, { method: 'POST', body: {} }),
    (result) => `${period} is ${result.state}; ${result.invoices?.length ?? 0} invoices.`);
  const subscription = h('input', { required: true, size: 38 });
  const period = h('input', { type: 'month', required: true });
  const amount = h('input', { required: true, inputmode: 'decimal', placeholder: '-10.00' });
  const currency = h('input', { required: true, size: 4, value: 'USD' });
  const reason = h('input', { required: true, size: 30 });
  context.show(
    h('h1', {}, 'Billing periods'),
    status,
    table(['Period', 'Start (UTC)', 'End (UTC)', 'State', ''], periods.map((p) => [p.period, utcTime(p.start), utcTime(p.end), p.state,
      p.state === 'Open' ? h('button', { type: 'button', class: 'secondary', onclick: close(p.period) }, `Close ${p.period}`) : ''])),
    h('h2', {}, 'Adjustment on an open month'),
    h('form', {
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault();
        await act(status, () => api('/v1/adjustments', {
          method: 'POST',
          body: { subscriptionId: subscription.value.trim(), period: period.value, amount: amount.value.trim(), currency: currency.value.trim(), reason: reason.value },
        }), () => 'Adjustment recorded.');
      },
    }, h('label', {}, 'Subscription', subscription), h('label', {}, 'Month', period), h('label', {}, 'Amount', amount),
    h('label', {}, 'Currency', currency), h('label', {}, 'Reason', reason), h('button', { type: 'submit' }, 'Add')));
}

async function auditView(context) {
  const page = await api('/v1/audit?$top=200');
  context.show(
    h('h1', {}, 'Audit log'),
    table(['When (UTC)', 'Actor', 'Action', 'Target'], (page.value ?? []).map((e) => [utcTime(e.at), e.actorPrincipalId,
      e.action ?? '', e.resource ?? ''])));
}

export const platformViews = {
  stacks: stacksView,
  stack: stackView,
  quarantine: quarantineView,
  periods: periodsView,
  audit: auditView,
};
