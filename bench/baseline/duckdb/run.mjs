// bench/baseline/duckdb/run.mjs DATA_DIR REF_DIR — the DuckDB baseline of
// bench/run (issue 8), run by bench/baseline/duckdb.sh (which documents it).
// For reference only: an in-memory database, so nothing is durable, and the
// load is not comparable with a durable store's.
//
// The same phases as sqlite.sh and postgresql.sh: load (per NDJSON file: the raw
// lines into a staging table, then INSERT … ON CONFLICT DO NOTHING into a
// table keyed on the natural identity), resend, route, aggregate, price.
//
// Quantities: DuckDB's JSON reader turns a JSON number into a DOUBLE before
// anything else sees it — `read_ndjson(…, columns={quantity:'VARCHAR'})` hands
// back the double re-printed ("2.0000000000" -> "2.0",
// "12345678901234.1234567891" -> "12345678901234.123"), so it is not used. The
// lines are read as text (read_csv with a delimiter and quote that JSON cannot
// hold), the record's other fields parsed once with json_transform, and the
// quantity's own digits taken from the line with a regular expression, cast
// to DECIMAL(38,10), and checked against the parsed number (a mismatch — e.g.
// a nested "quantity" key matched first — fails the run). Money in DECIMAL
// (exact), rounded HALF-EVEN on integers of minor units.
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const engine = 'duckdb';
const log = (message) => process.stderr.write(`${engine}: ${message}\n`);
const die = (message) => {
  log(`error: ${message}`);
  process.exit(1);
};

if (process.argv.length !== 4) {
  process.stderr.write('usage: run.mjs DATA_DIR REF_DIR\n');
  process.exit(2);
}
const dataDir = resolve(process.argv[2]);
const refDir = resolve(process.argv[3]);
const period = process.env.PERIOD ?? '2026-11';
if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) die(`PERIOD must be YYYY-MM, not '${period}'`);
const [year, month] = period.split('-').map(Number);
const periodStart = Date.UTC(year, month - 1, 1) / 1000;
const periodEnd = Date.UTC(year, month, 1) / 1000;

const normalGuid = (text) => {
  const h = text.replace(/[{}\-\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(h)) return null;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const sq = (text) => `'${text.replaceAll("'", "''")}'`;

// The stacks and their files, as common.sh finds them.
const files = [];
let stacks = 0;
for (const name of readdirSync(dataDir).sort()) {
  const dir = join(dataDir, name);
  if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'cloud-id'))) continue;
  const cloud = normalGuid(readFileSync(join(dir, 'cloud-id'), 'utf8').split('\n')[0]);
  if (cloud === null) die(`${dir}/cloud-id: not a GUID`);
  stacks++;
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.ndjson')) files.push({ path: join(dir, file), cloud });
  }
}
if (stacks === 0) die(`no stack folders (with a cloud-id file) in ${dataDir}`);
if (files.length === 0) die(`no *.ndjson files under ${dataDir}`);

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const run = (sql) => db.run(sql);
const rows = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJson();
const scalar = async (sql) => Object.values((await rows(sql))[0])[0];
const timed = async (phase, body) => {
  log(phase);
  const t0 = performance.now();
  await body();
  return (performance.now() - t0) / 1000;
};

// --- Schema and reference data (untimed) -----------------------------------
await run("SET TimeZone = 'UTC'");
await run(`CREATE TABLE usage_records (
  cloud_id UUID NOT NULL, usage_start TIMESTAMPTZ NOT NULL, subscription_id UUID NOT NULL,
  meter_id UUID NOT NULL, resource_uri VARCHAR NOT NULL, usage_end TIMESTAMPTZ NOT NULL,
  tenant_id UUID, quantity DECIMAL(38,10) NOT NULL, instance_data VARCHAR NOT NULL,
  PRIMARY KEY (cloud_id, usage_start, subscription_id, meter_id, resource_uri, usage_end))`);
