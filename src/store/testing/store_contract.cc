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
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/testing/status_matchers.h"

namespace stackbill::store_testing {
namespace {

// ---------------------------------------------------------------------------
// Assertion helpers: tests check the specific code, never just "not ok".

using ::stackbill::testing::ToStatus;

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
  // Raw text is bytes: here with a byte that is not UTF-8 and a NUL. Each
  // entry's text differs: the same text pending twice is one entry (R11).
  static int serial = 0;
  entry.raw_text = std::string("{\"id\":\"r1\",\"bad\":\xff}\0", 20) + std::to_string(++serial);
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

// R13: the history version increases with every committed change of a fact
// that LoadHistory returns, LoadHistory reports the version it read, and every
// Store on the database sees the same version.
TEST_P(StoreContract, HistoryVersionIncreasesWithEveryHistoryChange) {
  World w;
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK_AND_ASSIGN(std::int64_t version, registrations.HistoryVersion());
  // `change` succeeded and the version went up.
  auto expect_increase = [&](const absl::Status& change, std::string_view what) {
    SCOPED_TRACE(what);
    EXPECT_TRUE(change.ok()) << change;
    absl::StatusOr<std::int64_t> now = registrations.HistoryVersion();
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_GT(*now, version);
    version = *now;
  };
  // `change` failed and the version stayed (a failed call changes nothing).
  auto expect_unchanged = [&](const absl::Status& change, std::string_view what) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(change.ok());
    absl::StatusOr<std::int64_t> now = registrations.HistoryVersion();
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(*now, version);
  };
  PartyStore& parties = store().parties();
  expect_increase(parties.CreatePartner(MakePartner(w.provider, PartnerKind::kIndirectProvider),
                                        std::nullopt, kT0),
                  "creating a partner");
  expect_increase(parties.CreatePartner(MakePartner(w.reseller, PartnerKind::kIndirectReseller),
                                        w.provider, kT0),
                  "creating a partner with a parent");
  Partner renamed = MakePartner(w.reseller, PartnerKind::kIndirectReseller);
  renamed.name = "Fabrikam Inc";
  expect_increase(parties.UpdatePartner(renamed), "updating a partner");
  ASSERT_OK(store().identity().CreateDirectory(
      MakeDirectory(w.csp_directory, "contosocsp.onmicrosoft.com", w.provider)));
  ASSERT_OK(store().identity().CreateDirectory(
      MakeDirectory(w.customer_directory, "customer.onmicrosoft.com", std::nullopt)));
  ASSERT_OK_AND_ASSIGN(version, registrations.HistoryVersion());
  expect_increase(parties.CreateSubscription(
                      MakeSubscription(w.apss, OfferType::kApss, w.csp_directory, w.provider), kT0),
                  "creating a subscription");
  Subscription customer =
      MakeSubscription(w.customer_sub, OfferType::kCsp, w.customer_directory, w.reseller);
  expect_increase(parties.CreateSubscription(customer, kT0), "creating a CSP subscription");
  customer.display_name = "Renamed";
  expect_increase(parties.UpdateSubscription(customer), "updating a subscription");
  expect_increase(parties.SetPartnerParent(w.reseller, std::nullopt, Hours(1)),
                  "a partner parent link");
  expect_increase(parties.TransferSubscription(w.customer_sub, w.provider, Hours(1)),
                  "a subscription owner");
  expect_increase(registrations.PutBillingModelApproval(
                      {w.cloud, BillingModel::kPayAsYouUse, std::nullopt, std::nullopt}),
                  "a billing-model approval");
  const Registration v1 = MakeRegistration(RegName(w), w.cloud, Hours(1));
  expect_increase(ToStatus(registrations.PutRegistration(v1, MakeStack(w.cloud))),
                  "a registration");
  Registration v2 = v1;
  v2.valid.from = Hours(2);
  v2.tags["owner"] = "ops";
  expect_increase(ToStatus(registrations.PutRegistration(v2, MakeStack(w.cloud))),
                  "a registration version");
  expect_increase(ToStatus(registrations.PutCustomerSubscription(
                      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2)))),
                  "a customer subscription");
  expect_increase(
      ToStatus(registrations.EndCustomerSubscription(RegName(w), w.customer_sub, Hours(3))),
      "ending a customer subscription");
  const Guid local = G(4, 1);
  expect_increase(ToStatus(registrations.PutStackSubscriber(
                      {w.cloud, local, w.customer_directory, Validity{Hours(2), std::nullopt}})),
                  "a stack subscriber");
  expect_increase(ToStatus(registrations.EndStackSubscriber(w.cloud, local, Hours(4))),
                  "ending a stack subscriber");

  expect_unchanged(
      ToStatus(registrations.PutRegistration(
          MakeRegistration(RegName(w, "reg2"), w.cloud, Hours(3)), MakeStack(w.cloud))),
      "a refused registration (R3)");
  expect_unchanged(ToStatus(registrations.PutCustomerSubscription(
                       MakeCustomer(RegName(w), G(2, 99), w.customer_directory, Hours(5)))),
                   "a refused customer subscription");
  expect_unchanged(parties.SetPartnerParent(w.reseller, w.provider, Hours(0)),
                   "a version out of order");

  expect_increase(ToStatus(registrations.EndRegistration(RegName(w), Hours(5))),
                  "ending a registration");

  ASSERT_OK_AND_ASSIGN(History history, registrations.LoadHistory());
  EXPECT_EQ(history.version, version);
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(std::int64_t seen_by_other, other->registrations().HistoryVersion());
  EXPECT_EQ(seen_by_other, version);
  // A change through another Store is seen here.
  ASSERT_OK(other->parties().SetPartnerParent(w.reseller, w.provider, Hours(6)));
  ASSERT_OK_AND_ASSIGN(std::int64_t after_other, registrations.HistoryVersion());
  EXPECT_GT(after_other, version);
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
  // Exact sums per (billed subscription, meter), in that order.
  ASSERT_OK_AND_ASSIGN(std::vector<UsageTotal> totals,
                       store().usage().SumUsage({.cloud_id = cloud}));
  ASSERT_FALSE(totals.empty());
  std::int64_t summed_records = 0;
  for (std::size_t i = 0; i < totals.size(); ++i) {
    summed_records += totals[i].records;
    if (i > 0) {
      EXPECT_LT(std::pair(totals[i - 1].billed_subscription_id, totals[i - 1].meter_id),
                std::pair(totals[i].billed_subscription_id, totals[i].meter_id));
    }
  }
  EXPECT_EQ(summed_records, static_cast<std::int64_t>(batch.size()));
  ASSERT_OK_AND_ASSIGN(std::vector<UsageTotal> billed_totals,
                       store().usage().SumUsage({.billed_subscription_id = G(2, 2)}));
  ASSERT_EQ(billed_totals.size(), 1U);
  EXPECT_EQ(billed_totals[0].records, 5);
  EXPECT_EQ(billed_totals[0].quantity.ToString(), "10.0000000005");  // 5 × 2.0000000001
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

