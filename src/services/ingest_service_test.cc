// IngestService over a real SQLite store: SPEC §4 ingestion by rule and
// quarantine code (R7, R9–R13), the quarantine and its replay, custom meters,
// supersede and the re-route pass.

#include "services/ingest_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/testing/status_matchers.h"
#include "services/registration_service.h"
#include "services/testing/seed_world.h"
#include "store/sqlite/sqlite_store.h"
#include "wire/registration_token.h"

// Test records are written as Line{.field = value} with every other field at
// its default; GCC 12 warns about each omitted designated member, which is
// the point here.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace stackbill {
namespace {

using namespace seed_world;  // NOLINT(google-build-using-namespace): test-only constants
using ::stackbill::testing::ExpectError;

const Guid kOwnerId = G("e0000000-0000-0000-0000-000000000001");
const Guid kReaderId = G("e0000000-0000-0000-0000-000000000002");
const Guid kAdminId = G("e0000000-0000-0000-0000-000000000003");
const Guid kNorthwindAdminId = G("e0000000-0000-0000-0000-000000000004");
const Guid kMeter = G("fab6eb84-500b-4a09-a8ca-7358f8bbaea5");  // Base VM Size Hours
const Guid kCustomMeter = G("0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b");
const Guid kLocalSub = G("9a000000-0000-0000-0000-000000000001");
const Guid kLocalSub2 = G("9a000000-0000-0000-0000-000000000002");

// Registered at kT0; usage is sent ten days later, dated an hour or more back.
const Timestamp kNow = kT0.AddDays(10);
const Timestamp kHour = kT0.AddDays(9).TruncateToHour();

Caller MakeCaller(Guid principal, Guid directory, Role role, std::string scope) {
  Caller caller;
  caller.principal_id = principal;
  caller.directory_id = directory;
  caller.roles.push_back(RoleAssignment{
      .id = "ra-" + principal.ToString(), .principal_id = principal, .role = role, .scope = scope});
  return caller;
}

Caller StackCaller(Guid cloud_id) {
  Caller caller;
  caller.principal_id = cloud_id;
  caller.stack_cloud_id = cloud_id;
  return caller;
}

std::string Token(Guid cloud_id, BillingModel model = BillingModel::kPayAsYouUse) {
  RegistrationToken token;
  token.cloud_id = cloud_id;
  token.object_id = G("2dbdd5f4-daf3-442a-be35-b71c3debee5a");
  token.billing_model = model;
  token.usage_reporting_enabled = model != BillingModel::kCapacity;
  token.multi_tenant = true;
  token.deployment_directory_id = kContosoDir;
  if (model == BillingModel::kCapacity) token.agreement_number = "AG-1";
  return EncodeRegistrationToken(token);
}

// One NDJSON record. Fields are spliced as given, so tests can break them.
struct Line {
  std::string id = "r1";
  std::string tenant = kFabrikamDir.ToString();
  std::string subscription = kLocalSub.ToString();
  std::string meter = kMeter.ToString();
  std::string quantity = "2.5";
  Timestamp start = kHour;
  Timestamp end = kHour.AddHours(1);
  std::string resource = "vm1";
  std::string extra;  // ",\"k\":v" appended

  std::string Text() const {
    std::string out = "{";
    if (!id.empty()) out += fmt::format(R"("id":"{}",)", id);
    if (!tenant.empty()) out += fmt::format(R"("tenantId":"{}",)", tenant);
    out += fmt::format(
        R"("subscriptionId":"{}","meterId":"{}","quantity":{},"usageStartTime":"{}",)"
        R"("usageEndTime":"{}","instanceData":{{"Microsoft.Resources":{{"resourceUri":)"
        R"("/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}",)"
        R"("location":"local"}}}})",
        subscription, meter, quantity, start.ToString(), end.ToString(), subscription, resource);
    out += extra;
    out += "}";
    return out;
  }
};

std::string Body(const std::vector<Line>& lines) {
  std::string body;
  for (const Line& l : lines) body += l.Text() + "\n";
  return body;
}

class IngestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(":memory:"); }

  void Open(const std::string& path, IngestOptions options = {}) {
    auto opened = OpenSqliteStore(SqliteOptions{.path = path});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    Seed(*store_);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(store_->meters()
                    .CreateMeter({.meter_id = kMeter,
                                  .name = "Base VM Size Hours",
                                  .category = "Virtual Machines",
                                  .unit = "Hours",
                                  .commerce_meter_id = std::nullopt,
                                  .custom = false})
                    .ok());
    registrations_ = std::make_unique<RegistrationService>(*store_, RegistrationServiceOptions{});
    Register(kCloud1);
    // Fabrikam's tenant is a registered customer of the stack (R6).
    ASSERT_TRUE(AddCustomer(kFabrikamCsp, kFabrikamDir, kT0, std::nullopt).ok());
    Reopen(options);
  }

  void Reopen(IngestOptions options) {
    service_ = std::make_unique<IngestService>(*store_, options);
  }

  void Register(Guid cloud, BillingModel model = BillingModel::kPayAsYouUse,
                std::string name = "reg1") {
    auto put = registrations_->PutRegistration(
        owner_,
        {.name = Name(std::move(name)), .registration_token = Token(cloud, model), .tags = {}},
        kT0);
    ASSERT_TRUE(put.ok()) << put.status();
  }

  static RegistrationName Name(std::string name = "reg1") {
    return {.subscription_id = kApss, .resource_group = "azurestack", .name = std::move(name)};
  }

  absl::StatusOr<CustomerSubscription> AddCustomer(Guid customer, Guid tenant, Timestamp at,
                                                   std::optional<Timestamp> effective_from) {
    return registrations_->PutCustomerSubscription(effective_from ? admin_ : owner_,
                                                   {.registration = Name(),
                                                    .customer_subscription_id = customer.ToString(),
                                                    .tenant_id = tenant,
                                                    .effective_from = effective_from},
                                                   at);
  }

  absl::StatusOr<IngestSummary> Send(const std::string& body, Guid cloud = kCloud1,
                                     std::string_view content_type = "application/x-ndjson",
                                     Timestamp now = kNow) {
    return service_->Ingest(StackCaller(cloud), cloud, content_type, body, now);
  }

  std::vector<UsageRecord> Stored() {
    auto page = store_->usage().ListUsage({}, {.cursor = "", .limit = kMaxPageSize});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->items : std::vector<UsageRecord>{};
  }

  std::vector<QuarantineEntry> Quarantined(bool include_replayed = false) {
    QuarantineFilter filter;
    filter.include_replayed = include_replayed;
    auto page = store_->quarantine().ListQuarantine(filter, {.cursor = "", .limit = kMaxPageSize});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->items : std::vector<QuarantineEntry>{};
  }

  // The single quarantine code a one-record body gets.
  std::string CodeOf(const Line& line, Timestamp now = kNow) {
    auto summary = Send(line.Text() + "\n", kCloud1, "application/x-ndjson", now);
    EXPECT_TRUE(summary.ok()) << summary.status();
    if (!summary.ok() || summary->errors.size() != 1) return "(no single error)";
    EXPECT_EQ(summary->quarantined, 1);
    EXPECT_EQ(summary->accepted, 0);
    return summary->errors[0].code;
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<RegistrationService> registrations_;
  std::unique_ptr<IngestService> service_;
  Caller owner_ = MakeCaller(kOwnerId, kIurDir, Role::kOwner, "/subscriptions/" + kApss.ToString());
  Caller reader_ =
      MakeCaller(kReaderId, kContosoDir, Role::kReader, "/subscriptions/" + kApss.ToString());
  Caller admin_ = MakeCaller(kAdminId, kContosoDir, Role::kPlatformAdmin, "/");
  Caller northwind_ =
      MakeCaller(kNorthwindAdminId, kNorthwindDir, Role::kPartnerAdmin, "/partners/northwind");
};

// --- acceptance and routing (R7, R10, R13) ---------------------------------

TEST_F(IngestServiceTest, AcceptsRecordsAndStoresTheirRoutingAndReportedTime) {
  Line customer;  // Fabrikam: a registered customer → its CSP subscription
  Line unregistered{.id = "r2", .tenant = kWingtipDir.ToString()};  // → the default
  Line early{
      .id = "r3", .start = kT0.AddHours(-5), .end = kT0.AddHours(-4)};  // before registration
  auto summary = Send(Body({customer, unregistered, early}));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 3);
  EXPECT_EQ(summary->duplicates, 0);
  EXPECT_EQ(summary->quarantined, 0);
  EXPECT_TRUE(summary->errors.empty());

  std::map<std::string, UsageRecord> by_id;
  for (UsageRecord& r : Stored()) by_id[r.record_id] = r;
  ASSERT_EQ(by_id.size(), 3u);
  EXPECT_EQ(by_id["r1"].routing.billed_subscription_id, kFabrikamCsp);
  EXPECT_EQ(by_id["r1"].routing.reason, RoutingReason::kRegisteredCustomer);
  EXPECT_EQ(by_id["r1"].routing.bill_to.partner_id, "contoso");
  EXPECT_EQ(by_id["r1"].quantity.ToString(), "2.5");
  EXPECT_EQ(by_id["r1"].reported_time, kNow);
  EXPECT_EQ(by_id["r1"].resource_uri,
            "/subscriptions/" + kLocalSub.ToString() +
                "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1");
  EXPECT_EQ(by_id["r2"].routing.billed_subscription_id, kApss);
  EXPECT_EQ(by_id["r2"].routing.reason, RoutingReason::kDefaultUnregisteredTenant);
  EXPECT_EQ(by_id["r3"].routing.billed_subscription_id, kApss);
  EXPECT_EQ(by_id["r3"].routing.reason, RoutingReason::kDefaultBeforeRegistration);

  auto stats = store_->usage().ListStackIngestStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[kCloud1].accepted, 3);
  EXPECT_EQ((*stats)[kCloud1].last_received_at, kNow);
}

