#include "services/registration_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/error.h"
#include "services/access_tokens.h"
#include "services/testing/seed_world.h"
#include "store/sqlite/sqlite_store.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

using namespace seed_world;  // NOLINT(google-build-using-namespace): test-only constants

const Guid kOwnerId = G("e0000000-0000-0000-0000-000000000001");
const Guid kReaderId = G("e0000000-0000-0000-0000-000000000002");
const Guid kAdminId = G("e0000000-0000-0000-0000-000000000003");
const Guid kNorthwindAdminId = G("e0000000-0000-0000-0000-000000000004");

Caller MakeCaller(Guid principal, Guid directory, Role role, std::string scope) {
  Caller caller;
  caller.principal_id = principal;
  caller.directory_id = directory;
  caller.roles.push_back(RoleAssignment{
      .id = "ra-" + principal.ToString(), .principal_id = principal, .role = role, .scope = scope});
  return caller;
}

BillingModelApproval Approval(Guid cloud_id, BillingModel model,
                              std::optional<std::string> agreement_number = std::nullopt) {
  BillingModelApproval approval;
  approval.cloud_id = cloud_id;
  approval.billing_model = model;
  approval.agreement_number = std::move(agreement_number);
  return approval;
}

std::string Token(Guid cloud_id, BillingModel model = BillingModel::kPayAsYouUse,
                  bool multi_tenant = true) {
  RegistrationToken token;
  token.cloud_id = cloud_id;
  token.object_id = G("2dbdd5f4-daf3-442a-be35-b71c3debee5a");
  token.billing_model = model;
  token.usage_reporting_enabled = model != BillingModel::kCapacity;
  token.multi_tenant = multi_tenant;
  token.deployment_directory_id = kContosoDir;
  if (model == BillingModel::kCapacity) token.agreement_number = "AG-1";
  return EncodeRegistrationToken(token);
}

class RegistrationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    Seed(*store_);
    if (HasFatalFailure()) return;
    service_ = std::make_unique<RegistrationService>(*store_, RegistrationServiceOptions{});
  }

  RegistrationName Name(Guid sub = kApss, std::string name = "reg1") {
    return {.subscription_id = sub, .resource_group = "azurestack", .name = std::move(name)};
  }

  absl::StatusOr<RegistrationPutResult> Register(const Caller& caller, std::string token,
                                                 RegistrationName name) {
    return service_->PutRegistration(
        caller, {.name = std::move(name), .registration_token = std::move(token), .tags = {}}, kT0);
  }

  absl::StatusOr<CustomerSubscription> AddCustomer(Guid customer, Guid tenant,
                                                   RegistrationName name, Timestamp at) {
    return service_->PutCustomerSubscription(owner_,
                                             {.registration = std::move(name),
                                              .customer_subscription_id = customer.ToString(),
                                              .tenant_id = tenant,
                                              .effective_from = std::nullopt},
                                             at);
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<RegistrationService> service_;
  // An Owner of the APSS subscription from IURContosoCSP (R2: another directory).
  Caller owner_ = MakeCaller(kOwnerId, kIurDir, Role::kOwner, "/subscriptions/" + kApss.ToString());
  Caller payg_owner_ =
      MakeCaller(kOwnerId, kIurDir, Role::kOwner, "/subscriptions/" + kPayg.ToString());
  Caller reader_ =
      MakeCaller(kReaderId, kContosoDir, Role::kReader, "/subscriptions/" + kApss.ToString());
  Caller admin_ = MakeCaller(kAdminId, kContosoDir, Role::kPlatformAdmin, "/");
  Caller northwind_ =
      MakeCaller(kNorthwindAdminId, kNorthwindDir, Role::kPartnerAdmin, "/partners/northwind");
};

