#pragma once

// StoreAuthenticator: the Authenticator over the store — bearer tokens and
// activation keys are looked up by their SHA-256 (HashSecret), never kept in
// plaintext. Reads the store on every call, so revocation holds at once on
// every node. Thread-safe.

#include "services/authenticator.h"
#include "store/store.h"

namespace stackbill {

class StoreAuthenticator : public Authenticator {
 public:
  // `store` must outlive this.
  explicit StoreAuthenticator(Store& store) : store_(store) {}

  absl::StatusOr<Caller> AuthenticatePrincipal(std::string_view bearer, Timestamp now) override;
  absl::StatusOr<Caller> AuthenticateStack(std::string_view key, Timestamp now) override;

 private:
  Store& store_;
};

}  // namespace stackbill
