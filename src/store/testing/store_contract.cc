#include "store/testing/store_contract.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <latch>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"

namespace stackbill::store_testing {
namespace {

// ---------------------------------------------------------------------------
// Assertion helpers: tests check the specific code, never just "not ok".

absl::Status ToStatus(const absl::Status& status) { return status; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

#define CONTRACT_CONCAT_INNER(a, b) a##b
#define CONTRACT_CONCAT(a, b) CONTRACT_CONCAT_INNER(a, b)

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const absl::Status contract_status = ToStatus(expr);  \
    ASSERT_TRUE(contract_status.ok()) << contract_status; \
  } while (false)

#define EXPECT_OK(expr)                                   \
  do {                                                    \
    const absl::Status contract_status = ToStatus(expr);  \
    EXPECT_TRUE(contract_status.ok()) << contract_status; \
  } while (false)

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(CONTRACT_CONCAT(contract_status_or_, __COUNTER__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  ASSERT_TRUE(tmp.ok()) << tmp.status();          \
  lhs = *std::move(tmp)

// Expects `expr` to fail with canonical `code` (and, when given, the product
// error code).
#define EXPECT_STATUS(expr, expected_code) \
  EXPECT_EQ(ToStatus(expr).code(), absl::StatusCode::expected_code)
#define EXPECT_ERROR(expr, expected_code, product_code)                                    \
  do {                                                                                     \
    const absl::Status contract_status = ToStatus(expr);                                   \
    EXPECT_EQ(contract_status.code(), absl::StatusCode::expected_code) << contract_status; \
    EXPECT_EQ(ErrorCode(contract_status), product_code) << contract_status;                \
  } while (false)

// ---------------------------------------------------------------------------
// Values.

// A GUID whose first byte says what it names and whose last two bytes count.
Guid G(std::uint8_t kind, int n) {
  std::array<std::uint8_t, 16> bytes{};
  bytes[0] = kind;
  bytes[14] = static_cast<std::uint8_t>((n >> 8) & 0xff);
  bytes[15] = static_cast<std::uint8_t>(n & 0xff);
  return Guid(bytes);
}

Timestamp At(std::string_view text) {
  auto t = Timestamp::Parse(text);
  if (!t.ok()) {
    ADD_FAILURE() << "bad test timestamp " << text;
    return Timestamp();
  }
  return *t;
}

template <typename D>
D Dec(std::string_view text) {
  auto value = D::Parse(text);
  if (!value.ok()) {
    ADD_FAILURE() << "bad test decimal " << text;
    return D();
  }
  return *value;
}
Quantity Q(std::string_view text) { return Dec<Quantity>(text); }
UnitPrice P(std::string_view text) { return Dec<UnitPrice>(text); }
Amount A(std::string_view text) { return Dec<Amount>(text); }

const Timestamp kT0 = Timestamp::FromUnixSeconds(1793491200);  // 2026-11-01T00:00:00Z

Timestamp Hours(int hours) { return kT0.AddHours(hours); }

// The parties most tests need: an indirect provider with a reseller, a second
// partner, directories and subscriptions (SPEC §1).
struct World {
  PartnerId provider = "contoso";
  PartnerId reseller = "fabrikam";
  PartnerId other = "litware";
  Guid csp_directory = G(1, 1);
  Guid customer_directory = G(1, 2);
  Guid customer2_directory = G(1, 3);
  Guid apss = G(2, 1);           // the default subscription of registrations
  Guid customer_sub = G(2, 2);   // CSP, customer_directory, sold by the reseller
  Guid customer_sub2 = G(2, 3);  // CSP, customer2_directory, sold by the reseller
  Guid payg = G(2, 4);           // PayAsYouGo, direct-billed
  Guid cloud = G(3, 1);
  Guid cloud2 = G(3, 2);
};

Partner MakePartner(PartnerId id, PartnerKind kind) {
  Partner partner;
  partner.id = std::move(id);
  partner.name = partner.id + " Ltd";
  partner.kind = kind;
  partner.billing_currency = "USD";
  return partner;
}

Directory MakeDirectory(const Guid& id, std::string domain, std::optional<PartnerId> owner) {
  Directory directory;
  directory.id = id;
  directory.display_name = "Directory " + domain;
  directory.domains = {std::move(domain)};
  directory.owner_partner_id = std::move(owner);
  return directory;
}

Subscription MakeSubscription(const Guid& id, OfferType offer, const Guid& directory,
                              std::optional<PartnerId> partner) {
  Subscription subscription;
  subscription.id = id;
  subscription.offer_type = offer;
  subscription.directory_id = directory;
  subscription.partner_id = std::move(partner);
  if (!subscription.partner_id) subscription.billing_currency = "USD";
  subscription.display_name = "Subscription " + id.ToString().substr(0, 8);
  return subscription;
}

void CreateWorld(Store& store, const World& w) {
  PartyStore& parties = store.parties();
  ASSERT_OK(parties.CreatePartner(MakePartner(w.provider, PartnerKind::kIndirectProvider),
                                  std::nullopt, kT0));
  ASSERT_OK(parties.CreatePartner(MakePartner(w.reseller, PartnerKind::kIndirectReseller),
                                  w.provider, kT0));
  ASSERT_OK(parties.CreatePartner(MakePartner(w.other, PartnerKind::kDirect), std::nullopt, kT0));
  IdentityStore& identity = store.identity();
  ASSERT_OK(identity.CreateDirectory(
      MakeDirectory(w.csp_directory, "contosocsp.onmicrosoft.com", w.provider)));
  ASSERT_OK(identity.CreateDirectory(
      MakeDirectory(w.customer_directory, "customer.onmicrosoft.com", std::nullopt)));
  ASSERT_OK(identity.CreateDirectory(
      MakeDirectory(w.customer2_directory, "customer2.onmicrosoft.com", std::nullopt)));
  ASSERT_OK(parties.CreateSubscription(
      MakeSubscription(w.apss, OfferType::kApss, w.csp_directory, w.provider), kT0));
  ASSERT_OK(parties.CreateSubscription(
      MakeSubscription(w.customer_sub, OfferType::kCsp, w.customer_directory, w.reseller), kT0));
  ASSERT_OK(parties.CreateSubscription(
      MakeSubscription(w.customer_sub2, OfferType::kCsp, w.customer2_directory, w.reseller), kT0));
  ASSERT_OK(parties.CreateSubscription(
      MakeSubscription(w.payg, OfferType::kPayAsYouGo, w.customer_directory, std::nullopt), kT0));
}

RegistrationName RegName(const World& w, std::string name = "reg1") {
  return RegistrationName{w.apss, "rg1", std::move(name)};
}

Registration MakeRegistration(const RegistrationName& name, const Guid& cloud, Timestamp from) {
  Registration r;
  r.name = name;
  r.cloud_id = cloud;
  r.object_id = G(9, 9);
  r.billing_model = BillingModel::kPayAsYouUse;
  r.multi_tenant = true;
  r.usage_reporting_enabled = true;
  r.tags = {{"env", "prod"}};
  r.valid.from = from;
  return r;
}

Stack MakeStack(const Guid& cloud) {
  Stack stack;
  stack.cloud_id = cloud;
  stack.deployment_directory_id = G(1, 1);
  stack.billing_model = BillingModel::kPayAsYouUse;
  stack.usage_reporting_enabled = true;
  stack.multi_tenant = true;
  return stack;
}

CustomerSubscription MakeCustomer(const RegistrationName& name, const Guid& subscription,
                                  const Guid& tenant, Timestamp from) {
  CustomerSubscription cs;
  cs.registration = name;
  cs.customer_subscription_id = subscription;
  cs.tenant_id = tenant;
  cs.valid.from = from;
  return cs;
}

UsageRecord MakeUsage(const Guid& cloud, int n, std::string content = "a") {
  UsageRecord r;
  r.cloud_id = cloud;
  r.record_id = "record-" + std::to_string(n);
  r.identity = "identity-" + std::to_string(n);
  r.content_hash = "hash-" + content;
  r.tenant_id = G(1, 2);
  r.local_subscription_id = G(4, 1);
  r.meter_id = G(5, 1);
  r.quantity = Q("2.0000000001");
  r.usage_start = Hours(n);
  r.usage_end = Hours(n + 1);
  r.resource_uri = "/subscriptions/x/virtualMachines/vm" + std::to_string(n);
  r.instance_data = R"({"Microsoft.Resources":{"location":"local"}})";
  r.routing.billed_subscription_id = G(2, 1);
  r.routing.bill_to = BillTo{BillTo::Kind::kPartner, "contoso", Guid()};
  r.routing.reason = RoutingReason::kDefaultUnregisteredTenant;
  r.reported_time = kT0.AddDays(40);
  return r;
}

QuarantineEntry MakeQuarantine(const Guid& cloud, Timestamp received, std::string code) {
  QuarantineEntry entry;
  entry.cloud_id = cloud;
  entry.received_at = received;
  entry.code = std::move(code);
  entry.message = "rejected: " + entry.code;
  // Raw text is bytes: here with a byte that is not UTF-8 and a NUL.
  entry.raw_text = std::string("{\"id\":\"r1\",\"bad\":\xff}\0", 20);
  entry.record_id = "r1";
  return entry;
}

PriceSheetKey OfferSheet(std::string currency = "USD", Timestamp effective = kT0) {
  return PriceSheetKey{PriceSheetOwner::Offer(OfferType::kCsp), std::move(currency), effective};
}

PriceSheet MakeSheet(const PriceSheetKey& key, std::string_view first_price) {
  PriceSheet sheet;
  sheet.key = key;
  MeterPrice a;
  a.meter_id = G(5, 1);
  a.tiers = {PriceTier{Q("0"), P(first_price)}, PriceTier{Q("1000"), P("0.0000000001")}};
  a.included_quantity = Q("0");
  MeterPrice b;
  b.meter_id = G(5, 2);
  b.tiers = {PriceTier{Q("0"), P("999999.9999999999")}};
  b.included_quantity = Q("100.5");
  sheet.meters = {a, b};
  return sheet;
}

Invoice MakeInvoice(const Guid& id, YearMonth period, const PartnerId& partner) {
  Invoice invoice;
  invoice.id = id;
  invoice.period = period;
  invoice.bill_to = BillTo{BillTo::Kind::kPartner, partner, Guid()};
  invoice.currency = "USD";
  InvoiceLine line;
  line.subscription_id = G(2, 2);
  line.subscription_name = "Customer production";
  line.customer_directory_id = G(1, 2);
  line.customer_name = "Customer Inc";
  line.tenant_id = G(1, 2);
  line.reseller_partner_id = "fabrikam";
  line.reseller_name = "Fabrikam";
  line.meter_id = G(5, 1);
  line.meter_name = "Base VM Size Hours";
  line.unit = "Hours";
  line.quantity = Q("1234.5678901234");
  line.included_quantity = Q("100");
  line.tiers = {AppliedTier{Q("0"), Q("1000"), P("0.008"), A("8")},
                AppliedTier{Q("1000"), Q("134.5678901234"), P("0.006"), A("0.8074073407404")}};
  line.amount = A("8.81");
  InvoiceLine late = line;
  late.tenant_id.reset();
  late.customer_directory_id.reset();
  late.reseller_partner_id.reset();
  late.late_usage_month = period.Previous();
  late.tiers.clear();
  late.quantity = Q("0.0000000001");
  late.amount = A("0");
  late.zero_rated = true;
  InvoiceLine adjustment;
  adjustment.subscription_id = G(2, 2);
  adjustment.adjustment = true;
  adjustment.amount = A("-12.5");
  adjustment.description = "credit for outage";
  invoice.lines = {line, late, adjustment};
  invoice.total = A("-3.69");
  return invoice;
}

}  // namespace

// ---------------------------------------------------------------------------

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

void StoreContract::SetUp() {
  auto location = GetParam().new_database();
  ASSERT_TRUE(location.ok()) << location.status();
  location_ = *location;
  auto store = GetParam().open(location_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
}

void StoreContract::TearDown() { store_.reset(); }

std::unique_ptr<Store> StoreContract::OpenAnother() {
  auto store = GetParam().open(location_);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

void StoreContract::Reopen() {
  store_.reset();
  store_ = OpenAnother();
}

namespace {

// ---------------------------------------------------------------------------
// Identity

TEST_P(StoreContract, DirectoryReadsBackAndItsIdCannotBeReused) {
  World w;
  CreateWorld(store(), w);
  Directory directory =
      MakeDirectory(G(1, 7), "Tenant.Example.com", std::optional<PartnerId>("contoso"));
  directory.domains.push_back("second.example.com");
  ASSERT_OK(store().identity().CreateDirectory(directory));
  ASSERT_OK_AND_ASSIGN(Directory read, store().identity().GetDirectory(directory.id));
  EXPECT_EQ(read, directory);

  Directory again = MakeDirectory(G(1, 7), "other.example.com", std::nullopt);
  EXPECT_STATUS(store().identity().CreateDirectory(again), kAlreadyExists);
  EXPECT_STATUS(store().identity().GetDirectory(G(1, 99)), kNotFound);
  EXPECT_STATUS(
      store().identity().CreateDirectory(MakeDirectory(G(1, 8), "x.example.com", "nobody")),
      kNotFound);

  directory.display_name = "Renamed";
  directory.domains = {"renamed.example.com"};
  ASSERT_OK(store().identity().UpdateDirectory(directory));
  ASSERT_OK_AND_ASSIGN(read, store().identity().GetDirectory(directory.id));
  EXPECT_EQ(read, directory);
  EXPECT_STATUS(store().identity().FindDirectoryByDomain("tenant.example.com"), kNotFound);
  EXPECT_STATUS(store().identity().UpdateDirectory(MakeDirectory(G(1, 99), "y.com", std::nullopt)),
                kNotFound);

  ASSERT_OK_AND_ASSIGN(std::vector<Directory> all, store().identity().ListDirectories());
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3], directory);
}

TEST_P(StoreContract, DomainsAreUniqueAcrossDirectoriesIgnoringCase) {
  ASSERT_OK(store().identity().CreateDirectory(
      MakeDirectory(G(1, 1), "ContosoCSP.onmicrosoft.com", std::nullopt)));
  ASSERT_OK_AND_ASSIGN(Directory found,
                       store().identity().FindDirectoryByDomain("contosocsp.ONMICROSOFT.com"));
  EXPECT_EQ(found.id, G(1, 1));
  EXPECT_ERROR(store().identity().CreateDirectory(
                   MakeDirectory(G(1, 2), "contosocsp.onmicrosoft.com", std::nullopt)),
               kAlreadyExists, "DomainAlreadyExists");
  Directory twice = MakeDirectory(G(1, 3), "a.com", std::nullopt);
  twice.domains.push_back("A.com");
  EXPECT_STATUS(store().identity().CreateDirectory(twice), kInvalidArgument);
  EXPECT_STATUS(store().identity().GetDirectory(G(1, 2)), kNotFound);
}

TEST_P(StoreContract, PrincipalNamesAreUniquePerDirectoryIgnoringCase) {
  World w;
  CreateWorld(store(), w);
  Principal alice{G(6, 1), w.csp_directory, "Alice@contosocsp.onmicrosoft.com",
                  PrincipalKind::kUser};
  ASSERT_OK(store().identity().CreatePrincipal(alice));
  ASSERT_OK_AND_ASSIGN(Principal read, store().identity().GetPrincipal(alice.object_id));
  EXPECT_EQ(read, alice);
  ASSERT_OK_AND_ASSIGN(read, store().identity().FindPrincipalByName(
                                 w.csp_directory, "alice@CONTOSOCSP.onmicrosoft.com"));
  EXPECT_EQ(read, alice);

  Principal same_name{G(6, 2), w.csp_directory, "alice@contosocsp.onmicrosoft.com",
                      PrincipalKind::kServicePrincipal};
  EXPECT_STATUS(store().identity().CreatePrincipal(same_name), kAlreadyExists);
  same_name.directory_id = w.customer_directory;
  EXPECT_OK(store().identity().CreatePrincipal(same_name));
  EXPECT_STATUS(store().identity().CreatePrincipal(alice), kAlreadyExists);
  Principal nowhere{G(6, 3), G(1, 99), "bob", PrincipalKind::kUser};
  EXPECT_STATUS(store().identity().CreatePrincipal(nowhere), kNotFound);
  EXPECT_STATUS(store().identity().GetPrincipal(G(6, 3)), kNotFound);

  ASSERT_OK_AND_ASSIGN(std::vector<Principal> in_csp,
                       store().identity().ListPrincipals(w.csp_directory));
  EXPECT_EQ(in_csp, std::vector<Principal>{alice});
  ASSERT_OK_AND_ASSIGN(std::vector<Principal> all, store().identity().ListPrincipals(std::nullopt));
  EXPECT_EQ(all.size(), 2u);
}

TEST_P(StoreContract, TokenIsFoundByHashOnlyWhileActive) {
  World w;
  CreateWorld(store(), w);
  Principal alice{G(6, 1), w.csp_directory, "alice", PrincipalKind::kUser};
  ASSERT_OK(store().identity().CreatePrincipal(alice));
  TokenRecord token{"tok1", alice.object_id, std::string("\x00\x01hash", 6),
                    kT0,    Hours(24),       std::nullopt};
  ASSERT_OK(store().identity().CreateToken(token));

  ASSERT_OK_AND_ASSIGN(TokenRecord found,
                       store().identity().FindTokenByHash(token.hash, Hours(23)));
  EXPECT_EQ(found, token);
  EXPECT_ERROR(store().identity().FindTokenByHash(token.hash, Hours(24)), kNotFound,
               "InvalidToken");
  EXPECT_ERROR(store().identity().FindTokenByHash("unknown", Hours(1)), kNotFound, "InvalidToken");
  ASSERT_OK_AND_ASSIGN(TokenRecord by_id, store().identity().GetToken("tok1"));
  EXPECT_EQ(by_id, token);
  EXPECT_STATUS(store().identity().GetToken("tok2"), kNotFound);
}

TEST_P(StoreContract, RevokedTokenIsNotFoundAndKeepsItsFirstRevocationTime) {
  World w;
  CreateWorld(store(), w);
  Principal alice{G(6, 1), w.csp_directory, "alice", PrincipalKind::kUser};
  ASSERT_OK(store().identity().CreatePrincipal(alice));
  TokenRecord token{"tok1", alice.object_id, "hash1", kT0, Hours(24), std::nullopt};
  ASSERT_OK(store().identity().CreateToken(token));
  ASSERT_OK_AND_ASSIGN(TokenRecord revoked, store().identity().RevokeToken("tok1", Hours(2)));
  EXPECT_EQ(revoked.revoked_at, Hours(2));
  EXPECT_OK(store().identity().FindTokenByHash("hash1", Hours(1)));
  EXPECT_ERROR(store().identity().FindTokenByHash("hash1", Hours(2)), kNotFound, "InvalidToken");
  ASSERT_OK_AND_ASSIGN(revoked, store().identity().RevokeToken("tok1", Hours(5)));
  EXPECT_EQ(revoked.revoked_at, Hours(2));
  EXPECT_STATUS(store().identity().RevokeToken("nope", Hours(5)), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<TokenRecord> tokens,
                       store().identity().ListTokens(alice.object_id));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].revoked_at, Hours(2));
}

TEST_P(StoreContract, TokenIdsAndHashesAreUniqueAndNeedAKnownPrincipal) {
  World w;
  CreateWorld(store(), w);
  Principal alice{G(6, 1), w.csp_directory, "alice", PrincipalKind::kUser};
  ASSERT_OK(store().identity().CreatePrincipal(alice));
  ASSERT_OK(store().identity().CreateToken({"tok1", alice.object_id, "h1", kT0, Hours(1), {}}));
  EXPECT_STATUS(store().identity().CreateToken({"tok1", alice.object_id, "h2", kT0, Hours(1), {}}),
                kAlreadyExists);
  EXPECT_STATUS(store().identity().CreateToken({"tok2", alice.object_id, "h1", kT0, Hours(1), {}}),
                kAlreadyExists);
  EXPECT_STATUS(store().identity().CreateToken({"tok3", G(6, 9), "h3", kT0, Hours(1), {}}),
                kNotFound);
  EXPECT_STATUS(store().identity().CreateToken({"", alice.object_id, "h4", kT0, Hours(1), {}}),
                kInvalidArgument);
}

TEST_P(StoreContract, RoleAssignmentPutCreatesThenReplacesAndDeleteRemoves) {
  World w;
  CreateWorld(store(), w);
  Principal alice{G(6, 1), w.csp_directory, "alice", PrincipalKind::kUser};
  ASSERT_OK(store().identity().CreatePrincipal(alice));
  RoleAssignment assignment{"ra1", alice.object_id, Role::kPartnerAdmin, "/partners/contoso"};
  ASSERT_OK_AND_ASSIGN(bool created, store().identity().PutRoleAssignment(assignment));
  EXPECT_TRUE(created);
  assignment.role = Role::kReader;
  assignment.scope = "/subscriptions/" + w.apss.ToString();
  ASSERT_OK_AND_ASSIGN(created, store().identity().PutRoleAssignment(assignment));
  EXPECT_FALSE(created);
  ASSERT_OK_AND_ASSIGN(RoleAssignment read, store().identity().GetRoleAssignment("ra1"));
  EXPECT_EQ(read, assignment);
  ASSERT_OK_AND_ASSIGN(std::vector<RoleAssignment> of_alice,
                       store().identity().ListRoleAssignments(alice.object_id));
  EXPECT_EQ(of_alice, std::vector<RoleAssignment>{assignment});
  EXPECT_STATUS(store().identity().PutRoleAssignment({"ra2", G(6, 9), Role::kOwner, "/"}),
                kNotFound);
  ASSERT_OK(store().identity().DeleteRoleAssignment("ra1"));
  EXPECT_STATUS(store().identity().GetRoleAssignment("ra1"), kNotFound);
  EXPECT_STATUS(store().identity().DeleteRoleAssignment("ra1"), kNotFound);
}

// ---------------------------------------------------------------------------
// Parties

TEST_P(StoreContract, PartnerParentChangeEndsThePreviousLink) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(store().parties().SetPartnerParent(w.reseller, w.other, Hours(10)));
  ASSERT_OK(store().parties().SetPartnerParent(w.reseller, w.other, Hours(12)));  // no-op
  ASSERT_OK_AND_ASSIGN(std::vector<PartnerParentLink> links,
                       store().parties().ListPartnerParentLinks(w.reseller));
  const std::vector<PartnerParentLink> expected = {
      {w.reseller, w.provider, Validity{kT0, Hours(10)}},
      {w.reseller, w.other, Validity{Hours(10), std::nullopt}},
  };
  EXPECT_EQ(links, expected);
  EXPECT_STATUS(store().parties().SetPartnerParent(w.reseller, w.reseller, Hours(20)),
                kInvalidArgument);
  EXPECT_STATUS(store().parties().SetPartnerParent(w.reseller, "nobody", Hours(20)), kNotFound);
  EXPECT_STATUS(store().parties().SetPartnerParent("nobody", w.other, Hours(20)), kNotFound);
  EXPECT_STATUS(store().parties().ListPartnerParentLinks("nobody"), kNotFound);
}

TEST_P(StoreContract, VersionCannotStartBeforeTheVersionInForce) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(store().parties().SetPartnerParent(w.reseller, w.other, Hours(10)));
  EXPECT_ERROR(store().parties().SetPartnerParent(w.reseller, std::nullopt, Hours(9)),
               kFailedPrecondition, "VersionOutOfOrder");
  // A change at the very start of the version in force replaces it.
  ASSERT_OK(store().parties().SetPartnerParent(w.reseller, w.provider, Hours(10)));
  ASSERT_OK_AND_ASSIGN(std::vector<PartnerParentLink> links,
                       store().parties().ListPartnerParentLinks(w.reseller));
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[1].parent_partner_id, w.provider);
  EXPECT_EQ(links[1].valid, (Validity{Hours(10), std::nullopt}));
}