TEST_F(IngestServiceTest, UsagePageBodiesAreAcceptedLikeNdjson) {
  const std::string page = R"({"value":[{"id":"x","name":"x","type":"t","properties":)" +
                           Line{}.Text() + R"(},{"properties":)" + Line{.id = "r2"}.Text() + "}]}";
  auto summary = Send(page, kCloud1, "application/json; charset=utf-8");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 2);
}

TEST_F(IngestServiceTest, NaturalKeyIdentifiesRecordsWithoutAnId) {
  // R11: without `id` the identity is (subscription, meter, resource, window).
  Line a{.id = ""};
  Line same_key{.id = "", .quantity = "2.50"};  // the same record resent, reformatted
  Line other_resource{.id = "", .resource = "vm2"};
  auto summary = Send(Body({a, same_key, other_resource}));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 2);
  EXPECT_EQ(summary->duplicates, 1);
}

TEST_F(IngestServiceTest, TenantComesFromTheStackSubscriberMapping) {
  ASSERT_TRUE(registrations_
                  ->PutStackSubscriber(StackCaller(kCloud1), kCloud1, kLocalSub2, kFabrikamDir, kT0)
                  .ok());
  Line mapped{.tenant = "", .subscription = kLocalSub2.ToString()};
  auto summary = Send(Body({mapped}));
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->accepted, 1);
  EXPECT_EQ(Stored()[0].tenant_id, kFabrikamDir);
  EXPECT_EQ(Stored()[0].routing.billed_subscription_id, kFabrikamCsp);
}

// --- R11: nothing counted twice ---------------------------------------------

TEST_F(IngestServiceTest, ResentRecordsAreDuplicatesAndChangeNothing) {
  const std::string body = Body({Line{}, Line{.id = "r2"}});
  ASSERT_TRUE(Send(body).ok());
  const std::vector<UsageRecord> before = Stored();
  auto again = Send(body, kCloud1, "application/x-ndjson", kNow.AddHours(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->accepted, 0);
  EXPECT_EQ(again->duplicates, 2);
  EXPECT_EQ(Stored(), before) << "a resend changes nothing, not even the reported time";
}

TEST_F(IngestServiceTest, FormattingDifferencesAreDuplicatesNotConflicts) {
  ASSERT_TRUE(Send(Body({Line{}})).ok());
  // The same content: another number form, instanceData as a JSON string with
  // its keys in another order, an unknown field.
  const std::string resent = fmt::format(
      R"({{"quantity":2.50000,"id":"r1","tenantId":"{}","subscriptionId":"{}","meterId":"{}",)"
      R"("usageStartTime":"{}","usageEndTime":"{}","extra":1,"instanceData":"{{\"Microsoft.)"
      R"(Resources\":{{\"location\":\"local\",\"resourceUri\":\"/subscriptions/{}/resourceGroups/)"
      R"(rg/providers/Microsoft.Compute/virtualMachines/vm1\"}}}}"}})",
      kFabrikamDir.ToString(), kLocalSub.ToString(), kMeter.ToString(), kHour.ToString(),
      kHour.AddHours(1).ToString(), kLocalSub.ToString());
  auto summary = Send(resent + "\n");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->duplicates, 1) << (summary->errors.empty() ? "" : summary->errors[0].message);
  EXPECT_EQ(summary->quarantined, 0);
}

TEST_F(IngestServiceTest, SameIdentityWithOtherContentIsConflictingDuplicate) {
  ASSERT_TRUE(Send(Body({Line{}})).ok());
  auto summary = Send(Body({Line{.quantity = "3"}}));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->quarantined, 1);
  ASSERT_EQ(summary->errors.size(), 1u);
  EXPECT_EQ(summary->errors[0].code, "ConflictingDuplicate");
  EXPECT_EQ(summary->errors[0].id, "r1");
  ASSERT_EQ(Quarantined().size(), 1u);
  EXPECT_EQ(Quarantined()[0].raw_text, Line{.quantity = "3"}.Text());
  EXPECT_EQ(Stored()[0].quantity.ToString(), "2.5") << "the stored record is unchanged";
}