TEST_F(RegistrationServiceTest, OwnerFromAnotherDirectoryRegistersAStack) {
  auto result = Register(owner_, Token(kCloud1), Name());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->registration.cloud_id, kCloud1);
  EXPECT_TRUE(result->registration.multi_tenant);
  auto stack = store_->registrations().GetStack(kCloud1);
  ASSERT_TRUE(stack.ok());
  EXPECT_EQ(stack->deployment_directory_id, kContosoDir);

  auto again = Register(owner_, Token(kCloud1), Name());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
}

TEST_F(RegistrationServiceTest, MalformedTokenIsInvalidRegistrationToken) {
  auto result = Register(owner_, "not base64 !!", Name());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(result.status()), "InvalidRegistrationToken");
}

TEST_F(RegistrationServiceTest, DevelopmentWithoutApprovalIsBillingModelNotApproved) {
  auto result = Register(owner_, Token(kCloud1, BillingModel::kDevelopment), Name());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorCode(result.status()), "BillingModelNotApproved");

  ASSERT_TRUE(
      service_->PutApproval(admin_, Approval(kCloud1, BillingModel::kDevelopment), kT0).ok());
  EXPECT_TRUE(Register(owner_, Token(kCloud1, BillingModel::kDevelopment), Name()).ok());
}

TEST_F(RegistrationServiceTest, OnlyPlatformAdminsApproveBillingModels) {
  auto result = service_->PutApproval(owner_, Approval(kCloud1, BillingModel::kDevelopment), kT0);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorCode(result.status()), "AuthorizationFailed");
}

TEST_F(RegistrationServiceTest, CloudRegisteredTwiceIsCloudAlreadyRegistered) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto result = Register(owner_, Token(kCloud1), Name(kApss, "reg2"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorCode(result.status()), "CloudAlreadyRegistered");
  EXPECT_NE(Message(result.status()).find("is already registered"), std::string::npos);
}

TEST_F(RegistrationServiceTest, PlatformAdminReleasesAClaimSoTheCloudCanRegisterAgain) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto refused = service_->ReleaseClaim(owner_, kCloud1, kT0.AddHours(1));
  EXPECT_EQ(ErrorCode(refused.status()), "AuthorizationFailed");
  ASSERT_TRUE(service_->ReleaseClaim(admin_, kCloud1, kT0.AddHours(1)).ok());
  EXPECT_TRUE(
      service_
          ->PutRegistration(
              owner_,
              {.name = Name(kApss, "reg2"), .registration_token = Token(kCloud1), .tags = {}},
              kT0.AddHours(2))
          .ok());
  auto again = service_->ReleaseClaim(admin_, kCloud2, kT0.AddHours(3));
  EXPECT_EQ(ErrorCode(again.status()), "CloudNotClaimed");
}

TEST_F(RegistrationServiceTest, AnotherPartnersRegistrationIsNotFound) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto result = service_->GetRegistration(northwind_, Name(), kT0);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  auto put = Register(northwind_, Token(kCloud2), Name(kApss, "mine"));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistrationServiceTest, RegistersCustomers) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto cs = AddCustomer(kFabrikamCsp, kFabrikamDir, Name(), kT0.AddHours(1));
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(cs->customer_subscription_id, kFabrikamCsp);
  EXPECT_EQ(cs->cloud_id, kCloud1);
  auto listed = service_->ListCustomerSubscriptions(reader_, Name(), kT0.AddHours(1));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(RegistrationServiceTest, SomeoneElsesCustomerIsBadCustomerSubscriptionId) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto cs = AddCustomer(kWingtipCsp, kWingtipDir, Name(), kT0);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorCode(cs.status()), "BadCustomerSubscriptionId");
}

TEST_F(RegistrationServiceTest, NonCspCustomerIsInvalidCspSubscription) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto cs = AddCustomer(kFabrikamPayg, kFabrikamDir, Name(), kT0);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(cs.status()), "InvalidCSPSubscription");
}

TEST_F(RegistrationServiceTest, UpperCaseCustomerIdIsInvalidCustomerSubscriptionId) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto cs = service_->PutCustomerSubscription(
      owner_,
      {.registration = Name(),
       .customer_subscription_id = "A0000000-0000-0000-0000-000000000003",
       .tenant_id = kFabrikamDir,
       .effective_from = std::nullopt},
      kT0);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(cs.status()), "InvalidCustomerSubscriptionId");
}