TEST_P(StoreContract, SubscriptionOwnershipIsEffectiveDated) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(store().parties().TransferSubscription(w.customer_sub, w.other, Hours(5)));
  ASSERT_OK_AND_ASSIGN(Subscription subscription,
                       store().parties().GetSubscription(w.customer_sub));
  EXPECT_EQ(subscription.partner_id, w.other);
  ASSERT_OK_AND_ASSIGN(std::vector<SubscriptionOwnership> owners,
                       store().parties().ListSubscriptionOwnership(w.customer_sub));
  const std::vector<SubscriptionOwnership> expected = {
      {w.customer_sub, w.reseller, Validity{kT0, Hours(5)}},
      {w.customer_sub, w.other, Validity{Hours(5), std::nullopt}},
  };
  EXPECT_EQ(owners, expected);
  ASSERT_OK_AND_ASSIGN(std::vector<Subscription> of_other,
                       store().parties().ListSubscriptions({.partner_id = w.other}));
  ASSERT_EQ(of_other.size(), 1u);
  EXPECT_EQ(of_other[0].id, w.customer_sub);
  EXPECT_STATUS(store().parties().TransferSubscription(G(2, 99), w.other, Hours(6)), kNotFound);
  EXPECT_STATUS(store().parties().TransferSubscription(w.customer_sub, "nobody", Hours(6)),
                kNotFound);
  EXPECT_ERROR(store().parties().TransferSubscription(w.customer_sub, w.provider, Hours(4)),
               kFailedPrecondition, "VersionOutOfOrder");
}