// --- SPEC §4 validation: every code, in order --------------------------------

TEST_F(IngestServiceTest, EveryInvalidKindIsQuarantinedWithItsCode) {
  EXPECT_EQ(CodeOf(Line{.extra = R"(,"id":"dup")"}), "MalformedRecord");  // duplicate key
  EXPECT_EQ(CodeOf(Line{.extra = fmt::format(R"(,"cloudId":"{}")", kCloud2.ToString())}),
            "CloudMismatch");
  EXPECT_EQ(CodeOf(Line{.id = std::string(129, 'x')}), "InvalidId");
  EXPECT_EQ(CodeOf(Line{.subscription = "not-a-guid"}), "InvalidGuid");
  EXPECT_EQ(CodeOf(Line{.meter = kCustomMeter.ToString()}), "UnknownMeter");
  EXPECT_EQ(CodeOf(Line{.quantity = "-1"}), "InvalidQuantity");
  EXPECT_EQ(CodeOf(Line{.quantity = "0.00000000001"}), "InvalidQuantity");
  EXPECT_EQ(CodeOf(Line{.quantity = "\"2\""}), "InvalidQuantity");
  EXPECT_EQ(CodeOf(Line{.end = kHour}), "InvalidWindow");
  EXPECT_EQ(CodeOf(Line{.start = kHour.AddSeconds(60)}), "InvalidWindow");
  EXPECT_EQ(CodeOf(Line{.start = kHour, .end = kHour.AddHours(25)}), "InvalidWindow");
  EXPECT_EQ(CodeOf(Line{.start = kNow.AddHours(1).TruncateToHour(),
                        .end = kNow.AddHours(3).TruncateToHour()}),
            "FutureUsage");
  EXPECT_EQ(CodeOf(Line{.start = kNow.AddDays(-401).TruncateToHour(),
                        .end = kNow.AddDays(-401).TruncateToHour().AddHours(1)}),
            "TooOld");
  EXPECT_EQ(CodeOf(Line{.tenant = ""}), "UnknownTenant");  // no mapping, no tenantId
  ASSERT_TRUE(registrations_
                  ->PutStackSubscriber(StackCaller(kCloud1), kCloud1, kLocalSub2, kFabrikamDir, kT0)
                  .ok());
  EXPECT_EQ(CodeOf(Line{.tenant = kWingtipDir.ToString(), .subscription = kLocalSub2.ToString()}),
            "SubscriberTenantMismatch");
  EXPECT_TRUE(Stored().empty());
  // Each is kept with its reason and its raw text (R10).
  const std::vector<QuarantineEntry> entries = Quarantined();
  ASSERT_EQ(entries.size(), 15u);
  for (const QuarantineEntry& e : entries) {
    EXPECT_FALSE(e.message.empty()) << e.code;
    EXPECT_FALSE(e.raw_text.empty()) << e.code;
    EXPECT_EQ(e.cloud_id, kCloud1);
    EXPECT_EQ(e.received_at, kNow);
  }
}

TEST_F(IngestServiceTest, AResentBadRecordIsQuarantinedOnce) {
  // R11 holds for the quarantine too: a forwarder that resends a batch does
  // not pile up entries; the answer still reports the record.
  const std::string body = Body({Line{.quantity = "-1"}});
  ASSERT_TRUE(Send(body).ok());
  auto again = Send(body, kCloud1, "application/x-ndjson", kNow.AddHours(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->quarantined, 1);
  ASSERT_EQ(Quarantined().size(), 1u);
  EXPECT_EQ(Quarantined()[0].received_at, kNow);
}

TEST_F(IngestServiceTest, ChecksRunInSpecOrder) {
  // Unknown meter and a bad quantity and a bad window: the first in order wins.
  EXPECT_EQ(CodeOf(Line{.meter = kCustomMeter.ToString(), .quantity = "-1", .end = kHour}),
            "UnknownMeter");
  EXPECT_EQ(CodeOf(Line{.quantity = "-1", .end = kHour}), "InvalidQuantity");
  EXPECT_EQ(CodeOf(Line{.id = std::string(129, 'x'), .subscription = "bad"}), "InvalidId");
}

TEST_F(IngestServiceTest, UsageOfAStackAfterItsRegistrationEndedIsStackNotRegistered) {
  auto deleted = registrations_->DeleteRegistration(owner_, Name(), kT0.AddDays(5));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  // Dated after the DELETE: StackNotRegistered; dated before: still accepted.
  EXPECT_EQ(CodeOf(Line{}), "StackNotRegistered");
  auto before =
      Send(Body({Line{.id = "old", .start = kT0.AddDays(2), .end = kT0.AddDays(2).AddHours(1)}}));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->accepted, 1);
}