TEST_P(StoreContract, ServerSecretsAreSetOnceAndSharedByEveryStoreInstance) {
  ASSERT_OK_AND_ASSIGN(std::string first, store().identity().ServerSecret("signing", "key-a"));
  EXPECT_EQ(first, "key-a");
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string second, other->identity().ServerSecret("signing", "key-b"));
  EXPECT_EQ(second, "key-a");
  ASSERT_OK_AND_ASSIGN(std::string another, store().identity().ServerSecret("other", "key-c"));
  EXPECT_EQ(another, "key-c");
  EXPECT_STATUS(store().identity().ServerSecret("signing", ""), kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Usage aggregates (SPEC §7): the rollups answer exactly what the records say.

// A straightforward model of AggregateUsage over the records themselves.
std::vector<UsageAggregate> ModelAggregates(const std::vector<UsageRecord>& records,
                                            const UsageAggregateFilter& f) {
  using Key = std::tuple<Timestamp, std::optional<Guid>, std::optional<Guid>, std::optional<Guid>,
                         std::optional<Guid>, std::optional<Guid>, std::optional<std::string>>;
  std::map<Key, UsageAggregate> out;
  for (const UsageRecord& r : records) {
    if (f.billed_subscription_ids &&
        std::find(f.billed_subscription_ids->begin(), f.billed_subscription_ids->end(),
                  r.routing.billed_subscription_id) == f.billed_subscription_ids->end()) {
      continue;
    }
    if (f.cloud_ids &&
        std::find(f.cloud_ids->begin(), f.cloud_ids->end(), r.cloud_id) == f.cloud_ids->end()) {
      continue;
    }
    if (f.local_subscription_ids &&
        std::find(f.local_subscription_ids->begin(), f.local_subscription_ids->end(),
                  r.local_subscription_id) == f.local_subscription_ids->end()) {
      continue;
    }
    const Timestamp t = f.basis == UsageTimeBasis::kReported ? r.reported_time : r.usage_start;
    if (t < f.from || t >= f.to) continue;
    Timestamp start = r.usage_start.TruncateToHour();
    Timestamp end = start.AddHours(1);
    if (f.granularity == UsageGranularity::kDay) {
      start = r.usage_start.TruncateToDay();
      end = start.AddDays(1);
    } else if (f.granularity == UsageGranularity::kMonth) {
      start = YearMonth::Of(r.usage_start).Start();
      end = YearMonth::Of(r.usage_start).End();
    }
    Key key{start,
            f.by_subscription ? std::optional(r.routing.billed_subscription_id) : std::nullopt,
            f.by_tenant ? std::optional(r.tenant_id) : std::nullopt,
            f.by_meter ? std::optional(r.meter_id) : std::nullopt,
            f.by_stack ? std::optional(r.cloud_id) : std::nullopt,
            f.by_local_subscription ? std::optional(r.local_subscription_id) : std::nullopt,
            f.by_resource ? std::optional(r.resource_uri) : std::nullopt};
    UsageAggregate& a = out[key];
    a.start = start;
    a.end = end;
    a.billed_subscription_id = std::get<1>(key);
    a.tenant_id = std::get<2>(key);
    a.meter_id = std::get<3>(key);
    a.cloud_id = std::get<4>(key);
    a.local_subscription_id = std::get<5>(key);
    a.resource_uri = std::get<6>(key);
    if (f.by_resource) a.instance_data = r.instance_data;
    a.records += 1;
    a.quantity = *a.quantity.Add(r.quantity);
  }
  std::vector<UsageAggregate> result;
  for (auto& [key, a] : out) result.push_back(a);
  return result;
}

// Records over three days, two billed subscriptions, two meters, two stacks
// and two tenants, reported up to two days late; one instanceData per
// resource (which the per-resource aggregate shows).
std::vector<UsageRecord> AggregateFixture() {
  std::vector<UsageRecord> records;
  for (int n = 0; n < 72; ++n) {
    UsageRecord r = MakeUsage(n % 3 == 0 ? G(3, 1) : G(3, 2), n);
    r.tenant_id = G(1, 1 + n % 2);
    r.local_subscription_id = G(4, 1 + n % 3);
    r.meter_id = G(5, 1 + n % 2);
    r.quantity = Q(n % 4 == 0 ? "0.0000000001" : std::to_string(n) + ".25");
    r.resource_uri = "/subscriptions/x/virtualMachines/vm" + std::to_string(n % 5);
    r.instance_data = R"({"Microsoft.Resources":{"resourceUri":")" + r.resource_uri + R"("}})";
    r.routing.billed_subscription_id = G(2, 1 + n % 2);
    r.reported_time = Hours(n + 1 + (n % 7) * 7);
    records.push_back(r);
  }
  return records;
}

std::vector<UsageAggregateFilter> AggregateFilters() {
  std::vector<UsageAggregateFilter> filters;
  for (UsageTimeBasis basis : {UsageTimeBasis::kReported, UsageTimeBasis::kUsage}) {
    for (UsageGranularity g :
         {UsageGranularity::kHour, UsageGranularity::kDay, UsageGranularity::kMonth}) {
      // Whole days (the daily rollups), and hours that are not (the hourly).
      // Whole months (the monthly rollups), too.
      for (auto [from, to] : {std::pair{kT0, kT0.AddDays(10)}, std::pair{Hours(5), Hours(53)},
                              std::pair{kT0, kT0.AddDays(30)}}) {
        UsageAggregateFilter f{.basis = basis, .from = from, .to = to, .granularity = g};
        filters.push_back(f);  // totals per bucket
        f.by_subscription = f.by_tenant = f.by_meter = f.by_stack = true;
        filters.push_back(f);
        f.by_local_subscription = true;
        f.local_subscription_ids = std::vector<Guid>{G(4, 1), G(4, 3)};
        filters.push_back(f);
        f.local_subscription_ids.reset();
        f.by_tenant = f.by_stack = false;
        f.by_resource = true;
        filters.push_back(f);
      }
    }
  }
  return filters;
}

std::string Describe(const UsageAggregateFilter& f) {
  std::string text = f.basis == UsageTimeBasis::kReported ? "reported " : "usage ";
  text += f.from.ToString() + ".." + f.to.ToString() + " granularity " +
          std::to_string(static_cast<int>(f.granularity));
  for (auto [on, name] :
       {std::pair{f.by_subscription, " +subscription"}, std::pair{f.by_tenant, " +tenant"},
        std::pair{f.by_meter, " +meter"}, std::pair{f.by_stack, " +stack"},
        std::pair{f.by_local_subscription, " +local subscription"},
        std::pair{f.by_resource, " +resource"}}) {
    if (on) text += name;
  }
  return text;
}

void ExpectPagesMatchTheWhole(Store& store, UsageAggregateFilter f, std::size_t limit);

// Every filter of AggregateFilters() over the store equals the model over
// what the store holds; so do the Commerce pages of each subscription.
void ExpectAggregatesMatchRecords(Store& store) {
  ASSERT_OK_AND_ASSIGN(Page<UsageRecord> all,
                       store.usage().ListUsage({}, PageRequest{.limit = 1000}));
  for (const UsageAggregateFilter& f : AggregateFilters()) {
    ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> got, store.usage().AggregateUsage(f));
    EXPECT_EQ(got, ModelAggregates(all.items, f)) << Describe(f);
  }
  for (UsageTimeBasis basis : {UsageTimeBasis::kReported, UsageTimeBasis::kUsage}) {
    for (const Guid& subscription : {G(2, 1), G(2, 2)}) {
      const UsageAggregateFilter commerce{
          .basis = basis,
          .from = kT0,
          .to = kT0.AddDays(10),
          .granularity = UsageGranularity::kDay,
          .billed_subscription_ids = std::vector<Guid>{subscription},
          .by_subscription = true,
          .by_meter = true,
          .by_resource = true};
      ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> got, store.usage().AggregateUsage(commerce));
      EXPECT_EQ(got, ModelAggregates(all.items, commerce)) << Describe(commerce);
      ExpectPagesMatchTheWhole(store, commerce, 3);
    }
  }
}

TEST_P(StoreContract, UsageAggregatesAreExactUnderIngestRerouteAndSupersede) {
  const std::vector<UsageRecord> records = AggregateFixture();
  ASSERT_OK(store().usage().WriteUsage(records));
  ExpectAggregatesMatchRecords(store());
  ASSERT_OK_AND_ASSIGN(
      std::vector<UsageAggregate> month,
      store().usage().AggregateUsage(
          {.from = kT0, .to = kT0.AddDays(30), .granularity = UsageGranularity::kMonth}));
  ASSERT_EQ(month.size(), 1u);
  EXPECT_EQ(month[0].records, 72);
  EXPECT_EQ(month[0].start, kT0);
  EXPECT_EQ(month[0].end, YearMonth(2026, 12).Start());

  // Duplicates and conflicting duplicates change nothing.
  std::vector<UsageRecord> again = records;
  again[3].content_hash = "other content";
  ASSERT_OK(store().usage().WriteUsage(again));
  ExpectAggregatesMatchRecords(store());

  // A re-route moves usage to another subscription and reported time (R13).
  Routing customer{G(2, 3), BillTo{BillTo::Kind::kPartner, "contoso", Guid()},
                   RoutingReason::kRegisteredCustomer};
  std::vector<RoutingUpdate> updates;
  for (std::size_t n : {0U, 1U, 5U, 5U, 40U}) {
    updates.push_back(
        {records[n].cloud_id, records[n].identity, customer, Hours(70 + static_cast<int>(n))});
  }
  ASSERT_OK(store().usage().UpdateRouting(updates));
  ExpectAggregatesMatchRecords(store());

  // A supersede replaces quantity, meter and window; one back to zero usage.
  for (std::size_t n : {2U, 7U}) {
    UsageRecord replacement = records[n];
    replacement.content_hash = "corrected";
    replacement.meter_id = G(5, 9);
    replacement.quantity = Q(n == 2 ? "0" : "1000.5");
    replacement.usage_start = Hours(60);
    replacement.usage_end = Hours(61);
    replacement.reported_time = Hours(80);
    UsageSupersession supersession;
    supersession.cloud_id = replacement.cloud_id;
    supersession.identity = replacement.identity;
    supersession.at = Hours(80);
    supersession.actor_principal_id = G(6, 1);
    supersession.reason = "correction";
    supersession.old_meter_id = records[n].meter_id;
    supersession.old_quantity = records[n].quantity;
    supersession.old_usage_start = records[n].usage_start;
    supersession.old_billed_subscription_id = records[n].routing.billed_subscription_id;
    supersession.old_content_hash = records[n].content_hash;
    supersession.new_quantity = replacement.quantity;
    ASSERT_OK(store().usage().SupersedeUsage(replacement, supersession));
  }
  ExpectAggregatesMatchRecords(store());

  // The ingest path keeps them too. Records first..last-1, each an hour of
  // usage 60 hours before its number, reported at `reported`.
  auto late_usage = [](int first, int last, Timestamp reported) {
    std::vector<UsageRecord> late;
    for (int n = first; n < last; ++n) {
      UsageRecord r = MakeUsage(G(3, 1), n);
      r.usage_start = Hours(n - 60);
      r.usage_end = Hours(n - 59);
      r.reported_time = reported;
      late.push_back(r);
    }
    return late;
  };
  const std::vector<UsageRecord> ingested = late_usage(100, 110, Hours(90));
  const std::vector<std::string_view> raw_texts(ingested.size(), "{}");
  IngestWrite write;
  write.received_at = Hours(90);
  write.records = ingested;
  write.raw_texts = raw_texts;
  ASSERT_OK(store().usage().WriteIngest(write));
  ExpectAggregatesMatchRecords(store());

  // And so does a write the store prepared (PrepareIngest), both when all its
  // records are new and when some are duplicates of stored ones or conflict
  // with them, alone or in a group.
  const std::vector<UsageRecord> more = late_usage(110, 115, Hours(91));
  std::vector<UsageRecord> mixed = {more[0], ingested[0], more[1]};
  mixed[1].quantity = Q("99");  // conflicts with the stored record
  mixed[1].content_hash = "hash-99";
  mixed.push_back(ingested[1]);  // a duplicate
  const std::vector<std::string_view> more_raw(more.size(), "{}");
  const std::vector<std::string_view> mixed_raw(mixed.size(), "{}");
  std::unique_ptr<PreparedIngest> prepared_more = store().usage().PrepareIngest(more);
  std::unique_ptr<PreparedIngest> prepared_mixed = store().usage().PrepareIngest(mixed);
  IngestWrite write_more;
  write_more.records = more;
  write_more.raw_texts = more_raw;
  write_more.received_at = Hours(91);
  write_more.prepared = prepared_more.get();
  IngestWrite write_mixed;
  write_mixed.records = mixed;
  write_mixed.raw_texts = mixed_raw;
  write_mixed.received_at = Hours(91);
  write_mixed.prepared = prepared_mixed.get();
  const IngestWrite* const group[] = {&write_mixed, &write_more};
  ASSERT_OK_AND_ASSIGN(std::vector<IngestWriteResult> results,
                       store().usage().WriteIngestGroup(group));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcomes,
            Outcomes({UsageOutcome::kAccepted, UsageOutcome::kConflictingDuplicate,
                      UsageOutcome::kAccepted, UsageOutcome::kDuplicate}));
  // more[0] and more[1] came first in the group's earlier write.
  EXPECT_EQ(results[1].outcomes,
            Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kDuplicate, UsageOutcome::kAccepted,
                      UsageOutcome::kAccepted, UsageOutcome::kAccepted}));
  ExpectAggregatesMatchRecords(store());
}

