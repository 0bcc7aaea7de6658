#include "http/ops_routes.h"

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "http/arm_error.h"

namespace stackbill {

absl::Status AddOpsRoutes(Router& router, const OpsOptions& options) {
  absl::Status status =
      router.Add(Route{.method = "GET",
                       .pattern = "/healthz",
                       .authentication = Authentication::kNone,
                       .name = "ops.healthz",
                       .handler = [](const RequestContext&) -> absl::StatusOr<HttpResponse> {
                         return HttpResponse::Json(200, R"({"status":"ok"})");
                       }});
  if (!status.ok()) return status;
  status = router.Add(Route{
      .method = "GET",
      .pattern = "/readyz",
      .authentication = Authentication::kNone,
      .name = "ops.readyz",
      .handler = [readiness = options.readiness](
                     const RequestContext& context) -> absl::StatusOr<HttpResponse> {
        if (readiness) {
          const absl::Status ready = readiness();
          if (!ready.ok()) {
            // The reason goes to the log, not to an unauthenticated caller.
            spdlog::warn("request {}: not ready: {}", context.request.request_id, ready.ToString());
            return ErrorResponse(503, "ServiceUnavailable", "The service is not ready.");
          }
        }
        return HttpResponse::Json(200, R"({"status":"ready"})");
      }});
  if (!status.ok()) return status;
  return router.Add(
      Route{.method = "GET",
            .pattern = "/metrics",
            .authentication = Authentication::kPrincipal,
            .name = "ops.metrics",
            .handler = [metrics = options.metrics](
                           const RequestContext& context) -> absl::StatusOr<HttpResponse> {
              if (absl::Status allowed = CheckPlatformAdmin(context.caller); !allowed.ok()) {
                return allowed;
              }
              HttpResponse response;
              response.content_type = "text/plain; version=0.0.4; charset=utf-8";
              if (metrics != nullptr) response.body = metrics->RenderPrometheus();
              return response;
            }});
}

}  // namespace stackbill