TEST_F(IngestServiceTest, AStackNeverRegisteredGetsStackNotRegistered) {
  auto summary = Send(Body({Line{}}), kCloud2);
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->errors.size(), 1u);
  EXPECT_EQ(summary->errors[0].code, "StackNotRegistered");
}

TEST_F(IngestServiceTest, ABadNdjsonLineIsQuarantinedAloneAndTheRestAccepted) {
  const std::string body = Line{}.Text() + "\n{not json\n\n" + Line{.id = "r2"}.Text() + "\n";
  auto summary = Send(body);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 2);
  EXPECT_EQ(summary->quarantined, 1);
  ASSERT_EQ(summary->errors.size(), 1u);
  EXPECT_EQ(summary->errors[0].index, 1u);
  EXPECT_EQ(summary->errors[0].code, "MalformedRecord");
  ASSERT_EQ(Quarantined().size(), 1u);
  EXPECT_EQ(Quarantined()[0].raw_text, "{not json");
}

TEST_F(IngestServiceTest, AJsonBodyThatDoesNotParseIsRefusedWholeAndStoresNothing) {
  const std::string page = R"({"value":[{"properties":)" + Line{}.Text() + "}";  // unclosed
  auto summary = Send(page, kCloud1, "application/json");
  ExpectError(summary.status(), absl::StatusCode::kInvalidArgument, "InvalidJson");
  EXPECT_NE(Message(summary.status()).find("byte"), std::string::npos) << summary.status();
  EXPECT_TRUE(Stored().empty());
  EXPECT_TRUE(Quarantined().empty());
}

TEST_F(IngestServiceTest, UnknownContentTypeIsUnsupportedMediaType) {
  ExpectError(Send(Body({Line{}}), kCloud1, "text/csv").status(),
              absl::StatusCode::kInvalidArgument, "UnsupportedMediaType");
}

TEST_F(IngestServiceTest, TooManyRecordsIsRefusedWhole) {
  Reopen({.max_records_per_request = 2});
  auto summary = Send(Body({Line{}, Line{.id = "r2"}, Line{.id = "r3"}}));
  ExpectError(summary.status(), absl::StatusCode::kResourceExhausted, "TooManyRecords");
  EXPECT_TRUE(Stored().empty());
}

TEST_F(IngestServiceTest, ErrorsAreCappedWithACountOfTheRest) {
  Reopen({.max_errors = 2});
  auto summary = Send(Body({Line{.quantity = "-1"}, Line{.id = "b", .quantity = "-1"},
                            Line{.id = "c", .quantity = "-1"}}));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->quarantined, 3);
  EXPECT_EQ(summary->errors.size(), 2u);
  EXPECT_EQ(summary->errors_not_shown, 1);
}

// --- who may send (SPEC §4, R9) ----------------------------------------------

TEST_F(IngestServiceTest, AnotherStacksKeyIsRefused) {
  auto summary = service_->Ingest(StackCaller(kCloud2), kCloud1, "", Body({Line{}}), kNow);
  ExpectError(summary.status(), absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  auto principal = service_->Ingest(admin_, kCloud1, "", Body({Line{}}), kNow);
  EXPECT_EQ(principal.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Stored().empty());
}

TEST_F(IngestServiceTest, AStackWithUsageReportingOffIsUsageReportingDisabled) {
  ASSERT_TRUE(registrations_
                  ->PutApproval(admin_,
                                BillingModelApproval{.cloud_id = kCloud2,
                                                     .billing_model = BillingModel::kCapacity,
                                                     .agreement_number = "AG-1",
                                                     .ms_asset_tag = std::nullopt},
                                kT0)
                  .ok());
  Register(kCloud2, BillingModel::kCapacity, "reg2");
  ExpectError(Send(Body({Line{}}), kCloud2).status(), absl::StatusCode::kPermissionDenied,
              "UsageReportingDisabled");
}

// --- quarantine quota, listing, replay (R10) --------------------------------

TEST_F(IngestServiceTest, QuarantineQuotaRefusesTheRequestWhole) {
  Reopen({.quarantine_quota_per_stack = 2});
  ASSERT_TRUE(Send(Body({Line{.quantity = "-1"}})).ok());
  auto summary = Send(Body(
      {Line{.id = "ok"}, Line{.id = "b", .quantity = "-1"}, Line{.id = "c", .quantity = "-1"}}));
  ExpectError(summary.status(), absl::StatusCode::kResourceExhausted, "QuarantineQuotaExceeded");
  EXPECT_TRUE(Stored().empty()) << "nothing of a refused request is stored";
  EXPECT_EQ(Quarantined().size(), 1u);
  // Good records alone still go through.
  auto good = Send(Body({Line{.id = "ok"}}));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->accepted, 1);
}

