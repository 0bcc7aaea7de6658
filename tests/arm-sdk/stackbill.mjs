// What the conformance tests share: the server run.sh started (endpoint and a
// PlatformAdmin token from the environment), its /v1 API over fetch, a
// TokenCredential (@azure/core-auth) that hands an SDK a stackbill token, and
// registration tokens (SPEC §3.1).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

export const endpoint = process.env.STACKBILL_ENDPOINT;
export const adminToken = process.env.STACKBILL_TOKEN;
assert.ok(endpoint && adminToken, 'STACKBILL_ENDPOINT and STACKBILL_TOKEN are required');

// One /v1 call; a 4xx/5xx answer throws with its body.
export async function call(method, path, body, { token = adminToken, contentType = 'application/json' } = {}) {
  const response = await fetch(endpoint + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (response.status >= 400) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
  return json;
}
export const api = (method, path, body, token) => call(method, path, body, { token });

export const credential = (token) => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600 * 1000 }),
});

export const registrationToken = (fields) =>
  Buffer.from(JSON.stringify({ objectId: randomUUID(), issuer: 'stackbill-test', version: '1', ...fields }))
    .toString('base64');
