#!/usr/bin/env bash
# bench/big_world.sh CUSTOMERS > world.json
#
# A world file (docs/WORLD.md) with one direct CSP partner, one multi-tenant
# PayAsYouUse stack and CUSTOMERS customers, each with its own directory, a
# CSP subscription registered on the stack from the start of November 2026,
# and a stack-local subscription: `stackbill simulate --vms N` then gives
# every customer N VMs, except customer 0, which has BIG_VMS (default 50): 151
# resources and about 240 (resource, meter) pairs a day, the subscription the
# query benchmark pages through. IDLE=K (default 0) gives the last K
# customers no VMs, only their storage account (about 1,400 records a month
# instead of about 3,400): the close benchmark's ~5,000 subscriptions in ~11M
# records is `IDLE=3000 bench/big_world.sh 5000`. The CSP list prices are the demo world's
# (bench/close_bench.sh closes the month). For the benchmark at scale (docs/PERFORMANCE.md):
# bench/big_world.sh 2700 > /tmp/big.json && WORLD=/tmp/big.json bench/query_bench.sh 1
set -euo pipefail
customers=${1:?usage: big_world.sh CUSTOMERS}
here=$(cd "$(dirname "$0")/.." && pwd)
jq -n --argjson n "$customers" --argjson big "${BIG_VMS:-50}" --argjson idle "${IDLE:-0}" \
  --argjson prices "$(jq '[.priceSheets[] | select(.offerType == "CSP")]' "$here/data/worlds/demo.json")" '
  [range(0; $n)] as $c |
  {
    world: "big-\($n)",
    description: "\($n) customers of one CSP on one stack (bench/big_world.sh)",
    partners: [{id: "bigcsp", name: "Big CSP", kind: "direct", billingCurrency: "USD"}],
    directories: ([
      {displayName: "Big CSP", domains: ["bigcsp.onmicrosoft.com"], ownerPartner: "bigcsp"},
      {displayName: "IUR Big CSP", domains: ["iurbigcsp.onmicrosoft.com"], ownerPartner: "bigcsp"}
    ] + [$c[] | {displayName: "Customer \(.)", domains: ["customer\(.).onmicrosoft.com"]}]),
    subscriptions: ([
      {displayName: "Big CSP shared services", offerType: "APSS",
       directory: "iurbigcsp.onmicrosoft.com", partner: "bigcsp"}
    ] + [$c[] | {displayName: "Customer \(.) CSP", offerType: "CSP",
                 directory: "customer\(.).onmicrosoft.com", partner: "bigcsp"}]),
    principals: [
      {name: "registrar@iurbigcsp.onmicrosoft.com", directory: "iurbigcsp.onmicrosoft.com",
       roles: [{role: "Owner", subscription: "Big CSP shared services"}]}
    ],
    stacks: [
      {name: "bigstack", deploymentDirectory: "bigcsp.onmicrosoft.com",
       billingModel: "PayAsYouUse", multiTenant: true,
       subscribers: [$c[] | {name: "customer\(.)", tenant: "customer\(.).onmicrosoft.com"}
                            + (if . == 0 then {vms: $big}
                               elif . >= $n - $idle then {vms: 0} else {} end)]}
    ],
    registrations: [
      {name: "bigstack", resourceGroup: "azurestack", stack: "bigstack",
       subscription: "Big CSP shared services",
       registeredBy: "registrar@iurbigcsp.onmicrosoft.com",
       customerSubscriptions: [$c[] | {subscription: "Customer \(.) CSP",
                                       effectiveFrom: "2026-11-01T00:00:00Z"}]}
    ],
    priceSheets: $prices
  }'
