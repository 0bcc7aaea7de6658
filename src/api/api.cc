#include "api/api.h"

namespace stackbill {

absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options) {
  return AddApiRoutes(router, store, options,
                      std::make_shared<IngestService>(store, options.ingest));
}

absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options,
                          const std::shared_ptr<IngestService>& ingest) {
  return AddApiRoutes(router, store, options, ingest,
                      std::make_shared<BillingService>(store, options.billing));
}

absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options,
                          const std::shared_ptr<IngestService>& ingest,
                          const std::shared_ptr<BillingService>& billing) {
  if (auto status = AddManagementRoutes(router, store, options); !status.ok()) return status;
  // Shared by the routes' handlers, which outlive this call.
  auto registrations = std::make_shared<RegistrationService>(store, options.registrations);
  if (auto status = AddAzureStackRoutes(router, registrations, options); !status.ok()) {
    return status;
  }
  if (auto status = AddStackRoutes(router, registrations, options); !status.ok()) return status;
  if (auto status = AddUsageRoutes(router, store, ingest, options); !status.ok()) return status;
  if (auto status = AddBillingRoutes(router, billing); !status.ok()) return status;
  return AddUsageQueryRoutes(router, store);
}

}  // namespace stackbill