TEST_P(StoreContract, SubscriptionUpdateKeepsItsPartnerAndDuplicatesAreRefused) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK_AND_ASSIGN(Subscription subscription, store().parties().GetSubscription(w.payg));
  subscription.display_name = "Renamed";
  subscription.state = SubscriptionState::kDisabled;
  ASSERT_OK(store().parties().UpdateSubscription(subscription));
  ASSERT_OK_AND_ASSIGN(Subscription read, store().parties().GetSubscription(w.payg));
  EXPECT_EQ(read, subscription);
  subscription.partner_id = w.other;
  EXPECT_STATUS(store().parties().UpdateSubscription(subscription), kInvalidArgument);
  EXPECT_STATUS(store().parties().CreateSubscription(read, kT0), kAlreadyExists);
  EXPECT_STATUS(store().parties().CreateSubscription(
                    MakeSubscription(G(2, 50), OfferType::kCsp, G(1, 99), w.reseller), kT0),
                kNotFound);
  EXPECT_STATUS(store().parties().CreatePartner(MakePartner(w.other, PartnerKind::kDirect),
                                                std::nullopt, kT0),
                kAlreadyExists);
  Partner renamed = MakePartner(w.other, PartnerKind::kDirect);
  renamed.name = "Litware Inc";
  ASSERT_OK(store().parties().UpdatePartner(renamed));
  ASSERT_OK_AND_ASSIGN(Partner partner, store().parties().GetPartner(w.other));
  EXPECT_EQ(partner, renamed);
  EXPECT_STATUS(store().parties().GetPartner("nobody"), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<Partner> partners, store().parties().ListPartners());
  EXPECT_EQ(partners.size(), 3u);
}

// ---------------------------------------------------------------------------
// Registrations

TEST_P(StoreContract, RegistrationPutCreatesThenVersionsChangedTerms) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  const Registration first = MakeRegistration(RegName(w), w.cloud, Hours(1));
  ASSERT_OK_AND_ASSIGN(PutRegistrationResult put,
                       registrations.PutRegistration(first, MakeStack(w.cloud)));
  EXPECT_TRUE(put.created);
  EXPECT_EQ(put.registration, first);
  EXPECT_FALSE(put.previous.has_value());

  // The same terms again change nothing.
  Registration same = first;
  same.valid.from = Hours(2);
  ASSERT_OK_AND_ASSIGN(put, registrations.PutRegistration(same, MakeStack(w.cloud)));
  EXPECT_FALSE(put.created);
  EXPECT_EQ(put.registration, first);

  Registration second = first;
  second.valid.from = Hours(3);
  second.tags["owner"] = "ops";
  second.usage_reporting_enabled = false;
  ASSERT_OK_AND_ASSIGN(put, registrations.PutRegistration(second, MakeStack(w.cloud)));
  EXPECT_FALSE(put.created);
  EXPECT_EQ(put.registration, second);
  Registration ended = first;
  ended.valid.to = Hours(3);
  EXPECT_EQ(put.previous, ended);

  ASSERT_OK_AND_ASSIGN(Registration live, registrations.GetRegistration(RegName(w)));
  EXPECT_EQ(live, second);
  ASSERT_OK_AND_ASSIGN(std::vector<Registration> versions,
                       registrations.ListRegistrationVersions(RegName(w)));
  EXPECT_EQ(versions, (std::vector<Registration>{ended, second}));
  ASSERT_OK_AND_ASSIGN(Registration by_cloud, registrations.FindRegistrationByCloud(w.cloud));
  EXPECT_EQ(by_cloud, second);
  ASSERT_OK_AND_ASSIGN(Stack stack, registrations.GetStack(w.cloud));
  EXPECT_EQ(stack, MakeStack(w.cloud));

  Registration earlier = second;
  earlier.valid.from = Hours(2);
  earlier.tags.clear();
  EXPECT_ERROR(registrations.PutRegistration(earlier, MakeStack(w.cloud)), kFailedPrecondition,
               "VersionOutOfOrder");
  Registration no_subscription =
      MakeRegistration(RegistrationName{G(2, 99), "rg", "reg"}, w.cloud2, Hours(1));
  EXPECT_STATUS(registrations.PutRegistration(no_subscription, MakeStack(w.cloud2)), kNotFound);
  EXPECT_STATUS(registrations.PutRegistration(first, MakeStack(w.cloud2)), kInvalidArgument);
  EXPECT_STATUS(registrations.GetStack(w.cloud2), kNotFound);
}

TEST_P(StoreContract, CloudIdRegisteredUnderAnotherRegistrationIsRefused) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  Stack hijack = MakeStack(w.cloud);
  hijack.deployment_directory_id = G(1, 66);
  EXPECT_ERROR(registrations.PutRegistration(
                   MakeRegistration(RegName(w, "reg2"), w.cloud, Hours(2)), hijack),
               kAlreadyExists, "CloudAlreadyRegistered");
  // A refused registration leaves the stack as it was.
  ASSERT_OK_AND_ASSIGN(Stack stack, registrations.GetStack(w.cloud));
  EXPECT_EQ(stack, MakeStack(w.cloud));
  EXPECT_STATUS(registrations.GetRegistration(RegName(w, "reg2")), kNotFound);
  // The registration keeps its cloudId.
  EXPECT_ERROR(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud2, Hours(2)),
                                             MakeStack(w.cloud2)),
               kFailedPrecondition, "RegistrationCloudIdMismatch");
}

TEST_P(StoreContract, RegistrationNamesCompareIgnoringCase) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(store().registrations().PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                                    MakeStack(w.cloud)));
  RegistrationName upper{w.apss, "RG1", "Reg1"};
  ASSERT_OK_AND_ASSIGN(Registration live, store().registrations().GetRegistration(upper));
  EXPECT_EQ(live.name, RegName(w));
  ASSERT_OK_AND_ASSIGN(std::vector<Registration> listed,
                       store().registrations().ListRegistrations(
                           {.subscription_id = w.apss, .resource_group = std::string("Rg1")}));
  EXPECT_EQ(listed, std::vector<Registration>{live});
  ASSERT_OK_AND_ASSIGN(listed, store().registrations().ListRegistrations({}));
  EXPECT_EQ(listed.size(), 1u);
  EXPECT_STATUS(store().registrations().ListRegistrations({.resource_group = std::string("rg1")}),
                kInvalidArgument);
}