// Pages of `limit` continuing after the last key give the whole result.
void ExpectPagesMatchTheWhole(Store& store, UsageAggregateFilter f, std::size_t limit) {
  ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> whole, store.usage().AggregateUsage(f));
  std::vector<UsageAggregate> paged;
  f.limit = limit;
  for (int guard = 0; guard < 1000; ++guard) {
    ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> page, store.usage().AggregateUsage(f));
    ASSERT_LE(page.size(), limit);
    paged.insert(paged.end(), page.begin(), page.end());
    if (page.size() < limit) break;
    f.after = UsageAggregateKey::Of(page.back());
  }
  EXPECT_EQ(paged, whole) << Describe(f);
  EXPECT_FALSE(whole.empty()) << Describe(f);
}

TEST_P(StoreContract, UsageAggregatesPageAfterAKey) {
  ASSERT_OK(store().usage().WriteUsage(AggregateFixture()));
  for (UsageTimeBasis basis : {UsageTimeBasis::kReported, UsageTimeBasis::kUsage}) {
    // The Commerce page: one subscription, per meter and resource, by day.
    UsageAggregateFilter commerce{.basis = basis,
                                  .from = kT0,
                                  .to = kT0.AddDays(10),
                                  .granularity = UsageGranularity::kDay,
                                  .billed_subscription_ids = std::vector<Guid>{G(2, 1)},
                                  .by_subscription = true,
                                  .by_meter = true,
                                  .by_resource = true};
    ExpectPagesMatchTheWhole(store(), commerce, 4);
    ExpectPagesMatchTheWhole(store(), commerce, 1);
    commerce.from = kT0.AddDays(1);
    commerce.to = kT0.AddDays(3);
    ExpectPagesMatchTheWhole(store(), commerce, 3);
    // Anything else pages the same way.
    ExpectPagesMatchTheWhole(store(),
                             {.basis = basis,
                              .from = Hours(5),
                              .to = Hours(53),
                              .granularity = UsageGranularity::kHour,
                              .by_subscription = true,
                              .by_tenant = true,
                              .by_meter = true,
                              .by_local_subscription = true},
                             7);
  }
}

TEST_P(StoreContract, UsageAggregatesKeepToTheVisibleSubscriptionsAndStacks) {
  ASSERT_OK(store().usage().WriteUsage(AggregateFixture()));
  UsageAggregateFilter f{.from = kT0, .to = kT0.AddDays(10), .by_subscription = true};
  f.billed_subscription_ids = std::vector<Guid>{G(2, 2)};
  ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> got, store().usage().AggregateUsage(f));
  ASSERT_FALSE(got.empty());
  for (const UsageAggregate& a : got) EXPECT_EQ(a.billed_subscription_id, G(2, 2));
  f.cloud_ids = std::vector<Guid>{G(3, 1)};
  ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> one_stack, store().usage().AggregateUsage(f));
  ASSERT_OK_AND_ASSIGN(Page<UsageRecord> all, store().usage().ListUsage({}, PageRequest{}));
  EXPECT_EQ(one_stack, ModelAggregates(all.items, f));
  f.billed_subscription_ids = std::vector<Guid>{};  // sees nothing
  ASSERT_OK_AND_ASSIGN(got, store().usage().AggregateUsage(f));
  EXPECT_TRUE(got.empty());
}

TEST_P(StoreContract, UsageAggregatesPerResourceKeepAnEmptyInstanceData) {
  UsageRecord r = MakeUsage(G(3, 1), 1);
  r.instance_data = "";
  ASSERT_OK(store().usage().WriteUsage(std::vector<UsageRecord>{r}));
  ASSERT_OK_AND_ASSIGN(std::vector<UsageAggregate> got,
                       store().usage().AggregateUsage({.basis = UsageTimeBasis::kUsage,
                                                       .from = kT0,
                                                       .to = kT0.AddDays(1),
                                                       .by_resource = true}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].instance_data, "");
  EXPECT_EQ(got[0].resource_uri, r.resource_uri);
}

TEST_P(StoreContract, UsageAggregatesRefuseWindowsThatAreNotWholeHours) {
  EXPECT_ERROR(store().usage().AggregateUsage({.from = Hours(2), .to = Hours(2)}), kInvalidArgument,
               "InvalidTimeWindow");
  EXPECT_ERROR(store().usage().AggregateUsage({.from = Hours(2).AddSeconds(60), .to = Hours(5)}),
               kInvalidArgument, "InvalidTimeWindow");
}

// ---------------------------------------------------------------------------
// Ingest (SPEC §4)

// The raw text WriteIngest is given for a record (what a conflicting duplicate
// is quarantined with).
std::string RawText(const UsageRecord& record) {
  return "{\"raw\":\"" + record.identity + "/" + record.content_hash + "\"}";
}

// An IngestWrite together with the arrays it points into.
class IngestBatch {
 public:
  std::vector<UsageRecord> records;
  std::vector<std::int64_t> replay_of;  // empty, or parallel to records
  std::vector<QuarantineEntry> quarantine;
  Timestamp received_at = Hours(100);
  std::optional<std::int64_t> history_version;

  // Valid until the batch changes or is destroyed.
  IngestWrite Write() {
    raw_.clear();
    for (const UsageRecord& record : records) raw_.push_back(RawText(record));
    raw_views_.assign(raw_.begin(), raw_.end());
    return IngestWrite{.records = records,
                       .raw_texts = raw_views_,
                       .replay_of = replay_of,
                       .quarantine = quarantine,
                       .received_at = received_at,
                       .history_version = history_version};
  }

 private:
  std::vector<std::string> raw_;
  std::vector<std::string_view> raw_views_;
};

// StackIngestStats has no operator==: its fields, per stack.
std::map<Guid, std::pair<Timestamp, std::int64_t>> StatsFields(
    const std::map<Guid, StackIngestStats>& stats) {
  std::map<Guid, std::pair<Timestamp, std::int64_t>> fields;
  for (const auto& [cloud, s] : stats) fields[cloud] = {s.last_received_at, s.accepted};
  return fields;
}

