#pragma once

// Test-only: the seed's cast (SPEC §2) written into a store, shared by the
// registration service tests and the registration route tests.
//
// Contoso, a direct CSP partner, runs a multi-tenant stack under its APSS
// subscription; its registrant lives in IURContosoCSP, another directory than
// the stack's deployment directory ContosoCSP (R2). Fabrikam is Contoso's
// customer (two CSP subscriptions and a PayAsYouGo one); Wingtip is
// Northwind's customer.

#include <gtest/gtest.h>

#include <optional>
#include <string_view>
#include <tuple>

#include "core/entities.h"
#include "core/guid.h"
#include "core/time.h"
#include "store/store.h"

namespace stackbill::seed_world {

inline Guid G(std::string_view text) { return *Guid::Parse(text); }

inline const Guid kContosoDir = G("c0000000-0000-0000-0000-000000000001");
inline const Guid kIurDir = G("c0000000-0000-0000-0000-000000000002");
inline const Guid kFabrikamDir = G("f0000000-0000-0000-0000-000000000001");
inline const Guid kWingtipDir = G("f0000000-0000-0000-0000-000000000002");
inline const Guid kNorthwindDir = G("b0000000-0000-0000-0000-000000000001");
inline const Guid kApss = G("a0000000-0000-0000-0000-000000000001");
inline const Guid kPayg = G("a0000000-0000-0000-0000-000000000002");
inline const Guid kFabrikamCsp = G("a0000000-0000-0000-0000-000000000003");
inline const Guid kFabrikamCsp2 = G("a0000000-0000-0000-0000-000000000004");
inline const Guid kWingtipCsp = G("a0000000-0000-0000-0000-000000000005");
inline const Guid kFabrikamPayg = G("a0000000-0000-0000-0000-000000000006");
inline const Guid kCloud1 = G("5bf881b2-6be7-42a1-9f47-d6fcb6737747");
inline const Guid kCloud2 = G("5bf881b2-6be7-42a1-9f47-d6fcb6737748");
inline const Timestamp kT0 = Timestamp::FromUnixSeconds(1'800'000'000);

inline void AddSubscription(Store& store, Guid id, OfferType offer, Guid directory,
                            std::optional<PartnerId> partner) {
  Subscription s;
  s.id = id;
  s.offer_type = offer;
  s.directory_id = directory;
  s.partner_id = partner;
  if (!partner) s.billing_currency = "USD";
  s.display_name = id.ToString();
  ASSERT_TRUE(store.parties().CreateSubscription(s, kT0.AddDays(-30)).ok());
}

// Writes the partners, directories and subscriptions above, valid from 30
// days before kT0. Fails the current test on any store error.
inline void Seed(Store& store) {
  for (const char* id : {"contoso", "northwind"}) {
    ASSERT_TRUE(store.parties()
                    .CreatePartner({.id = id, .name = id, .billing_currency = "USD"}, std::nullopt,
                                   kT0.AddDays(-30))
                    .ok());
  }
  for (auto [id, domain, owner] :
       {std::tuple{kContosoDir, "contosocsp.onmicrosoft.com", std::optional<PartnerId>("contoso")},
        std::tuple{kIurDir, "iurcontosocsp.onmicrosoft.com", std::optional<PartnerId>("contoso")},
        std::tuple{kNorthwindDir, "northwind.onmicrosoft.com",
                   std::optional<PartnerId>("northwind")},
        std::tuple{kFabrikamDir, "fabrikam.onmicrosoft.com", std::optional<PartnerId>()},
        std::tuple{kWingtipDir, "wingtip.onmicrosoft.com", std::optional<PartnerId>()}}) {
    ASSERT_TRUE(
        store.identity()
            .CreateDirectory(
                {.id = id, .display_name = domain, .domains = {domain}, .owner_partner_id = owner})
            .ok());
  }
  AddSubscription(store, kApss, OfferType::kApss, kContosoDir, "contoso");
  AddSubscription(store, kPayg, OfferType::kPayAsYouGo, kContosoDir, std::nullopt);
  AddSubscription(store, kFabrikamCsp, OfferType::kCsp, kFabrikamDir, "contoso");
  AddSubscription(store, kFabrikamCsp2, OfferType::kCsp, kFabrikamDir, "contoso");
  AddSubscription(store, kWingtipCsp, OfferType::kCsp, kWingtipDir, "northwind");
  AddSubscription(store, kFabrikamPayg, OfferType::kPayAsYouGo, kFabrikamDir, std::nullopt);
}

}  // namespace stackbill::seed_world
