#include "store/store.h"

#include "absl/strings/str_format.h"

namespace stackbill {

bool TokenRecord::IsActiveAt(Timestamp now) const {
  if (revoked_at && *revoked_at <= now) return false;
  return now < expires_at;
}

std::string_view ToString(UsageOutcome outcome) {
  switch (outcome) {
    case UsageOutcome::kAccepted:
      return "Accepted";
    case UsageOutcome::kDuplicate:
      return "Duplicate";
    case UsageOutcome::kConflictingDuplicate:
      return "ConflictingDuplicate";
  }
  return "Unknown";
}

absl::StatusOr<IngestWriteResult> UsageStore::WriteIngest(const IngestWrite& write) {
  const IngestWrite* const group[] = {&write};
  absl::StatusOr<std::vector<IngestWriteResult>> results = WriteIngestGroup(group);
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

std::unique_ptr<PreparedIngest> UsageStore::PrepareIngest(std::span<const UsageRecord>) {
  return nullptr;
}

PriceSheetOwner PriceSheetOwner::Offer(OfferType offer) {
  PriceSheetOwner owner;
  owner.kind = Kind::kOffer;
  owner.offer_type = offer;
  return owner;
}

PriceSheetOwner PriceSheetOwner::Partner(PartnerId partner) {
  PriceSheetOwner owner;
  owner.kind = Kind::kPartner;
  owner.partner_id = std::move(partner);
  return owner;
}

PriceSheetOwner PriceSheetOwner::Customers(PartnerId partner) {
  PriceSheetOwner owner = Partner(std::move(partner));
  owner.kind = Kind::kCustomers;
  return owner;
}

std::string PriceSheetOwner::ToString() const {
  switch (kind) {
    case Kind::kOffer:
      return "offer:" + std::string(stackbill::ToString(offer_type));
    case Kind::kPartner:
      return "partner:" + partner_id;
    case Kind::kCustomers:
      return "customers:" + partner_id;
  }
  return "unknown";
}

std::string FormatInvoiceNumber(int year, std::int64_t sequence) {
  return absl::StrFormat("SB-%04d-%06d", year, sequence);
}

}  // namespace stackbill
