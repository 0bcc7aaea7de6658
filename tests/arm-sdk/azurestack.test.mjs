// Conformance: the official @azure/arm-azurestack client (npm) against a real
// `stackbill serve` over HTTPS, with a TokenCredential that returns a
// stackbill token. run.sh starts the server and passes its endpoint, the CA
// file (NODE_EXTRA_CA_CERTS) and a PlatformAdmin token in the environment.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AzureStackManagementClient } from '@azure/arm-azurestack';
import { adminToken, api, credential, endpoint, registrationToken } from './stackbill.mjs';

const world = {};

before(async () => {
  world.partnerId = `csp-${randomUUID().slice(0, 8)}`;
  await api('POST', '/v1/partners', {
    id: world.partnerId, name: 'Contoso CSP', kind: 'direct', billingCurrency: 'USD',
  });
  // The registering account lives in another directory than the stack's
  // deployment directory (R2): nothing may require them to match.
  world.sharedDirectory = (await api('POST', '/v1/directories', {
    displayName: 'IUR Contoso CSP', domains: [`iur-${world.partnerId}.onmicrosoft.com`], ownerPartnerId: world.partnerId,
  })).id;
  world.deploymentDirectory = randomUUID();
  world.apss = (await api('POST', '/v1/subscriptions', {
    offerType: 'APSS', directoryId: world.sharedDirectory, partnerId: world.partnerId, displayName: 'shared services',
  })).subscriptionId;
  const owner = await api('POST', '/v1/principals', {
    directoryId: world.sharedDirectory, name: `registrar@iur-${world.partnerId}.onmicrosoft.com`, kind: 'user',
  });
  await api('PUT', `/v1/roleAssignments/${randomUUID()}`, {
    principalId: owner.objectId, role: 'Owner', scope: `/subscriptions/${world.apss}`,
  });
  world.ownerToken = (await api('POST', `/v1/principals/${owner.objectId}/tokens`, { expiresInHours: 2 })).token;

  world.customerDirectory = (await api('POST', '/v1/directories', {
    displayName: 'Fabrikam', domains: [`fabrikam-${world.partnerId}.onmicrosoft.com`],
  })).id;
  world.customerCsp = (await api('POST', '/v1/subscriptions', {
    offerType: 'CSP', directoryId: world.customerDirectory, partnerId: world.partnerId, displayName: 'Fabrikam CSP',
  })).subscriptionId;
  world.customerPayg = (await api('POST', '/v1/subscriptions', {
    offerType: 'PayAsYouGo', directoryId: world.customerDirectory, billingCurrency: 'USD', displayName: 'Fabrikam PAYG',
  })).subscriptionId;
  world.cloudId = randomUUID();
  world.client = new AzureStackManagementClient(credential(world.ownerToken), world.apss, { baseUri: endpoint });
});

test('registrations: create, get, list, update, activation key, delete', async () => {
  const { client } = world;
  const token = registrationToken({
    cloudId: world.cloudId, billingModel: 'PayAsYouUse', multiTenant: true,
    deploymentDirectoryId: world.deploymentDirectory,
  });
  const created = await client.registrations.createOrUpdate('rg-stack1', 'stack1', {
    location: 'global', registrationToken: token,
  });
  assert.equal(created.name, 'stack1');
  assert.equal(created.type, 'Microsoft.AzureStack/registrations');
  assert.equal(created.cloudId, world.cloudId);
  assert.equal(created.billingModel, 'PayAsYouUse');
  assert.match(created.id, new RegExp(`/subscriptions/${world.apss}/resourceGroups/rg-stack1/providers/Microsoft.AzureStack/registrations/stack1$`, 'i'));

  const got = await client.registrations.get('rg-stack1', 'stack1');
  assert.equal(got.cloudId, world.cloudId);
  const listed = await client.registrations.list('rg-stack1');
  assert.ok(listed.some((r) => r.name === 'stack1'));

  const updated = await client.registrations.update('rg-stack1', 'stack1', { location: 'global', registrationToken: token });
  assert.equal(updated.cloudId, world.cloudId);

  const key = await client.registrations.getActivationKey('rg-stack1', 'stack1');
  assert.ok(key.activationKey && key.activationKey.length >= 32);
});

test('customerSubscriptions: create, get, list, delete', async () => {
  const { client } = world;
  const created = await client.customerSubscriptions.create('rg-stack1', 'stack1', world.customerCsp, {
    tenantId: world.customerDirectory,
  });
  // ARM names a child resource by its path below the parent, as in the spec's example.
  assert.equal(created.name, `stack1/${world.customerCsp}`);
  assert.equal(created.tenantId, world.customerDirectory);
  const got = await client.customerSubscriptions.get('rg-stack1', 'stack1', world.customerCsp);
  assert.equal(got.tenantId, world.customerDirectory);
  const listed = await client.customerSubscriptions.list('rg-stack1', 'stack1');
  assert.ok(listed.some((c) => c.name === `stack1/${world.customerCsp}`));
  await client.customerSubscriptions.deleteMethod('rg-stack1', 'stack1', world.customerCsp);
  const after = await client.customerSubscriptions.list('rg-stack1', 'stack1');
  assert.ok(!after.some((c) => c.name === `stack1/${world.customerCsp}`));
});