// R10, R11: one write stores the new records, tells a duplicate from a
// conflicting duplicate (a repeat within the write is judged against its first
// occurrence, a repeat across writes against the stored record), quarantines
// every conflicting duplicate with its raw text, and adds the validation
// failures — in input order.
TEST_P(StoreContract, IngestWriteAcceptsDeduplicatesAndQuarantines) {
  const Guid cloud = G(3, 1);
  IngestBatch first;
  first.records = {MakeUsage(cloud, 1), MakeUsage(cloud, 2), MakeUsage(cloud, 1),
                   MakeUsage(cloud, 2, "b")};
  first.quarantine = {MakeQuarantine(cloud, Hours(100), "UnknownMeter"),
                      MakeQuarantine(cloud, Hours(100), "InvalidWindow")};
  ASSERT_OK_AND_ASSIGN(IngestWriteResult result, store().usage().WriteIngest(first.Write()));
  EXPECT_EQ(result.outcomes,
            Outcomes({UsageOutcome::kAccepted, UsageOutcome::kAccepted, UsageOutcome::kDuplicate,
                      UsageOutcome::kConflictingDuplicate}));
  ASSERT_EQ(result.conflict_ids.size(), 4u);
  EXPECT_EQ(result.conflict_ids[0], 0);
  EXPECT_EQ(result.conflict_ids[1], 0);
  EXPECT_EQ(result.conflict_ids[2], 0);
  EXPECT_NE(result.conflict_ids[3], 0);
  ASSERT_EQ(result.quarantine_ids.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    QuarantineEntry expected = first.quarantine[i];
    expected.id = result.quarantine_ids[i];
    ASSERT_OK_AND_ASSIGN(QuarantineEntry read,
                         store().quarantine().GetQuarantine(result.quarantine_ids[i]));
    EXPECT_EQ(read, expected);
  }
  ASSERT_OK_AND_ASSIGN(QuarantineEntry conflict,
                       store().quarantine().GetQuarantine(result.conflict_ids[3]));
  EXPECT_EQ(conflict.cloud_id, cloud);
  EXPECT_EQ(conflict.code, "ConflictingDuplicate");
  EXPECT_EQ(conflict.received_at, Hours(100));
  EXPECT_EQ(conflict.raw_text, RawText(first.records[3]));
  EXPECT_EQ(conflict.record_id, "record-2");
  EXPECT_FALSE(conflict.replayed_at.has_value());
  ASSERT_OK_AND_ASSIGN(UsageRecord stored, store().usage().GetUsage(cloud, "identity-2"));
  EXPECT_EQ(stored, MakeUsage(cloud, 2));

  // The same identities in a later write (R11 across writes).
  IngestBatch second;
  second.records = {MakeUsage(cloud, 1), MakeUsage(cloud, 2, "c"), MakeUsage(cloud, 3)};
  second.received_at = Hours(101);
  ASSERT_OK_AND_ASSIGN(result, store().usage().WriteIngest(second.Write()));
  EXPECT_EQ(result.outcomes,
            Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kConflictingDuplicate,
                      UsageOutcome::kAccepted}));
  ASSERT_EQ(result.conflict_ids.size(), 3u);
  EXPECT_EQ(result.conflict_ids[0], 0);
  EXPECT_NE(result.conflict_ids[1], 0);
  EXPECT_EQ(result.conflict_ids[2], 0);
  EXPECT_TRUE(result.quarantine_ids.empty());
  ASSERT_OK_AND_ASSIGN(conflict, store().quarantine().GetQuarantine(result.conflict_ids[1]));
  EXPECT_EQ(conflict.raw_text, RawText(second.records[1]));
  EXPECT_EQ(conflict.received_at, Hours(101));
  // Neither conflicting write changed the stored record.
  ASSERT_OK_AND_ASSIGN(stored, store().usage().GetUsage(cloud, "identity-2"));
  EXPECT_EQ(stored, MakeUsage(cloud, 2));
  ASSERT_OK_AND_ASSIGN(std::int64_t usage, store().usage().CountUsage({}));
  EXPECT_EQ(usage, 3);
  ASSERT_OK_AND_ASSIGN(std::int64_t conflicts, store().quarantine().CountQuarantine(
                                                   {.code = std::string("ConflictingDuplicate")}));
  EXPECT_EQ(conflicts, 2);
  ASSERT_OK_AND_ASSIGN(std::int64_t quarantined, store().quarantine().CountQuarantine({}));
  EXPECT_EQ(quarantined, 4);
}

// R10: all or nothing — a write that breaks a REQUIRES stores nothing, its
// quarantine entries included.
TEST_P(StoreContract, IngestWriteWithAnInvalidArgumentWritesNothing) {
  const Guid cloud = G(3, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> pending,
                       store().quarantine().AddQuarantine(std::vector<QuarantineEntry>{
                           MakeQuarantine(cloud, Hours(1), "UnknownMeter")}));
  IngestBatch batch;
  batch.records = {MakeUsage(cloud, 1), MakeUsage(cloud, 2)};
  batch.replay_of = {pending[0], 0};
  batch.quarantine = {MakeQuarantine(cloud, Hours(100), "InvalidWindow")};

  IngestWrite short_raw = batch.Write();
  short_raw.raw_texts = short_raw.raw_texts.first(1);
  EXPECT_STATUS(store().usage().WriteIngest(short_raw), kInvalidArgument);
  IngestWrite short_replay = batch.Write();
  short_replay.replay_of = short_replay.replay_of.first(1);
  EXPECT_STATUS(store().usage().WriteIngest(short_replay), kInvalidArgument);
  batch.records[1].identity.clear();
  EXPECT_STATUS(store().usage().WriteIngest(batch.Write()), kInvalidArgument);
  batch.records[1].identity = "identity-2";
  batch.records[1].content_hash.clear();
  EXPECT_STATUS(store().usage().WriteIngest(batch.Write()), kInvalidArgument);

  ASSERT_OK_AND_ASSIGN(std::int64_t usage, store().usage().CountUsage({}));
  EXPECT_EQ(usage, 0);
  ASSERT_OK_AND_ASSIGN(std::int64_t quarantined,
                       store().quarantine().CountQuarantine({.include_replayed = true}));
  EXPECT_EQ(quarantined, 1);
  ASSERT_OK_AND_ASSIGN(QuarantineEntry entry, store().quarantine().GetQuarantine(pending[0]));
  EXPECT_FALSE(entry.replayed_at.has_value());
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  EXPECT_TRUE(stats.empty());
}

// A stack's last receipt is the latest of its writes', whichever commits
// last: writes beside each other (on PostgreSQL, other nodes') may commit
// out of the order of their receipts.
TEST_P(StoreContract, AStacksLastReceiptIsTheLatestWhicheverWriteCommitsLast) {
  const Guid cloud = G(3, 1);
  IngestBatch later;
  later.records = {MakeUsage(cloud, 1)};
  IngestWrite later_write = later.Write();
  later_write.received_at = Hours(200);
  ASSERT_OK(store().usage().WriteIngest(later_write));
  IngestBatch earlier;
  earlier.records = {MakeUsage(cloud, 2)};
  IngestWrite earlier_write = earlier.Write();
  earlier_write.received_at = Hours(100);
  ASSERT_OK(store().usage().WriteIngest(earlier_write));
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  EXPECT_EQ(StatsFields(stats),
            (std::map<Guid, std::pair<Timestamp, std::int64_t>>{{cloud, {Hours(200), 2}}}));
}

// R10: once WriteIngest returns OK its records, quarantine entries, replay
// marks and counts are durable: they survive closing and reopening.
TEST_P(StoreContract, IngestWriteSurvivesReopening) {
  const Guid cloud = G(3, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> pending,
                       store().quarantine().AddQuarantine(std::vector<QuarantineEntry>{
                           MakeQuarantine(cloud, Hours(1), "UnknownMeter")}));
  IngestBatch batch;
  batch.records = {MakeUsage(cloud, 1), MakeUsage(cloud, 2)};
  batch.replay_of = {pending[0], 0};
  batch.quarantine = {MakeQuarantine(cloud, Hours(100), "InvalidWindow")};
  ASSERT_OK_AND_ASSIGN(IngestWriteResult result, store().usage().WriteIngest(batch.Write()));
  ASSERT_EQ(result.quarantine_ids.size(), 1u);
  Reopen();
  ASSERT_NE(store_, nullptr);
  ASSERT_OK_AND_ASSIGN(UsageRecord stored, store().usage().GetUsage(cloud, "identity-2"));
  EXPECT_EQ(stored, MakeUsage(cloud, 2));
  ASSERT_OK_AND_ASSIGN(QuarantineEntry added,
                       store().quarantine().GetQuarantine(result.quarantine_ids[0]));
  EXPECT_EQ(added.code, "InvalidWindow");
  ASSERT_OK_AND_ASSIGN(QuarantineEntry replayed, store().quarantine().GetQuarantine(pending[0]));
  EXPECT_EQ(replayed.replayed_at, Hours(100));
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  EXPECT_EQ(StatsFields(stats),
            (std::map<Guid, std::pair<Timestamp, std::int64_t>>{{cloud, {Hours(100), 2}}}));
  ASSERT_OK_AND_ASSIGN(result, store().usage().WriteIngest(batch.Write()));
  EXPECT_EQ(result.outcomes, Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kDuplicate}));
}

// R13: records routed with a history version commit only while it is still
// the store's; a stale write changes nothing at all (records, quarantine,
// replay marks, counts), and the same write routed again commits.
TEST_P(StoreContract, IngestWriteWithAStaleHistoryVersionWritesNothing) {
  World w;
  CreateWorld(store(), w);
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> pending,
                       store().quarantine().AddQuarantine(std::vector<QuarantineEntry>{
                           MakeQuarantine(w.cloud, Hours(1), "UnknownMeter")}));
  ASSERT_OK_AND_ASSIGN(const std::int64_t routed_with, registrations.HistoryVersion());
  // The history changes between routing and commit.
  ASSERT_OK(registrations.PutStackSubscriber(
      {w.cloud, G(4, 1), w.customer_directory, Validity{Hours(1), std::nullopt}}));

  IngestBatch batch;
  batch.records = {MakeUsage(w.cloud, 1), MakeUsage(w.cloud, 2)};
  batch.replay_of = {pending[0], 0};
  batch.quarantine = {MakeQuarantine(w.cloud, Hours(100), "InvalidWindow")};
  batch.history_version = routed_with;
  EXPECT_ERROR(store().usage().WriteIngest(batch.Write()), kFailedPrecondition, "HistoryChanged");
  ASSERT_OK_AND_ASSIGN(std::int64_t usage, store().usage().CountUsage({}));
  EXPECT_EQ(usage, 0);
  ASSERT_OK_AND_ASSIGN(std::int64_t quarantined,
                       store().quarantine().CountQuarantine({.include_replayed = true}));
  EXPECT_EQ(quarantined, 1);
  ASSERT_OK_AND_ASSIGN(QuarantineEntry entry, store().quarantine().GetQuarantine(pending[0]));
  EXPECT_FALSE(entry.replayed_at.has_value());
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  EXPECT_TRUE(stats.empty());

  // Routed again with the history in force, it commits.
  ASSERT_OK_AND_ASSIGN(batch.history_version, registrations.HistoryVersion());
  ASSERT_OK_AND_ASSIGN(IngestWriteResult result, store().usage().WriteIngest(batch.Write()));
  EXPECT_EQ(result.outcomes, Outcomes({UsageOutcome::kAccepted, UsageOutcome::kAccepted}));
  EXPECT_EQ(result.quarantine_ids.size(), 1u);
  ASSERT_OK_AND_ASSIGN(entry, store().quarantine().GetQuarantine(pending[0]));
  EXPECT_EQ(entry.replayed_at, Hours(100));

  // Without a history version the write is not checked.
  ASSERT_OK(registrations.EndStackSubscriber(w.cloud, G(4, 1), Hours(2)));
  batch.history_version.reset();
  batch.records = {MakeUsage(w.cloud, 3)};
  batch.replay_of.clear();
  batch.quarantine.clear();
  ASSERT_OK_AND_ASSIGN(result, store().usage().WriteIngest(batch.Write()));
  EXPECT_EQ(result.outcomes, Outcomes({UsageOutcome::kAccepted}));
}

