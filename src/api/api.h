#pragma once

// The HTTP API of `stackbill serve`: each Add*Routes adds one area's routes to
// the router. Handlers parse and validate the request (JSON with duplicate
// keys refused, GUIDs in any form, api-version for ARM routes), call the
// services, and answer ARM-shaped JSON; errors are statuses that the router
// turns into the ARM envelope.

#include <memory>

#include "absl/status/status.h"
#include "http/router.h"
#include "services/billing_service.h"
#include "services/ingest_service.h"
#include "services/registration_service.h"
#include "store/store.h"

namespace stackbill {

struct ApiOptions {
  // Activation-key grace period and registration drain window (SPEC §3).
  RegistrationServiceOptions registrations = {};
  // Items per page of ARM and /v1 lists before a nextLink.
  int page_size = 100;
  // Usage ingestion (SPEC §4): limits, skew, retention, quarantine quota.
  IngestOptions ingest = {};
  // The largest usage request body (SPEC §4: 64 MiB); more is 413.
  std::size_t max_usage_body_bytes = std::size_t{64} * 1024 * 1024;
  // Billing periods' automatic close (SPEC §5).
  BillingOptions billing = {};
};

// SPEC §6.1 identity and parties: /v1/directories, /v1/principals,
// /v1/principals/{objectId}/tokens, /v1/tokens/{id}, /v1/partners,
// /v1/subscriptions, /v1/roleAssignments/{id}, /v1/audit.
absl::Status AddManagementRoutes(Router& router, Store& store, const ApiOptions& options);

// SPEC §3 Microsoft.AzureStack: registrations, getactivationkey,
// customerSubscriptions (api-versions 2017-06-01 and 2022-06-01).
absl::Status AddAzureStackRoutes(Router& router, Store& store, const ApiOptions& options);
absl::Status AddAzureStackRoutes(Router& router,
                                 const std::shared_ptr<RegistrationService>& service,
                                 const ApiOptions& options);

// SPEC §6.1 stacks: /v1/stacks, /v1/stacks/{cloudId}, approval, claim,
// subscribers.
absl::Status AddStackRoutes(Router& router, Store& store, const ApiOptions& options);
absl::Status AddStackRoutes(Router& router, const std::shared_ptr<RegistrationService>& service,
                            const ApiOptions& options);

// SPEC §4 usage: POST /v1/stacks/{cloudId}/usage (activation key),
// POST /v1/stacks/{cloudId}/usage/supersede, GET /v1/quarantine,
// POST /v1/quarantine/replay, GET and POST /v1/meters.
absl::Status AddUsageRoutes(Router& router, Store& store,
                            const std::shared_ptr<IngestService>& service,
                            const ApiOptions& options);

// SPEC §7 usage queries: Microsoft.Commerce UsageAggregates
// (2015-06-01-preview) and GET /v1/usage, over the store's rollups. Reads (or
// sets, the first time) the store's continuation-token key.
absl::Status AddUsageQueryRoutes(Router& router, Store& store);

// SPEC §5 billing: /v1/priceSheets, /v1/billingPeriods (and close),
// /v1/adjustments, /v1/invoices (JSON, ?format=csv), /v1/invoices/estimate.
absl::Status AddBillingRoutes(Router& router, const std::shared_ptr<BillingService>& billing);

// All of the above. The registration and stack routes share one
// RegistrationService, so one process serialises their check-then-write
// mutations with one mutex.
absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options);
// The same with the caller's IngestService (`serve` also runs its re-route
// pass).
absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options,
                          const std::shared_ptr<IngestService>& ingest);
// … and the caller's BillingService (`serve` also runs its automatic close).
absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options,
                          const std::shared_ptr<IngestService>& ingest,
                          const std::shared_ptr<BillingService>& billing);

}  // namespace stackbill
