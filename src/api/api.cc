#include "api/api.h"

namespace stackbill {

absl::Status AddApiRoutes(Router& router, Store& store, const ApiOptions& options) {
  if (auto status = AddManagementRoutes(router, store, options); !status.ok()) return status;
  // Shared by the routes' handlers, which outlive this call.
  auto registrations = std::make_shared<RegistrationService>(store, options.registrations);
  if (auto status = AddAzureStackRoutes(router, registrations, options); !status.ok()) {
    return status;
  }
  return AddStackRoutes(router, registrations, options);
}

}  // namespace stackbill
