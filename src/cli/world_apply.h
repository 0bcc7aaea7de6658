#pragma once

// Applies a World (world_file.h) through stackbill's API, idempotently: each
// object is looked up (GET) before it is created, an object that exists is
// left as it is, and a 409 on create counts as done. Only what this run
// creates produces secrets: a token for each principal created with
// `"token": true`, and the activation key of each registration created.
// Registrations and customer subscriptions are made as the registering
// principal (R2), with a short-lived token minted for the purpose and revoked
// afterwards when the run has none for it.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/world_file.h"

namespace stackbill {

// How apply talks to the API; HttpClient in the binary, a fake in tests.
class WorldApi {
 public:
  virtual ~WorldApi() = default;
  // One call with `token` as bearer (empty: the identity apply runs as).
  // Errors as HttpClient::Call returns them.
  virtual absl::StatusOr<nlohmann::json> Call(std::string_view method, std::string_view target,
                                              const nlohmann::json* body,
                                              const std::string& token) = 0;
};

struct WorldApplyReport {
  int created = 0;
  int unchanged = 0;
  int ensured = 0;                   // sent with an idempotent PUT that has no GET to check first
  std::vector<std::string> lines;    // what happened, in order
  std::vector<std::string> secrets;  // tokens and activation keys issued, one a line
  std::vector<std::string> notes;    // what was accepted but not applied
};

// Applies `world`. Stops at the first failure, returning it annotated with
// the object ("registration stack1: …"); `report` holds what was done so far.
absl::Status ApplyWorld(const World& world, WorldApi& api, WorldApplyReport& report);

}  // namespace stackbill