const reference = {
  subscribers: { cloud_id: 'UUID', local_subscription_id: 'UUID', tenant_id: 'UUID', valid_from: 'BIGINT', valid_to: 'BIGINT' },
  registrations: { registration_key: 'VARCHAR', cloud_id: 'UUID', default_subscription_id: 'UUID', billing_model: 'VARCHAR', multi_tenant: 'INTEGER', valid_from: 'BIGINT', valid_to: 'BIGINT' },
  customer_subscriptions: { registration_key: 'VARCHAR', cloud_id: 'UUID', tenant_id: 'UUID', customer_subscription_id: 'UUID', valid_from: 'BIGINT', valid_to: 'BIGINT' },
  subscriptions: { subscription_id: 'UUID', offer_type: 'VARCHAR', partner_id: 'VARCHAR', billing_currency: 'VARCHAR' },
  subscription_owners: { subscription_id: 'UUID', partner_id: 'VARCHAR', valid_from: 'BIGINT', valid_to: 'BIGINT' },
  partner_parents: { partner_id: 'VARCHAR', parent_partner_id: 'VARCHAR', valid_from: 'BIGINT', valid_to: 'BIGINT' },
  partners: { partner_id: 'VARCHAR', billing_currency: 'VARCHAR' },
  prices: { owner_kind: 'VARCHAR', owner_id: 'VARCHAR', currency: 'VARCHAR', effective_from: 'BIGINT', meter_id: 'UUID', included_quantity: 'DECIMAL(38,10)', tier_start: 'DECIMAL(38,10)', unit_price: 'DECIMAL(38,10)' },
  currencies: { code: 'VARCHAR', minor_units: 'INTEGER' },
};
for (const [table, columns] of Object.entries(reference)) {
  const path = join(refDir, `${table}.csv`);
  if (!existsSync(path)) die(`${path} is missing (bench/baseline/reference.sh makes it)`);
  const spec = Object.entries(columns).map(([k, v]) => `${sq(k)}: ${sq(v)}`).join(', ');
  // "" is an empty string in the export, never NULL: nullif below.
  await run(`CREATE TABLE ${table} AS SELECT * FROM read_csv(${sq(path)}, header = true,
               columns = {${spec}}, auto_detect = false, allow_quoted_nulls = false)`);
}

// Non-empty lines, counted on the bytes (untimed).
let records = 0;
for (const { path } of files) {
  const bytes = readFileSync(path);
  let start = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, start)) {
    if (at > start) records++;
    start = at + 1;
  }
  if (start < bytes.length) records++;
}
log(`${files.length} NDJSON files of ${stacks} stack(s), ${records} records; in memory`);

// --- Load ---------------------------------------------------------------------
await run('CREATE TABLE staging_raw (line VARCHAR)');
const quantityPattern = '"quantity"\\s*:\\s*(-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?)';
const fields = JSON.stringify({
  subscriptionId: 'VARCHAR', meterId: 'VARCHAR', tenantId: 'VARCHAR', quantity: 'DOUBLE',
  usageStartTime: 'VARCHAR', usageEndTime: 'VARCHAR', instanceData: 'VARCHAR',
});
const loadAll = async () => {
  for (const { path, cloud } of files) {
    await run('BEGIN');
    await run('DELETE FROM staging_raw');
    await run(`INSERT INTO staging_raw SELECT line FROM read_csv(${sq(path)},
                 columns = {'line': 'VARCHAR'}, header = false, delim = chr(1), quote = '',
                 escape = '', auto_detect = false) WHERE line <> ''`);
    await run(`CREATE OR REPLACE TEMP TABLE staging AS
      SELECT r.*, regexp_extract(line, ${sq(quantityPattern)}, 1) AS quantity_text
      FROM (SELECT line, json_transform(line, ${sq(fields)}) AS r FROM staging_raw)`);
    const bad = await scalar(`SELECT count(*) FROM staging
      WHERE quantity_text = '' OR CAST(quantity_text AS DOUBLE) IS DISTINCT FROM quantity`);
    if (Number(bad) !== 0) die(`${path}: ${bad} records whose quantity could not be read exactly`);
    await run(`INSERT INTO usage_records
      SELECT ${sq(cloud)}::UUID, usageStartTime::TIMESTAMPTZ, subscriptionId::UUID, meterId::UUID,
             coalesce(json_extract_string(instanceData, '$."Microsoft.Resources".resourceUri'), ''),
             usageEndTime::TIMESTAMPTZ, tenantId::UUID, quantity_text::DECIMAL(38,10), instanceData
      FROM staging
      ON CONFLICT DO NOTHING`);
    await run('COMMIT');
  }
};
const count = async (table) => Number(await scalar(`SELECT count(*) FROM ${table}`));

const load_s = await timed('load', loadAll);
const stored = await count('usage_records');
log(`load: ${load_s.toFixed(3)} s, ${stored} rows stored`);
const resend_s = await timed('resend (every record a duplicate)', loadAll);
const again = await count('usage_records');
if (again !== stored) die(`the resend changed usage_records: ${stored} rows before, ${again} after`);
log(`resend: ${resend_s.toFixed(3)} s, still ${again} rows`);