// R10: a replayed quarantine entry is marked replayed (at received_at) when
// its record is now accepted or proves a duplicate; one whose record still
// conflicts stays pending and is not quarantined a second time.
TEST_P(StoreContract, IngestReplayMarksOnlyAcceptedAndDuplicateReplays) {
  const Guid cloud = G(3, 1);
  ASSERT_OK(store().usage().WriteUsage(
      std::vector<UsageRecord>{MakeUsage(cloud, 2), MakeUsage(cloud, 3)}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> ids,
                       store().quarantine().AddQuarantine(std::vector<QuarantineEntry>{
                           MakeQuarantine(cloud, Hours(1), "UnknownMeter"),
                           MakeQuarantine(cloud, Hours(1), "UnknownMeter"),
                           MakeQuarantine(cloud, Hours(1), "ConflictingDuplicate"),
                           MakeQuarantine(cloud, Hours(1), "UnknownMeter")}));
  IngestBatch replay;
  replay.records = {MakeUsage(cloud, 1), MakeUsage(cloud, 2), MakeUsage(cloud, 3, "b"),
                    MakeUsage(cloud, 4)};
  replay.replay_of = {ids[0], ids[1], ids[2], 0};
  replay.received_at = Hours(200);
  ASSERT_OK_AND_ASSIGN(IngestWriteResult result, store().usage().WriteIngest(replay.Write()));
  EXPECT_EQ(result.outcomes,
            Outcomes({UsageOutcome::kAccepted, UsageOutcome::kDuplicate,
                      UsageOutcome::kConflictingDuplicate, UsageOutcome::kAccepted}));
  EXPECT_EQ(result.conflict_ids, (std::vector<std::int64_t>{0, 0, 0, 0}));
  std::vector<std::optional<Timestamp>> replayed_at;
  for (std::int64_t id : ids) {
    ASSERT_OK_AND_ASSIGN(QuarantineEntry entry, store().quarantine().GetQuarantine(id));
    replayed_at.push_back(entry.replayed_at);
  }
  EXPECT_EQ(replayed_at, (std::vector<std::optional<Timestamp>>{Hours(200), Hours(200),
                                                                std::nullopt, std::nullopt}));
  ASSERT_OK_AND_ASSIGN(std::int64_t all,
                       store().quarantine().CountQuarantine({.include_replayed = true}));
  EXPECT_EQ(all, 4);
  ASSERT_OK_AND_ASSIGN(auto pending, store().quarantine().CountPendingQuarantineByStack());
  EXPECT_EQ(pending, (std::map<Guid, std::int64_t>{{cloud, 2}}));
}

// Per stack, WriteIngest counts the accepted records only (never duplicates or
// conflicting duplicates) and keeps when the last accepted usage arrived;
// stacks without accepted usage are not listed.
TEST_P(StoreContract, StackIngestStatsCountOnlyAcceptedRecords) {
  const Guid a = G(3, 1);
  const Guid b = G(3, 2);
  const Guid c = G(3, 3);
  IngestBatch first;
  first.records = {MakeUsage(a, 1), MakeUsage(a, 2), MakeUsage(a, 1), MakeUsage(b, 1)};
  first.quarantine = {MakeQuarantine(c, Hours(100), "UnknownMeter")};
  first.received_at = Hours(100);
  ASSERT_OK(store().usage().WriteIngest(first.Write()));
  using Fields = std::map<Guid, std::pair<Timestamp, std::int64_t>>;
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  EXPECT_EQ(StatsFields(stats), (Fields{{a, {Hours(100), 2}}, {b, {Hours(100), 1}}}));

  IngestBatch second;
  second.records = {MakeUsage(a, 3), MakeUsage(a, 1), MakeUsage(a, 2, "x"), MakeUsage(b, 1),
                    MakeUsage(b, 1, "y")};
  second.received_at = Hours(101);
  ASSERT_OK(store().usage().WriteIngest(second.Write()));
  ASSERT_OK_AND_ASSIGN(stats, store().usage().ListStackIngestStats());
  EXPECT_EQ(StatsFields(stats), (Fields{{a, {Hours(101), 3}}, {b, {Hours(100), 1}}}));
}

// A group commit (WriteIngestGroup): one transaction of several writes, each
// judged as if written alone after the ones before it, with its own result and
// its own received_at; refused whole when malformed.
TEST_P(StoreContract, IngestGroupWritesInOrderAndAllOrNothing) {
  const Guid a = G(3, 1);
  const Guid b = G(3, 2);
  IngestBatch first;
  first.records = {MakeUsage(a, 1), MakeUsage(a, 2)};
  first.received_at = Hours(100);
  IngestBatch second;
  second.records = {MakeUsage(a, 2), MakeUsage(a, 1, "x"), MakeUsage(b, 1)};
  second.received_at = Hours(101);
  second.quarantine = {MakeQuarantine(b, Hours(101), "UnknownMeter")};
  const IngestWrite w1 = first.Write();
  const IngestWrite w2 = second.Write();
  const IngestWrite* const group[] = {&w1, &w2};
  ASSERT_OK_AND_ASSIGN(std::vector<IngestWriteResult> results,
                       store().usage().WriteIngestGroup(group));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcomes, Outcomes({UsageOutcome::kAccepted, UsageOutcome::kAccepted}));
  EXPECT_TRUE(results[0].quarantine_ids.empty());
  EXPECT_EQ(results[1].outcomes,
            Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kConflictingDuplicate,
                      UsageOutcome::kAccepted}));
  EXPECT_NE(results[1].conflict_ids[1], 0);
  ASSERT_EQ(results[1].quarantine_ids.size(), 1u);
  using Fields = std::map<Guid, std::pair<Timestamp, std::int64_t>>;
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  EXPECT_EQ(StatsFields(stats), (Fields{{a, {Hours(100), 2}}, {b, {Hours(101), 1}}}));

  // Malformed groups change nothing.
  EXPECT_STATUS(store().usage().WriteIngestGroup({}), kInvalidArgument);
  IngestBatch third;
  third.records = {MakeUsage(a, 3)};
  IngestBatch fourth;
  fourth.records = {MakeUsage(a, 4)};
  IngestWrite w3 = third.Write();
  IngestWrite w4 = fourth.Write();
  w3.history_version = 1;
  const IngestWrite* const mixed_versions[] = {&w3, &w4};
  EXPECT_STATUS(store().usage().WriteIngestGroup(mixed_versions), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(std::int64_t usage, store().usage().CountUsage({}));
  EXPECT_EQ(usage, 3);
}

// R11's dedupe key spans every month (PostgreSQL keeps each month's usage in a
// partition of its own: pg_schema.cc, version 2): a resend is a duplicate
// whatever month it is dated in, the identity's content is compared across
// months, and a supersession that moves a record to another month keeps it
// one record whose identity stands for the new content.
TEST_P(StoreContract, UsageOfEveryMonthSharesOneDedupeKey) {
  const Guid cloud = G(3, 7);
  std::vector<UsageRecord> records;
  for (const int hour : {-24 * 40, 0, 1, 24 * 31, 24 * 31 + 1}) {  // Sep, Nov, Nov, Dec, Dec
    records.push_back(MakeUsage(cloud, hour));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> outcomes, store().usage().WriteUsage(records));
  EXPECT_EQ(outcomes, std::vector<UsageOutcome>(records.size(), UsageOutcome::kAccepted));
  ASSERT_OK_AND_ASSIGN(outcomes, store().usage().WriteUsage(records));
  EXPECT_EQ(outcomes, std::vector<UsageOutcome>(records.size(), UsageOutcome::kDuplicate));

  // November's identity-0 resent dated in January, and with other content.
  UsageRecord moved = MakeUsage(cloud, 0, "b");
  moved.usage_start = Hours(24 * 70);
  moved.usage_end = Hours(24 * 70 + 1);
  ASSERT_OK_AND_ASSIGN(outcomes, store().usage().WriteUsage(std::vector<UsageRecord>{moved}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kConflictingDuplicate}));

  // identity-1 superseded from November into January.
  UsageRecord replacement = records[2];
  replacement.content_hash = "hash-january";
  replacement.usage_start = Hours(24 * 75);
  replacement.usage_end = Hours(24 * 75 + 1);
  UsageSupersession supersession;
  supersession.cloud_id = cloud;
  supersession.identity = replacement.identity;
  supersession.at = Hours(24 * 76);
  supersession.actor_principal_id = G(6, 1);
  supersession.reason = "wrong month";
  supersession.old_meter_id = records[2].meter_id;
  supersession.old_quantity = records[2].quantity;
  supersession.old_usage_start = records[2].usage_start;
  supersession.old_billed_subscription_id = records[2].routing.billed_subscription_id;
  supersession.old_content_hash = records[2].content_hash;
  supersession.new_quantity = replacement.quantity;
  ASSERT_OK(store().usage().SupersedeUsage(replacement, supersession));
  ASSERT_OK_AND_ASSIGN(UsageRecord stored, store().usage().GetUsage(cloud, replacement.identity));
  EXPECT_EQ(stored, replacement);
  ASSERT_OK_AND_ASSIGN(
      outcomes, store().usage().WriteUsage(std::vector<UsageRecord>{replacement, records[2]}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kConflictingDuplicate}));

  ASSERT_OK_AND_ASSIGN(Page<UsageRecord> page, store().usage().ListUsage({}, {}));
  std::vector<std::string> identities;
  for (const UsageRecord& r : page.items) identities.push_back(r.identity);
  // In the order stored: the moved record kept its place.
  EXPECT_EQ(identities, (std::vector<std::string>{"identity--960", "identity-0", "identity-1",
                                                  "identity-744", "identity-745"}));
}