TEST_P(StoreContract, EndingARegistrationReleasesItsCloudAndEndsItsCustomerSubscriptions) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2))));
  ASSERT_OK_AND_ASSIGN(Registration ended, registrations.EndRegistration(RegName(w), Hours(5)));
  EXPECT_EQ(ended.valid, (Validity{Hours(1), Hours(5)}));
  EXPECT_STATUS(registrations.GetRegistration(RegName(w)), kNotFound);
  EXPECT_STATUS(registrations.FindRegistrationByCloud(w.cloud), kNotFound);
  EXPECT_STATUS(registrations.EndRegistration(RegName(w), Hours(6)), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<CustomerSubscription> versions,
                       registrations.ListCustomerSubscriptionVersions(RegName(w)));
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].valid, (Validity{Hours(2), Hours(5)}));
  ASSERT_OK_AND_ASSIGN(std::vector<CustomerSubscription> live,
                       registrations.ListCustomerSubscriptions(RegName(w)));
  EXPECT_TRUE(live.empty());

  // The cloud may now be registered again, but not before the old one ended.
  EXPECT_ERROR(registrations.PutRegistration(
                   MakeRegistration(RegName(w, "reg2"), w.cloud, Hours(4)), MakeStack(w.cloud)),
               kFailedPrecondition, "VersionOutOfOrder");
  ASSERT_OK_AND_ASSIGN(
      PutRegistrationResult put,
      registrations.PutRegistration(MakeRegistration(RegName(w, "reg2"), w.cloud, Hours(5)),
                                    MakeStack(w.cloud)));
  EXPECT_TRUE(put.created);
}

TEST_P(StoreContract, ReleasingACloudClaimEndsTheClaimingRegistration) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(Registration released, registrations.ReleaseCloudClaim(w.cloud, Hours(3)));
  EXPECT_EQ(released.name, RegName(w));
  EXPECT_EQ(released.valid.to, Hours(3));
  EXPECT_ERROR(registrations.ReleaseCloudClaim(w.cloud, Hours(4)), kNotFound, "CloudNotRegistered");
  EXPECT_OK(registrations.PutRegistration(MakeRegistration(RegName(w, "reg2"), w.cloud, Hours(4)),
                                          MakeStack(w.cloud)));
}

TEST_P(StoreContract, CustomerSubscriptionPutEndsTheTenantsEarlierMappingAtTheNewFrom) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(PutCustomerSubscriptionResult first,
                       registrations.PutCustomerSubscription(MakeCustomer(
                           RegName(w), w.customer_sub, w.customer_directory, Hours(2))));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.customer_subscription.cloud_id, w.cloud);
  EXPECT_TRUE(first.ended.empty());

  // The same tenant mapped to another subscription: the earlier mapping ends
  // where the new one starts (R6).
  ASSERT_OK_AND_ASSIGN(PutCustomerSubscriptionResult second,
                       registrations.PutCustomerSubscription(MakeCustomer(
                           RegName(w), w.customer_sub2, w.customer_directory, Hours(7))));
  EXPECT_TRUE(second.created);
  CustomerSubscription ended = first.customer_subscription;
  ended.valid.to = Hours(7);
  EXPECT_EQ(second.ended, std::vector<CustomerSubscription>{ended});

  ASSERT_OK_AND_ASSIGN(std::vector<CustomerSubscription> live,
                       registrations.ListCustomerSubscriptions(RegName(w)));
  EXPECT_EQ(live, std::vector<CustomerSubscription>{second.customer_subscription});
  EXPECT_STATUS(registrations.GetCustomerSubscription(RegName(w), w.customer_sub), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<CustomerSubscription> versions,
                       registrations.ListCustomerSubscriptionVersions(RegName(w)));
  EXPECT_EQ(versions, (std::vector<CustomerSubscription>{ended, second.customer_subscription}));

  // Mapping before the version in force is refused.
  EXPECT_ERROR(registrations.PutCustomerSubscription(
                   MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(6))),
               kFailedPrecondition, "VersionOutOfOrder");
}

TEST_P(StoreContract, CustomerSubscriptionRePutChangesNothing) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(PutCustomerSubscriptionResult first,
                       registrations.PutCustomerSubscription(MakeCustomer(
                           RegName(w), w.customer_sub, w.customer_directory, Hours(2))));
  ASSERT_OK_AND_ASSIGN(PutCustomerSubscriptionResult again,
                       registrations.PutCustomerSubscription(
                           MakeCustomer(RegistrationName{w.apss, "RG1", "REG1"}, w.customer_sub,
                                        w.customer_directory, Hours(9))));
  EXPECT_FALSE(again.created);
  EXPECT_TRUE(again.ended.empty());
  EXPECT_EQ(again.customer_subscription, first.customer_subscription);
  ASSERT_OK_AND_ASSIGN(std::vector<CustomerSubscription> versions,
                       registrations.ListCustomerSubscriptionVersions(RegName(w)));
  EXPECT_EQ(versions.size(), 1u);
}

TEST_P(StoreContract, EffectiveFromCorrectionMovesTheStartEarlier) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  // customer_sub2 served the tenant from hour 2; customer_sub took over late,
  // at hour 10, and a PlatformAdmin corrects that to hour 6.
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub2, w.customer_directory, Hours(2))));
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(10))));
  ASSERT_OK_AND_ASSIGN(PutCustomerSubscriptionResult corrected,
                       registrations.PutCustomerSubscription(MakeCustomer(
                           RegName(w), w.customer_sub, w.customer_directory, Hours(6))));
  EXPECT_FALSE(corrected.created);
  EXPECT_EQ(corrected.customer_subscription.valid, (Validity{Hours(6), std::nullopt}));
  ASSERT_EQ(corrected.ended.size(), 1u);
  EXPECT_EQ(corrected.ended[0].customer_subscription_id, w.customer_sub2);
  EXPECT_EQ(corrected.ended[0].valid, (Validity{Hours(2), Hours(6)}));
  // Correcting to before the start of the earlier mapping is refused.
  EXPECT_ERROR(registrations.PutCustomerSubscription(
                   MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(1))),
               kFailedPrecondition, "VersionOutOfOrder");
}

TEST_P(StoreContract, CustomerSubscriptionNeedsALiveRegistrationAndAKnownSubscription) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  EXPECT_ERROR(registrations.PutCustomerSubscription(
                   MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2))),
               kNotFound, "RegistrationNotFound");
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  EXPECT_ERROR(registrations.PutCustomerSubscription(
                   MakeCustomer(RegName(w), G(2, 99), w.customer_directory, Hours(2))),
               kNotFound, "SubscriptionNotFound");
  CustomerSubscription with_end =
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2));
  with_end.valid.to = Hours(3);
  EXPECT_STATUS(registrations.PutCustomerSubscription(with_end), kInvalidArgument);
}

TEST_P(StoreContract, EndingACustomerSubscriptionNotInForceIsNotFound) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2))));
  EXPECT_ERROR(registrations.EndCustomerSubscription(RegName(w), w.customer_sub, Hours(1)),
               kFailedPrecondition, "VersionOutOfOrder");
  ASSERT_OK_AND_ASSIGN(CustomerSubscription ended,
                       registrations.EndCustomerSubscription(RegName(w), w.customer_sub, Hours(4)));
  EXPECT_EQ(ended.valid, (Validity{Hours(2), Hours(4)}));
  EXPECT_ERROR(registrations.EndCustomerSubscription(RegName(w), w.customer_sub, Hours(5)),
               kNotFound, "CustomerSubscriptionNotFound");
  // The tenant can be mapped again from the end on.
  EXPECT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(4))));
}

TEST_P(StoreContract, StackSubscriberMappingIsEffectiveDated) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  const Guid local = G(4, 1);
  EXPECT_ERROR(registrations.PutStackSubscriber(
                   {w.cloud, local, w.customer_directory, Validity{Hours(1), std::nullopt}}),
               kNotFound, "StackNotFound");
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(
      bool changed, registrations.PutStackSubscriber(
                        {w.cloud, local, w.customer_directory, Validity{Hours(1), std::nullopt}}));
  EXPECT_TRUE(changed);
  ASSERT_OK_AND_ASSIGN(
      changed, registrations.PutStackSubscriber(
                   {w.cloud, local, w.customer_directory, Validity{Hours(2), std::nullopt}}));
  EXPECT_FALSE(changed);
  ASSERT_OK_AND_ASSIGN(
      changed, registrations.PutStackSubscriber(
                   {w.cloud, local, w.customer2_directory, Validity{Hours(3), std::nullopt}}));
  EXPECT_TRUE(changed);
  ASSERT_OK_AND_ASSIGN(StackSubscriber live, registrations.GetStackSubscriber(w.cloud, local));
  EXPECT_EQ(live.tenant_id, w.customer2_directory);
  EXPECT_EQ(live.valid, (Validity{Hours(3), std::nullopt}));
  ASSERT_OK_AND_ASSIGN(StackSubscriber ended,
                       registrations.EndStackSubscriber(w.cloud, local, Hours(8)));
  EXPECT_EQ(ended.valid, (Validity{Hours(3), Hours(8)}));
  EXPECT_STATUS(registrations.GetStackSubscriber(w.cloud, local), kNotFound);
  EXPECT_STATUS(registrations.EndStackSubscriber(w.cloud, local, Hours(9)), kNotFound);
  EXPECT_ERROR(registrations.PutStackSubscriber(
                   {w.cloud, local, w.customer_directory, Validity{Hours(7), std::nullopt}}),
               kFailedPrecondition, "VersionOutOfOrder");
  ASSERT_OK_AND_ASSIGN(std::vector<StackSubscriber> listed,
                       registrations.ListStackSubscribers(w.cloud));
  EXPECT_TRUE(listed.empty());
}