// --- Route ----------------------------------------------------------------------
const route_s = await timed('route', () => run(`
CREATE TABLE routed AS
WITH tenant AS (  -- the record's tenant, else the stack subscriber's in force
  SELECT u.cloud_id, u.usage_start, u.meter_id, u.quantity,
         coalesce(u.tenant_id, s.tenant_id) AS tenant_id
  FROM usage_records u
  LEFT JOIN subscribers s
    ON s.cloud_id = u.cloud_id AND s.local_subscription_id = u.subscription_id
   AND to_timestamp(s.valid_from) <= u.usage_start AND u.usage_start < to_timestamp(s.valid_to)),
registration AS (  -- R5: the key that finds customer subscriptions, NULL when not allowed
  SELECT r.*,
         CASE WHEN r.multi_tenant = 1 AND r.billing_model <> 'Capacity'
                   AND d.offer_type IN ('CSP', 'APSS')
              THEN r.registration_key END AS customers_key
  FROM registrations r JOIN subscriptions d ON d.subscription_id = r.default_subscription_id)
SELECT t.usage_start,
       coalesce(c.customer_subscription_id, r.default_subscription_id)  -- R4, R7
         AS billed_subscription_id,
       t.meter_id,
       r.billing_model IN ('Development', 'Ruggedized') AS zero_rated,  -- R9
       t.quantity
FROM tenant t
JOIN registration r
  ON r.cloud_id = t.cloud_id
 AND to_timestamp(r.valid_from) <= t.usage_start AND t.usage_start < to_timestamp(r.valid_to)
LEFT JOIN customer_subscriptions c
  ON c.registration_key = r.customers_key AND c.tenant_id = t.tenant_id
 AND to_timestamp(c.valid_from) <= t.usage_start AND t.usage_start < to_timestamp(c.valid_to)`));
const routed = await count('routed');
log(`route: ${route_s.toFixed(3)} s, ${routed} records routed`);
if (routed > stored) die(`routing matched ${routed - stored} records twice: overlapping versions in the reference data`);
if (routed < stored) log(`warning: ${stored - routed} records have no registration in force`);

// --- Aggregate ----------------------------------------------------------------
const aggregate_s = await timed('aggregate', () => run(`
CREATE TABLE month_usage AS
SELECT billed_subscription_id, meter_id, zero_rated, sum(quantity) AS total
FROM routed
WHERE usage_start >= to_timestamp(${periodStart}) AND usage_start < to_timestamp(${periodEnd})
GROUP BY billed_subscription_id, meter_id, zero_rated`));
log(`aggregate: ${aggregate_s.toFixed(3)} s, ${await count('month_usage')} keys`);