// R11: a PlatformAdmin's supersession replaces the stored record's content and
// routing, returns the record as it was, and is recorded; the identity then
// stands for the new content.
TEST_P(StoreContract, SupersedingReplacesTheRecordAndRecordsTheSupersession) {
  const Guid cloud = G(3, 1);
  const Guid other_cloud = G(3, 2);
  const UsageRecord original = MakeUsage(cloud, 1);
  ASSERT_OK(store().usage().WriteUsage(
      std::vector<UsageRecord>{original, MakeUsage(cloud, 2), MakeUsage(other_cloud, 1)}));
  UsageRecord replacement = original;
  replacement.content_hash = "hash-corrected";
  replacement.tenant_id = G(1, 3);
  replacement.local_subscription_id = G(4, 2);
  replacement.meter_id = G(5, 2);
  replacement.quantity = Q("0.0000000003");
  replacement.usage_start = Hours(30);
  replacement.usage_end = Hours(31);
  replacement.resource_uri = "/subscriptions/x/virtualMachines/corrected";
  replacement.instance_data = R"({"corrected":true})";
  replacement.routing = Routing{G(2, 2), BillTo{BillTo::Kind::kPartner, "fabrikam", Guid()},
                                RoutingReason::kRegisteredCustomer};
  replacement.reported_time = Hours(500);
  UsageSupersession supersession;
  supersession.cloud_id = cloud;
  supersession.identity = original.identity;
  supersession.at = Hours(400);
  supersession.actor_principal_id = G(6, 1);
  supersession.reason = "wrong meter";
  supersession.old_meter_id = original.meter_id;
  supersession.old_quantity = original.quantity;
  supersession.old_usage_start = original.usage_start;
  supersession.old_billed_subscription_id = original.routing.billed_subscription_id;
  supersession.old_content_hash = original.content_hash;
  supersession.new_quantity = replacement.quantity;

  ASSERT_OK_AND_ASSIGN(UsageRecord old, store().usage().SupersedeUsage(replacement, supersession));
  EXPECT_EQ(old, original);
  ASSERT_OK_AND_ASSIGN(UsageRecord stored, store().usage().GetUsage(cloud, original.identity));
  EXPECT_EQ(stored, replacement);
  ASSERT_OK_AND_ASSIGN(UsageRecord untouched, store().usage().GetUsage(cloud, "identity-2"));
  EXPECT_EQ(untouched, MakeUsage(cloud, 2));
  ASSERT_OK_AND_ASSIGN(std::vector<UsageSupersession> listed,
                       store().usage().ListSupersessions(cloud));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_NE(listed[0].id, 0);
  UsageSupersession expected = supersession;
  expected.id = listed[0].id;
  EXPECT_EQ(listed[0], expected);
  ASSERT_OK_AND_ASSIGN(listed, store().usage().ListSupersessions(other_cloud));
  EXPECT_TRUE(listed.empty());

  // The identity now stands for the replacement's content.
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> outcomes,
                       store().usage().WriteUsage(std::vector<UsageRecord>{replacement, original}));
  EXPECT_EQ(outcomes, Outcomes({UsageOutcome::kDuplicate, UsageOutcome::kConflictingDuplicate}));

  // Supersessions list oldest first; without a cloud, every cloud's.
  UsageRecord second = MakeUsage(other_cloud, 1, "corrected");
  UsageSupersession second_supersession = supersession;
  second_supersession.cloud_id = other_cloud;
  second_supersession.at = Hours(401);
  second_supersession.old_content_hash = "hash-a";
  ASSERT_OK(store().usage().SupersedeUsage(second, second_supersession));
  ASSERT_OK_AND_ASSIGN(listed, store().usage().ListSupersessions(std::nullopt));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].cloud_id, cloud);
  EXPECT_EQ(listed[1].cloud_id, other_cloud);
  EXPECT_LT(listed[0].id, listed[1].id);

  // An unknown record is NotFound and nothing is recorded.
  EXPECT_ERROR(store().usage().SupersedeUsage(MakeUsage(cloud, 9), supersession), kNotFound,
               "UsageNotFound");
  ASSERT_OK_AND_ASSIGN(listed, store().usage().ListSupersessions(std::nullopt));
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_STATUS(store().usage().GetUsage(cloud, "identity-9"), kNotFound);
}

// ---------------------------------------------------------------------------
// Re-route markers (R13)

// The pending markers as (cloud, from) pairs, then deleted.
using Covered = std::set<std::pair<std::optional<Guid>, Timestamp>>;

absl::StatusOr<Covered> TakeRerouteMarkers(Store& store) {
  absl::StatusOr<std::vector<RerouteMarker>> markers = store.usage().ListRerouteMarkers();
  if (!markers.ok()) return markers.status();
  Covered covered;
  std::vector<std::int64_t> ids;
  for (const RerouteMarker& marker : *markers) {
    covered.insert({marker.cloud_id, marker.from});
    ids.push_back(marker.id);
  }
  absl::Status deleted = store.usage().DeleteRerouteMarkers(ids);
  if (!deleted.ok()) return deleted;
  return covered;
}

// A change of a registration or a customer subscription leaves a marker for
// its cloud from the earliest instant whose routing it may change.
TEST_P(StoreContract, RegistrationAndCustomerSubscriptionChangesLeaveRerouteMarkers) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(TakeRerouteMarkers(store()));
  RegistrationStore& registrations = store().registrations();
  const Covered none;

  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(Covered covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(1)}}));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, none);

  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(2))));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(2)}}));

  // The tenant moves to another subscription: the earlier mapping ends there.
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub2, w.customer_directory, Hours(7))));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(7)}}));

  // And back at hour 10, corrected (effectiveFrom) to hour 9.
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(10))));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(10)}}));
  ASSERT_OK(registrations.PutCustomerSubscription(
      MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(9))));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(9)}}));

  Registration v2 = MakeRegistration(RegName(w), w.cloud, Hours(11));
  v2.multi_tenant = false;
  ASSERT_OK(registrations.PutRegistration(v2, MakeStack(w.cloud)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(11)}}));

  ASSERT_OK(registrations.EndCustomerSubscription(RegName(w), w.customer_sub, Hours(12)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(12)}}));

  // A registration of another cloud marks that cloud only.
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w, "reg2"), w.cloud2, Hours(3)),
                                          MakeStack(w.cloud2)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud2, Hours(3)}}));

  ASSERT_OK(registrations.EndRegistration(RegName(w), Hours(13)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{w.cloud, Hours(13)}}));

  // A refused change leaves no marker.
  EXPECT_ERROR(registrations.PutCustomerSubscription(
                   MakeCustomer(RegName(w), w.customer_sub, w.customer_directory, Hours(14))),
               kNotFound, "RegistrationNotFound");
  EXPECT_ERROR(registrations.PutRegistration(
                   MakeRegistration(RegName(w, "reg3"), w.cloud2, Hours(14)), MakeStack(w.cloud2)),
               kAlreadyExists, "CloudAlreadyRegistered");
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, none);
}

// A partner-parent or subscription-owner change may re-route any cloud's
// usage: its marker names no cloud.
TEST_P(StoreContract, PartnerParentAndOwnerChangesLeaveRerouteMarkersForEveryCloud) {
  World w;
  // Creating partners and subscriptions starts parent links and ownerships.
  CreateWorld(store(), w);
  ASSERT_OK_AND_ASSIGN(Covered covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, kT0}}));
  PartyStore& parties = store().parties();

  ASSERT_OK(parties.SetPartnerParent(w.reseller, w.other, Hours(10)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, Hours(10)}}));
  // A change at the start of the version in force replaces it in place: usage
  // from that start on may route differently too.
  ASSERT_OK(parties.SetPartnerParent(w.reseller, w.provider, Hours(10)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, Hours(10)}}));

  ASSERT_OK(parties.TransferSubscription(w.customer_sub, w.other, Hours(5)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, Hours(5)}}));
  ASSERT_OK(parties.TransferSubscription(w.customer_sub, w.provider, Hours(5)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, Hours(5)}}));

  ASSERT_OK(parties.CreatePartner(MakePartner("tailspin", PartnerKind::kIndirectReseller),
                                  w.provider, Hours(20)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, Hours(20)}}));
  ASSERT_OK(parties.CreateSubscription(
      MakeSubscription(G(2, 9), OfferType::kCsp, w.customer_directory, "tailspin"), Hours(21)));
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, (Covered{{std::nullopt, Hours(21)}}));

  // A refused change leaves no marker.
  EXPECT_ERROR(parties.SetPartnerParent(w.reseller, w.other, Hours(9)), kFailedPrecondition,
               "VersionOutOfOrder");
  ASSERT_OK_AND_ASSIGN(covered, TakeRerouteMarkers(store()));
  EXPECT_EQ(covered, Covered{});
}