TEST_F(IngestServiceTest, QuarantineIsListedForThoseWhoSeeTheStack) {
  ASSERT_TRUE(Send(Body({Line{.meter = kCustomMeter.ToString()}})).ok());
  QuarantineFilter filter;
  filter.cloud_id = kCloud1;
  auto owner = service_->ListQuarantine(owner_, filter, {.cursor = "", .limit = 10}, kNow);
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_EQ(owner->items.size(), 1u);
  EXPECT_EQ(owner->items[0].code, "UnknownMeter");
  auto reader = service_->ListQuarantine(reader_, filter, {.cursor = "", .limit = 10}, kNow);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->items.size(), 1u);
  ExpectError(
      service_->ListQuarantine(northwind_, filter, {.cursor = "", .limit = 10}, kNow).status(),
      absl::StatusCode::kNotFound, "StackNotFound");
  auto unfiltered =
      service_->ListQuarantine(northwind_, QuarantineFilter{}, {.cursor = "", .limit = 10}, kNow);
  ASSERT_TRUE(unfiltered.ok());
  EXPECT_TRUE(unfiltered->items.empty()) << "another partner sees none of it";
  QuarantineFilter by_code;
  by_code.code = "InvalidQuantity";
  auto none = service_->ListQuarantine(admin_, by_code, {.cursor = "", .limit = 10}, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
}

TEST_F(IngestServiceTest, ReplayAfterTheMeterIsAddedAcceptsTheRecordOnce) {
  ASSERT_TRUE(
      Send(Body({Line{.meter = kCustomMeter.ToString()}, Line{.id = "bad", .quantity = "-1"}}))
          .ok());
  // Not yet fixed: replay changes nothing.
  ReplayRequest all;
  all.filter.cloud_id = kCloud1;
  auto early = service_->Replay(owner_, all, kNow);
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(early->replayed, 0);
  EXPECT_EQ(early->still_failing, 2);
  EXPECT_EQ(Quarantined().size(), 2u);

  // The usual fix (SPEC §4): a PlatformAdmin adds the custom meter.
  ExpectError(service_
                  ->CreateMeter(owner_,
                                {.meter_id = kCustomMeter,
                                 .name = "GPU Hours",
                                 .category = "GPU",
                                 .unit = "Hours",
                                 .commerce_meter_id = std::nullopt,
                                 .custom = true},
                                kNow)
                  .status(),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  auto meter = service_->CreateMeter(admin_,
                                     {.meter_id = kCustomMeter,
                                      .name = "GPU Hours",
                                      .category = "GPU",
                                      .unit = "Hours",
                                      .commerce_meter_id = std::nullopt,
                                      .custom = false},
                                     kNow);
  ASSERT_TRUE(meter.ok()) << meter.status();
  EXPECT_TRUE(meter->custom);
  ExpectError(service_->CreateMeter(admin_, *meter, kNow).status(),
              absl::StatusCode::kAlreadyExists, "MeterAlreadyExists");

  const Timestamp later = kNow.AddHours(2);
  auto replay = service_->Replay(owner_, all, later);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->replayed, 1);
  EXPECT_EQ(replay->accepted, 1);
  EXPECT_EQ(replay->still_failing, 1);
  ASSERT_EQ(replay->errors.size(), 1u);
  EXPECT_EQ(replay->errors[0].code, "InvalidQuantity");
  ASSERT_EQ(Stored().size(), 1u);
  EXPECT_EQ(Stored()[0].meter_id, kCustomMeter);
  EXPECT_EQ(Stored()[0].reported_time, later) << "reported when it became visible";
  const std::vector<QuarantineEntry> pending = Quarantined();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].code, "InvalidQuantity");
  const std::vector<QuarantineEntry> all_entries = Quarantined(true);
  ASSERT_EQ(all_entries.size(), 2u);
  EXPECT_EQ(all_entries[0].replayed_at, later);

  // Replaying again, or resending, counts nothing twice (R11).
  auto again = service_->Replay(admin_, all, later.AddHours(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->replayed, 0);
  auto resent = Send(Body({Line{.meter = kCustomMeter.ToString()}}));
  ASSERT_TRUE(resent.ok());
  EXPECT_EQ(resent->duplicates, 1);
  EXPECT_EQ(Stored().size(), 1u);
}