test('ARM errors surface as RestError with the product code', async () => {
  const { client } = world;
  await assert.rejects(
    client.customerSubscriptions.create('rg-stack1', 'stack1', world.customerPayg, { tenantId: world.customerDirectory }),
    (error) => error.statusCode === 400 && error.code === 'InvalidCSPSubscription',
  );
  await assert.rejects(
    client.registrations.createOrUpdate('rg-other', 'stack1-again', {
      location: 'global',
      registrationToken: registrationToken({ cloudId: world.cloudId, billingModel: 'PayAsYouUse' }),
    }),
    (error) => error.statusCode === 409 && error.code === 'CloudAlreadyRegistered',
  );
  await assert.rejects(
    client.registrations.createOrUpdate('rg-dev', 'dev-stack', {
      location: 'global',
      registrationToken: registrationToken({ cloudId: randomUUID(), billingModel: 'Development' }),
    }),
    (error) => error.statusCode === 403 && error.code === 'BillingModelNotApproved',
  );
});

// The seed's refusals and re-mapping, each with SPEC's exact code, through the SDK.
test('the seed: refusals with their codes, re-mapping and paging with nextLink', async () => {
  const { client } = world;
  const adminClient = (subscription) =>
    new AzureStackManagementClient(credential(adminToken), subscription, { baseUri: endpoint });
  const directory = async (name) => (await api('POST', '/v1/directories', {
    displayName: name, domains: [`${name}-${world.partnerId}.onmicrosoft.com`],
  })).id;
  const csp = async (dir, partnerId = world.partnerId) => (await api('POST', '/v1/subscriptions', {
    offerType: 'CSP', directoryId: dir, partnerId, displayName: `csp in ${dir}`,
  })).subscriptionId;
  const rejects = (promise, status, code) =>
    assert.rejects(promise, (error) => error.statusCode === status && error.code === code);

  const token = registrationToken({ cloudId: randomUUID(), billingModel: 'PayAsYouUse', multiTenant: true });
  await client.registrations.createOrUpdate('rg-seed', 'seed', { location: 'global', registrationToken: token });

  // R6: someone else's customer, a tenant that is not the subscription's directory.
  const otherPartner = `other-${randomUUID().slice(0, 8)}`;
  await api('POST', '/v1/partners', { id: otherPartner, name: 'Other', kind: 'direct', billingCurrency: 'USD' });
  const strangerDir = await directory('stranger');
  const strangerCsp = await csp(strangerDir, otherPartner);
  await rejects(client.customerSubscriptions.create('rg-seed', 'seed', strangerCsp, { tenantId: strangerDir }),
    403, 'BadCustomerSubscriptionId');
  await rejects(client.customerSubscriptions.create('rg-seed', 'seed', world.customerCsp, { tenantId: strangerDir }),
    400, 'TenantMismatch');

  // R5: a PayAsYouGo default subscription, and a Capacity registration, take no customers.
  const payg = adminClient(world.customerPayg);
  await payg.registrations.createOrUpdate('rg-payg', 'payg', {
    location: 'global', registrationToken: registrationToken({ cloudId: randomUUID(), billingModel: 'PayAsYouUse', multiTenant: true }),
  });
  await rejects(payg.customerSubscriptions.create('rg-payg', 'payg', world.customerCsp, { tenantId: world.customerDirectory }),
    409, 'UnauthorizedCspRegistration');
  const capacityCloud = randomUUID();
  await api('PUT', `/v1/stacks/${capacityCloud}/approval`, { billingModel: 'Capacity', agreementNumber: 'EA-1' });
  await client.registrations.createOrUpdate('rg-capacity', 'capacity', {
    location: 'global',
    registrationToken: registrationToken({ cloudId: capacityCloud, billingModel: 'Capacity', agreementNumber: 'EA-1', multiTenant: true }),
  });
  await rejects(client.customerSubscriptions.create('rg-capacity', 'capacity', world.customerCsp, { tenantId: world.customerDirectory }),
    409, 'CustomerSubscriptionsNotAllowed');

  // R6: a second PUT for a tenant already mapped replaces the earlier mapping.
  const secondCsp = await csp(world.customerDirectory);
  await client.customerSubscriptions.create('rg-seed', 'seed', world.customerCsp, { tenantId: world.customerDirectory });
  await client.customerSubscriptions.create('rg-seed', 'seed', secondCsp, { tenantId: world.customerDirectory });
  const mapped = (await client.customerSubscriptions.list('rg-seed', 'seed')).map((c) => c.name);
  assert.deepEqual(mapped, [`seed/${secondCsp}`]);

  // Paging: the server runs with --page-size 2; the SDK follows the absolute nextLink.
  for (const name of ['tenant-a', 'tenant-b']) {
    const dir = await directory(name);
    await client.customerSubscriptions.create('rg-seed', 'seed', await csp(dir), { tenantId: dir });
  }
  const first = await client.customerSubscriptions.list('rg-seed', 'seed');
  assert.equal(first.length, 2);
  // Absolute, built from the server's public URL (not from the request's Host).
  const next = new URL(first.nextLink);
  assert.equal(next.protocol, 'https:');
  assert.ok(next.pathname.startsWith(`/subscriptions/${world.apss}/`), first.nextLink);
  const rest = await client.customerSubscriptions.listNext(first.nextLink);
  assert.equal(rest.length, 1);
  assert.equal(rest.nextLink, undefined);
  const all = [...first, ...rest].map((c) => c.name).sort();
  assert.equal(new Set(all).size, 3);

  await client.registrations.deleteMethod('rg-seed', 'seed');
});

test('registrations: delete', async () => {
  const { client } = world;
  await client.registrations.deleteMethod('rg-stack1', 'stack1');
  await assert.rejects(client.registrations.get('rg-stack1', 'stack1'), (error) => error.statusCode === 404);
});
