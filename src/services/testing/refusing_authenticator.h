#pragma once

// RefusingAuthenticator: an Authenticator for tests of routes that need no
// caller — every token and every activation key is refused as stackbill
// refuses an unknown one.

#include <string_view>

#include "absl/status/statusor.h"
#include "core/error.h"
#include "services/authenticator.h"

namespace stackbill {

class RefusingAuthenticator : public Authenticator {
 public:
  absl::StatusOr<Caller> AuthenticatePrincipal(std::string_view, Timestamp) override {
    return MakeError(absl::StatusCode::kUnauthenticated, "InvalidAuthenticationToken", "no");
  }
  absl::StatusOr<Caller> AuthenticateStack(std::string_view, Timestamp) override {
    return MakeError(absl::StatusCode::kUnauthenticated, "InvalidActivationKey", "no");
  }
};

}  // namespace stackbill
