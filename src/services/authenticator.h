#pragma once

// Authenticator: turns the secret in `Authorization: Bearer …` into the
// caller it stands for (SPEC §6). Implemented by services over the store;
// used by the HTTP router before a handler runs.

#include <string_view>

#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/time.h"

namespace stackbill {

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // A principal's bearer token: the principal, its directory and its role
  // assignments. Unauthenticated / "InvalidAuthenticationToken" for an unknown,
  // expired or revoked token (not told apart). Revocation holds at once.
  virtual absl::StatusOr<Caller> AuthenticatePrincipal(std::string_view bearer, Timestamp now) = 0;

  // A stack's activation key (SPEC §3): a Caller with stack_cloud_id set and
  // no roles. Unauthenticated / "InvalidActivationKey" for an unknown key, a
  // rotated key past its grace period, or a key of a deleted registration past
  // its drain window.
  virtual absl::StatusOr<Caller> AuthenticateStack(std::string_view key, Timestamp now) = 0;
};

}  // namespace stackbill