// Markers list oldest first; deleting removes exactly the given ids and
// ignores unknown ones.
TEST_P(StoreContract, DeletingRerouteMarkersRemovesOnlyTheGivenIds) {
  World w;
  CreateWorld(store(), w);
  ASSERT_OK(TakeRerouteMarkers(store()));
  RegistrationStore& registrations = store().registrations();
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w), w.cloud, Hours(1)),
                                          MakeStack(w.cloud)));
  ASSERT_OK(store().parties().SetPartnerParent(w.reseller, w.other, Hours(2)));
  ASSERT_OK(registrations.PutRegistration(MakeRegistration(RegName(w, "reg2"), w.cloud2, Hours(3)),
                                          MakeStack(w.cloud2)));
  ASSERT_OK_AND_ASSIGN(std::vector<RerouteMarker> markers, store().usage().ListRerouteMarkers());
  ASSERT_GE(markers.size(), 3u);
  EXPECT_TRUE(
      std::is_sorted(markers.begin(), markers.end(),
                     [](const RerouteMarker& x, const RerouteMarker& y) { return x.id < y.id; }));
  EXPECT_EQ(markers.front().cloud_id, w.cloud);
  EXPECT_EQ(markers.back().cloud_id, w.cloud2);

  const std::int64_t unknown = markers.back().id + 1000;
  ASSERT_OK(store().usage().DeleteRerouteMarkers(
      std::vector<std::int64_t>{markers.front().id, markers.back().id, unknown}));
  std::vector<RerouteMarker> expected(markers.begin() + 1, markers.end() - 1);
  ASSERT_OK_AND_ASSIGN(std::vector<RerouteMarker> left, store().usage().ListRerouteMarkers());
  EXPECT_EQ(left, expected);
  ASSERT_OK(store().usage().DeleteRerouteMarkers(std::vector<std::int64_t>{}));
  ASSERT_OK_AND_ASSIGN(left, store().usage().ListRerouteMarkers());
  EXPECT_EQ(left, expected);
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

// R10: the quarantine is listed by the stacks a caller may see (an empty list
// sees none) and by entry ids (a replay's selection), with the other filters.
TEST_P(StoreContract, QuarantineFiltersByAListOfStacksAndByIds) {
  const Guid a = G(3, 1);
  const Guid b = G(3, 2);
  const Guid c = G(3, 3);
  std::vector<QuarantineEntry> entries = {
      MakeQuarantine(a, Hours(1), "UnknownMeter"), MakeQuarantine(b, Hours(2), "UnknownMeter"),
      MakeQuarantine(c, Hours(3), "InvalidWindow"), MakeQuarantine(a, Hours(4), "UnknownMeter")};
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> ids, store().quarantine().AddQuarantine(entries));
  for (std::size_t i = 0; i < ids.size(); ++i) entries[i].id = ids[i];
  QuarantineStore& quarantine = store().quarantine();
  using Entries = std::vector<QuarantineEntry>;

  ASSERT_OK_AND_ASSIGN(
      Page<QuarantineEntry> page,
      quarantine.ListQuarantine({.cloud_ids = std::vector<Guid>{a, c}}, PageRequest{}));
  EXPECT_EQ(page.items, (Entries{entries[0], entries[2], entries[3]}));
  ASSERT_OK_AND_ASSIGN(std::int64_t count,
                       quarantine.CountQuarantine({.cloud_ids = std::vector<Guid>{a, c}}));
  EXPECT_EQ(count, 3);
  // An empty list of stacks (a caller who sees none) matches nothing.
  ASSERT_OK_AND_ASSIGN(
      page, quarantine.ListQuarantine({.cloud_ids = std::vector<Guid>{}}, PageRequest{}));
  EXPECT_TRUE(page.items.empty());
  ASSERT_OK_AND_ASSIGN(count, quarantine.CountQuarantine({.cloud_ids = std::vector<Guid>{}}));
  EXPECT_EQ(count, 0);
  ASSERT_OK_AND_ASSIGN(count,
                       quarantine.CountQuarantine({.cloud_ids = std::vector<Guid>{G(3, 9)}}));
  EXPECT_EQ(count, 0);
  // It combines with the other conditions.
  ASSERT_OK_AND_ASSIGN(page, quarantine.ListQuarantine({.cloud_id = a,
                                                        .cloud_ids = std::vector<Guid>{a, b},
                                                        .code = std::string("UnknownMeter")},
                                                       PageRequest{}));
  EXPECT_EQ(page.items, (Entries{entries[0], entries[3]}));
  ASSERT_OK_AND_ASSIGN(
      count, quarantine.CountQuarantine({.cloud_id = c, .cloud_ids = std::vector<Guid>{a, b}}));
  EXPECT_EQ(count, 0);

  ASSERT_OK_AND_ASSIGN(
      page,
      quarantine.ListQuarantine({.ids = std::vector<std::int64_t>{ids[3], ids[1]}}, PageRequest{}));
  EXPECT_EQ(page.items, (Entries{entries[1], entries[3]}));
  ASSERT_OK_AND_ASSIGN(
      page, quarantine.ListQuarantine({.ids = std::vector<std::int64_t>{}}, PageRequest{}));
  EXPECT_TRUE(page.items.empty());
  ASSERT_OK_AND_ASSIGN(
      count, quarantine.CountQuarantine({.ids = std::vector<std::int64_t>{ids[3] + 100}}));
  EXPECT_EQ(count, 0);
  ASSERT_OK_AND_ASSIGN(
      page, quarantine.ListQuarantine({.cloud_ids = std::vector<Guid>{b, c},
                                       .ids = std::vector<std::int64_t>{ids[0], ids[1], ids[3]}},
                                      PageRequest{}));
  EXPECT_EQ(page.items, (Entries{entries[1]}));

  // A replayed entry is listed by id only with include_replayed.
  ASSERT_OK(quarantine.MarkReplayed(std::vector<std::int64_t>{ids[3]}, Hours(5)));
  ASSERT_OK_AND_ASSIGN(count,
                       quarantine.CountQuarantine({.ids = std::vector<std::int64_t>{ids[3]}}));
  EXPECT_EQ(count, 0);
  ASSERT_OK_AND_ASSIGN(page, quarantine.ListQuarantine({.ids = std::vector<std::int64_t>{ids[3]},
                                                        .include_replayed = true},
                                                       PageRequest{}));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].replayed_at, Hours(5));
}