TEST_P(StoreContract, HistoryLoadsBackExactly) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(store().parties().SetPartnerParent(w.reseller, w.other, Hours(1)));
  ASSERT_OK(store().parties().TransferSubscription(w.customer_sub2, w.other, Hours(2)));
  const Registration v1 = MakeRegistration(RegName(w), w.cloud, Hours(1));
  ASSERT_OK(registrations.PutRegistration(v1, MakeStack(w.cloud)));
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2))));
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub2, w.customer2_directory, Hours(2))));
  Registration v2 = v1;
  v2.valid.from = Hours(3);
  v2.tags = {{"a", "1:2,"}, {"", ""}};
  ASSERT_OK(registrations.PutRegistration(v2, MakeStack(w.cloud)));
  ASSERT_OK(registrations.EndCustomerSubscription(RegName(w), w.customer_sub, Hours(4)));
  const Guid local = G(4, 1);
  ASSERT_OK(registrations.PutStackSubscriber(
      {w.cloud, local, w.customer_directory, Validity{Hours(2), std::nullopt}}));
  ASSERT_OK(registrations.PutStackSubscriber(
      {w.cloud, local, w.customer2_directory, Validity{Hours(3), std::nullopt}}));
  const BillingModelApproval approval{w.cloud2, BillingModel::kCapacity, "AGR-1", std::nullopt};
  ASSERT_OK(registrations.PutBillingModelApproval(approval));

  ASSERT_OK_AND_ASSIGN(History history, registrations.LoadHistory());

  EXPECT_EQ(history.partners,
            (std::vector<Partner>{MakePartner(w.provider, PartnerKind::kIndirectProvider),
                                  MakePartner(w.reseller, PartnerKind::kIndirectReseller),
                                  MakePartner(w.other, PartnerKind::kDirect)}));
  EXPECT_EQ(history.partner_parents, (std::vector<PartnerParentLink>{
                                         {w.provider, std::nullopt, Validity{kT0, std::nullopt}},
                                         {w.reseller, w.provider, Validity{kT0, Hours(1)}},
                                         {w.reseller, w.other, Validity{Hours(1), std::nullopt}},
                                         {w.other, std::nullopt, Validity{kT0, std::nullopt}},
                                     }));
  Subscription moved =
      MakeSubscription(w.customer_sub2, OfferType::kCsp, w.customer2_directory, w.reseller);
  moved.partner_id = w.other;
  EXPECT_EQ(
      history.subscriptions,
      (std::vector<Subscription>{
          MakeSubscription(w.apss, OfferType::kApss, w.csp_directory, w.provider),
          MakeSubscription(w.customer_sub, OfferType::kCsp, w.customer_directory, w.reseller),
          moved,
          MakeSubscription(w.payg, OfferType::kPayAsYouGo, w.customer_directory, std::nullopt)}));
  EXPECT_EQ(history.subscription_owners,
            (std::vector<SubscriptionOwnership>{
                {w.apss, w.provider, Validity{kT0, std::nullopt}},
                {w.customer_sub, w.reseller, Validity{kT0, std::nullopt}},
                {w.customer_sub2, w.reseller, Validity{kT0, Hours(2)}},
                {w.customer_sub2, w.other, Validity{Hours(2), std::nullopt}},
                {w.payg, std::nullopt, Validity{kT0, std::nullopt}},
            }));
  EXPECT_EQ(history.stacks, std::vector<Stack>{MakeStack(w.cloud)});
  EXPECT_EQ(history.approvals, std::vector<BillingModelApproval>{approval});
  Registration v1_ended = v1;
  v1_ended.valid.to = Hours(3);
  EXPECT_EQ(history.registrations, (std::vector<Registration>{v1_ended, v2}));
  CustomerSubscription cs1 =
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2));
  cs1.cloud_id = w.cloud;
  cs1.valid.to = Hours(4);
  CustomerSubscription cs2 =
      MakeCustomer(RegName(w), w.customer_sub2, w.customer2_directory, Hours(2));
  cs2.cloud_id = w.cloud;
  EXPECT_EQ(history.customer_subscriptions, (std::vector<CustomerSubscription>{cs1, cs2}));
  EXPECT_EQ(history.stack_subscribers,
            (std::vector<StackSubscriber>{
                {w.cloud, local, w.customer_directory, Validity{Hours(2), Hours(3)}},
                {w.cloud, local, w.customer2_directory, Validity{Hours(3), std::nullopt}},
            }));
}

TEST_P(StoreContract, RotatedActivationKeyLeavesThePreviousOneAGracePeriod) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  EXPECT_ERROR(registrations.RotateActivationKey({"k1", w.cloud, Hours(1), std::nullopt}, Hours(1)),
               kNotFound, "StackNotFound");
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK(registrations.RotateActivationKey({"k1", w.cloud, Hours(1), std::nullopt}, Hours(1)));
  ASSERT_OK_AND_ASSIGN(ActivationKeyRecord key,
                       registrations.FindActivationKeyByHash("k1", Hours(100)));
  EXPECT_EQ(key.cloud_id, w.cloud);
  ASSERT_OK(registrations.RotateActivationKey({"k2", w.cloud, Hours(2), std::nullopt}, Hours(26)));
  EXPECT_OK(registrations.FindActivationKeyByHash("k1", Hours(25)));
  EXPECT_ERROR(registrations.FindActivationKeyByHash("k1", Hours(26)), kNotFound,
               "InvalidActivationKey");
  EXPECT_OK(registrations.FindActivationKeyByHash("k2", Hours(26)));
  EXPECT_STATUS(
      registrations.RotateActivationKey({"k2", w.cloud, Hours(3), std::nullopt}, Hours(3)),
      kAlreadyExists);
  // Draining after a DELETE never extends an earlier expiry.
  ASSERT_OK(registrations.ExpireActivationKeys(w.cloud, Hours(30)));
  ASSERT_OK_AND_ASSIGN(ActivationKeyRecord k1, registrations.FindActivationKeyByHash("k1", kT0));
  EXPECT_EQ(k1.expires_at, Hours(26));
  EXPECT_OK(registrations.FindActivationKeyByHash("k2", Hours(29)));
  EXPECT_ERROR(registrations.FindActivationKeyByHash("k2", Hours(30)), kNotFound,
               "InvalidActivationKey");
  EXPECT_ERROR(registrations.FindActivationKeyByHash("k3", kT0), kNotFound, "InvalidActivationKey");
}

TEST_P(StoreContract, BillingModelApprovalIsReplaced) {
  World w;
  RegistrationStore& registrations = store().registrations();
  EXPECT_STATUS(registrations.GetBillingModelApproval(w.cloud), kNotFound);
  ASSERT_OK(registrations.PutBillingModelApproval(
      {w.cloud, BillingModel::kCapacity, "AGR-1", std::nullopt}));
  const BillingModelApproval custom{w.cloud, BillingModel::kCustom, std::nullopt, "TAG-7"};
  ASSERT_OK(registrations.PutBillingModelApproval(custom));
  ASSERT_OK_AND_ASSIGN(BillingModelApproval read, registrations.GetBillingModelApproval(w.cloud));
  EXPECT_EQ(read, custom);
}

// ---------------------------------------------------------------------------
// Meters

TEST_P(StoreContract, MetersAreCreatedUpsertedAndListed) {
  Meter vm{G(5, 1), "Base VM Size Hours", "Virtual Machines", "Hours", G(5, 101), false};
  Meter custom{G(5, 2), "GPU Hours", "Custom", "Hours", std::nullopt, true};
  ASSERT_OK(store().meters().CreateMeter(custom));
  EXPECT_ERROR(store().meters().CreateMeter(custom), kAlreadyExists, "MeterAlreadyExists");
  custom.name = "GPU Hours v2";
  ASSERT_OK_AND_ASSIGN(int created, store().meters().PutMeters(std::vector<Meter>{vm, custom}));
  EXPECT_EQ(created, 1);
  ASSERT_OK_AND_ASSIGN(Meter read, store().meters().GetMeter(custom.meter_id));
  EXPECT_EQ(read, custom);
  ASSERT_OK_AND_ASSIGN(std::vector<Meter> all, store().meters().ListMeters());
  EXPECT_EQ(all, (std::vector<Meter>{vm, custom}));
  EXPECT_STATUS(store().meters().GetMeter(G(5, 3)), kNotFound);
  EXPECT_STATUS(store().meters().PutMeters(std::vector<Meter>{vm, vm}), kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Usage

std::vector<UsageOutcome> Outcomes(std::initializer_list<UsageOutcome> list) { return list; }

TEST_P(StoreContract, UsageWriteReportsAcceptedDuplicateAndConflictingDuplicate) {
  const Guid cloud = G(3, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> outcomes,
                       store().usage().WriteUsage(
                           std::vector<UsageRecord>{MakeUsage(cloud, 1), MakeUsage(cloud, 2)}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kAccepted, UsageOutcome::kAccepted}));

  UsageRecord conflicting = MakeUsage(cloud, 2, "b");
  conflicting.quantity = Q("3");
  ASSERT_OK_AND_ASSIGN(
      outcomes, store().usage().WriteUsage(std::vector<UsageRecord>{
                    MakeUsage(cloud, 1), conflicting, MakeUsage(cloud, 3), MakeUsage(G(3, 2), 1)}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kConflictingDuplicate,
                                UsageOutcome::kAccepted, UsageOutcome::kAccepted}));
  // The conflicting write changed nothing.
  ASSERT_OK_AND_ASSIGN(UsageRecord stored, store().usage().GetUsage(cloud, "identity-2"));
  EXPECT_EQ(stored, MakeUsage(cloud, 2));
  ASSERT_OK_AND_ASSIGN(std::int64_t count, store().usage().CountUsage({.cloud_id = cloud}));
  EXPECT_EQ(count, 3);
  EXPECT_STATUS(store().usage().GetUsage(cloud, "identity-9"), kNotFound);
}

TEST_P(StoreContract, RepeatedIdentityWithinABatchIsADuplicateOfItsFirstOccurrence) {
  const Guid cloud = G(3, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> outcomes,
                       store().usage().WriteUsage(std::vector<UsageRecord>{
                           MakeUsage(cloud, 1, "a"), MakeUsage(cloud, 1, "a"),
                           MakeUsage(cloud, 1, "b"), MakeUsage(cloud, 2)}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kAccepted, UsageOutcome::kDuplicate,
                                UsageOutcome::kConflictingDuplicate, UsageOutcome::kAccepted}));
  ASSERT_OK_AND_ASSIGN(UsageRecord stored, store().usage().GetUsage(cloud, "identity-1"));
  EXPECT_EQ(stored.content_hash, "hash-a");
}

TEST_P(StoreContract, UsageRecordsRoundTripExactly) {
  UsageRecord record = MakeUsage(G(3, 1), 1);
  record.identity = std::string("\x00\xff\x10natural-key", 14);
  record.content_hash = std::string(32, '\xab');
  record.record_id.clear();
  record.quantity = Q("999999999999999.9999999999");
  record.usage_start = At("2026-11-01T05:00:00Z");
  record.usage_end = At("2026-11-02T05:00:00Z");
  record.instance_data = "{\"tags\":{\"é\":\"ü\"}}";
  record.routing.billed_subscription_id = G(2, 4);
  record.routing.bill_to = BillTo{BillTo::Kind::kSubscription, "", G(2, 4)};
  record.routing.reason = RoutingReason::kZeroRatedBillingModel;
  record.reported_time = Timestamp::FromUnixSeconds(1793491200, 123456000);
  ASSERT_OK(store().usage().WriteUsage(std::vector<UsageRecord>{record}));
  ASSERT_OK_AND_ASSIGN(UsageRecord stored,
                       store().usage().GetUsage(record.cloud_id, record.identity));
  EXPECT_EQ(stored, record);
  EXPECT_EQ(stored.quantity.ToString(), "999999999999999.9999999999");
}