TEST_F(RegistrationServiceTest, WrongTenantIsTenantMismatch) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto cs = AddCustomer(kFabrikamCsp, kWingtipDir, Name(), kT0);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(cs.status()), "TenantMismatch");
}

TEST_F(RegistrationServiceTest, PayAsYouGoDefaultRefusesCustomersAsUnauthorizedCspRegistration) {
  ASSERT_TRUE(Register(payg_owner_, Token(kCloud1), Name(kPayg)).ok());
  auto cs = service_->PutCustomerSubscription(payg_owner_,
                                              {.registration = Name(kPayg),
                                               .customer_subscription_id = kFabrikamCsp.ToString(),
                                               .tenant_id = kFabrikamDir,
                                               .effective_from = std::nullopt},
                                              kT0);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(cs.status()), "UnauthorizedCspRegistration");
}

TEST_F(RegistrationServiceTest, CapacityRefusesCustomersAsCustomerSubscriptionsNotAllowed) {
  ASSERT_TRUE(
      service_->PutApproval(admin_, Approval(kCloud1, BillingModel::kCapacity, "AG-1"), kT0).ok());
  ASSERT_TRUE(Register(owner_, Token(kCloud1, BillingModel::kCapacity), Name()).ok());
  auto cs = AddCustomer(kFabrikamCsp, kFabrikamDir, Name(), kT0);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(cs.status()), "CustomerSubscriptionsNotAllowed");
}

TEST_F(RegistrationServiceTest, SecondPutForATenantRemapsItFromThatMoment) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  ASSERT_TRUE(AddCustomer(kFabrikamCsp, kFabrikamDir, Name(), kT0.AddHours(1)).ok());
  ASSERT_TRUE(AddCustomer(kFabrikamCsp2, kFabrikamDir, Name(), kT0.AddHours(5)).ok());
  auto live = store_->registrations().ListCustomerSubscriptions(Name());
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].customer_subscription_id, kFabrikamCsp2);
  auto versions = store_->registrations().ListCustomerSubscriptionVersions(Name());
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].valid.to, kT0.AddHours(5));
}

TEST_F(RegistrationServiceTest, DeleteEndsCustomerThenAnswersNothingToDelete) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  ASSERT_TRUE(AddCustomer(kFabrikamCsp, kFabrikamDir, Name(), kT0).ok());
  auto deleted = service_->DeleteCustomerSubscription(owner_, Name(), kFabrikamCsp.ToString(),
                                                      std::nullopt, kT0.AddHours(1));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  auto again = service_->DeleteCustomerSubscription(owner_, Name(), kFabrikamCsp.ToString(),
                                                    std::nullopt, kT0.AddHours(2));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(RegistrationServiceTest, OnlyPlatformAdminsBackdateACustomerDeletion) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  ASSERT_TRUE(AddCustomer(kFabrikamCsp, kFabrikamDir, Name(), kT0).ok());
  auto refused = service_->DeleteCustomerSubscription(owner_, Name(), kFabrikamCsp.ToString(),
                                                      kT0.AddHours(1), kT0.AddHours(3));
  EXPECT_EQ(ErrorCode(refused.status()), "AuthorizationFailed");
  auto future = service_->DeleteCustomerSubscription(admin_, Name(), kFabrikamCsp.ToString(),
                                                     kT0.AddHours(4), kT0.AddHours(3));
  EXPECT_EQ(ErrorCode(future.status()), "InvalidEffectiveTo");
  auto done = service_->DeleteCustomerSubscription(admin_, Name(), kFabrikamCsp.ToString(),
                                                   kT0.AddHours(1), kT0.AddHours(3));
  ASSERT_TRUE(done.ok()) << done.status();
  auto versions = store_->registrations().ListCustomerSubscriptionVersions(Name());
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].valid.to, kT0.AddHours(1));
}

