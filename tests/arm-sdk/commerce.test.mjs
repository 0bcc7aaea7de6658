// Conformance: the official Commerce clients from npm against a real
// `stackbill serve` over HTTPS —
//   * @azure/arm-commerce (ms-rest-js): usageAggregates.list / listNext,
//   * @azure/arm-commerce-profile-2020-09-01-hybrid (core-client): the paged
//     usageAggregates.list, with `for await` and byPage(),
//   * both clients' rateCard.get with Azure's $filter (SPEC §7),
// over a world made through the API: a partner, an APSS subscription with a
// multi-tenant registration, a customer's CSP subscription mapped to it, and
// usage ingested with the stack's activation key. run.sh starts the server and
// passes its endpoint, the CA file and a PlatformAdmin token in the environment.
//
// Time basis: Commerce filters on the *reported* time by default, and a record
// is reported when it is ingested (now), so it first falls in a window that
// ends at the next full hour — in the future, which the API refuses
// (RequestEndTimeIsInFuture). The listings of fresh usage therefore ask for
// stackbill's `timeType=Usage` extension (usage time), which neither SDK has a
// parameter for: a per-call pipeline policy adds it to the SDK's own request
// URL (and leaves a nextLink, which already carries it, alone).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AzureStackManagementClient } from '@azure/arm-azurestack';
import { UsageManagementClient as CommerceClient } from '@azure/arm-commerce';
import {
  UsageManagementClient as HybridCommerceClient,
  getContinuationToken,
} from '@azure/arm-commerce-profile-2020-09-01-hybrid';
import { adminToken, api, call, credential, endpoint, registrationToken } from './stackbill.mjs';

const METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5'; // Base VM Size Hours
const VMS = 70;
const HOURS = 24; // VMS x HOURS = 1680 resource-hours: two Commerce pages of at most 1000
const HOUR = 3600 * 1000;

const truncateToHour = (t) => new Date(Math.floor(t.getTime() / HOUR) * HOUR);
const truncateToDay = (t) => new Date(Math.floor(t.getTime() / (24 * HOUR)) * 24 * HOUR);

// The quantity of VM `vm` in hour `hour`, in tenths: 0.1 to 2.5.
const tenthsOf = (vm, hour) => 1 + ((vm * 7 + hour * 3) % 25);
// A JSON number to exact tenths (the server prints quantities exactly; a
// one-decimal number survives the double it is parsed into).
function toTenths(quantity) {
  const tenths = Math.round(quantity * 10);
  assert.ok(Math.abs(quantity * 10 - tenths) < 1e-9, `quantity ${quantity} is not in tenths`);
  return tenths;
}
// An exact decimal string ("2520", "17.5", "3.10") to tenths, as a BigInt.
function decimalToTenths(text) {
  const match = /^(\d+)(?:\.(\d*?)0*)?$/.exec(text);
  assert.ok(match, `not a decimal: ${text}`);
  const fraction = match[2] ?? '';
  assert.ok(fraction.length <= 1, `${text} is finer than tenths`);
  return BigInt(match[1]) * 10n + BigInt(fraction || '0');
}