TEST_P(StoreContract, BatchWithAnInvalidRecordStoresNothing) {
  std::vector<UsageRecord> batch = {MakeUsage(G(3, 1), 1), MakeUsage(G(3, 1), 2)};
  batch[1].identity.clear();
  EXPECT_STATUS(store().usage().WriteUsage(batch), kInvalidArgument);
  batch[1].identity = "x";
  batch[1].content_hash.clear();
  EXPECT_STATUS(store().usage().WriteUsage(batch), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(std::int64_t count, store().usage().CountUsage({}));
  EXPECT_EQ(count, 0);
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> none,
                       store().usage().WriteUsage(std::vector<UsageRecord>{}));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreContract, UsageListsInAcceptanceOrderPagedAndFiltered) {
  const Guid cloud = G(3, 1);
  std::vector<UsageRecord> batch;
  for (int n = 0; n < 25; ++n) {
    UsageRecord r = MakeUsage(cloud, 24 - n);  // usage times descending
    if (n % 5 == 0) r.routing.billed_subscription_id = G(2, 2);
    r.reported_time = Hours(100 + n);
    batch.push_back(r);
  }
  ASSERT_OK(store().usage().WriteUsage(batch));
  ASSERT_OK(store().usage().WriteUsage(std::vector<UsageRecord>{MakeUsage(G(3, 2), 0)}));

  std::vector<UsageRecord> all;
  PageRequest page{.cursor = "", .limit = 10};
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(Page<UsageRecord> got,
                         store().usage().ListUsage({.cloud_id = cloud}, page));
    all.insert(all.end(), got.items.begin(), got.items.end());
    page.cursor = got.next_cursor;
    ++pages;
  } while (!page.cursor.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(all, batch);

  ASSERT_OK_AND_ASSIGN(std::int64_t billed,
                       store().usage().CountUsage({.billed_subscription_id = G(2, 2)}));
  EXPECT_EQ(billed, 5);
  ASSERT_OK_AND_ASSIGN(
      std::int64_t in_window,
      store().usage().CountUsage(
          {.cloud_id = cloud, .usage_start_from = Hours(10), .usage_start_to = Hours(20)}));
  EXPECT_EQ(in_window, 10);
  ASSERT_OK_AND_ASSIGN(
      Page<UsageRecord> reported,
      store().usage().ListUsage({.reported_from = Hours(120), .reported_to = Hours(122)},
                                PageRequest{}));
  ASSERT_EQ(reported.items.size(), 2u);
  EXPECT_EQ(reported.items[0], batch[20]);
  EXPECT_TRUE(reported.next_cursor.empty());
}

TEST_P(StoreContract, ReroutingUpdatesEveryRecordOrNone) {
  const Guid cloud = G(3, 1);
  ASSERT_OK(store().usage().WriteUsage(
      std::vector<UsageRecord>{MakeUsage(cloud, 1), MakeUsage(cloud, 2)}));
  Routing customer{G(2, 2), BillTo{BillTo::Kind::kPartner, "contoso", Guid()},
                   RoutingReason::kRegisteredCustomer};
  std::vector<RoutingUpdate> updates = {{cloud, "identity-1", customer, Hours(500)},
                                        {cloud, "identity-9", customer, Hours(500)}};
  EXPECT_ERROR(store().usage().UpdateRouting(updates), kNotFound, "UsageNotFound");
  ASSERT_OK_AND_ASSIGN(UsageRecord unchanged, store().usage().GetUsage(cloud, "identity-1"));
  EXPECT_EQ(unchanged, MakeUsage(cloud, 1));

  updates[1].identity = "identity-2";
  ASSERT_OK(store().usage().UpdateRouting(updates));
  ASSERT_OK_AND_ASSIGN(UsageRecord rerouted, store().usage().GetUsage(cloud, "identity-2"));
  EXPECT_EQ(rerouted.routing, customer);
  EXPECT_EQ(rerouted.reported_time, Hours(500));
  ASSERT_OK_AND_ASSIGN(std::int64_t count,
                       store().usage().CountUsage({.billed_subscription_id = G(2, 2)}));
  EXPECT_EQ(count, 2);
}

// ---------------------------------------------------------------------------
// Quarantine

TEST_P(StoreContract, QuarantineFiltersByStackCodeAndTimeRange) {
  const Guid a = G(3, 1);
  const Guid b = G(3, 2);
  std::vector<QuarantineEntry> entries = {
      MakeQuarantine(a, Hours(1), "UnknownMeter"), MakeQuarantine(a, Hours(2), "InvalidWindow"),
      MakeQuarantine(b, Hours(3), "UnknownMeter"), MakeQuarantine(a, Hours(4), "UnknownMeter")};
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> ids, store().quarantine().AddQuarantine(entries));
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  for (std::size_t i = 0; i < ids.size(); ++i) entries[i].id = ids[i];

  ASSERT_OK_AND_ASSIGN(Page<QuarantineEntry> page,
                       store().quarantine().ListQuarantine(
                           {.cloud_id = a, .code = std::string("UnknownMeter")}, PageRequest{}));
  EXPECT_EQ(page.items, (std::vector<QuarantineEntry>{entries[0], entries[3]}));
  ASSERT_OK_AND_ASSIGN(page,
                       store().quarantine().ListQuarantine(
                           {.received_from = Hours(2), .received_to = Hours(4)}, PageRequest{}));
  EXPECT_EQ(page.items, (std::vector<QuarantineEntry>{entries[1], entries[2]}));
  ASSERT_OK_AND_ASSIGN(std::int64_t count, store().quarantine().CountQuarantine({.cloud_id = a}));
  EXPECT_EQ(count, 3);
  ASSERT_OK_AND_ASSIGN(QuarantineEntry one, store().quarantine().GetQuarantine(ids[2]));
  EXPECT_EQ(one, entries[2]);
  EXPECT_STATUS(store().quarantine().GetQuarantine(ids[3] + 100), kNotFound);
  ASSERT_OK_AND_ASSIGN(auto per_stack, store().quarantine().CountPendingQuarantineByStack());
  EXPECT_EQ(per_stack, (std::map<Guid, std::int64_t>{{a, 3}, {b, 1}}));
}

TEST_P(StoreContract, QuarantinePagesByCursor) {
  std::vector<QuarantineEntry> entries;
  for (int i = 0; i < 7; ++i) entries.push_back(MakeQuarantine(G(3, 1), Hours(i), "TooOld"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> ids, store().quarantine().AddQuarantine(entries));
  std::vector<std::int64_t> seen;
  PageRequest request{.cursor = "", .limit = 3};
  std::vector<std::size_t> sizes;
  do {
    ASSERT_OK_AND_ASSIGN(Page<QuarantineEntry> page,
                         store().quarantine().ListQuarantine({}, request));
    sizes.push_back(page.items.size());
    for (const auto& entry : page.items) seen.push_back(entry.id);
    request.cursor = page.next_cursor;
  } while (!request.cursor.empty());
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));
}