TEST_F(IngestServiceTest, ReplayByIdsChecksWhoAsks) {
  ASSERT_TRUE(Send(Body({Line{.meter = kCustomMeter.ToString()}})).ok());
  const std::int64_t id = Quarantined()[0].id;
  ReplayRequest by_id;
  by_id.ids = {id};
  ExpectError(service_->Replay(reader_, by_id, kNow).status(), absl::StatusCode::kPermissionDenied,
              "AuthorizationFailed");
  ExpectError(service_->Replay(northwind_, by_id, kNow).status(), absl::StatusCode::kNotFound,
              "QuarantineEntryNotFound");
  by_id.ids = {id + 1000};
  ExpectError(service_->Replay(admin_, by_id, kNow).status(), absl::StatusCode::kNotFound,
              "QuarantineEntryNotFound");
}

TEST_F(IngestServiceTest, ConflictingDuplicateReplaysOnceSuperseded) {
  ASSERT_TRUE(Send(Body({Line{}})).ok());
  ASSERT_TRUE(Send(Body({Line{.quantity = "3"}})).ok());  // ConflictingDuplicate
  auto superseded = service_->Supersede(
      admin_, {.cloud_id = kCloud1, .record_text = Line{.quantity = "3"}.Text(), .reason = "fix"},
      kNow);
  ASSERT_TRUE(superseded.ok()) << superseded.status();
  ReplayRequest all;
  auto replay = service_->Replay(admin_, all, kNow);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->replayed, 1) << "now a duplicate of the superseded record";
  EXPECT_EQ(replay->accepted, 0);
  EXPECT_TRUE(Quarantined().empty());
}

// --- R11 supersede -----------------------------------------------------------

