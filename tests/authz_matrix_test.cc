// The authorisation matrix of SPEC §6 (issue 3): every route of `stackbill
// serve` — taken from the router's own table, built exactly as `serve` builds
// it (AddOpsRoutes + AddApiRoutes, the real StoreAuthenticator over a real
// SQLite store) — called by every kind of caller, against one seeded world.
//
// kMatrix holds, per route name, one or more concrete requests and the
// expected answer per identity. A route without an entry, or an entry naming
// no route, fails the test: a route added later must be added here.
//
// How the expectations were decided (SPEC §6, §6.1, R2, R8):
//  * 401 without a token, with an expired or a revoked one, and with an
//    activation key on a route that takes only a principal's token;
//  * 404 when the target belongs to a partner (or lies under a subscription)
//    that no role of the caller reaches — existence does not leak;
//  * 403 when the caller reaches the target but its role does not allow the
//    call (a Reader writing, an Owner mapping subscribers), for
//    PlatformAdmin-only calls, for creations by principals holding no
//    partner role at all (they are not "another partner", they lack the
//    role), and for minting another principal's token;
//  * a stack key only for its own cloudId's stack endpoints.
// Where the server disagrees, the SPEC expectation stays in kMatrix and the
// server's answer is listed in kKnownDeviations, so that a fix (or a new
// change) is noticed.
//
// Mutations must not disturb other cells: the world is seeded again after
// every call that changed something (a 2xx answer to a non-GET request).

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/api.h"
#include "core/access.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/time.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/ops_routes.h"
#include "http/router.h"
#include "services/billing_service.h"
#include "services/identity_service.h"
#include "services/registration_service.h"
#include "services/store_authenticator.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#ifdef STACKBILL_AUTHZ_ON_POSTGRES
#include "store/postgres/pg_store.h"
#include "store/postgres/testing/pg_test_database.h"
#endif
#include "wire/registration_token.h"

