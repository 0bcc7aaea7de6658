#include "core/meter_catalogue.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace stackbill {
namespace {

Guid G(std::string_view text) { return *Guid::Parse(text); }

TEST(MeterCatalogueTest, BuiltInCatalogueHasTheAzureStackMetersInCanonicalForm) {
  std::vector<std::string> skipped;
  auto catalogue = MeterCatalogue::BuiltIn(skipped);
  ASSERT_TRUE(catalogue.ok()) << catalogue.status();
  EXPECT_EQ(catalogue->size(), 85u);
  const Meter* base_vm = catalogue->Find(G("FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5"));
  ASSERT_NE(base_vm, nullptr);
  EXPECT_EQ(base_vm->meter_id.ToString(), "fab6eb84-500b-4a09-a8ca-7358f8bbaea5");
  EXPECT_EQ(base_vm->name, "Base VM Size Hours");
  EXPECT_EQ(base_vm->category, "Compute");
  EXPECT_EQ(base_vm->unit, "Virtual core hours");
  // Listed without hyphens in the source; found by its canonical form.
  EXPECT_NE(catalogue->Find(G("f271a8a3-88c4-4d93-956a-063e1d2fa80b")), nullptr);
}

TEST(MeterCatalogueTest, SkipsARowWithoutAnIdAndSaysWhich) {
  std::vector<std::string> skipped;
  ASSERT_TRUE(MeterCatalogue::BuiltIn(skipped).ok());
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("Custom Worker Tiers"), std::string::npos) << skipped[0];
}

TEST(MeterCatalogueTest, RejectsAMeterListedTwice) {
  std::vector<std::string> skipped;
  auto catalogue = MeterCatalogue::FromCsv(
      "meter_id,meter_name,category,unit\n"
      "FAB6EB84500B4A09A8CA7358F8BBAEA5,A,C,U\n"
      "fab6eb84-500b-4a09-a8ca-7358f8bbaea5,B,C,U\n",
      "m.csv", skipped);
  ASSERT_FALSE(catalogue.ok());
  EXPECT_EQ(ErrorCode(catalogue.status()), "InvalidCsv");
  EXPECT_NE(Message(catalogue.status()).find("m.csv:3"), std::string_view::npos);
}

TEST(MeterCatalogueTest, RejectsACatalogueWithoutACategoryColumn) {
  std::vector<std::string> skipped;
  auto catalogue = MeterCatalogue::FromCsv("meter_id,meter_name,unit\n", "m.csv", skipped);
  EXPECT_EQ(ErrorCode(catalogue.status()), "InvalidCsv");
}

TEST(MeterCatalogueTest, CustomMetersCanBeAddedAndReplaced) {
  MeterCatalogue catalogue;
  Meter meter{.meter_id = G("11111111-2222-3333-4444-555555555555"),
              .name = "GPU hours",
              .category = "Compute",
              .unit = "GPU hours",
              .commerce_meter_id = std::nullopt,
              .custom = true};
  ASSERT_TRUE(catalogue.Add(meter).ok());
  meter.name = "GPU hours (A100)";
  ASSERT_TRUE(catalogue.Add(meter).ok());
  EXPECT_EQ(catalogue.size(), 1u);
  EXPECT_EQ(catalogue.Find(meter.meter_id)->name, "GPU hours (A100)");
}

TEST(MeterCatalogueTest, RefusesAMeterWithoutAUnit) {
  MeterCatalogue catalogue;
  auto status = catalogue.Add(Meter{.meter_id = G("11111111222233334444555555555555"),
                                    .name = "x",
                                    .category = "",
                                    .unit = "",
                                    .commerce_meter_id = std::nullopt,
                                    .custom = false});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(status), "InvalidMeter");
}

}  // namespace
}  // namespace stackbill