TEST_F(IngestServiceTest, PlatformAdminSupersedesAStoredRecordAudited) {
  ASSERT_TRUE(Send(Body({Line{}})).ok());
  const SupersedeRequest request{
      .cloud_id = kCloud1, .record_text = Line{.quantity = "1.25"}.Text(), .reason = "meter bug"};
  ExpectError(service_->Supersede(owner_, request, kNow).status(),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  auto result = service_->Supersede(admin_, request, kNow.AddHours(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->before.quantity.ToString(), "2.5");
  EXPECT_EQ(result->after.quantity.ToString(), "1.25");
  ASSERT_EQ(Stored().size(), 1u);
  EXPECT_EQ(Stored()[0].quantity.ToString(), "1.25");

  auto supersessions = store_->usage().ListSupersessions(kCloud1);
  ASSERT_TRUE(supersessions.ok());
  ASSERT_EQ(supersessions->size(), 1u);
  EXPECT_EQ((*supersessions)[0].reason, "meter bug");
  EXPECT_EQ((*supersessions)[0].old_quantity.ToString(), "2.5");
  EXPECT_EQ((*supersessions)[0].new_quantity.ToString(), "1.25");
  EXPECT_EQ((*supersessions)[0].actor_principal_id, kAdminId);

  // Run twice: nothing more is recorded.
  ASSERT_TRUE(service_->Supersede(admin_, request, kNow.AddHours(2)).ok());
  EXPECT_EQ(store_->usage().ListSupersessions(kCloud1)->size(), 1u);

  auto audit = store_->audit().ListAudit({}, {.cursor = "", .limit = 100});
  ASSERT_TRUE(audit.ok());
  int supersede_entries = 0;
  for (const AuditEntry& e : audit->items) supersede_entries += e.action == "usage.supersede";
  EXPECT_EQ(supersede_entries, 1);
}

TEST_F(IngestServiceTest, SupersedeOfAnUnknownOrInvalidRecordIsRefused) {
  ExpectError(
      service_
          ->Supersede(admin_, {.cloud_id = kCloud1, .record_text = Line{}.Text(), .reason = "x"},
                      kNow)
          .status(),
      absl::StatusCode::kNotFound, "UsageNotFound");
  ExpectError(
      service_
          ->Supersede(
              admin_,
              {.cloud_id = kCloud1, .record_text = Line{.quantity = "-1"}.Text(), .reason = "x"},
              kNow)
          .status(),
      absl::StatusCode::kInvalidArgument, "InvalidQuantity");
  ExpectError(
      service_
          ->Supersede(admin_, {.cloud_id = kCloud1, .record_text = Line{}.Text(), .reason = ""},
                      kNow)
          .status(),
      absl::StatusCode::kInvalidArgument, "ReasonRequired");
}

// --- R13 re-routing -----------------------------------------------------------

TEST_F(IngestServiceTest, AnEffectiveFromCorrectionReroutesStoredUsageWithANewReportedTime) {
  // Wingtip's tenant is not registered: its usage goes to the default.
  ASSERT_TRUE(Send(Body({Line{.id = "w1", .tenant = kWingtipDir.ToString()}})).ok());
  ASSERT_EQ(Stored()[0].routing.billed_subscription_id, kApss);
  // Fabrikam's second subscription takes Wingtip's tenant? No: R6 needs the
  // tenant's own subscription; re-map Fabrikam's tenant to its second CSP
  // subscription from before the usage instead (a PlatformAdmin's
  // effectiveFrom correction).
  ASSERT_TRUE(Send(Body({Line{.id = "f1"}})).ok());
  auto remapped = AddCustomer(kFabrikamCsp2, kFabrikamDir, kNow.AddHours(1), kT0.AddDays(8));
  ASSERT_TRUE(remapped.ok()) << remapped.status();

  const Timestamp pass_time = kNow.AddHours(2);
  auto pass = service_->ProcessReroutes(pass_time);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_GE(pass->markers, 1);
  EXPECT_EQ(pass->rerouted, 1);
  std::map<std::string, UsageRecord> by_id;
  for (UsageRecord& r : Stored()) by_id[r.record_id] = r;
  EXPECT_EQ(by_id["f1"].routing.billed_subscription_id, kFabrikamCsp2);
  EXPECT_EQ(by_id["f1"].reported_time, pass_time) << "visible again in its new subscription";
  EXPECT_EQ(by_id["w1"].routing.billed_subscription_id, kApss);
  EXPECT_EQ(by_id["w1"].reported_time, kNow) << "unchanged routing keeps its reported time";

  // The markers are done: a second pass finds nothing.
  auto second = service_->ProcessReroutes(pass_time.AddHours(1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->markers, 0);

  auto audit = store_->audit().ListAudit({}, {.cursor = "", .limit = 100});
  ASSERT_TRUE(audit.ok());
  bool audited = false;
  for (const AuditEntry& e : audit->items) audited = audited || e.action == "usage.reroute";
  EXPECT_TRUE(audited);
}

TEST_F(IngestServiceTest, RecordsRoutedWithAStaleSnapshotAreRoutedAgainAtCommit) {
  // A long check interval: the service would keep its snapshot, but the
  // commit's history-version check catches the change (R13).
  Reopen({.history_check_interval_ms = 3'600'000});
  ASSERT_TRUE(Send(Body({Line{.id = "w0", .tenant = kWingtipDir.ToString()}})).ok());
  auto first = service_->HistoryVersionForTest();
  ASSERT_TRUE(first.ok());
  // Remap Fabrikam from before the usage, then send its usage.
  ASSERT_TRUE(AddCustomer(kFabrikamCsp2, kFabrikamDir, kNow.AddHours(-1), kT0.AddDays(8)).ok());
  ASSERT_TRUE(Send(Body({Line{.id = "f1"}})).ok());
  for (const UsageRecord& r : Stored()) {
    if (r.record_id == "f1") {
      EXPECT_EQ(r.routing.billed_subscription_id, kFabrikamCsp2);
    }
  }
  auto now_version = service_->HistoryVersionForTest();
  ASSERT_TRUE(now_version.ok());
  EXPECT_GT(*now_version, *first);
}

// --- group commit: concurrent requests (R10, R11) ----------------------------

class IngestConcurrencyTestBase : public IngestServiceTest {
 protected:
  void SetUp() override {
    // A parameterised test's name holds a '/'.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    path_ = (std::filesystem::temp_directory_path() /
             fmt::format("stackbill-ingest-{}-{}.db", ::getpid(), name))
                .string();
    std::filesystem::remove(path_);
    Open(path_);
  }
  void TearDown() override {
    service_.reset();
    registrations_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  std::string path_;
};

class IngestConcurrencyTest : public IngestConcurrencyTestBase,
                              public ::testing::WithParamInterface<int> {};

// 8 threads send overlapping batches (every record sent by 2 threads, some
// twice): group commit merges them and each identity is accepted once,
// whether one group is written at a time or two (as on PostgreSQL).
TEST_P(IngestConcurrencyTest, OverlappingConcurrentRequestsCountEachRecordOnce) {
  Reopen(IngestOptions{.groups_at_once = GetParam()});
  constexpr int kThreads = 8;
  constexpr int kRecords = 400;
  constexpr int kBatch = 50;
  std::atomic<std::int64_t> accepted{0};
  std::atomic<std::int64_t> duplicates{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2; ++round) {
        for (int begin = (t % 4) * kBatch; begin < kRecords; begin += kBatch * 2) {
          std::vector<Line> lines;
          for (int i = begin; i < begin + kBatch; ++i)
            lines.push_back(Line{.id = fmt::format("c{}", i)});
          auto summary = Send(Body(lines));
          if (!summary.ok()) {
            ++failures;
            continue;
          }
          accepted += summary->accepted;
          duplicates += summary->duplicates;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto count = store_->usage().CountUsage({});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, kRecords);
  EXPECT_EQ(accepted.load(), kRecords) << "each identity accepted exactly once";
  EXPECT_GT(duplicates.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(GroupsAtOnce, IngestConcurrencyTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace stackbill