TEST_P(StoreContract, ReplayedEntriesLeaveThePendingList) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> ids,
                       store().quarantine().AddQuarantine(std::vector<QuarantineEntry>{
                           MakeQuarantine(G(3, 1), Hours(1), "UnknownMeter"),
                           MakeQuarantine(G(3, 1), Hours(2), "UnknownMeter")}));
  EXPECT_ERROR(
      store().quarantine().MarkReplayed(std::vector<std::int64_t>{ids[0], ids[1] + 50}, Hours(3)),
      kNotFound, "QuarantineEntryNotFound");
  ASSERT_OK_AND_ASSIGN(std::int64_t pending, store().quarantine().CountQuarantine({}));
  EXPECT_EQ(pending, 2);
  ASSERT_OK(store().quarantine().MarkReplayed(std::vector<std::int64_t>{ids[0]}, Hours(3)));
  ASSERT_OK(store().quarantine().MarkReplayed(std::vector<std::int64_t>{ids[0]}, Hours(4)));
  ASSERT_OK_AND_ASSIGN(Page<QuarantineEntry> page,
                       store().quarantine().ListQuarantine({}, PageRequest{}));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].id, ids[1]);
  ASSERT_OK_AND_ASSIGN(
      page, store().quarantine().ListQuarantine({.include_replayed = true}, PageRequest{}));
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].replayed_at, Hours(3));
  ASSERT_OK_AND_ASSIGN(auto per_stack, store().quarantine().CountPendingQuarantineByStack());
  EXPECT_EQ(per_stack, (std::map<Guid, std::int64_t>{{G(3, 1), 1}}));
  EXPECT_STATUS(store().quarantine().AddQuarantine(
                    std::vector<QuarantineEntry>{MakeQuarantine(G(3, 1), Hours(1), "")}),
                kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Price sheets

TEST_P(StoreContract, PriceSheetIsReplaceableUntilLocked) {
  PriceSheetStore& sheets = store().price_sheets();
  const PriceSheetKey key = OfferSheet();
  ASSERT_OK_AND_ASSIGN(bool created, sheets.PutPriceSheet(MakeSheet(key, "0.008")));
  EXPECT_TRUE(created);
  const PriceSheet replacement = MakeSheet(key, "0.0075");
  ASSERT_OK_AND_ASSIGN(created, sheets.PutPriceSheet(replacement));
  EXPECT_FALSE(created);
  ASSERT_OK_AND_ASSIGN(PriceSheet read, sheets.GetPriceSheet(key));
  EXPECT_EQ(read, replacement);

  ASSERT_OK(sheets.LockPriceSheet(key, Hours(800)));
  ASSERT_OK(sheets.LockPriceSheet(key, Hours(900)));
  EXPECT_ERROR(sheets.PutPriceSheet(MakeSheet(key, "0.001")), kFailedPrecondition,
               "PriceSheetLocked");
  ASSERT_OK_AND_ASSIGN(read, sheets.GetPriceSheet(key));
  EXPECT_EQ(read.locked_at, Hours(800));
  read.locked_at.reset();
  EXPECT_EQ(read, replacement);
  EXPECT_STATUS(sheets.LockPriceSheet(OfferSheet("EUR"), Hours(1)), kNotFound);
  EXPECT_STATUS(sheets.GetPriceSheet(OfferSheet("EUR")), kNotFound);
}

TEST_P(StoreContract, PriceSheetsListByOwnerAndCurrency) {
  World w;
  CreateWorld(store(), w);
  PriceSheetStore& sheets = store().price_sheets();
  const PriceSheetKey later = OfferSheet("USD", kT0.AddDays(30));
  const PriceSheetKey euro = OfferSheet("EUR");
  const PriceSheetKey partner{PriceSheetOwner::Partner(w.provider), "USD", kT0};
  for (const auto& key : {later, OfferSheet(), euro, partner}) {
    ASSERT_OK(sheets.PutPriceSheet(MakeSheet(key, "0.008")));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<PriceSheet> usd_offer,
                       sheets.ListPriceSheets({.owner = PriceSheetOwner::Offer(OfferType::kCsp),
                                               .currency = std::string("USD")}));
  ASSERT_EQ(usd_offer.size(), 2u);
  EXPECT_EQ(usd_offer[0].key, OfferSheet());
  EXPECT_EQ(usd_offer[1].key, later);
  EXPECT_EQ(usd_offer[1], MakeSheet(later, "0.008"));
  ASSERT_OK_AND_ASSIGN(std::vector<PriceSheet> of_partner,
                       sheets.ListPriceSheets({.owner = PriceSheetOwner::Partner(w.provider)}));
  ASSERT_EQ(of_partner.size(), 1u);
  EXPECT_EQ(of_partner[0].key, partner);
  ASSERT_OK_AND_ASSIGN(std::vector<PriceSheet> all, sheets.ListPriceSheets({}));
  EXPECT_EQ(all.size(), 4u);

  EXPECT_STATUS(sheets.PutPriceSheet(
                    MakeSheet(PriceSheetKey{PriceSheetOwner::Partner("nobody"), "USD", kT0}, "1")),
                kNotFound);
  PriceSheet bad = MakeSheet(OfferSheet("GBP"), "1");
  std::swap(bad.meters[0].tiers[0], bad.meters[0].tiers[1]);
  EXPECT_STATUS(sheets.PutPriceSheet(bad), kInvalidArgument);
  bad = MakeSheet(OfferSheet("GBP"), "1");
  bad.meters[1].meter_id = bad.meters[0].meter_id;
  EXPECT_STATUS(sheets.PutPriceSheet(bad), kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Billing periods and invoices

ClosePeriodRequest Close(YearMonth period, Timestamp at, std::vector<Invoice> invoices) {
  return ClosePeriodRequest{period, at, std::move(invoices), {}};
}

std::vector<std::string> Numbers(const std::vector<Invoice>& invoices) {
  std::vector<std::string> numbers;
  for (const auto& invoice : invoices) numbers.push_back(invoice.number);
  return numbers;
}

TEST_P(StoreContract, InvoiceNumbersAreGapFreePerYearOfIssue) {
  BillingStore& billing = store().billing();
  const YearMonth oct(2026, 10), nov(2026, 11), dec(2026, 12);
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult closed,
                       billing.ClosePeriod(Close(oct, At("2026-11-04T00:00:00Z"),
                                                 {MakeInvoice(G(7, 1), oct, "contoso"),
                                                  MakeInvoice(G(7, 2), oct, "litware")})));
  EXPECT_TRUE(closed.newly_closed);
  EXPECT_EQ(Numbers(closed.invoices),
            (std::vector<std::string>{"SB-2026-000001", "SB-2026-000002"}));
  ASSERT_OK_AND_ASSIGN(closed, billing.ClosePeriod(Close(nov, At("2026-12-04T00:00:00Z"),
                                                         {MakeInvoice(G(7, 3), nov, "contoso")})));
  EXPECT_EQ(Numbers(closed.invoices), std::vector<std::string>{"SB-2026-000003"});
  // December closes in January: a new year of issue starts again at 1.
  ASSERT_OK_AND_ASSIGN(closed, billing.ClosePeriod(Close(dec, At("2027-01-04T00:00:00Z"),
                                                         {MakeInvoice(G(7, 4), dec, "contoso"),
                                                          MakeInvoice(G(7, 5), dec, "litware")})));
  EXPECT_EQ(Numbers(closed.invoices),
            (std::vector<std::string>{"SB-2027-000001", "SB-2027-000002"}));
  EXPECT_EQ(closed.invoices[0].issued_at, At("2027-01-04T00:00:00Z"));

  ASSERT_OK_AND_ASSIGN(std::vector<BillingPeriodRecord> periods,
                       billing.ListClosedBillingPeriods());
  ASSERT_EQ(periods.size(), 3u);
  EXPECT_EQ(periods[2], (BillingPeriodRecord{dec, At("2027-01-04T00:00:00Z")}));
  ASSERT_OK_AND_ASSIGN(BillingPeriodRecord open, billing.GetBillingPeriod(YearMonth(2027, 1)));
  EXPECT_FALSE(open.closed());
  ASSERT_OK_AND_ASSIGN(
      std::vector<Invoice> contoso,
      billing.ListInvoices({.bill_to = BillTo{BillTo::Kind::kPartner, "contoso", Guid()}}));
  EXPECT_EQ(Numbers(contoso),
            (std::vector<std::string>{"SB-2026-000001", "SB-2026-000003", "SB-2027-000001"}));
}

TEST_P(StoreContract, ClosingAClosedPeriodReturnsWhatItIssued) {
  BillingStore& billing = store().billing();
  const YearMonth nov(2026, 11);
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult first,
                       billing.ClosePeriod(Close(nov, At("2026-12-04T00:00:00Z"),
                                                 {MakeInvoice(G(7, 1), nov, "contoso")})));
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult again,
                       billing.ClosePeriod(Close(nov, At("2026-12-05T00:00:00Z"),
                                                 {MakeInvoice(G(7, 2), nov, "contoso"),
                                                  MakeInvoice(G(7, 3), nov, "litware")})));
  EXPECT_FALSE(again.newly_closed);
  EXPECT_EQ(again.invoices, first.invoices);
  EXPECT_EQ(again.period, first.period);
  EXPECT_STATUS(billing.GetInvoice(G(7, 2)), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<Invoice> listed, billing.ListInvoices({.period = nov}));
  EXPECT_EQ(listed, first.invoices);
}

TEST_P(StoreContract, PeriodsCloseInOrder) {
  BillingStore& billing = store().billing();
  const YearMonth nov(2026, 11);
  ASSERT_OK(billing.ClosePeriod(Close(nov, At("2026-12-04T00:00:00Z"), {})));
  EXPECT_ERROR(billing.ClosePeriod(Close(YearMonth(2027, 1), At("2027-02-04T00:00:00Z"), {})),
               kFailedPrecondition, "PeriodsCloseInOrder");
  EXPECT_ERROR(billing.ClosePeriod(Close(YearMonth(2026, 10), At("2027-02-04T00:00:00Z"), {})),
               kFailedPrecondition, "PeriodsCloseInOrder");
  EXPECT_OK(billing.ClosePeriod(Close(YearMonth(2026, 12), At("2027-01-04T00:00:00Z"), {})));
}

TEST_P(StoreContract, InvoicesRoundTripExactly) {
  BillingStore& billing = store().billing();
  const YearMonth nov(2026, 11);
  Invoice direct = MakeInvoice(G(7, 2), nov, "");
  direct.bill_to = BillTo{BillTo::Kind::kSubscription, "", G(2, 4)};
  direct.currency = "JPY";
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult closed,
                       billing.ClosePeriod(Close(nov, At("2026-12-04T00:00:00Z"),
                                                 {MakeInvoice(G(7, 1), nov, "contoso"), direct})));
  Invoice expected = MakeInvoice(G(7, 1), nov, "contoso");
  expected.number = "SB-2026-000001";
  expected.issued_at = At("2026-12-04T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(Invoice read, billing.GetInvoice(G(7, 1)));
  EXPECT_EQ(read, expected);
  EXPECT_EQ(closed.invoices[0], expected);
  ASSERT_OK_AND_ASSIGN(read, billing.GetInvoiceByNumber("SB-2026-000002"));
  EXPECT_EQ(read.bill_to, direct.bill_to);
  EXPECT_EQ(read.lines, direct.lines);
  EXPECT_EQ(read.lines[1].late_usage_month, YearMonth(2026, 10));
  EXPECT_STATUS(billing.GetInvoiceByNumber("SB-2026-000003"), kNotFound);
}

TEST_P(StoreContract, AFailedCloseConsumesNoInvoiceNumbers) {
  BillingStore& billing = store().billing();
  const YearMonth oct(2026, 10), nov(2026, 11);
  ASSERT_OK(billing.ClosePeriod(
      Close(oct, At("2026-11-04T00:00:00Z"), {MakeInvoice(G(7, 1), oct, "contoso")})));
  // The second invoice reuses an issued id: the whole close fails.
  EXPECT_STATUS(billing.ClosePeriod(Close(
                    nov, At("2026-12-04T00:00:00Z"),
                    {MakeInvoice(G(7, 2), nov, "contoso"), MakeInvoice(G(7, 1), nov, "litware")})),
                kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(BillingPeriodRecord still_open, billing.GetBillingPeriod(nov));
  EXPECT_FALSE(still_open.closed());
  EXPECT_STATUS(billing.GetInvoice(G(7, 2)), kNotFound);
  Invoice no_lines = MakeInvoice(G(7, 3), nov, "contoso");
  no_lines.lines.clear();
  EXPECT_STATUS(billing.ClosePeriod(Close(nov, At("2026-12-04T00:00:00Z"), {no_lines})),
                kInvalidArgument);
  EXPECT_STATUS(billing.ClosePeriod(
                    Close(nov, At("2026-12-04T00:00:00Z"), {MakeInvoice(G(7, 3), oct, "contoso")})),
                kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult closed,
                       billing.ClosePeriod(Close(nov, At("2026-12-04T00:00:00Z"),
                                                 {MakeInvoice(G(7, 2), nov, "contoso")})));
  EXPECT_EQ(Numbers(closed.invoices), std::vector<std::string>{"SB-2026-000002"});
}

TEST_P(StoreContract, ClosingLocksTheUsedPriceSheets) {
  const PriceSheetKey key = OfferSheet();
  ASSERT_OK(store().price_sheets().PutPriceSheet(MakeSheet(key, "0.008")));
  const YearMonth nov(2026, 11);
  ClosePeriodRequest request = Close(nov, At("2026-12-04T00:00:00Z"), {});
  request.price_sheets_to_lock = {OfferSheet("EUR")};
  EXPECT_STATUS(store().billing().ClosePeriod(request), kNotFound);
  request.price_sheets_to_lock = {key};
  ASSERT_OK(store().billing().ClosePeriod(request));
  EXPECT_ERROR(store().price_sheets().PutPriceSheet(MakeSheet(key, "0.009")), kFailedPrecondition,
               "PriceSheetLocked");
}

// ---------------------------------------------------------------------------
// Audit

AuditEntry MakeAudit(int n, std::optional<PartnerId> partner, std::string resource) {
  AuditEntry entry;
  entry.at = Hours(n);
  entry.actor_principal_id = G(6, 1);
  entry.actor_directory_id = G(1, 1);
  entry.action = "action-" + std::to_string(n);
  entry.resource = std::move(resource);
  entry.partner_id = std::move(partner);
  entry.before_json = "{}";
  entry.after_json = "{\"n\":" + std::to_string(n) + "}";
  return entry;
}

TEST_P(StoreContract, AuditListsNewestFirstInPages) {
  std::vector<AuditEntry> appended;
  for (int n = 0; n < 5; ++n) {
    AuditEntry entry = MakeAudit(n, std::nullopt, "/stacks/x");
    ASSERT_OK_AND_ASSIGN(entry.id, store().audit().Append(entry));
    appended.push_back(entry);
  }
  std::reverse(appended.begin(), appended.end());
  std::vector<AuditEntry> listed;
  PageRequest request{.cursor = "", .limit = 2};
  do {
    ASSERT_OK_AND_ASSIGN(Page<AuditEntry> page, store().audit().ListAudit({}, request));
    listed.insert(listed.end(), page.items.begin(), page.items.end());
    request.cursor = page.next_cursor;
  } while (!request.cursor.empty());
  EXPECT_EQ(listed, appended);
  EXPECT_STATUS(store().audit().Append(AuditEntry{}), kInvalidArgument);
}

TEST_P(StoreContract, AuditFiltersByPartnerAndResourcePrefix) {
  ASSERT_OK(store().audit().Append(MakeAudit(1, "contoso", "/partners/contoso")));
  ASSERT_OK(store().audit().Append(MakeAudit(2, "fabrikam", "/partners/fabrikam")));
  ASSERT_OK(store().audit().Append(MakeAudit(3, std::nullopt, "/stacks/%_x")));
  ASSERT_OK(store().audit().Append(MakeAudit(4, "litware", "/partners/litware")));
  ASSERT_OK_AND_ASSIGN(
      Page<AuditEntry> page,
      store().audit().ListAudit({.partner_ids = std::vector<PartnerId>{"contoso", "litware"}},
                                PageRequest{}));
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].action, "action-4");
  EXPECT_EQ(page.items[1].action, "action-1");
  ASSERT_OK_AND_ASSIGN(
      page, store().audit().ListAudit({.partner_ids = std::vector<PartnerId>{}}, PageRequest{}));
  EXPECT_TRUE(page.items.empty());
  ASSERT_OK_AND_ASSIGN(page, store().audit().ListAudit(
                                 {.resource_prefix = std::string("/stacks/%")}, PageRequest{}));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].action, "action-3");
  ASSERT_OK_AND_ASSIGN(page, store().audit().ListAudit(
                                 {.resource_prefix = std::string("/partners/_")}, PageRequest{}));
  EXPECT_TRUE(page.items.empty());
}