TEST_F(RegistrationServiceTest, DeleteRegistrationEndsItAndDrainsItsKeys) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto key = service_->GetActivationKey(owner_, Name(), kT0);
  ASSERT_TRUE(key.ok()) << key.status();
  auto deleted = service_->DeleteRegistration(owner_, Name(), kT0.AddHours(1));
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_EQ(service_->GetRegistration(owner_, Name(), kT0.AddHours(1)).status().code(),
            absl::StatusCode::kNotFound);
  auto& registrations = store_->registrations();
  EXPECT_TRUE(
      registrations.FindActivationKeyByHash(HashSecret(*key), kT0.AddSeconds(119 * 60)).ok());
  EXPECT_FALSE(registrations.FindActivationKeyByHash(HashSecret(*key), kT0.AddHours(2)).ok());
  auto again = service_->DeleteRegistration(owner_, Name(), kT0.AddHours(2));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(RegistrationServiceTest, ReaderCannotGetAnActivationKey) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto key = service_->GetActivationKey(reader_, Name(), kT0);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorCode(key.status()), "AuthorizationFailed");
}

TEST_F(RegistrationServiceTest, RotatedKeyKeepsThePreviousOneForTheGracePeriod) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto first = service_->GetActivationKey(owner_, Name(), kT0);
  auto second = service_->GetActivationKey(admin_, Name(), kT0.AddHours(1));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->rfind("sbk_", 0), 0u);
  auto& registrations = store_->registrations();
  EXPECT_TRUE(registrations.FindActivationKeyByHash(HashSecret(*first), kT0.AddHours(24)).ok());
  EXPECT_FALSE(registrations.FindActivationKeyByHash(HashSecret(*first), kT0.AddHours(25)).ok());
  EXPECT_TRUE(registrations.FindActivationKeyByHash(HashSecret(*second), kT0.AddHours(99)).ok());
}

TEST_F(RegistrationServiceTest, EveryMutationIsAuditedWithSecretsRedacted) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto key = service_->GetActivationKey(owner_, Name(), kT0);
  ASSERT_TRUE(key.ok());
  auto page = store_->audit().ListAudit(AuditFilter{}, PageRequest{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].action, "registration.getactivationkey");
  EXPECT_EQ(page->items[0].after_json.find(*key), std::string::npos);
  EXPECT_EQ(page->items[1].action, "registration.put");
  ASSERT_TRUE(page->items[1].partner_id.has_value());
  EXPECT_EQ(*page->items[1].partner_id, "contoso");
}

TEST_F(RegistrationServiceTest, StacksAreVisibleToTheirOperatorsOnly) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  auto mine = service_->ListStacks(reader_, kT0);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  ASSERT_TRUE((*mine)[0].registration.has_value());
  EXPECT_EQ((*mine)[0].registration->name.name, "reg1");
  auto theirs = service_->ListStacks(northwind_, kT0);
  ASSERT_TRUE(theirs.ok());
  EXPECT_TRUE(theirs->empty());
  EXPECT_EQ(ErrorCode(service_->GetStack(northwind_, kCloud1, kT0).status()), "StackNotFound");
}

TEST_F(RegistrationServiceTest, StackKeyMapsSubscribersOfItsOwnCloudOnly) {
  ASSERT_TRUE(Register(owner_, Token(kCloud1), Name()).ok());
  Caller stack;
  stack.stack_cloud_id = kCloud1;
  const Guid local = G("d0000000-0000-0000-0000-000000000001");
  auto mapped = service_->PutStackSubscriber(stack, kCloud1, local, kFabrikamDir, kT0);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->tenant_id, kFabrikamDir);
  auto other = service_->PutStackSubscriber(stack, kCloud2, local, kFabrikamDir, kT0);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  auto owner = service_->PutStackSubscriber(owner_, kCloud1, local, kFabrikamDir, kT0);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace stackbill