namespace stackbill {
namespace {

Guid G(std::string_view text) { return *Guid::Parse(text); }

// --- the world -------------------------------------------------------------

const Guid kPlatformDir = G("d0000000-0000-0000-0000-000000000001");
const Guid kOwnerDir = G("d0000000-0000-0000-0000-000000000002");  // owner's shared services
const Guid kCustomerDir = G("d0000000-0000-0000-0000-000000000003");
const Guid kParentDir = G("d0000000-0000-0000-0000-000000000004");
const Guid kResellerDir = G("d0000000-0000-0000-0000-000000000005");
const Guid kOtherDir = G("d0000000-0000-0000-0000-000000000006");

const Guid kApss = G("a0000000-0000-0000-0000-000000000001");          // owner's default sub
const Guid kCustomerCsp = G("a0000000-0000-0000-0000-000000000002");   // registered on stack A
const Guid kCustomerCsp2 = G("a0000000-0000-0000-0000-000000000003");  // not registered
const Guid kResellerCsp = G("a0000000-0000-0000-0000-000000000004");   // reseller's default sub

const Guid kCloudA = G("5bf881b2-6be7-42a1-9f47-d6fcb6737701");
const Guid kCloudB = G("5bf881b2-6be7-42a1-9f47-d6fcb6737702");
const Guid kCloudC = G("5bf881b2-6be7-42a1-9f47-d6fcb6737703");  // registered by a cell
const Guid kLocalSubscription = G("9a000000-0000-0000-0000-000000000001");
const Guid kMeter = G("fab6eb84-500b-4a09-a8ca-7358f8bbaea5");

const Guid kAdminId = G("e0000000-0000-0000-0000-000000000001");
const Guid kOwnerAdminId = G("e0000000-0000-0000-0000-000000000002");
const Guid kParentAdminId = G("e0000000-0000-0000-0000-000000000003");
const Guid kOtherAdminId = G("e0000000-0000-0000-0000-000000000004");
const Guid kSubOwnerId = G("e0000000-0000-0000-0000-000000000005");
const Guid kSubReaderId = G("e0000000-0000-0000-0000-000000000006");
const Guid kCustomerOwnerId = G("e0000000-0000-0000-0000-000000000007");

// Seeding happens a day before the requests; the expired token lived an hour.
constexpr Timestamp kNow = Timestamp::FromUnixSeconds(1'800'000'000);
const Timestamp kSeedTime = kNow.AddDays(-1);

constexpr std::string_view kBaseUrl = "https://billing.example.com";
constexpr std::string_view kApiVersion = "2017-06-01";

// The columns of the matrix.
enum Identity : int {
  kNoToken,
  kExpiredToken,
  kRevokedToken,
  kPlatformAdmin,
  kOwnerPartnerAdmin,   // PartnerAdmin of "owner" (direct CSP, stack A)
  kParentPartnerAdmin,  // PartnerAdmin of "parent" (its chain holds "reseller", stack B)
  kOtherPartnerAdmin,   // PartnerAdmin of an unrelated partner
  kOwner,               // Owner of the APSS subscription (stack A's default)
  kReader,              // Reader of it
  kCustomerOwner,       // Owner of the customer's CSP subscription, in the customer's directory
  kStackKeyA,           // activation key of stack A
  kStackKeyB,           // activation key of stack B
  kIdentityCount,
};

constexpr std::array<std::string_view, kIdentityCount> kIdentityNames = {
    "no token",   "expired token", "revoked token", "PlatformAdmin",  "owner's PA",  "parent's PA",
    "other's PA", "Owner",         "Reader",        "customer Owner", "stack key A", "stack key B"};

std::string RegistrationPath(Guid subscription, std::string_view name) {
  return fmt::format(
      "/subscriptions/{}/resourceGroups/azurestack/providers/Microsoft.AzureStack/"
      "registrations/{}",
      subscription.ToString(), name);
}

std::string RegistrationToken(Guid cloud_id, Guid deployment_directory) {
  stackbill::RegistrationToken token;
  token.cloud_id = cloud_id;
  token.object_id = G("2dbdd5f4-daf3-442a-be35-b71c3debee5a");
  token.billing_model = BillingModel::kPayAsYouUse;
  token.usage_reporting_enabled = true;
  token.multi_tenant = true;
  token.deployment_directory_id = deployment_directory;
  return EncodeRegistrationToken(token);
}

std::string RegistrationBody(Guid cloud_id, Guid deployment_directory) {
  return nlohmann::json{
      {"location", "global"},
      {"properties", {{"registrationToken", RegistrationToken(cloud_id, deployment_directory)}}}}
      .dump();
}

// Seeding fails loudly: the test that asked for the world reports it.
template <typename T>
T Must(absl::StatusOr<T> value, std::string_view what) {
  if (!value.ok()) {
    throw std::runtime_error(fmt::format("seeding {}: {}", what, value.status().ToString()));
  }
  return *std::move(value);
}
void Must(const absl::Status& status, std::string_view what) {
  if (!status.ok())
    throw std::runtime_error(fmt::format("seeding {}: {}", what, status.ToString()));
}

Caller AdminCaller() {
  Caller caller;
  caller.principal_id = kAdminId;
  caller.directory_id = kPlatformDir;
  caller.roles.push_back(
      {.id = "ra-admin", .principal_id = kAdminId, .role = Role::kPlatformAdmin, .scope = "/"});
  return caller;
}

// The store of a World: the SQLite database at `path` (by default a private
// in-memory one); in the PostgreSQL build of this test
// (authz_matrix_postgres_test, issue 9) a new schema on the test server
// instead, whose DSN replaces `path`.
std::unique_ptr<Store> OpenWorldStore(std::string& path) {
#ifdef STACKBILL_AUTHZ_ON_POSTGRES
  path = Must(postgres_testing::NewTestSchema(), "a PostgreSQL schema");
  return Must(OpenPostgresStore(PostgresOptions{.dsn = path, .connections = 2}), "store");
#else
  return Must(OpenSqliteStore(SqliteOptions{.path = path}), "store");
#endif
}

// One seeded world with the router of `stackbill serve` over it. Not movable:
// the router holds the authenticator by reference.
class World {
 public:
  explicit World(std::string path = ":memory:") {
    store_ = OpenWorldStore(path);
    location_ = path;
    Seed();
    authenticator_ = std::make_unique<StoreAuthenticator>(*store_);
    router_ = std::make_unique<Router>(*authenticator_, std::string(kBaseUrl));
    Store& store = *store_;
    // As serve_command.cc wires it.
    Must(AddOpsRoutes(*router_, OpsOptions{.readiness = [&store]() -> absl::Status {
                                             const auto probe =
                                                 store.identity().GetToken("readyz-probe");
                                             if (probe.ok() || absl::IsNotFound(probe.status())) {
                                               return absl::OkStatus();
                                             }
                                             return probe.status();
                                           },
                                           .metrics = &metrics_}),
         "ops routes");
    Must(AddApiRoutes(*router_, *store_, ApiOptions{}), "api routes");
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  const Router& router() const { return *router_; }
  Store& store() { return *store_; }
  // Where the store is: a SQLite path, or a PostgreSQL DSN.
  const std::string& location() const { return location_; }
  // The bearer secret of an identity ("" for kNoToken).
  const std::string& Secret(Identity identity) const { return secrets_[identity]; }
  // Every secret handed out while seeding (tokens and activation keys).
  const std::vector<std::string>& AllSecrets() const { return all_secrets_; }
  const std::string& spare_reader_token_id() const { return spare_reader_token_id_; }

  HttpResponse Send(const std::string& method, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& query,
                    const std::string& body, std::string_view secret) const {
    HttpRequest request;
    request.method = method;
    request.path = path;
    request.raw_target = path;
    request.query = query;
    if (!secret.empty()) {
      request.headers.emplace_back("authorization", fmt::format("Bearer {}", secret));
    }
    if (!body.empty()) {
      const bool usage = path.ends_with("/usage");  // usage is NDJSON (SPEC §4)
      request.headers.emplace_back("content-type",
                                   usage ? "application/x-ndjson" : "application/json");
    }
    request.body = body;
    request.remote_address = "127.0.0.1";
    request.request_id = "authz-matrix";
    return router_->Dispatch(request, kNow);
  }

 private:
  void Seed() {
    IdentityStore& identity = store_->identity();
    PartyStore& parties = store_->parties();
    const Timestamp t = kSeedTime.AddDays(-30);

    auto partner = [&](std::string id, PartnerKind kind, std::optional<PartnerId> parent) {
      Must(parties.CreatePartner({.id = id, .name = id, .kind = kind, .billing_currency = "USD"},
                                 parent, t),
           id);
    };
    Must(store_->meters().CreateMeter({.meter_id = kMeter,
                                       .name = "Base VM Size Hours",
                                       .category = "Virtual Machines",
                                       .unit = "Hours",
                                       .commerce_meter_id = std::nullopt,
                                       .custom = false}),
         "meter");
    partner("owner", PartnerKind::kDirect, std::nullopt);
    partner("parent", PartnerKind::kIndirectProvider, std::nullopt);
    partner("reseller", PartnerKind::kIndirectReseller, "parent");
    partner("other", PartnerKind::kDirect, std::nullopt);

    auto directory = [&](Guid id, std::string domain, std::optional<PartnerId> owner) {
      Must(identity.CreateDirectory(
               {.id = id, .display_name = domain, .domains = {domain}, .owner_partner_id = owner}),
           domain);
    };
    directory(kPlatformDir, "platform.stackbill.local", std::nullopt);
    directory(kOwnerDir, "iurownercsp.onmicrosoft.com", "owner");
    directory(kCustomerDir, "fabrikam.onmicrosoft.com", std::nullopt);
    directory(kParentDir, "parent.onmicrosoft.com", "parent");
    directory(kResellerDir, "reseller.onmicrosoft.com", "reseller");
    directory(kOtherDir, "other.onmicrosoft.com", "other");

    auto subscription = [&](Guid id, OfferType offer, Guid dir, PartnerId owner) {
      Subscription s;
      s.id = id;
      s.offer_type = offer;
      s.directory_id = dir;
      s.partner_id = owner;
      s.display_name = id.ToString();
      Must(parties.CreateSubscription(s, t), "subscription");
    };
    subscription(kApss, OfferType::kApss, kOwnerDir, "owner");
    subscription(kCustomerCsp, OfferType::kCsp, kCustomerDir, "owner");
    subscription(kCustomerCsp2, OfferType::kCsp, kCustomerDir, "owner");
    subscription(kResellerCsp, OfferType::kCsp, kResellerDir, "reseller");

    auto principal = [&](Guid id, Guid dir, std::string name, Role role, std::string scope) {
      Must(identity.CreatePrincipal(
               {.object_id = id, .directory_id = dir, .name = name, .kind = PrincipalKind::kUser}),
           name);
      Must(identity.PutRoleAssignment({.id = "ra-" + name.substr(0, name.find('@')),
                                       .principal_id = id,
                                       .role = role,
                                       .scope = std::move(scope)}),
           name);
    };
    principal(kAdminId, kPlatformDir, "admin@platform.stackbill.local", Role::kPlatformAdmin, "/");
    principal(kOwnerAdminId, kOwnerDir, "owneradmin@iurownercsp.onmicrosoft.com",
              Role::kPartnerAdmin, "/partners/owner");
    principal(kParentAdminId, kParentDir, "parentadmin@parent.onmicrosoft.com", Role::kPartnerAdmin,
              "/partners/parent");
    principal(kOtherAdminId, kOtherDir, "otheradmin@other.onmicrosoft.com", Role::kPartnerAdmin,
              "/partners/other");
    principal(kSubOwnerId, kOwnerDir, "owner@iurownercsp.onmicrosoft.com", Role::kOwner,
              "/subscriptions/" + kApss.ToString());
    principal(kSubReaderId, kOwnerDir, "reader@iurownercsp.onmicrosoft.com", Role::kReader,
              "/subscriptions/" + kApss.ToString());
    principal(kCustomerOwnerId, kCustomerDir, "customerowner@fabrikam.onmicrosoft.com",
              Role::kOwner, "/subscriptions/" + kCustomerCsp.ToString());

    const IdentityService identities(*store_);
    const Caller admin = AdminCaller();
    auto mint = [&](Guid who, Timestamp at, std::int64_t hours) {
      IssuedToken token = Must(identities.MintToken(admin, at, who, hours), "token");
      all_secrets_.push_back(token.token);
      return token;
    };
    secrets_[kPlatformAdmin] = mint(kAdminId, kSeedTime, 24 * 30).token;
    secrets_[kOwnerPartnerAdmin] = mint(kOwnerAdminId, kSeedTime, 24 * 30).token;
    secrets_[kParentPartnerAdmin] = mint(kParentAdminId, kSeedTime, 24 * 30).token;
    secrets_[kOtherPartnerAdmin] = mint(kOtherAdminId, kSeedTime, 24 * 30).token;
    secrets_[kOwner] = mint(kSubOwnerId, kSeedTime, 24 * 30).token;
    secrets_[kReader] = mint(kSubReaderId, kSeedTime, 24 * 30).token;
    secrets_[kCustomerOwner] = mint(kCustomerOwnerId, kSeedTime, 24 * 30).token;
    // The PlatformAdmin's own tokens, so that 401 cannot be a missing role.
    secrets_[kExpiredToken] = mint(kAdminId, kSeedTime, 1).token;
    const IssuedToken revoked = mint(kAdminId, kSeedTime, 24 * 30);
    Must(identities.RevokeToken(admin, kSeedTime.AddHours(1), revoked.id), "revocation");
    secrets_[kRevokedToken] = revoked.token;
    // The target of tokens.revoke: a second token of the Reader.
    spare_reader_token_id_ = mint(kSubReaderId, kSeedTime, 24 * 30).id;

    RegistrationService registrations(*store_, RegistrationServiceOptions{});
    const RegistrationName reg_a{
        .subscription_id = kApss, .resource_group = "azurestack", .name = "regA"};
    const RegistrationName reg_b{
        .subscription_id = kResellerCsp, .resource_group = "azurestack", .name = "regB"};
    Must(registrations.PutRegistration(admin,
                                       {.name = reg_a,
                                        .registration_token = RegistrationToken(kCloudA, kOwnerDir),
                                        .tags = std::nullopt},
                                       kSeedTime),
         "registration A");
    Must(registrations.PutRegistration(
             admin,
             {.name = reg_b,
              .registration_token = RegistrationToken(kCloudB, kResellerDir),
              .tags = std::nullopt},
             kSeedTime),
         "registration B");
    secrets_[kStackKeyA] = Must(registrations.GetActivationKey(admin, reg_a, kSeedTime), "key A");
    secrets_[kStackKeyB] = Must(registrations.GetActivationKey(admin, reg_b, kSeedTime), "key B");
    all_secrets_.push_back(secrets_[kStackKeyA]);
    all_secrets_.push_back(secrets_[kStackKeyB]);
    Must(registrations.PutCustomerSubscription(admin,
                                               {.registration = reg_a,
                                                .customer_subscription_id = kCustomerCsp.ToString(),
                                                .tenant_id = kCustomerDir,
                                                .effective_from = std::nullopt},
                                               kSeedTime),
         "customer subscription");

    // December's usage of the customer's CSP subscription, priced and
    // closed in January: SB-2027-000001 (numbered in the year of issue) is
    // billed to "owner" (R8).
    PriceSheet sheet;
    sheet.key = {.owner = PriceSheetOwner::Offer(OfferType::kCsp),
                 .currency = "USD",
                 .effective_date = Must(Timestamp::Parse("2026-01-01T00:00:00Z"), "date")};
    sheet.meters.push_back(
        {.meter_id = kMeter,
         .tiers = {{.start = Quantity(), .unit_price = *UnitPrice::Parse("0.5")}},
         .included_quantity = Quantity()});
    BillingService billing(*store_, BillingOptions{.auto_close = false});
    Must(billing.PutPriceSheet(admin, kSeedTime, sheet), "price sheet");
    std::vector<UsageRecord> records;
    const YearMonth december(2026, 12);
    for (int h = 0; h < 3; ++h) {
      UsageRecord r;
      r.cloud_id = kCloudA;
      r.identity = fmt::format("dec-{}", h);
      r.content_hash = "hash";
      r.tenant_id = kCustomerDir;
      r.local_subscription_id = kLocalSubscription;
      r.meter_id = kMeter;
      r.quantity = *Quantity::Parse("2");
      r.usage_start = december.Start().AddHours(h);
      r.usage_end = r.usage_start.AddHours(1);
      r.resource_uri = "/subscriptions/x/vm";
      r.instance_data = "{}";
      r.routing.billed_subscription_id = kCustomerCsp;
      r.routing.bill_to = BillTo{BillTo::Kind::kPartner, "owner", Guid()};
      r.routing.reason = RoutingReason::kRegisteredCustomer;
      r.reported_time = r.usage_end;
      records.push_back(std::move(r));
    }
    Must(store_->usage().WriteUsage(records), "December's usage");
    Must(billing.ClosePeriod(admin, kSeedTime, december, CloseOptions{}), "December's close");
  }

  std::string location_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreAuthenticator> authenticator_;
  RequestMetrics metrics_;
  std::unique_ptr<Router> router_;
  std::array<std::string, kIdentityCount> secrets_;
  std::vector<std::string> all_secrets_;
  std::string spare_reader_token_id_;
};

// --- the matrix ------------------------------------------------------------

// One concrete request for a route, and the expected status per identity:
// a space-separated list of kIdentityCount cells in the order of Identity,
// each "2xx" (any success) or an exact status.
struct Case {
  std::string label;  // what the request targets, for messages
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  std::string expect;
};

using Query = std::vector<std::pair<std::string, std::string>>;
const Query kArm = {{"api-version", std::string(kApiVersion)}};
// Two weeks of Daily usage before kNow (2027-01-15T08:00Z).
const Query kCommerceWindow = {{"api-version", "2015-06-01-preview"},
                               {"reportedStartTime", "2027-01-01T00:00:00Z"},
                               {"reportedEndTime", "2027-01-15T00:00:00Z"}};
const Query kRateCardFilter = {
    {"api-version", "2015-06-01-preview"},
    {"$filter",
     "OfferDurableId eq 'MS-AZR-0145P' and Currency eq 'USD' and Locale eq 'en-US' and "
     "RegionInfo eq 'US'"}};

// Common rows. "P" columns: PlatformAdmin, owner's PA, parent's PA, other's PA,
// Owner, Reader, customer Owner.
std::string Row(std::string_view principals, std::string_view keys = "401 401",
                std::string_view bad_tokens = "401 401 401") {
  return fmt::format("{} {} {}", bad_tokens, principals, keys);
}

// One usage record of stack A's local subscription (its tenant is mapped or
// not: the answer is 200 either way, accepted or quarantined).
std::string UsageLine() {
  return fmt::format(
      R"({{"id":"r1","tenantId":"{}","subscriptionId":"{}","meterId":"{}","quantity":1.5,)"
      R"("usageStartTime":"{}","usageEndTime":"{}"}})",
      kCustomerDir.ToString(), kLocalSubscription.ToString(), kMeter.ToString(),
      kNow.AddHours(-3).TruncateToHour().ToString(), kNow.AddHours(-2).TruncateToHour().ToString());
}

// Route name → its cases. The spare token id is known only once a world is
// seeded, hence "{spare}" in paths.
std::map<std::string, std::vector<Case>> Matrix() {
  const std::string reg_a = RegistrationPath(kApss, "regA");
  const std::string reg_b = RegistrationPath(kResellerCsp, "regB");
  const std::string a = kCloudA.ToString();
  const std::string b = kCloudB.ToString();
  // Readers of stack A's default subscription (and those over it) only.
  const std::string a_readers = "200 200 404 404 200 200 404";
  const std::string a_writers = "2xx 2xx 404 404 2xx 403 404";
  const std::string b_readers = "200 404 200 404 404 404 404";
  const std::string everyone = "200 200 200 200 200 200 200";
  const std::string platform_only = "2xx 403 403 403 403 403 403";
  const std::string partners_read = "200 200 200 200 403 403 403";
  const std::string owner_chain = "200 200 404 404 404 404 404";
  return {
      {"ops.healthz",
       {{"anyone",
         "/healthz",
         {},
         "",
         Row("200 200 200 200 200 200 200", "200 200", "200 200 200")}}},
      {"ops.readyz", {{"anyone", "/readyz", {}, "", Row(everyone, "200 200", "200 200 200")}}},
      {"ops.metrics", {{"platform", "/metrics", {}, "", Row("200 403 403 403 403 403 403")}}},

      {"directories.create",
       {{"owned by owner",
         "/v1/directories",
         {},
         R"({"displayName":"New","domains":["new.onmicrosoft.com"],"ownerPartnerId":"owner"})",
         Row("201 201 404 404 403 403 403")}}},
      {"directories.list", {{"all", "/v1/directories", {}, "", Row(everyone)}}},
      {"me.get", {{"oneself", "/v1/me", {}, "", Row(everyone)}}},
      {"directories.get",
       {{"owner's directory",
         "/v1/directories/" + kOwnerDir.ToString(),
         {},
         "",
         Row("200 200 404 404 200 200 404")},
        {"customer's directory",
         "/v1/directories/" + kCustomerDir.ToString(),
         {},
         "",
         Row("200 200 404 404 404 404 200")}}},
      {"principals.create",
       {{"in owner's directory",
         "/v1/principals",
         {},
         fmt::format(R"({{"directoryId":"{}","name":"new@iurownercsp.onmicrosoft.com",)"
                     R"("kind":"user"}})",
                     kOwnerDir.ToString()),
         Row("201 201 403 403 403 403 403")}}},
      {"principals.list", {{"all", "/v1/principals", {}, "", Row(everyone)}}},
      {"principals.get",
       {{"the Reader",
         "/v1/principals/" + kSubReaderId.ToString(),
         {},
         "",
         Row("200 200 404 404 404 200 404")}}},
      {"tokens.create",
       {{"for the Owner",
         fmt::format("/v1/principals/{}/tokens", kSubOwnerId.ToString()),
         {},
         R"({"expiresInHours":1})",
         Row("201 403 403 403 201 403 403")}}},
      {"tokens.revoke",
       {{"a Reader's token", "/v1/tokens/{spare}", {}, "", Row("200 200 404 404 404 200 404")}}},
      {"partners.create",
       {{"reseller under parent",
         "/v1/partners",
         {},
         R"({"id":"newreseller","name":"New Reseller","kind":"indirectReseller",)"
         R"("parentPartnerId":"parent","billingCurrency":"USD"})",
         Row("201 404 201 404 403 403 403")}}},
      {"partners.list", {{"all", "/v1/partners", {}, "", Row(everyone)}}},
      {"partners.get",
       {{"reseller", "/v1/partners/reseller", {}, "", Row("200 404 200 404 404 404 404")}}},
      {"subscriptions.create",
       {{"CSP for owner's customer",
         "/v1/subscriptions",
         {},
         fmt::format(R"({{"offerType":"CSP","directoryId":"{}","partnerId":"owner",)"
                     R"("displayName":"New CSP"}})",
                     kCustomerDir.ToString()),
         Row("201 201 404 404 403 403 403")}}},
      {"subscriptions.list", {{"all", "/v1/subscriptions", {}, "", Row(everyone)}}},
      {"subscriptions.get",
       {{"customer's CSP",
         "/v1/subscriptions/" + kCustomerCsp.ToString(),
         {},
         "",
         Row("200 200 404 404 404 404 200")},
        {"reseller's CSP",
         "/v1/subscriptions/" + kResellerCsp.ToString(),
         {},
         "",
         Row(b_readers)}}},
      {"roleAssignments.put",
       {{"Reader on the APSS",
         "/v1/roleAssignments/ra-new",
         {},
         fmt::format(R"({{"principalId":"{}","role":"Reader","scope":"/subscriptions/{}"}})",
                     kSubReaderId.ToString(), kApss.ToString()),
         Row("201 201 404 404 201 403 404")}}},
      {"roleAssignments.list", {{"all", "/v1/roleAssignments", {}, "", Row(everyone)}}},
      {"roleAssignments.get",
       {{"the Reader's", "/v1/roleAssignments/ra-reader", {}, "", Row(a_readers)}}},
      {"roleAssignments.delete",
       {{"the Reader's",
         "/v1/roleAssignments/ra-reader",
         {},
         "",
         Row("200 200 404 404 200 403 404")}}},
      {"audit.list", {{"all", "/v1/audit", {}, "", Row("200 200 200 200 403 403 403")}}},

      {"registrations.listBySubscription",
       {{"APSS",
         fmt::format("/subscriptions/{}/providers/Microsoft.AzureStack/registrations",
                     kApss.ToString()),
         kArm, "", Row(a_readers)},
        {"reseller's CSP",
         fmt::format("/subscriptions/{}/providers/Microsoft.AzureStack/registrations",
                     kResellerCsp.ToString()),
         kArm, "", Row(b_readers)}}},
      {"registrations.list",
       {{"APSS",
         fmt::format("/subscriptions/{}/resourceGroups/azurestack/providers/"
                     "Microsoft.AzureStack/registrations",
                     kApss.ToString()),
         kArm, "", Row(a_readers)},
        {"reseller's CSP",
         fmt::format("/subscriptions/{}/resourceGroups/azurestack/providers/"
                     "Microsoft.AzureStack/registrations",
                     kResellerCsp.ToString()),
         kArm, "", Row(b_readers)}}},
      {"registrations.put",
       {{"new stack C under APSS", RegistrationPath(kApss, "regC"), kArm,
         RegistrationBody(kCloudC, kOwnerDir), Row("201 201 404 404 201 403 404")}}},
      {"registrations.patch",
       {{"regA", reg_a, kArm,
         nlohmann::json{
             {"location", "global"},
             {"properties", {{"registrationToken", RegistrationToken(kCloudA, kOwnerDir)}}},
             {"tags", {{"env", "prod"}}}}
             .dump(),
         Row(a_writers)}}},
      {"registrations.get",
       {{"regA", reg_a, kArm, "", Row(a_readers)}, {"regB", reg_b, kArm, "", Row(b_readers)}}},
      {"registrations.delete", {{"regA", reg_a, kArm, "", Row(a_writers)}}},
      {"registrations.getActivationKey",
       {{"regA", reg_a + "/getactivationkey", kArm, "", Row(a_writers)},
        {"regB", reg_b + "/getactivationkey", kArm, "", Row("200 404 200 404 404 404 404")}}},
      {"customerSubscriptions.list",
       {{"regA", reg_a + "/customerSubscriptions", kArm, "", Row(a_readers)}}},
      {"customerSubscriptions.put",
       {{"regA, second CSP", reg_a + "/customerSubscriptions/" + kCustomerCsp2.ToString(), kArm,
         fmt::format(R"({{"properties":{{"tenantId":"{}"}}}})", kCustomerDir.ToString()),
         Row(a_writers)}}},
      {"customerSubscriptions.get",
       {{"regA, customer's CSP", reg_a + "/customerSubscriptions/" + kCustomerCsp.ToString(), kArm,
         "", Row(a_readers)}}},
      {"customerSubscriptions.delete",
       {{"regA, customer's CSP", reg_a + "/customerSubscriptions/" + kCustomerCsp.ToString(), kArm,
         "", Row(a_writers)}}},

      {"stacks.list", {{"all", "/v1/stacks", {}, "", Row(everyone)}}},
      {"stacks.get",
       {{"stack A", "/v1/stacks/" + a, {}, "", Row(a_readers)},
        {"stack B", "/v1/stacks/" + b, {}, "", Row(b_readers)}}},
      {"stacks.approval.put",
       {{"stack A",
         "/v1/stacks/" + a + "/approval",
         {},
         R"({"billingModel":"Capacity","agreementNumber":"AG-1"})",
         Row(platform_only)}}},
      {"stacks.claim.delete",
       {{"stack A", "/v1/stacks/" + a + "/claim", {}, "", Row(platform_only)}}},
      {"stacks.subscribers.put",
       {{"stack A",
         fmt::format("/v1/stacks/{}/subscribers/{}", a, kLocalSubscription.ToString()),
         {},
         fmt::format(R"({{"tenantId":"{}"}})", kCustomerDir.ToString()),
         Row("200 200 404 404 403 403 404", "200 403")},
        {"stack B",
         fmt::format("/v1/stacks/{}/subscribers/{}", b, kLocalSubscription.ToString()),
         {},
         fmt::format(R"({{"tenantId":"{}"}})", kCustomerDir.ToString()),
         Row("200 404 200 404 404 404 404", "403 200")}}},

      // SPEC §4 usage: ingestion takes only the stack's own activation key.
      {"usage.post",
       {{"stack A",
         "/v1/stacks/" + a + "/usage",
         {},
         UsageLine(),
         Row("401 401 401 401 401 401 401", "200 403")},
        {"stack B",
         "/v1/stacks/" + b + "/usage",
         {},
         UsageLine(),
         Row("401 401 401 401 401 401 401", "403 200")}}},
      // R11 supersede is the PlatformAdmin's (the record does not exist: 404).
      {"usage.supersede",
       {{"stack A",
         "/v1/stacks/" + a + "/usage/supersede",
         {},
         R"({"reason":"meter fix","record":)" + UsageLine() + "}",
         Row("404 403 403 403 403 403 403")}}},
      {"quarantine.list",
       {{"all visible", "/v1/quarantine", {}, "", Row(everyone)},
        {"stack A", "/v1/quarantine", {{"cloudId", a}}, "", Row(a_readers)},
        {"stack B", "/v1/quarantine", {{"cloudId", b}}, "", Row(b_readers)}}},
      {"quarantine.replay",
       {{"stack A",
         "/v1/quarantine/replay",
         {},
         fmt::format(R"({{"cloudId":"{}"}})", a),
         Row(a_writers)},
        {"entry 999",
         "/v1/quarantine/replay",
         {},
         R"({"ids":[999]})",
         Row("404 404 404 404 404 404 404")}}},
      // Totals across subscriptions are the PlatformAdmin's (an operations view).
      {"usage.totals",
       {{"all", "/v1/usage/totals", {}, "", Row("200 403 403 403 403 403 403")},
        {"stack A", "/v1/usage/totals", {{"cloudId", a}}, "", Row("200 403 403 403 403 403 403")}}},
      // SPEC §7 usage queries (R8): Commerce usage of a partner's subscription
      // is the bill-to chain's — the customer's directory gets 403
      // BillingDataNotVisible even as Owner; the provider API is the stack
      // operator's; /v1/usage is for partners and PlatformAdmins.
      {"commerce.usageAggregates",
       {{"customer CSP",
         "/subscriptions/" + kCustomerCsp.ToString() +
             "/providers/Microsoft.Commerce/UsageAggregates",
         kCommerceWindow, "", Row("200 200 404 404 404 404 403")},
        {"owner's APSS",
         "/subscriptions/" + kApss.ToString() + "/providers/Microsoft.Commerce/UsageAggregates",
         kCommerceWindow, "", Row("200 200 404 404 403 403 404")}}},
      // RateCard (SPEC §7): the same readers as the subscription's Commerce
      // usage — its prices are billing data of the bill-to chain.
      {"commerce.rateCard",
       {{"customer CSP",
         "/subscriptions/" + kCustomerCsp.ToString() + "/providers/Microsoft.Commerce/RateCard",
         kRateCardFilter, "", Row("200 200 404 404 404 404 403")},
        {"owner's APSS",
         "/subscriptions/" + kApss.ToString() + "/providers/Microsoft.Commerce/RateCard",
         kRateCardFilter, "", Row("200 200 404 404 403 403 404")}}},
      {"commerce.subscriberUsageAggregates",
       {{"stack A's default subscription",
         "/subscriptions/" + kApss.ToString() +
             "/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates",
         kCommerceWindow, "", Row(a_readers)},
        {"stack B's default subscription",
         "/subscriptions/" + kResellerCsp.ToString() +
             "/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates",
         kCommerceWindow, "", Row(b_readers)}}},
      {"usage.query",
       {{"all visible", "/v1/usage", {}, "", Row("200 200 200 200 403 403 403")},
        {"customer CSP",
         "/v1/usage",
         {{"subscriptionId", kCustomerCsp.ToString()}},
         "",
         Row("200 200 404 404 403 403 403")}}},
      {"meters.list", {{"all", "/v1/meters", {}, "", Row(everyone)}}},
      {"meters.post",
       {{"custom meter",
         "/v1/meters",
         {},
         R"({"meterId":"0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b","name":"GPU Hours","unit":"Hours"})",
         Row(platform_only)}}},

      // SPEC §5 billing (R8): price sheets are written by PlatformAdmins and
      // read by partners; invoices and estimates are the bill-to chain's — a
      // customer's directory and other partners find nothing (404), lists
      // answer with what the caller may see.
      {"priceSheets.putOffer",
       {{"CSP list, 2027",
         "/v1/priceSheets/offers/CSP/USD/2027-01-01",
         {},
         fmt::format(R"({{"meters":[{{"meterId":"{}","meterRates":{{"0":"0.4"}}}}]}})",
                     kMeter.ToString()),
         Row(platform_only)}}},
      {"priceSheets.putPartner",
       {{"owner's override, 2027",
         "/v1/priceSheets/partners/owner/USD/2027-01-01",
         {},
         fmt::format(R"({{"meters":[{{"meterId":"{}","meterRates":{{"0":"0.3"}}}}]}})",
                     kMeter.ToString()),
         Row(platform_only)}}},
      // Partner re-billing (SPEC §5): a partner's customer prices and
      // statements are its own — the provider above a reseller sees the
      // reseller (403), everyone else finds nothing (404), customer
      // directories never.
      {"priceSheets.putCustomers",
       {{"owner's customer prices",
         "/v1/priceSheets/customers/owner/USD/2027-01-01",
         {},
         R"({"markup":"0.15"})",
         Row("2xx 2xx 404 404 404 404 404")},
        {"reseller's customer prices",
         "/v1/priceSheets/customers/reseller/USD/2027-01-01",
         {},
         R"({"markup":"0.2"})",
         Row("2xx 404 403 404 404 404 404")}}},
      {"statements.list",
       {{"owner's customers, December",
         "/v1/statements",
         {{"partnerId", "owner"}, {"period", "2026-12"}},
         "",
         Row("200 200 404 404 404 404 404")},
        {"as CSV",
         "/v1/statements",
         {{"partnerId", "owner"}, {"period", "2026-12"}, {"format", "csv"}},
         "",
         Row("200 200 404 404 404 404 404")},
        {"reseller's customers",
         "/v1/statements",
         {{"partnerId", "reseller"}},
         "",
         Row("200 404 403 404 404 404 404")}}},
      {"billingPeriods.export",
       {{"December", "/v1/billingPeriods/2026-12/export", {}, "", Row(partners_read)},
        {"owner's, as CSV",
         "/v1/billingPeriods/2026-12/export",
         {{"partnerId", "owner"}, {"format", "csv"}},
         "",
         Row(partners_read)}}},
      {"priceSheets.list", {{"all", "/v1/priceSheets", {}, "", Row(partners_read)}}},
      {"billingPeriods.list", {{"all", "/v1/billingPeriods", {}, "", Row(partners_read)}}},
      {"billingPeriods.close",
       {{"December, closed", "/v1/billingPeriods/2026-12/close", {}, "", Row(platform_only)}}},
      {"adjustments.create",
       {{"credit on the customer's CSP",
         "/v1/adjustments",
         {},
         fmt::format(R"({{"subscriptionId":"{}","period":"2027-01","amount":"-5.00",)"
                     R"("currency":"USD","reason":"goodwill"}})",
                     kCustomerCsp.ToString()),
         Row(platform_only)}}},
      {"invoices.list",
       {{"all visible", "/v1/invoices", {}, "", Row(everyone)},
        {"owner's", "/v1/invoices", {{"partnerId", "owner"}}, "", Row(everyone)}}},
      {"invoices.get",
       {{"owner's December", "/v1/invoices/SB-2027-000001", {}, "", Row(owner_chain)},
        {"as CSV", "/v1/invoices/SB-2027-000001", {{"format", "csv"}}, "", Row(owner_chain)}}},
      {"invoices.reconciliation",
       {{"owner's December",
         "/v1/invoices/SB-2027-000001/reconciliation",
         {},
         "",
         Row(owner_chain)},
        {"as CSV",
         "/v1/invoices/SB-2027-000001/reconciliation",
         {{"format", "csv"}},
         "",
         Row(owner_chain)}}},
      {"invoices.estimate",
       {{"owner's January",
         "/v1/invoices/estimate",
         {{"partnerId", "owner"}},
         "",
         Row(owner_chain)},
        {"the customer's CSP as bill-to",
         "/v1/invoices/estimate",
         {{"subscriptionId", kCustomerCsp.ToString()}},
         "",
         Row(owner_chain)}}},
  };
}

// Cells where the server disagrees with SPEC (the expectation above stays):
// (route, case label, identity) → the status the server answers.
struct Deviation {
  std::string route;
  std::string label;
  Identity identity;
  int got;
  std::string why;
};
const std::vector<Deviation>& KnownDeviations() {
  // None today: keep the mechanism so that a disagreement found later is
  // written down here, with its reason, rather than loosened in the table.
  static const std::vector<Deviation> deviations;
  return deviations;
}

bool Matches(std::string_view cell, int status) {
  if (cell == "2xx") return status >= 200 && status < 300;
  return cell == std::to_string(status);
}

std::vector<std::string> Cells(const std::string& expect) {
  std::istringstream in(expect);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

std::string ErrorCodeOf(const HttpResponse& response) {
  const nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_object()) {
    return json["error"].value("code", "");
  }
  return "";
}

std::string PathFor(const Case& c, const World& world) {
  std::string path = c.path;
  if (const std::size_t at = path.find("{spare}"); at != std::string::npos) {
    path.replace(at, 7, world.spare_reader_token_id());
  }
  return path;
}

TEST(AuthzMatrixTest, EveryRouteHasAnEntry) {
  const World world;
  const auto matrix = Matrix();
  for (const Route& route : world.router().routes()) {
    EXPECT_TRUE(matrix.contains(route.name))
        << route.method << " " << route.pattern << " (" << route.name
        << ") has no entry in the authorisation matrix";
  }
}

TEST(AuthzMatrixTest, EveryEntryNamesARouteAndReachesIt) {
  const World world;
  std::map<std::string, const Route*> routes;
  for (const Route& route : world.router().routes()) routes[route.name] = &route;
  for (const auto& [name, cases] : Matrix()) {
    auto it = routes.find(name);
    ASSERT_TRUE(it != routes.end()) << "the matrix names route " << name << ", which is gone";
    EXPECT_FALSE(cases.empty()) << name;
    for (const Case& c : cases) {
      const Route* matched = world.router().Match(it->second->method, PathFor(c, world));
      EXPECT_EQ(matched, it->second)
          << name << " [" << c.label << "]: " << c.path << " reaches another route";
      EXPECT_EQ(Cells(c.expect).size(), static_cast<std::size_t>(kIdentityCount))
          << name << " [" << c.label << "]";
    }
  }
}

TEST(AuthzMatrixTest, EveryRouteAnswersEveryIdentityAsSpecified) {
  const auto started = std::chrono::steady_clock::now();
  auto world = std::make_unique<World>();
  // Names and methods only: the world (and its router) is replaced as cells run.
  std::map<std::string, std::string> methods;
  for (const Route& route : world->router().routes()) methods[route.name] = route.method;
  std::map<std::tuple<std::string, std::string, int>, const Deviation*> deviations;
  for (const Deviation& d : KnownDeviations()) deviations[{d.route, d.label, d.identity}] = &d;

  int cells = 0;
  int worlds = 1;
  std::vector<std::string> disagreements;
  for (const auto& [name, cases] : Matrix()) {
    auto it = methods.find(name);
    if (it == methods.end()) continue;  // reported by EveryEntryNamesARouteAndReachesIt
    const std::string method = it->second;
    for (const Case& c : cases) {
      const std::vector<std::string> expect = Cells(c.expect);
      if (expect.size() != static_cast<std::size_t>(kIdentityCount)) continue;
      for (std::size_t i = 0; i < expect.size(); ++i) {
        const auto identity = static_cast<Identity>(i);
        const HttpResponse response =
            world->Send(method, PathFor(c, *world), c.query, c.body, world->Secret(identity));
        ++cells;
        const std::string where =
            fmt::format("{} {} [{}] as {}", method, name, c.label, kIdentityNames[i]);
        auto deviation = deviations.find({name, c.label, static_cast<int>(i)});
        if (deviation != deviations.end()) {
          EXPECT_EQ(response.status, deviation->second->got)
              << where << ": a known deviation changed (SPEC: " << expect[i] << ", "
              << deviation->second->why << ")";
          disagreements.push_back(
              fmt::format("{}: SPEC {}, server {} (known)", where, expect[i], response.status));
        } else if (!Matches(expect[i], response.status)) {
          ADD_FAILURE() << where << ": expected " << expect[i] << ", got " << response.status << " "
                        << ErrorCodeOf(response) << " " << response.body.substr(0, 200);
          disagreements.push_back(fmt::format("{}: SPEC {}, server {} {}", where, expect[i],
                                              response.status, ErrorCodeOf(response)));
        }
        // SPEC §6: a refusal for lack of role is 403 AuthorizationFailed —
        // except R8's refusal of Commerce usage and the RateCard to the
        // customer's side, BillingDataNotVisible; every refusal carries the
        // ARM error envelope.
        if (response.status == 403) {
          const bool billing_data =
              name == "commerce.usageAggregates" || name == "commerce.rateCard";
          EXPECT_EQ(ErrorCodeOf(response),
                    billing_data ? "BillingDataNotVisible" : "AuthorizationFailed")
              << where;
        }
        if (response.status >= 400) {
          EXPECT_NE(ErrorCodeOf(response), "") << where;
        }
        // A change made by this cell must not reach the next one.
        if (method != "GET" && response.status >= 200 && response.status < 300) {
          world = std::make_unique<World>();
          ++worlds;
        }
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("authorisation matrix: %zu routes, %d cells, %d worlds, %.2f s\n", methods.size(),
              cells, worlds, seconds);
  for (const std::string& d : disagreements) std::printf("  %s\n", d.c_str());
}

// --- billing data (SPEC §5, R8) ----------------------------------------------

// Lists answer 200 to everyone; what they hold is the bill-to chain's alone.
TEST(BillingVisibilityTest, NoInvoiceOrEstimateReachesACustomerDirectoryOrAnotherPartner) {
  const World world;
  auto items = [&](const std::string& path, const Query& query, Identity who) {
    const HttpResponse response = world.Send("GET", path, query, "", world.Secret(who));
    EXPECT_EQ(response.status, 200) << path << " as " << kIdentityNames[who];
    return nlohmann::json::parse(response.body, nullptr, false)["value"];
  };
  const nlohmann::json all = items("/v1/invoices", {}, kPlatformAdmin);
  ASSERT_EQ(all.size(), 1u) << all.dump();
  EXPECT_EQ(all[0]["number"], "SB-2027-000001");
  EXPECT_EQ(all[0]["billTo"]["partnerId"], "owner");
  EXPECT_EQ(items("/v1/invoices", {}, kOwnerPartnerAdmin), all);
  for (Identity who : {kParentPartnerAdmin, kOtherPartnerAdmin, kOwner, kReader, kCustomerOwner}) {
    EXPECT_TRUE(items("/v1/invoices", {}, who).empty()) << kIdentityNames[who];
    EXPECT_TRUE(items("/v1/invoices", {{"partnerId", "owner"}}, who).empty())
        << kIdentityNames[who];
    EXPECT_TRUE(items("/v1/invoices", {{"subscriptionId", kCustomerCsp.ToString()}}, who).empty())
        << kIdentityNames[who];
  }
  // Other partners see the offers' list prices, never another partner's
  // override.
  const HttpResponse put =
      world.Send("PUT", "/v1/priceSheets/partners/owner/USD/2027-01-01", {},
                 fmt::format(R"({{"meters":[{{"meterId":"{}","meterRates":{{"0":"0.3"}}}}]}})",
                             kMeter.ToString()),
                 world.Secret(kPlatformAdmin));
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(items("/v1/priceSheets", {}, kOwnerPartnerAdmin).size(), 2u);
  for (Identity who : {kParentPartnerAdmin, kOtherPartnerAdmin}) {
    const nlohmann::json sheets = items("/v1/priceSheets", {}, who);
    ASSERT_EQ(sheets.size(), 1u) << kIdentityNames[who];
    EXPECT_EQ(sheets[0]["owner"]["offerType"], "CSP");
  }
}

// --- escalation (SPEC §6 "No escalation") ------------------------------------

class EscalationTest : public ::testing::Test {
 protected:
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body,
                    Identity who) {
    return world_.Send(method, path, {}, body, world_.Secret(who));
  }
  World world_;
};

TEST_F(EscalationTest, NobodyButAPlatformAdminMintsAnotherPrincipalsToken) {
  const std::string path = fmt::format("/v1/principals/{}/tokens", kSubOwnerId.ToString());
  for (Identity who : {kOwnerPartnerAdmin, kReader}) {
    const HttpResponse response = Call("POST", path, "{}", who);
    EXPECT_EQ(response.status, 403) << kIdentityNames[who] << ": " << response.body;
    EXPECT_EQ(ErrorCodeOf(response), "AuthorizationFailed") << kIdentityNames[who];
  }
  const std::string own = fmt::format("/v1/principals/{}/tokens", kSubOwnerId.ToString());
  EXPECT_EQ(Call("POST", own, "{}", kOwner).status, 201);
}

TEST_F(EscalationTest, APartnerAdminCannotGrantPlatformAdminOrTheRootScope) {
  const std::string me = kOwnerAdminId.ToString();
  // PlatformAdmin on "/", for itself or for a principal of its own directory.
  for (const std::string& who : {me, kSubOwnerId.ToString()}) {
    const HttpResponse response =
        Call("PUT", "/v1/roleAssignments/ra-escalate",
             fmt::format(R"({{"principalId":"{}","role":"PlatformAdmin","scope":"/"}})", who),
             kOwnerPartnerAdmin);
    EXPECT_EQ(response.status, 403) << who << ": " << response.body;
    EXPECT_EQ(ErrorCodeOf(response), "AuthorizationFailed") << who;
  }
  // Another role on "/" fits no scope rule, so the request's shape refuses it
  // first (400 InvalidRoleAssignment, SPEC §3's check order) — for a
  // PlatformAdmin too; a 403 would do as well. Either way nothing is granted.
  for (const std::string role : {"Owner", "Reader", "PartnerAdmin"}) {
    const HttpResponse response =
        Call("PUT", "/v1/roleAssignments/ra-escalate",
             fmt::format(R"({{"principalId":"{}","role":"{}","scope":"/"}})", me, role),
             kOwnerPartnerAdmin);
    EXPECT_TRUE((response.status == 400 && ErrorCodeOf(response) == "InvalidRoleAssignment") ||
                (response.status == 403 && ErrorCodeOf(response) == "AuthorizationFailed"))
        << role << " on /: " << response.status << " " << response.body;
  }
  // Nor a PartnerAdmin above its own partner, nor over another partner.
  for (const std::string partner : {"parent", "other"}) {
    const HttpResponse response =
        Call("PUT", "/v1/roleAssignments/ra-escalate",
             fmt::format(R"({{"principalId":"{}","role":"PartnerAdmin","scope":"/partners/{}"}})",
                         me, partner),
             kOwnerPartnerAdmin);
    EXPECT_TRUE(response.status == 403 || response.status == 404)
        << partner << ": " << response.status << " " << response.body;
  }
  // Nothing was granted: the PlatformAdmin-only /metrics still refuses.
  EXPECT_EQ(Call("GET", "/metrics", "", kOwnerPartnerAdmin).status, 403);
  EXPECT_EQ(Call("GET", "/v1/roleAssignments/ra-escalate", "", kPlatformAdmin).status, 404);
}

TEST_F(EscalationTest, APartnerAdminCannotCreateAPrincipalInAForeignDirectory) {
  for (Guid directory : {kOtherDir, kCustomerDir, kPlatformDir, kResellerDir}) {
    const HttpResponse response =
        Call("POST", "/v1/principals",
             fmt::format(R"({{"directoryId":"{}","name":"mole@x.example","kind":"user"}})",
                         directory.ToString()),
             kOwnerPartnerAdmin);
    EXPECT_EQ(response.status, 403) << directory.ToString() << ": " << response.body;
    EXPECT_EQ(ErrorCodeOf(response), "AuthorizationFailed") << directory.ToString();
    auto created = world_.store().identity().FindPrincipalByName(directory, "mole@x.example");
    EXPECT_TRUE(absl::IsNotFound(created.status())) << directory.ToString();
  }
}

// SPEC §6: "404 for resources of another partner, so existence does not
// leak". Whatever the code, a caller who reaches nothing of another partner
// must get the same answer for that partner's resource as for one that does
// not exist.
TEST_F(EscalationTest, ExistenceOfAnotherPartnersResourcesDoesNotLeak) {
  const std::string nowhere = "0badc0de-0000-4000-8000-000000000001";
  struct Probe {
    std::string method;
    std::string existing;  // path of another partner's resource
    std::string missing;   // the same request naming nothing
    std::string body_existing;
    std::string body_missing;
    Query query;
    Identity who;
  };
  auto body = [](std::string_view format, const std::string& value) {
    return fmt::format(fmt::runtime(format), value);
  };
  const std::string reader = kSubReaderId.ToString();
  const std::vector<Probe> probes = {
      {"PUT",
       "/v1/roleAssignments/ra-probe",
       "/v1/roleAssignments/ra-probe",
       body(R"({{"principalId":"{}","role":"Reader","scope":"/subscriptions/)" + kApss.ToString() +
                R"("}})",
            reader),
       body(R"({{"principalId":"{}","role":"Reader","scope":"/subscriptions/)" + nowhere + R"("}})",
            reader),
       {},
       kOtherPartnerAdmin},
      {"POST",
       "/v1/principals/" + kSubOwnerId.ToString() + "/tokens",
       "/v1/principals/" + nowhere + "/tokens",
       "{}",
       "{}",
       {},
       kOtherPartnerAdmin},
      {"POST",
       "/v1/principals",
       "/v1/principals",
       body(R"({{"directoryId":"{}","name":"p@x.example","kind":"user"}})", kOwnerDir.ToString()),
       body(R"({{"directoryId":"{}","name":"p@x.example","kind":"user"}})", nowhere),
       {},
       kOtherPartnerAdmin},
      {"POST",
       "/v1/directories",
       "/v1/directories",
       body(R"({{"displayName":"D","domains":["d.example"],"ownerPartnerId":"{}"}})", "owner"),
       body(R"({{"displayName":"D","domains":["d.example"],"ownerPartnerId":"{}"}})", "nosuch"),
       {},
       kOtherPartnerAdmin},
      {"POST",
       "/v1/partners",
       "/v1/partners",
       body(R"({{"id":"r2","name":"r2","kind":"indirectReseller","parentPartnerId":"{}",)"
            R"("billingCurrency":"USD"}})",
            "parent"),
       body(R"({{"id":"r2","name":"r2","kind":"indirectReseller","parentPartnerId":"{}",)"
            R"("billingCurrency":"USD"}})",
            "nosuch"),
       {},
       kOtherPartnerAdmin},
      {"POST",
       "/v1/subscriptions",
       "/v1/subscriptions",
       body(R"({{"offerType":"APSS","directoryId":"{}","partnerId":"owner","displayName":"S"}})",
            kOwnerDir.ToString()),
       body(R"({{"offerType":"APSS","directoryId":"{}","partnerId":"owner","displayName":"S"}})",
            nowhere),
       {},
       kOtherPartnerAdmin},
      {"GET",
       "/v1/directories/" + kOwnerDir.ToString(),
       "/v1/directories/" + nowhere,
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"GET",
       "/v1/principals/" + reader,
       "/v1/principals/" + nowhere,
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"GET", "/v1/partners/reseller", "/v1/partners/nosuch", "", "", {}, kOtherPartnerAdmin},
      {"GET",
       "/v1/subscriptions/" + kApss.ToString(),
       "/v1/subscriptions/" + nowhere,
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"GET",
       "/v1/roleAssignments/ra-reader",
       "/v1/roleAssignments/ra-nosuch",
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"DELETE",
       "/v1/roleAssignments/ra-reader",
       "/v1/roleAssignments/ra-nosuch",
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"DELETE",
       "/v1/tokens/" + world_.spare_reader_token_id(),
       "/v1/tokens/nosuch",
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"GET", RegistrationPath(kApss, "regA"), RegistrationPath(*Guid::Parse(nowhere), "regA"), "",
       "", kArm, kOtherPartnerAdmin},
      {"POST", RegistrationPath(kApss, "regA") + "/getactivationkey",
       RegistrationPath(*Guid::Parse(nowhere), "regA") + "/getactivationkey", "", "", kArm,
       kOtherPartnerAdmin},
      {"GET",
       "/v1/stacks/" + kCloudA.ToString(),
       "/v1/stacks/" + nowhere,
       "",
       "",
       {},
       kOtherPartnerAdmin},
      {"PUT",
       fmt::format("/v1/stacks/{}/subscribers/{}", kCloudA.ToString(),
                   kLocalSubscription.ToString()),
       fmt::format("/v1/stacks/{}/subscribers/{}", nowhere, kLocalSubscription.ToString()),
       body(R"({{"tenantId":"{}"}})", kCustomerDir.ToString()),
       body(R"({{"tenantId":"{}"}})", kCustomerDir.ToString()),
       {},
       kOtherPartnerAdmin},
      {"PUT",
       "/v1/stacks/" + kCloudA.ToString() + "/approval",
       "/v1/stacks/" + nowhere + "/approval",
       R"({"billingModel":"Development"})",
       R"({"billingModel":"Development"})",
       {},
       kOwnerPartnerAdmin},
  };
  for (const Probe& probe : probes) {
    const HttpResponse existing = world_.Send(probe.method, probe.existing, probe.query,
                                              probe.body_existing, world_.Secret(probe.who));
    const HttpResponse missing = world_.Send(probe.method, probe.missing, probe.query,
                                             probe.body_missing, world_.Secret(probe.who));
    EXPECT_EQ(existing.status, missing.status)
        << probe.method << " " << probe.existing << " as " << kIdentityNames[probe.who]
        << ": existing " << existing.status << " " << ErrorCodeOf(existing) << ", missing "
        << missing.status << " " << ErrorCodeOf(missing);
    EXPECT_FALSE(existing.status >= 200 && existing.status < 300)
        << probe.method << " " << probe.existing << ": " << existing.body;
  }
}

// --- secrets at rest ---------------------------------------------------------

#ifdef STACKBILL_AUTHZ_ON_POSTGRES
// Everything the world's schema holds, as pg_dump writes it.
std::string DumpSchema(const std::string& dsn) {
  const std::size_t at = dsn.rfind("search_path%3D");
  if (at == std::string::npos) return "";
  const std::string schema = dsn.substr(at + 14);
  const std::string server = dsn.substr(0, dsn.find('?'));
  const std::string command =
      fmt::format("pg_dump --data-only --no-owner -n '{}' '{}'", schema, server);
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r"); pipe != nullptr) {
    std::array<char, 65536> buffer{};
    for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
      out.append(buffer.data(), n);
    }
    ::pclose(pipe);
  }
  return out;
}