TEST_P(StoreContract, BadCursorOrPageSizeIsInvalidArgument) {
  EXPECT_ERROR(store().audit().ListAudit({}, PageRequest{.cursor = "", .limit = 0}),
               kInvalidArgument, "InvalidPageSize");
  EXPECT_ERROR(store().quarantine().ListQuarantine({}, PageRequest{.cursor = "", .limit = 10001}),
               kInvalidArgument, "InvalidPageSize");
  EXPECT_ERROR(store().usage().ListUsage({}, PageRequest{.cursor = "not-a-cursor", .limit = 5}),
               kInvalidArgument, "InvalidCursor");
}

// ---------------------------------------------------------------------------
// Durability and concurrency

TEST_P(StoreContract, DataSurvivesReopening) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(store().registrations().PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                                    MakeStack(w.cloud)));
  ASSERT_OK(store().usage().WriteUsage(std::vector<UsageRecord>{MakeUsage(w.cloud, 1)}));
  ASSERT_OK(store().audit().Append(MakeAudit(1, std::nullopt, "/x")));
  ASSERT_OK_AND_ASSIGN(History before, store().registrations().LoadHistory());
  Reopen();
  ASSERT_NE(store_, nullptr);
  ASSERT_OK_AND_ASSIGN(History after, store().registrations().LoadHistory());
  EXPECT_EQ(after.registrations, before.registrations);
  EXPECT_EQ(after.subscriptions, before.subscriptions);
  ASSERT_OK_AND_ASSIGN(UsageRecord usage, store().usage().GetUsage(w.cloud, "identity-1"));
  EXPECT_EQ(usage, MakeUsage(w.cloud, 1));
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> outcomes,
                       store().usage().WriteUsage(std::vector<UsageRecord>{MakeUsage(w.cloud, 1)}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kDuplicate}));
  ASSERT_OK_AND_ASSIGN(Page<AuditEntry> audit, store().audit().ListAudit({}, PageRequest{}));
  EXPECT_EQ(audit.items.size(), 1u);
}

constexpr int kConcurrentIdentities = 1200;
constexpr int kConcurrentBatch = 60;

// Writes every identity once, in batches that start at `offset` and wrap
// around, so that writers with different offsets overlap on every batch. Each
// batch also repeats its first record. Returns how many were accepted.
absl::StatusOr<std::int64_t> WriteAllIdentities(Store& store, int offset) {
  std::int64_t accepted = 0;
  for (int start = 0; start < kConcurrentIdentities; start += kConcurrentBatch) {
    std::vector<UsageRecord> batch;
    for (int i = 0; i < kConcurrentBatch; ++i) {
      batch.push_back(MakeUsage(G(3, 1), (offset + start + i) % kConcurrentIdentities));
    }
    batch.push_back(batch.front());
    auto outcomes = store.usage().WriteUsage(batch);
    if (!outcomes.ok()) return outcomes.status();
    if (outcomes->size() != batch.size()) return absl::InternalError("wrong outcome count");
    if (outcomes->back() != UsageOutcome::kDuplicate) {
      return absl::InternalError("a repeat within the batch was not a duplicate");
    }
    accepted += std::count(outcomes->begin(), outcomes->end(), UsageOutcome::kAccepted);
  }
  return accepted;
}

TEST_P(StoreContract, ConcurrentOverlappingBatchesAcceptEachIdentityOnce) {
  constexpr int kThreadsPerStore = 3;
  std::vector<std::unique_ptr<Store>> stores;
  stores.push_back(OpenAnother());
  stores.push_back(OpenAnother());
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);
  std::atomic<std::int64_t> accepted{0};
  std::mutex errors_mu;
  std::vector<absl::Status> errors;
  std::latch start(2 * kThreadsPerStore);
  std::vector<std::thread> threads;
  for (int s = 0; s < 2; ++s) {
    for (int t = 0; t < kThreadsPerStore; ++t) {
      threads.emplace_back([&, s, t] {
        start.arrive_and_wait();
        auto n = WriteAllIdentities(*stores[static_cast<std::size_t>(s)], 13 * t + 101 * s);
        if (n.ok()) {
          accepted += *n;
        } else {
          std::lock_guard<std::mutex> lock(errors_mu);
          errors.push_back(n.status());
        }
      });
    }
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) ADD_FAILURE() << error;
  EXPECT_EQ(accepted.load(), kConcurrentIdentities);
  ASSERT_OK_AND_ASSIGN(std::int64_t stored, store().usage().CountUsage({}));
  EXPECT_EQ(stored, kConcurrentIdentities);
}

// The child side of the two-process test: opens its own store, writes with
// two threads, and reports the accepted count (or -1) through `fd`.
[[noreturn]] void RunWriterProcess(const StoreBackend& backend, const std::string& location,
                                   int index, int fd) {
  alarm(120);  // never outlive a wedged parent
  std::int64_t result = -1;
  auto store = backend.open(location);
  if (store.ok()) {
    std::atomic<std::int64_t> accepted{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        auto n = WriteAllIdentities(**store, 7 * t + 53 * index);
        if (n.ok()) {
          accepted += *n;
        } else {
          failed = true;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    if (!failed) result = accepted.load();
    store->reset();
  }
  const ssize_t written = write(fd, &result, sizeof(result));
  _exit(written == static_cast<ssize_t>(sizeof(result)) ? 0 : 2);
}

TEST_P(StoreContract, ConcurrentProcessesAcceptEachIdentityOnce) {
  if (!GetParam().supports_fork) GTEST_SKIP() << "backend cannot be used after fork()";
  // No database handle may cross fork(): close ours, and fork while this
  // process has no other threads.
  store_.reset();
  constexpr int kProcesses = 2;
  std::vector<pid_t> pids;
  std::vector<int> fds;
  for (int i = 0; i < kProcesses; ++i) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(pipe_fds[0]);
      RunWriterProcess(GetParam(), location_, i, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    pids.push_back(pid);
    fds.push_back(pipe_fds[0]);
  }
  std::int64_t accepted = 0;
  for (int i = 0; i < kProcesses; ++i) {
    std::int64_t result = -1;
    ssize_t got = 0;
    do {
      got = read(fds[static_cast<std::size_t>(i)], &result, sizeof(result));
    } while (got < 0 && errno == EINTR);
    close(fds[static_cast<std::size_t>(i)]);
    int wait_status = 0;
    ASSERT_EQ(waitpid(pids[static_cast<std::size_t>(i)], &wait_status, 0),
              pids[static_cast<std::size_t>(i)]);
    EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
        << "writer process " << i << " ended with status " << wait_status;
    ASSERT_EQ(got, static_cast<ssize_t>(sizeof(result)));
    EXPECT_GE(result, 0) << "writer process " << i << " failed";
    accepted += result;
  }
  EXPECT_EQ(accepted, kConcurrentIdentities);
  Reopen();
  ASSERT_NE(store_, nullptr);
  ASSERT_OK_AND_ASSIGN(std::int64_t stored, store().usage().CountUsage({}));
  EXPECT_EQ(stored, kConcurrentIdentities);
}

TEST_P(StoreContract, ConcurrentClosesOfOnePeriodIssueOneSetOfInvoices) {
  const YearMonth nov(2026, 11);
  std::vector<std::unique_ptr<Store>> stores;
  stores.push_back(OpenAnother());
  stores.push_back(OpenAnother());
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);
  constexpr int kClosers = 4;
  std::vector<absl::StatusOr<ClosePeriodResult>> results(kClosers, absl::UnknownError("unset"));
  std::latch start(kClosers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClosers; ++i) {
    threads.emplace_back([&, i] {
      std::vector<Invoice> invoices = {MakeInvoice(G(7, 10 * i + 1), nov, "contoso"),
                                       MakeInvoice(G(7, 10 * i + 2), nov, "litware")};
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] =
          stores[static_cast<std::size_t>(i % 2)]->billing().ClosePeriod(
              Close(nov, At("2026-12-04T00:00:00Z"), invoices));
    });
  }
  for (auto& thread : threads) thread.join();
  int newly_closed = 0;
  for (const auto& result : results) {
    ASSERT_OK(result);
    if (result->newly_closed) ++newly_closed;
    EXPECT_EQ(Numbers(result->invoices),
              (std::vector<std::string>{"SB-2026-000001", "SB-2026-000002"}));
    EXPECT_EQ(result->invoices, results[0]->invoices);
  }
  EXPECT_EQ(newly_closed, 1);
}

}  // namespace
}  // namespace stackbill::store_testing