// R11 for the quarantine: the same text resent while pending is one entry,
// which takes the latest reason; once replayed, the text may be quarantined
// anew; the same text from another stack is its own entry.
TEST_P(StoreContract, TheSameTextPendingTwiceIsOneQuarantineEntry) {
  const Guid cloud = G(3, 1);
  QuarantineEntry first = MakeQuarantine(cloud, Hours(1), "UnknownMeter");
  QuarantineEntry again = first;
  again.code = "InvalidQuantity";
  again.message = "rejected: InvalidQuantity";
  again.received_at = Hours(2);
  QuarantineEntry other_stack = first;
  other_stack.cloud_id = G(3, 2);
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> ids,
                       store().quarantine().AddQuarantine(std::vector{first, again, other_stack}));
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_NE(ids[0], ids[2]);
  ASSERT_OK_AND_ASSIGN(QuarantineEntry stored, store().quarantine().GetQuarantine(ids[0]));
  EXPECT_EQ(stored.code, "InvalidQuantity");
  EXPECT_EQ(stored.received_at, Hours(1)) << "first received";
  EXPECT_EQ(stored.raw_text, first.raw_text);
  ASSERT_OK(store().quarantine().MarkReplayed(std::vector<std::int64_t>{ids[0]}, Hours(3)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::int64_t> later,
                       store().quarantine().AddQuarantine(std::vector{first}));
  EXPECT_NE(later[0], ids[0]);
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

// SPEC §5 re-billing: a partner's customer price sheet is its own owner,
// keeps its markup, and is kept apart from the partner's overrides.
TEST_P(StoreContract, CustomerPriceSheetsKeepTheirMarkup) {
  World w;
  CreateWorld(store(), w);
  PriceSheetStore& sheets = store().price_sheets();
  const PriceSheetKey overrides{PriceSheetOwner::Partner(w.provider), "USD", kT0};
  const PriceSheetKey customers{PriceSheetOwner::Customers(w.provider), "USD", kT0};
  ASSERT_OK(sheets.PutPriceSheet(MakeSheet(overrides, "0.008")));
  PriceSheet sheet = MakeSheet(customers, "0.01");
  sheet.markup = Markup::Parse("0.15").value();
  ASSERT_OK_AND_ASSIGN(bool created, sheets.PutPriceSheet(sheet));
  EXPECT_TRUE(created);
  ASSERT_OK_AND_ASSIGN(PriceSheet read, sheets.GetPriceSheet(customers));
  EXPECT_EQ(read, sheet);
  EXPECT_EQ(read.key.owner.ToString(), "customers:" + w.provider);

  sheet.markup.reset();  // replaced: explicit prices only
  ASSERT_OK(sheets.PutPriceSheet(sheet));
  ASSERT_OK_AND_ASSIGN(read, sheets.GetPriceSheet(customers));
  EXPECT_EQ(read.markup, std::nullopt);
  ASSERT_OK_AND_ASSIGN(std::vector<PriceSheet> listed,
                       sheets.ListPriceSheets({.owner = PriceSheetOwner::Customers(w.provider)}));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key, customers);
  ASSERT_OK_AND_ASSIGN(read, sheets.GetPriceSheet(overrides));
  EXPECT_EQ(read.markup, std::nullopt);

  sheet.markup = Markup::Parse("0.2").value();
  ASSERT_OK(sheets.LockPriceSheet(customers, Hours(800)));
  EXPECT_ERROR(sheets.PutPriceSheet(sheet), kFailedPrecondition, "PriceSheetLocked");

  PriceSheet bad = MakeSheet(overrides, "0.008");
  bad.markup = Markup::Parse("0.1").value();  // overrides have no markup
  EXPECT_STATUS(sheets.PutPriceSheet(bad), kInvalidArgument);
  bad = MakeSheet(PriceSheetKey{PriceSheetOwner::Customers(w.provider), "EUR", kT0}, "1");
  bad.markup = Markup::Parse("-1.5").value();
  EXPECT_STATUS(sheets.PutPriceSheet(bad), kInvalidArgument);
  EXPECT_STATUS(sheets.PutPriceSheet(MakeSheet(
                    PriceSheetKey{PriceSheetOwner::Customers("nobody"), "USD", kT0}, "1")),
                kNotFound);
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

TEST_P(StoreContract, TheCloseWritesTheBilledLedgerOnce) {
  BillingStore& billing = store().billing();
  const YearMonth oct(2026, 10), nov(2026, 11);
  auto q = [](std::string_view text) { return *Quantity::Parse(text); };
  ClosePeriodRequest request = Close(oct, At("2026-11-04T00:00:00Z"), {});
  request.billed = {{oct, G(1, 1), G(2, 1), false, q("10.5")},
                    {oct, G(1, 1), G(2, 1), true, q("3")},
                    {oct, G(1, 2), G(2, 1), false, q("0.0000000001")}};
  ASSERT_OK(billing.ClosePeriod(request));
  // A replayed close with other rows changes nothing (idempotent).
  ClosePeriodRequest replay = request;
  replay.billed = {{oct, G(1, 1), G(2, 1), false, q("99")}};
  ASSERT_OK(billing.ClosePeriod(replay));
  // The next close replaces a row of October (late usage billed) and adds November's.
  request = Close(nov, At("2026-12-04T00:00:00Z"), {});
  request.billed = {{oct, G(1, 1), G(2, 1), false, q("12")},
                    {nov, G(1, 1), G(2, 1), false, q("7")}};
  ASSERT_OK(billing.ClosePeriod(request));
  ASSERT_OK_AND_ASSIGN(std::vector<BilledUsage> october, billing.ListBilledUsage(oct, oct));
  EXPECT_EQ(october, (std::vector<BilledUsage>{{oct, G(1, 1), G(2, 1), false, q("12")},
                                               {oct, G(1, 1), G(2, 1), true, q("3")},
                                               {oct, G(1, 2), G(2, 1), false, q("0.0000000001")}}));
  ASSERT_OK_AND_ASSIGN(std::vector<BilledUsage> both, billing.ListBilledUsage(oct, nov));
  ASSERT_EQ(both.size(), 4u);
  EXPECT_EQ(both.back(), (BilledUsage{nov, G(1, 1), G(2, 1), false, q("7")}));
  ASSERT_OK_AND_ASSIGN(std::vector<BilledUsage> none,
                       billing.ListBilledUsage(YearMonth(2026, 12), YearMonth(2027, 12)));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreContract, AdjustmentsGoOnlyToOpenPeriods) {
  BillingStore& billing = store().billing();
  const YearMonth oct(2026, 10), nov(2026, 11);
  Adjustment credit{.id = G(8, 1),
                    .period = nov,
                    .subscription_id = G(1, 1),
                    .meter_id = G(2, 1),
                    .amount = *Amount::Parse("-12.34"),
                    .currency = "USD",
                    .reason = "outage credit",
                    .actor_principal_id = G(3, 1),
                    .created_at = At("2026-11-20T10:00:00Z")};
  Adjustment debit = credit;
  debit.id = G(8, 2);
  debit.meter_id.reset();
  debit.amount = *Amount::Parse("5");
  debit.reason = "setup fee";
  ASSERT_OK(billing.AddAdjustment(credit));
  ASSERT_OK(billing.AddAdjustment(debit));
  EXPECT_STATUS(billing.AddAdjustment(credit), kAlreadyExists);
  Adjustment no_reason = credit;
  no_reason.id = G(8, 3);
  no_reason.reason.clear();
  EXPECT_STATUS(billing.AddAdjustment(no_reason), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(std::vector<Adjustment> listed, billing.ListAdjustments(nov));
  EXPECT_EQ(listed, (std::vector<Adjustment>{credit, debit}));

  ASSERT_OK(billing.ClosePeriod(Close(oct, At("2026-11-04T00:00:00Z"), {})));
  Adjustment late = credit;
  late.id = G(8, 4);
  late.period = oct;
  EXPECT_ERROR(billing.AddAdjustment(late), kFailedPrecondition, "PeriodClosed");
  ASSERT_OK_AND_ASSIGN(std::vector<Adjustment> october, billing.ListAdjustments(oct));
  EXPECT_TRUE(october.empty());
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

constexpr int kIngestIdentities = 600;
constexpr int kIngestBatch = 50;

struct IngestCounts {
  std::int64_t accepted = 0;
  std::int64_t duplicates = 0;
  std::int64_t conflicts = 0;
};

// Writes every identity once with `content`, through WriteIngest with the
// history version in force, in batches that start at `offset` and wrap around.
absl::StatusOr<IngestCounts> IngestAllIdentities(Store& store, int offset,
                                                 const std::string& content) {
  IngestCounts counts;
  for (int start = 0; start < kIngestIdentities; start += kIngestBatch) {
    IngestBatch batch;
    for (int i = 0; i < kIngestBatch; ++i) {
      batch.records.push_back(
          MakeUsage(G(3, 1), (offset + start + i) % kIngestIdentities, content));
    }
    absl::StatusOr<std::int64_t> version = store.registrations().HistoryVersion();
    if (!version.ok()) return version.status();
    batch.history_version = *version;
    absl::StatusOr<IngestWriteResult> result = store.usage().WriteIngest(batch.Write());
    if (!result.ok()) return result.status();
    if (result->outcomes.size() != batch.records.size() ||
        result->conflict_ids.size() != batch.records.size()) {
      return absl::InternalError("wrong outcome count");
    }
    for (std::size_t i = 0; i < result->outcomes.size(); ++i) {
      const bool conflict = result->outcomes[i] == UsageOutcome::kConflictingDuplicate;
      if (conflict != (result->conflict_ids[i] != 0)) {
        return absl::InternalError("a conflict id does not match its outcome");
      }
      switch (result->outcomes[i]) {
        case UsageOutcome::kAccepted:
          ++counts.accepted;
          break;
        case UsageOutcome::kDuplicate:
          ++counts.duplicates;
          break;
        case UsageOutcome::kConflictingDuplicate:
          ++counts.conflicts;
          break;
      }
    }
  }
  return counts;
}

// R11 under concurrency: threads of two Stores on one database ingest the same
// identities at once, half of them with other content. Each identity is
// accepted exactly once overall; for each, the two other writers with the
// winner's content see duplicates and the three with the other content see
// conflicting duplicates, quarantined once per identity; the stack's count
// agrees.
TEST_P(StoreContract, ConcurrentIngestWritesAcceptEachIdentityOnce) {
  constexpr int kStores = 2;
  constexpr int kThreadsPerStore = 3;
  std::vector<std::unique_ptr<Store>> stores;
  for (int s = 0; s < kStores; ++s) {
    stores.push_back(OpenAnother());
    ASSERT_NE(stores.back(), nullptr);
  }
  std::mutex mu;
  IngestCounts total;
  std::vector<absl::Status> errors;
  std::latch start(kStores * kThreadsPerStore);
  std::vector<std::thread> threads;
  for (int s = 0; s < kStores; ++s) {
    for (int t = 0; t < kThreadsPerStore; ++t) {
      threads.emplace_back([&, s, t] {
        const int writer = kThreadsPerStore * s + t;
        start.arrive_and_wait();
        absl::StatusOr<IngestCounts> counts = IngestAllIdentities(
            *stores[static_cast<std::size_t>(s)], 17 * writer, writer % 2 == 0 ? "a" : "b");
        std::lock_guard<std::mutex> lock(mu);
        if (!counts.ok()) {
          errors.push_back(counts.status());
          return;
        }
        total.accepted += counts->accepted;
        total.duplicates += counts->duplicates;
        total.conflicts += counts->conflicts;
      });
    }
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) ADD_FAILURE() << error;
  ASSERT_TRUE(errors.empty());
  EXPECT_EQ(total.accepted, kIngestIdentities);
  EXPECT_EQ(total.duplicates, 2 * kIngestIdentities);
  EXPECT_EQ(total.conflicts, 3 * kIngestIdentities);
  ASSERT_OK_AND_ASSIGN(std::int64_t stored, store().usage().CountUsage({}));
  EXPECT_EQ(stored, kIngestIdentities);
  ASSERT_OK_AND_ASSIGN(
      std::int64_t quarantined,
      store().quarantine().CountQuarantine({.code = std::string("ConflictingDuplicate")}));
  // The three conflicting writers of an identity send the same text: it is
  // pending once (a resent bad record changes nothing).
  EXPECT_EQ(quarantined, kIngestIdentities);
  ASSERT_OK_AND_ASSIGN(auto stats, store().usage().ListStackIngestStats());
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats.begin()->second.accepted, kIngestIdentities);
}

}  // namespace
}  // namespace stackbill::store_testing