// --- Price ----------------------------------------------------------------------
const ps = periodStart;
let invoices;
const price_s = await timed('price', async () => {
  await run(`
CREATE TABLE invoice_lines AS
WITH RECURSIVE
owner AS (  -- the owner partner as of the period start (HistoryView::OwnerPartnerAt)
  SELECT s.subscription_id, s.offer_type, nullif(s.billing_currency, '') AS currency,
         s.offer_type IN ('PayAsYouGo', 'EnterpriseAgreement', 'DevTest') AS direct,
         nullif(coalesce((SELECT coalesce(o.partner_id, '') FROM subscription_owners o
                          WHERE o.subscription_id = s.subscription_id
                            AND o.valid_from <= ${ps} AND ${ps} < o.valid_to
                          ORDER BY o.valid_from DESC LIMIT 1), s.partner_id), '') AS partner_id
  FROM subscriptions s
  WHERE s.subscription_id IN (SELECT billed_subscription_id FROM month_usage)),
chain (subscription_id, partner_id, depth) AS (  -- R8: the roll-up chain
  SELECT subscription_id, partner_id, 0 FROM owner WHERE NOT direct AND partner_id IS NOT NULL
  UNION ALL
  SELECT c.subscription_id, nullif(p.parent_partner_id, ''), c.depth + 1
  FROM chain c JOIN partner_parents p
    ON p.partner_id = c.partner_id AND p.valid_from <= ${ps} AND ${ps} < p.valid_to
  WHERE c.depth < 64 AND nullif(p.parent_partner_id, '') IS NOT NULL),
top AS (
  SELECT DISTINCT ON (subscription_id) subscription_id, partner_id FROM chain
  ORDER BY subscription_id, depth DESC),
bill AS (
  SELECT o.subscription_id,
         CASE WHEN o.direct THEN 'subscription:' || o.subscription_id
              ELSE 'partner:' || t.partner_id END AS bill_to,
         CASE WHEN o.direct THEN NULL ELSE t.partner_id END AS bill_partner,
         CASE WHEN o.direct THEN o.currency ELSE p.billing_currency END AS currency,
         CASE o.offer_type WHEN 'APSS' THEN 'CSP' ELSE o.offer_type END AS priced_as
  FROM owner o LEFT JOIN top t USING (subscription_id)
  LEFT JOIN partners p ON p.partner_id = t.partner_id),
in_force AS (  -- per (owner, currency), the version in force at the period start
  SELECT f.* FROM prices f
  JOIN (SELECT owner_kind, owner_id, currency, max(effective_from) AS effective_from FROM prices
        WHERE effective_from <= ${ps} GROUP BY owner_kind, owner_id, currency) v
  USING (owner_kind, owner_id, currency, effective_from)),
line AS MATERIALIZED (
  SELECT row_number() OVER (ORDER BY m.billed_subscription_id, m.meter_id, m.zero_rated)
           AS line_id,
         m.billed_subscription_id, m.meter_id, m.zero_rated,
         m.total, b.bill_to, b.currency,
         CASE WHEN m.zero_rated THEN NULL
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'partner' AND f.owner_id = b.bill_partner
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN 'partner'
              WHEN EXISTS (SELECT 1 FROM in_force f
                           WHERE f.owner_kind = 'offer' AND f.owner_id = b.priced_as
                             AND f.currency = b.currency AND f.meter_id = m.meter_id)
                THEN 'offer' END AS price_kind,
         b.bill_partner, b.priced_as
  FROM month_usage m JOIN bill b ON b.subscription_id = m.billed_subscription_id
  WHERE m.total <> 0),  -- a zero total makes no line
tier AS (
  SELECT l.line_id, f.tier_start, f.unit_price,
         lead(f.tier_start) OVER (PARTITION BY l.line_id ORDER BY f.tier_start) AS next_start,
         greatest(l.total - f.included_quantity, 0) AS billable
  FROM line l JOIN in_force f
    ON f.owner_kind = l.price_kind
   AND f.owner_id = CASE l.price_kind WHEN 'partner' THEN l.bill_partner ELSE l.priced_as END
   AND f.currency = l.currency AND f.meter_id = l.meter_id),
tier_amount AS (  -- the tier's part of [0, billable): [start, min(billable, next start))
  SELECT line_id,
         greatest(coalesce(least(billable, next_start), billable) - tier_start, 0) * unit_price
           AS amount
  FROM tier),
exact AS (
  SELECT l.line_id, l.bill_to, l.currency, l.zero_rated, l.price_kind IS NULL AS unpriced,
         coalesce(a.amount, 0) AS amount, c.minor_units AS m,
         CASE c.minor_units WHEN 0 THEN 1 WHEN 1 THEN 10 WHEN 2 THEN 100 WHEN 3 THEN 1000
           END::HUGEINT AS unit
  FROM line l JOIN currencies c ON c.code = l.currency
  LEFT JOIN (SELECT line_id, sum(amount) AS amount FROM tier_amount GROUP BY line_id) a
    ON a.line_id = l.line_id),
minor AS (  -- the amount in minor units, exact, split at the rounding digit
  SELECT *, amount * unit::DECIMAL(38,0) AS units FROM exact),
split AS (
  SELECT *, floor(units) AS kept, units - floor(units) AS dropped FROM minor)
SELECT line_id, bill_to, currency, zero_rated, unpriced, amount AS exact_amount, m, unit,
       -- RoundHalfEven (amounts are >= 0)
       CAST(kept AS HUGEINT) + CASE WHEN dropped > 0.5 OR (dropped = 0.5 AND CAST(kept AS HUGEINT) % 2 = 1)
                                    THEN 1 ELSE 0 END AS amount_minor
FROM split`);
  invoices = await rows(`
SELECT bill_to AS "billTo", currency, count(*)::INTEGER AS lines,
       CAST(sum(amount_minor) // any_value(unit) AS VARCHAR)
       || CASE WHEN any_value(m) > 0
               THEN '.' || lpad(CAST(sum(amount_minor) % any_value(unit) AS VARCHAR), any_value(m), '0')
               ELSE '' END AS total
FROM invoice_lines GROUP BY bill_to, currency ORDER BY bill_to, currency`);
});
const unpriced = Number(await scalar('SELECT count(*) FROM invoice_lines WHERE unpriced AND NOT zero_rated'));
if (unpriced !== 0) log(`warning: ${unpriced} lines have no price (billed as 0, as --allow-unpriced)`);
log(`price: ${price_s.toFixed(3)} s, ${await count('invoice_lines')} lines`);

const round3 = (s) => Number(s.toFixed(3));
process.stdout.write(`${JSON.stringify({
  engine, period, records, stored,
  load_s: round3(load_s), resend_s: round3(resend_s), route_s: round3(route_s),
  aggregate_s: round3(aggregate_s), price_s: round3(price_s),
  total_s: round3(load_s + route_s + aggregate_s + price_s),
  invoices,
})}\n`);