TEST(SecretsAtRestTest, NoPlaintextTokenOrActivationKeyIsInTheDatabase) {
  World world;
  std::vector<std::string> secrets = world.AllSecrets();
  HttpResponse token =
      world.Send("POST", fmt::format("/v1/principals/{}/tokens", kSubOwnerId.ToString()), {}, "{}",
                 world.Secret(kOwner));
  ASSERT_EQ(token.status, 201) << token.body;
  secrets.push_back(nlohmann::json::parse(token.body)["token"].get<std::string>());
  HttpResponse key = world.Send("POST", RegistrationPath(kApss, "regA") + "/getactivationkey", kArm,
                                "", world.Secret(kOwner));
  ASSERT_EQ(key.status, 200) << key.body;
  secrets.push_back(nlohmann::json::parse(key.body)["activationKey"].get<std::string>());
  const std::string dump = DumpSchema(world.location());
  // The dump holds the seeded rows (the admin's principal name), so it is
  // the database's content and not an empty answer.
  ASSERT_NE(dump.find("COPY"), std::string::npos) << "pg_dump wrote no data";
  for (const std::string& secret : secrets) {
    ASSERT_GE(secret.size(), 16u);
    EXPECT_EQ(dump.find(secret), std::string::npos) << "a secret is stored in plaintext";
  }
}
#else
std::string ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(SecretsAtRestTest, NoPlaintextTokenOrActivationKeyIsInTheDatabaseFiles) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      fmt::format("stackbill-authz-{}-{}", ::getpid(),
                  std::chrono::steady_clock::now().time_since_epoch().count());
  std::filesystem::create_directories(dir);
  const std::filesystem::path db = dir / "stackbill.db";
  std::vector<std::string> secrets;
  {
    World world(db.string());
    secrets = world.AllSecrets();
    // Secrets handed out over HTTP too: a token and a rotated activation key.
    HttpResponse token =
        world.Send("POST", fmt::format("/v1/principals/{}/tokens", kSubOwnerId.ToString()), {},
                   "{}", world.Secret(kOwner));
    ASSERT_EQ(token.status, 201) << token.body;
    secrets.push_back(nlohmann::json::parse(token.body)["token"].get<std::string>());
    HttpResponse key = world.Send("POST", RegistrationPath(kApss, "regA") + "/getactivationkey",
                                  kArm, "", world.Secret(kOwner));
    ASSERT_EQ(key.status, 200) << key.body;
    secrets.push_back(nlohmann::json::parse(key.body)["activationKey"].get<std::string>());

    // While the store is open, the WAL holds the latest writes.
    ASSERT_TRUE(std::filesystem::exists(db));
    std::string bytes = ReadBytes(db);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      const std::filesystem::path extra = db.string() + suffix;
      if (std::filesystem::exists(extra)) bytes += ReadBytes(extra);
    }
    ASSERT_FALSE(bytes.empty());
    for (const std::string& secret : secrets) {
      ASSERT_GE(secret.size(), 16u);
      EXPECT_EQ(bytes.find(secret), std::string::npos) << "a secret is stored in plaintext";
    }
  }
  // And after the store closed (the WAL checkpointed into the file).
  std::string bytes = ReadBytes(db);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::filesystem::path extra = db.string() + suffix;
    if (std::filesystem::exists(extra)) bytes += ReadBytes(extra);
  }
  for (const std::string& secret : secrets) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << "a secret is stored in plaintext";
  }
  std::filesystem::remove_all(dir);
}

#endif

}  // namespace
}  // namespace stackbill
