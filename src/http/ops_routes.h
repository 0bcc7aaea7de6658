#pragma once

// The operations routes of `stackbill serve` (SPEC §8):
//   GET /healthz  liveness: 200 while the process serves; no authentication
//   GET /readyz   readiness: 200 when `readiness` is OK (the store answers),
//                 503 "ServiceUnavailable" otherwise; no authentication
//   GET /metrics  Prometheus text of `metrics`; like every call but the two
//                 above it needs a bearer token (SPEC §6), and a PlatformAdmin's
//                 (403 "AuthorizationFailed" otherwise)

#include <functional>

#include "absl/status/status.h"
#include "http/metrics.h"
#include "http/router.h"

namespace stackbill {

struct OpsOptions {
  // OK when the service can serve requests (e.g. a cheap store read).
  std::function<absl::Status()> readiness;
  // Must outlive the router.
  const RequestMetrics* metrics = nullptr;
};

// Adds the three routes, named "ops.healthz", "ops.readyz", "ops.metrics".
absl::Status AddOpsRoutes(Router& router, const OpsOptions& options);

}  // namespace stackbill