// stackbill's `timeType=Usage`, added to a request that does not carry it.
const withUsageTime = (url) => (/[?&]timeType=/i.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}timeType=Usage`);

// @azure/arm-commerce: a ms-rest-js RequestPolicyFactory ahead of the defaults.
function commerceClient(token, subscription, { usageTime = true } = {}) {
  const urls = [];
  const factory = {
    create: (next) => ({
      sendRequest: (request) => {
        if (usageTime) request.url = withUsageTime(request.url);
        urls.push(request.url);
        return next.sendRequest(request);
      },
    }),
  };
  const client = new CommerceClient(credential(token), subscription, {
    baseUri: endpoint,
    requestPolicyFactories: (defaults) => [factory, ...defaults],
  });
  return { client, urls };
}

// The hybrid profile: a core-rest-pipeline per-call policy.
function hybridClient(token, subscription, { usageTime = true } = {}) {
  const urls = [];
  const policy = {
    name: 'stackbillUsageTime',
    sendRequest: (request, next) => {
      if (usageTime) request.url = withUsageTime(request.url);
      urls.push(request.url);
      return next(request);
    },
  };
  const client = new HybridCommerceClient(credential(token), subscription, {
    endpoint,
    additionalPolicies: [{ policy, position: 'perCall' }],
  });
  return { client, urls };
}

const world = {};

before(async () => {
  world.startedAt = new Date(); // every record below is reported at or after this
  world.partnerId = `com-${randomUUID().slice(0, 8)}`;
  await api('POST', '/v1/partners', {
    id: world.partnerId, name: 'Commerce CSP', kind: 'direct', billingCurrency: 'USD',
  });
  world.partnerDirectory = (await api('POST', '/v1/directories', {
    displayName: 'IUR Commerce CSP', domains: [`iur-${world.partnerId}.onmicrosoft.com`], ownerPartnerId: world.partnerId,
  })).id;
  world.apss = (await api('POST', '/v1/subscriptions', {
    offerType: 'APSS', directoryId: world.partnerDirectory, partnerId: world.partnerId, displayName: 'shared services',
  })).subscriptionId;
  const partnerAdmin = await api('POST', '/v1/principals', {
    directoryId: world.partnerDirectory, name: `admin@iur-${world.partnerId}.onmicrosoft.com`, kind: 'user',
  });
  await api('PUT', `/v1/roleAssignments/${randomUUID()}`, {
    principalId: partnerAdmin.objectId, role: 'PartnerAdmin', scope: `/partners/${world.partnerId}`,
  });
  world.partnerAdminToken = (await api('POST', `/v1/principals/${partnerAdmin.objectId}/tokens`, { expiresInHours: 2 })).token;

  world.customerDirectory = (await api('POST', '/v1/directories', {
    displayName: 'Fabrikam', domains: [`fabrikam-${world.partnerId}.onmicrosoft.com`],
  })).id;
  world.customerCsp = (await api('POST', '/v1/subscriptions', {
    offerType: 'CSP', directoryId: world.customerDirectory, partnerId: world.partnerId, displayName: 'Fabrikam CSP',
  })).subscriptionId;
  // The customer's own Owner: R8 still hides what its partner is billed.
  const customer = await api('POST', '/v1/principals', {
    directoryId: world.customerDirectory, name: `owner@fabrikam-${world.partnerId}.onmicrosoft.com`, kind: 'user',
  });
  await api('PUT', `/v1/roleAssignments/${randomUUID()}`, {
    principalId: customer.objectId, role: 'Owner', scope: `/subscriptions/${world.customerCsp}`,
  });
  world.customerToken = (await api('POST', `/v1/principals/${customer.objectId}/tokens`, { expiresInHours: 2 })).token;

  // The usage: yesterday (UTC), every hour, VMS virtual machines.
  world.today = truncateToDay(world.startedAt);
  world.day = new Date(world.today.getTime() - 24 * HOUR);

  // The partner registers the stack (R2) with the official AzureStack client.
  world.cloudId = randomUUID();
  const stack = new AzureStackManagementClient(credential(world.partnerAdminToken), world.apss, { baseUri: endpoint });
  await stack.registrations.createOrUpdate('rg-commerce', 'commerce-stack', {
    location: 'global',
    registrationToken: registrationToken({
      cloudId: world.cloudId, billingModel: 'PayAsYouUse', multiTenant: true, deploymentDirectoryId: randomUUID(),
    }),
  });
  // The customer's mapping, in force since the start of the usage day: a
  // mapping starts when it is made, and usage dated before it would go to the
  // default (APSS) subscription — `effectiveFrom` is the PlatformAdmin's
  // correction for a late registration (stackbill's extension).
  const registration = `/subscriptions/${world.apss}/resourceGroups/rg-commerce/providers/Microsoft.AzureStack/registrations/commerce-stack`;
  await api('PUT', `${registration}/customerSubscriptions/${world.customerCsp}?api-version=2017-06-01`, {
    properties: { tenantId: world.customerDirectory, effectiveFrom: world.day.toISOString() },
  });
  const { activationKey } = await stack.registrations.getActivationKey('rg-commerce', 'commerce-stack');
  assert.ok(activationKey);

  world.local = randomUUID(); // the stack-local subscription the VMs run in
  world.expected = new Map(); // `${resourceUri}|${usageStartTime ms}` -> tenths
  world.totalTenths = 0;
  const lines = [];
  for (let hour = 0; hour < HOURS; hour++) {
    const start = new Date(world.day.getTime() + hour * HOUR);
    const end = new Date(start.getTime() + HOUR);
    for (let vm = 0; vm < VMS; vm++) {
      const resourceUri = `/subscriptions/${world.local}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${vm}`;
      const tenths = tenthsOf(vm, hour);
      world.expected.set(`${resourceUri}|${start.getTime()}`, tenths);
      world.totalTenths += tenths;
      lines.push(JSON.stringify({
        tenantId: world.customerDirectory,
        subscriptionId: world.local,
        meterId: METER.toUpperCase(),
        quantity: tenths / 10,
        usageStartTime: start.toISOString().replace('.000Z', 'Z'),
        usageEndTime: end.toISOString().replace('.000Z', 'Z'),
        instanceData: JSON.stringify({ 'Microsoft.Resources': { resourceUri, location: 'local' } }),
      }));
    }
  }
  const answer = await call('POST', `/v1/stacks/${world.cloudId}/usage`, `${lines.join('\n')}\n`, {
    token: activationKey, contentType: 'application/x-ndjson',
  });
  assert.deepEqual(
    { accepted: answer.accepted, duplicates: answer.duplicates, quarantined: answer.quarantined, errors: answer.errors },
    { accepted: VMS * HOURS, duplicates: 0, quarantined: 0, errors: [] },
  );
});

// Every item of an Hourly showDetails=true listing: one of the ingested
// resource-hours, each exactly once, with its quantity; returns the tenths.
function checkDetailedHours(items) {
  const seen = new Set();
  let tenths = 0;
  for (const item of items) {
    assert.equal(item.type, 'Microsoft.Commerce/UsageAggregate');
    assert.equal(item.subscriptionId, world.customerCsp);
    assert.equal(item.meterId.toLowerCase(), METER);
    assert.equal(item.meterName, 'Base VM Size Hours');
    assert.ok(item.unit);
    assert.match(item.id, new RegExp(`^/subscriptions/${world.customerCsp}/providers/Microsoft.Commerce/UsageAggregates/`, 'i'));
    assert.ok(item.usageStartTime instanceof Date && item.usageEndTime instanceof Date);
    assert.equal(item.usageEndTime.getTime() - item.usageStartTime.getTime(), HOUR);
    assert.equal(typeof item.instanceData, 'string');
    const { resourceUri } = JSON.parse(item.instanceData)['Microsoft.Resources'];
    const key = `${resourceUri}|${item.usageStartTime.getTime()}`;
    assert.ok(world.expected.has(key), `unexpected item ${key}`);
    assert.ok(!seen.has(key), `duplicate item ${key}`);
    seen.add(key);
    assert.equal(typeof item.quantity, 'number');
    assert.equal(toTenths(item.quantity), world.expected.get(key), key);
    tenths += toTenths(item.quantity);
  }
  assert.equal(seen.size, world.expected.size);
  return tenths;
}

test('@azure/arm-commerce: Hourly showDetails=true pages with list and listNext; exact sum', async () => {
  const { client, urls } = commerceClient(world.partnerAdminToken, world.customerCsp);
  const options = { aggregationGranularity: 'Hourly', showDetails: true };
  const pages = [await client.usageAggregates.list(world.day, world.today, options)];
  // The SDK's own URL: dates as ISO 8601 with milliseconds.
  assert.match(urls[0], /reportedStartTime=\d{4}-\d\d-\d\dT00%3A00%3A00\.000Z/);
  assert.equal(pages[0].length, 1000);
  const next = new URL(pages[0].nextLink);
  assert.equal(next.protocol, 'https:');
  assert.equal(next.pathname.toLowerCase(), `/subscriptions/${world.customerCsp}/providers/microsoft.commerce/usageaggregates`);
  assert.ok(next.searchParams.get('continuationToken'));
  assert.equal(next.searchParams.get('timeType'), 'Usage');
  while (pages.at(-1).nextLink) {
    assert.ok(pages.length < 10, 'nextLink never ends');
    // This SDK re-sends its query parameters with listNext (and its
    // `aggregationGranularity` default, Daily), so the same options go along.
    pages.push(await client.usageAggregates.listNext(pages.at(-1).nextLink, world.day, world.today, options));
  }
  assert.equal(pages.length, 2);
  assert.equal(pages[1].length, VMS * HOURS - 1000);
  assert.equal(new URL(urls[1]).searchParams.get('continuationToken'), next.searchParams.get('continuationToken'));
  const tenths = checkDetailedHours(pages.flat());
  assert.equal(tenths, world.totalTenths);

  // The same total as the operations view, summed exactly by the server.
  const totals = await api('GET',
    `/v1/usage/totals?cloudId=${world.cloudId}&from=${world.day.toISOString()}&to=${world.today.toISOString()}`);
  assert.equal(totals.records, VMS * HOURS);
  assert.equal(totals.value.length, 1);
  assert.equal(totals.value[0].subscriptionId, world.customerCsp);
  assert.equal(totals.value[0].meterId.toLowerCase(), METER);
  assert.equal(decimalToTenths(totals.value[0].quantity), BigInt(tenths));
});

test('@azure/arm-commerce: Daily and showDetails=false aggregate on the server', async () => {
  const { client } = commerceClient(world.partnerAdminToken, world.customerCsp);
  // Daily (the SDK's default granularity), per resource: one item per VM.
  const daily = await client.usageAggregates.list(world.day, world.today, { showDetails: true });
  assert.equal(daily.nextLink, undefined);
  assert.equal(daily.length, VMS);
  for (const item of daily) {
    assert.equal(item.usageStartTime.getTime(), world.day.getTime());
    assert.equal(item.usageEndTime.getTime(), world.today.getTime());
    const vm = Number(/vm-(\d+)"/.exec(item.instanceData)[1]);
    let tenths = 0;
    for (let hour = 0; hour < HOURS; hour++) tenths += tenthsOf(vm, hour);
    assert.equal(toTenths(item.quantity), tenths, `vm-${vm}`);
  }
  // Daily without details: one line for the subscription and meter.
  const day = await client.usageAggregates.list(world.day, world.today, { showDetails: false });
  assert.equal(day.length, 1);
  assert.equal(day[0].instanceData, undefined);
  assert.equal(day[0].subscriptionId, world.customerCsp);
  assert.equal(toTenths(day[0].quantity), world.totalTenths);
  // Hourly without details: one line per hour.
  const hours = await client.usageAggregates.list(world.day, world.today,
    { aggregationGranularity: 'Hourly', showDetails: false });
  assert.equal(hours.nextLink, undefined);
  assert.equal(hours.length, HOURS);
  for (const item of hours) {
    const hour = (item.usageStartTime.getTime() - world.day.getTime()) / HOUR;
    let tenths = 0;
    for (let vm = 0; vm < VMS; vm++) tenths += tenthsOf(vm, hour);
    assert.equal(toTenths(item.quantity), tenths, `hour ${hour}`);
  }
});

test('arm-commerce-profile-2020-09-01-hybrid: for await and byPage() follow nextLink through every page', async () => {
  const { client, urls } = hybridClient(adminToken, world.customerCsp);
  const options = { aggregationGranularity: 'Hourly', showDetails: true };
  const items = [];
  for await (const item of client.usageAggregates.list(world.day, world.today, options)) items.push(item);
  assert.equal(items.length, VMS * HOURS);
  assert.equal(checkDetailedHours(items), world.totalTenths);
  assert.equal(urls.length, 2);

  urls.length = 0;
  const pages = [];
  for await (const page of client.usageAggregates.list(world.day, world.today, options).byPage()) pages.push(page);
  assert.equal(pages.length, 2);
  assert.deepEqual(pages.map((p) => p.length), [1000, VMS * HOURS - 1000]);
  // The second request is the server's nextLink, as given.
  const nextLink = getContinuationToken(pages[0]);
  assert.ok(nextLink);
  assert.equal(urls[1], nextLink);
  assert.equal(getContinuationToken(pages[1]), undefined);
  assert.equal(checkDetailedHours(pages.flat()), world.totalTenths);

  // Resuming from the first page's continuation token fetches the rest.
  const rest = [];
  for await (const page of client.usageAggregates.list(world.day, world.today, options)
    .byPage({ continuationToken: nextLink })) rest.push(page);
  assert.equal(rest.length, 1);
  assert.deepEqual(rest[0].map((i) => i.name), pages[1].map((i) => i.name));
});

test('reported time (the SDKs as they are): accepted; the current hour is not in a closed window yet', async () => {
  // Records were reported at or after world.startedAt, hence not before this hour.
  const end = truncateToHour(world.startedAt);
  const start = new Date(end.getTime() - 24 * HOUR);
  const { client, urls } = commerceClient(world.partnerAdminToken, world.customerCsp, { usageTime: false });
  const hourly = await client.usageAggregates.list(start, end, { aggregationGranularity: 'Hourly', showDetails: true });
  assert.doesNotMatch(urls[0], /timeType/);
  assert.equal(hourly.length, 0);
  assert.equal(hourly.nextLink, undefined);
  const daily = await client.usageAggregates.list(world.day, world.today);
  assert.equal(daily.length, 0);

  const hybrid = hybridClient(world.partnerAdminToken, world.customerCsp, { usageTime: false });
  const pages = [];
  for await (const page of hybrid.client.usageAggregates.list(start, end, { aggregationGranularity: 'Hourly' }).byPage()) {
    pages.push(page);
  }
  assert.deepEqual(pages, [[]]);
});

test('Commerce refusals surface as RestError with the product code', async () => {
  const { client } = commerceClient(world.partnerAdminToken, world.customerCsp);
  const future = new Date(truncateToHour(new Date()).getTime() + 2 * HOUR);
  await assert.rejects(
    client.usageAggregates.list(world.day, future, { aggregationGranularity: 'Hourly' }),
    (error) => error.statusCode === 400 && error.code === 'RequestEndTimeIsInFuture',
  );
  // Daily windows fall on midnight UTC.
  await assert.rejects(
    client.usageAggregates.list(new Date(world.day.getTime() + HOUR), world.today),
    (error) => error.statusCode === 400 && error.code === 'InvalidProperty',
  );
  const hybrid = hybridClient(world.partnerAdminToken, world.customerCsp).client;
  await assert.rejects(
    hybrid.usageAggregates.list(new Date(world.day.getTime() + 30 * 60 * 1000), world.today,
      { aggregationGranularity: 'Hourly' }).next(),
    (error) => error.statusCode === 400 && error.code === 'InvalidProperty',
  );
});

test("R8: the customer's own directory gets 403 BillingDataNotVisible through both SDKs", async () => {
  const { client } = commerceClient(world.customerToken, world.customerCsp);
  await assert.rejects(
    client.usageAggregates.list(world.day, world.today, { aggregationGranularity: 'Hourly', showDetails: true }),
    (error) => error.statusCode === 403 && error.code === 'BillingDataNotVisible',
  );
  const hybrid = hybridClient(world.customerToken, world.customerCsp).client;
  await assert.rejects(
    hybrid.usageAggregates.list(world.day, world.today, { aggregationGranularity: 'Hourly' }).next(),
    (error) => error.statusCode === 403 && error.code === 'BillingDataNotVisible',
  );
});

// SPEC §7 RateCard: the CSP list with the partner's override in its place,
// PascalCase, prices as JSON numbers printed exactly; R8 hides it from the
// customer's side.
const IP_METER = 'f271a8a3-88c4-4d93-956a-063e1d2fa80b'; // Static IP Address Usage
const rateCardFilter = (offer, currency = 'USD') =>
  `OfferDurableId eq '${offer}' and Currency eq '${currency}' and Locale eq 'en-US' and RegionInfo eq 'US'`;

test('rateCard.get through both SDKs: list prices, the partner override, exact numbers; R8', async () => {
  await api('PUT', '/v1/priceSheets/offers/CSP/USD/2020-01-01', {
    meters: [
      { meterId: METER, meterRates: { 0: '0.02' } },
      { meterId: IP_METER, meterRates: { 0: '0.005' } },
    ],
  });
  await api('PUT', `/v1/priceSheets/partners/${world.partnerId}/USD/2020-06-01`, {
    meters: [{ meterId: METER, meterRates: { 0: '0.0123456789', 1000: '0.0075' }, includedQuantity: '10' }],
  });
  const expected = [
    { MeterId: IP_METER, MeterRates: { 0: 0.005 }, IncludedQuantity: 0, EffectiveDate: '2020-01-01T00:00:00.000Z' },
    { MeterId: METER, MeterRates: { 0: 0.0123456789, 1000: 0.0075 }, IncludedQuantity: 10, EffectiveDate: '2020-06-01T00:00:00.000Z' },
  ];
  const check = (card) => {
    assert.deepEqual(card.offerTerms ?? card.OfferTerms ?? [], []);
    const meters = (card.meters ?? card.Meters).map((m) => ({
      MeterId: m.meterId.toLowerCase(),
      MeterRates: m.meterRates,
      IncludedQuantity: m.includedQuantity,
      EffectiveDate: new Date(m.effectiveDate).toISOString(),
      name: m.meterName,
    }));
    assert.deepEqual(meters.map(({ name, ...rest }) => rest), expected);
    assert.equal(meters[1].name, 'Base VM Size Hours');
    assert.equal(card.currency, 'USD');
    assert.equal(card.locale, 'en-US');
    assert.equal(card.isTaxIncluded, false);
  };
  const { client } = commerceClient(world.partnerAdminToken, world.customerCsp, { usageTime: false });
  check(await client.rateCard.get(rateCardFilter('MS-AZR-0145P')));
  const hybrid = hybridClient(world.partnerAdminToken, world.customerCsp, { usageTime: false }).client;
  check(await hybrid.rateCard.get(rateCardFilter('MS-AZR-0145P')));

  // The digits on the wire are the sheet's own (APSS is priced from the CSP
  // list, and the partner's override applies to its own subscription too).
  const response = await fetch(
    `${endpoint}/subscriptions/${world.apss}/providers/Microsoft.Commerce/RateCard?api-version=2015-06-01-preview` +
      `&$filter=${encodeURIComponent(rateCardFilter('MS-AZR-0145P'))}`,
    { headers: { authorization: `Bearer ${adminToken}` } },
  );
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.ok(text.includes('"MeterRates":{"0":0.0123456789,"1000":0.0075}'), text);
  assert.ok(text.includes('"IncludedQuantity":10,'), text);

  await assert.rejects(
    commerceClient(world.customerToken, world.customerCsp, { usageTime: false }).client.rateCard.get(
      rateCardFilter('MS-AZR-0145P')),
    (error) => error.statusCode === 403 && error.code === 'BillingDataNotVisible',
  );
  await assert.rejects(
    hybrid.rateCard.get("OfferDurableId eq 'MS-AZR-0145P' and Currency eq 'USD'"),
    (error) => error.statusCode === 400 && error.code === 'InvalidFilter',
  );
});
