#pragma once

// The world file (SPEC §4.2, docs/WORLD.md): a JSON declaration of
// directories, partners, subscriptions, principals with their roles, stacks,
// registrations with their customer subscriptions, and stack subscribers,
// which `stackbill world apply` creates through the API. This is the parsed,
// validated and resolved model: every reference (a directory by one of its
// domains, a partner by id, a subscription by display name, a stack or
// principal by name) is checked, and every GUID the file leaves out is
// derived from the world's name and the object's key (DerivedGuid), so
// applying the same file twice names the same objects.
//
// Parsing is strict: unknown keys, wrong types, bad enum values, dangling
// references and duplicates are InvalidArgument with error code
// "InvalidWorldFile" and a message that starts with the path of the fault in
// the file ("partners[1].kind: …").

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/time.h"

namespace stackbill {

struct WorldDirectory {
  Guid id;
  std::string display_name;
  std::vector<std::string> domains;  // lower-cased; the first names it
  std::optional<std::string> owner_partner_id;
};

struct WorldPartner {
  std::string id;
  std::string name;
  PartnerKind kind = PartnerKind::kDirect;
  std::optional<std::string> parent_partner_id;
  std::string billing_currency;
};

struct WorldSubscription {
  Guid id;
  OfferType offer_type = OfferType::kCsp;
  Guid directory_id;
  std::optional<std::string> partner_id;
  std::optional<std::string> billing_currency;
  std::string display_name;
};

struct WorldRoleAssignment {
  Role role = Role::kReader;
  std::string scope;  // "/", "/partners/{id}" or "/subscriptions/{guid}"
};

struct WorldPrincipal {
  std::string name;  // UPN; unique in the file
  Guid directory_id;
  PrincipalKind kind = PrincipalKind::kUser;
  std::optional<Guid> object_id;  // when the file names one
  std::vector<WorldRoleAssignment> roles;
  bool issue_token = false;  // print a token for it when it is created
};

struct WorldSubscriber {
  std::string name;
  Guid local_subscription_id;
  Guid tenant_id;
  // `stackbill simulate` gives this subscription so many VMs instead of --vms
  // (0: its storage account only).
  std::optional<int> vms;
};

struct WorldStack {
  std::string name;
  Guid cloud_id;
  Guid object_id;  // the registration token's objectId
  Guid deployment_directory_id;
  BillingModel billing_model = BillingModel::kPayAsYouUse;
  bool multi_tenant = false;
  std::optional<bool> usage_reporting;  // none: the billing model's default
  std::optional<std::string> agreement_number;
  std::optional<std::string> asset_tag;
  bool approved = false;  // a PlatformAdmin approves the billing model first (R9)
  std::vector<WorldSubscriber> subscribers;
};

struct WorldCustomerSubscription {
  Guid subscription_id;
  Guid tenant_id;
  std::string display_name;  // of the subscription, for messages
  // The PlatformAdmin's correction (SPEC §3): the mapping is in force from
  // this instant rather than from its creation. world apply then PUTs it as
  // the admin; `stackbill simulate` routes by it (otherwise it assumes the
  // mapping was in force from the simulated window's start).
  std::optional<Timestamp> effective_from;
};

struct WorldRegistration {
  std::string name;
  std::string resource_group;
  std::string stack;           // WorldStack::name
  Guid subscription_id;        // the default subscription (R4)
  std::string registered_by;   // WorldPrincipal::name; empty: whoever runs apply
  bool activation_key = true;  // fetch and print the key when the registration is created
  std::vector<WorldCustomerSubscription> customer_subscriptions;
};

// A price sheet version (SPEC §5), applied with PUT /v1/priceSheets/….
// (clang-tidy sees nlohmann::json's copy, which allocates, behind the
// implicit members; a failed allocation ends the CLI anyway.)
// NOLINTNEXTLINE(bugprone-exception-escape)
struct WorldPriceSheet {
  std::optional<OfferType> offer;    // an offer type's list, or
  std::optional<PartnerId> partner;  // a partner's overrides
  std::string currency;
  std::string effective_date;  // YYYY-MM-DD
  // [{"meterId","meterRates":{"0":"0.008"},"includedQuantity":"0"}], every
  // decimal a string, so nothing passes through a double.
  nlohmann::json meters;
};

struct World {
  std::string name = "world";
  std::vector<WorldPartner> partners;  // parents before their resellers
  std::vector<WorldDirectory> directories;
  std::vector<WorldSubscription> subscriptions;
  std::vector<WorldPrincipal> principals;
  std::vector<WorldStack> stacks;
  std::vector<WorldRegistration> registrations;
  std::vector<WorldPriceSheet> price_sheets;

  const WorldStack* FindStack(std::string_view stack_name) const;
  const WorldPrincipal* FindPrincipal(std::string_view principal_name) const;
};

// Parses and validates a world file's text.
absl::StatusOr<World> ParseWorld(std::string_view text);

// Reads and parses the file at `path` (NotFound when it does not exist).
absl::StatusOr<World> LoadWorld(const std::string& path);

// A GUID derived from (world, kind, key): the first 16 bytes of SHA-256 of
// "stackbill-world\0{world}\0{kind}\0{key}", marked as an RFC 9562 version 8
// GUID. Stable across runs and machines.
Guid DerivedGuid(std::string_view world, std::string_view kind, std::string_view key);

}  // namespace stackbill
