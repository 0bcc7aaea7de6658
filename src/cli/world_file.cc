#include "cli/world_file.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"

namespace stackbill {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kWorldError = "InvalidWorldFile";

absl::Status Fault(std::string_view path, std::string_view what) {
  return InvalidArgumentError(kWorldError, fmt::format("{}: {}", path, what));
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// One JSON object of the file at `path`: typed members, each failure naming
// its path; Finish() refuses members nobody asked for (typos).
class Object {
 public:
  static absl::StatusOr<Object> At(const Json& json, std::string path) {
    if (!json.is_object()) return Fault(path, "must be an object");
    return Object(json, std::move(path));
  }

  std::string PathOf(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  const std::string& path() const { return path_; }

  absl::StatusOr<std::optional<std::string>> OptionalString(std::string_view key) {
    const Json* member = Take(key);
    if (member == nullptr) return std::optional<std::string>();
    if (!member->is_string() || member->get<std::string>().empty()) {
      return Fault(PathOf(key), "must be a non-empty string");
    }
    return std::optional<std::string>(member->get<std::string>());
  }
  absl::StatusOr<std::string> String(std::string_view key) {
    auto value = OptionalString(key);
    if (!value.ok()) return value.status();
    if (!*value) return Fault(PathOf(key), "is required");
    return **value;
  }
  absl::StatusOr<std::optional<bool>> OptionalBool(std::string_view key) {
    const Json* member = Take(key);
    if (member == nullptr) return std::optional<bool>();
    if (!member->is_boolean()) return Fault(PathOf(key), "must be true or false");
    return std::optional<bool>(member->get<bool>());
  }
  // A whole number in [min, max] at `key`, when present.
  absl::StatusOr<std::optional<int>> OptionalInt(std::string_view key, int min, int max) {
    const Json* member = Take(key);
    if (member == nullptr) return std::optional<int>();
    if (!member->is_number_integer() || member->get<std::int64_t>() < min ||
        member->get<std::int64_t>() > max) {
      return Fault(PathOf(key), fmt::format("must be a whole number from {} to {}", min, max));
    }
    return std::optional<int>(member->get<int>());
  }
  absl::StatusOr<std::optional<Guid>> OptionalGuid(std::string_view key) {
    auto text = OptionalString(key);
    if (!text.ok()) return text.status();
    if (!*text) return std::optional<Guid>();
    auto guid = Guid::Parse(**text);
    if (!guid.ok())
      return Fault(PathOf(key), fmt::format("not a GUID: {}", Message(guid.status())));
    return std::optional<Guid>(*guid);
  }
  // The array at `key` (empty when absent), or an error when not an array.
  absl::StatusOr<const Json*> Array(std::string_view key, bool required = false) {
    static const Json kEmpty = Json::array();
    const Json* member = Take(key);
    if (member == nullptr) {
      if (required) return Fault(PathOf(key), "is required");
      return &kEmpty;
    }
    if (!member->is_array()) return Fault(PathOf(key), "must be an array");
    return member;
  }
  // Parses an enum member with `parse` (core's wire-name parsers).
  template <typename Parse>
  auto Enum(std::string_view key, Parse parse) -> decltype(parse(std::string_view())) {
    auto text = String(key);
    if (!text.ok()) return text.status();
    auto value = parse(*text);
    if (!value.ok()) return Fault(PathOf(key), Message(value.status()));
    return value;
  }
  // Marks `key` as read (for members checked by hand).
  const Json* Take(std::string_view key) {
    taken_.insert(std::string(key));
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }
  absl::Status Finish() const {
    for (const auto& [key, value] : json_.items()) {
      if (!taken_.contains(key)) return Fault(PathOf(key), "unknown key");
    }
    return absl::OkStatus();
  }

 private:
  Object(const Json& json, std::string path) : json_(json), path_(std::move(path)) {}

  const Json& json_;
  std::string path_;
  std::set<std::string> taken_;
};

#define WORLD_ASSIGN(lhs, expr)                 \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)  // NOLINT(bugprone-macro-parentheses): a declaration

#define WORLD_CHECK(expr)                      \
  do {                                         \
    if (auto s_ = (expr); !s_.ok()) return s_; \
  } while (false)

class Parser {
 public:
  absl::StatusOr<World> Parse(const Json& root) {
    WORLD_ASSIGN(top, Object::At(root, ""));
    WORLD_ASSIGN(name, top.OptionalString("world"));
    if (name) world_.name = *name;
    WORLD_ASSIGN(description, top.OptionalString("description"));
    (void)description;
    WORLD_ASSIGN(partners, top.Array("partners"));
    WORLD_ASSIGN(directories, top.Array("directories"));
    WORLD_ASSIGN(subscriptions, top.Array("subscriptions"));
    WORLD_ASSIGN(principals, top.Array("principals"));
    WORLD_ASSIGN(stacks, top.Array("stacks"));
    WORLD_ASSIGN(registrations, top.Array("registrations"));
    WORLD_ASSIGN(price_sheets, top.Array("priceSheets"));
    WORLD_CHECK(top.Finish());

    for (std::size_t i = 0; i < partners->size(); ++i) {
      WORLD_CHECK(ParsePartner((*partners)[i], fmt::format("partners[{}]", i)));
    }
    WORLD_CHECK(CheckPartnerParents());
    for (std::size_t i = 0; i < directories->size(); ++i) {
      WORLD_CHECK(ParseDirectory((*directories)[i], fmt::format("directories[{}]", i)));
    }
    for (std::size_t i = 0; i < subscriptions->size(); ++i) {
      WORLD_CHECK(ParseSubscription((*subscriptions)[i], fmt::format("subscriptions[{}]", i)));
    }
    for (std::size_t i = 0; i < principals->size(); ++i) {
      WORLD_CHECK(ParsePrincipal((*principals)[i], fmt::format("principals[{}]", i)));
    }
    for (std::size_t i = 0; i < stacks->size(); ++i) {
      WORLD_CHECK(ParseStack((*stacks)[i], fmt::format("stacks[{}]", i)));
    }
    for (std::size_t i = 0; i < registrations->size(); ++i) {
      WORLD_CHECK(ParseRegistration((*registrations)[i], fmt::format("registrations[{}]", i)));
    }
    for (std::size_t i = 0; i < price_sheets->size(); ++i) {
      WORLD_CHECK(ParsePriceSheet((*price_sheets)[i], fmt::format("priceSheets[{}]", i)));
    }
    // Parents before their resellers, so apply can create them in order.
    std::stable_partition(world_.partners.begin(), world_.partners.end(),
                          [](const WorldPartner& p) { return !p.parent_partner_id; });
    return std::move(world_);
  }

 private:
  // A decimal given as a string, exactly as written (R14).
  static absl::Status DecimalText(const Json& value, const std::string& path) {
    if (!value.is_string()) {
      return Fault(path, "must be a decimal string such as \"0.008\" (exact, never a float)");
    }
    return absl::OkStatus();
  }

  absl::Status ParsePriceSheet(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldPriceSheet sheet;
    WORLD_ASSIGN(offer, object.OptionalString("offerType"));
    WORLD_ASSIGN(partner, object.OptionalString("partner"));
    WORLD_ASSIGN(currency, object.String("currency"));
    WORLD_ASSIGN(date, object.String("effectiveDate"));
    WORLD_ASSIGN(meters, object.Array("meters", true));
    WORLD_CHECK(object.Finish());
    if (offer.has_value() == partner.has_value()) {
      return Fault(path, "names an offerType or a partner (whose overrides it is), not both");
    }
    if (offer) {
      auto parsed = ParseOfferType(*offer);
      if (!parsed.ok()) return Fault(object.PathOf("offerType"), Message(parsed.status()));
      sheet.offer = *parsed;
    }
    if (partner && !partner_kinds_.contains(*partner)) {
      return Fault(object.PathOf("partner"), "names no partner of the file: " + *partner);
    }
    for (std::size_t i = 0; i < meters->size(); ++i) {
      const std::string meter_path = fmt::format("{}.meters[{}]", path, i);
      WORLD_ASSIGN(meter, Object::At((*meters)[i], meter_path));
      WORLD_ASSIGN(meter_id, meter.OptionalGuid("meterId"));
      if (!meter_id) return Fault(meter.PathOf("meterId"), "is required");
      const Json& m = (*meters)[i];
      if (!m.contains("meterRates") || !m["meterRates"].is_object() || m["meterRates"].empty()) {
        return Fault(meter.PathOf("meterRates"), "must be an object of tier start → unit price");
      }
      for (const auto& [start, unit] : m["meterRates"].items()) {
        WORLD_CHECK(DecimalText(unit, fmt::format("{}.meterRates.{}", meter_path, start)));
      }
      if (m.contains("includedQuantity")) {
        WORLD_CHECK(DecimalText(m["includedQuantity"], meter.PathOf("includedQuantity")));
      }
      meter.Take("meterRates");
      meter.Take("includedQuantity");
      WORLD_CHECK(meter.Finish());
    }
    sheet.partner = partner;
    sheet.currency = currency;
    sheet.effective_date = date;
    sheet.meters = *meters;
    world_.price_sheets.push_back(std::move(sheet));
    return absl::OkStatus();
  }

  absl::Status ParsePartner(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldPartner partner;
    WORLD_ASSIGN(id, object.String("id"));
    WORLD_ASSIGN(name, object.String("name"));
    WORLD_ASSIGN(kind, object.Enum("kind", ParsePartnerKind));
    WORLD_ASSIGN(parent, object.OptionalString("parent"));
    WORLD_ASSIGN(currency, object.String("billingCurrency"));
    WORLD_CHECK(object.Finish());
    if (partner_kinds_.contains(id)) return Fault(object.PathOf("id"), "duplicate partner " + id);
    if (kind == PartnerKind::kIndirectReseller && !parent) {
      return Fault(object.PathOf("parent"), "an indirectReseller needs its indirectProvider");
    }
    if (kind != PartnerKind::kIndirectReseller && parent) {
      return Fault(object.PathOf("parent"), "only an indirectReseller has a parent");
    }
    if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return Fault(object.PathOf("billingCurrency"), "must be an ISO 4217 code such as USD");
    }
    partner_kinds_[id] = kind;
    partner.id = id;
    partner.name = name;
    partner.kind = kind;
    partner.parent_partner_id = parent;
    partner.billing_currency = currency;
    world_.partners.push_back(std::move(partner));
    return absl::OkStatus();
  }

  absl::Status CheckPartnerParents() {
    for (std::size_t i = 0; i < world_.partners.size(); ++i) {
      const auto& parent = world_.partners[i].parent_partner_id;
      if (!parent) continue;
      const std::string path = fmt::format("partners[{}].parent", i);
      auto it = partner_kinds_.find(*parent);
      if (it == partner_kinds_.end()) return Fault(path, "no partner " + *parent + " in the file");
      if (it->second != PartnerKind::kIndirectProvider) {
        return Fault(path, *parent + " is not an indirectProvider");
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseDirectory(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldDirectory directory;
    WORLD_ASSIGN(id, object.OptionalGuid("id"));
    WORLD_ASSIGN(display_name, object.String("displayName"));
    WORLD_ASSIGN(domains, object.Array("domains", /*required=*/true));
    WORLD_ASSIGN(owner, object.OptionalString("ownerPartner"));
    WORLD_CHECK(object.Finish());
    if (domains->empty()) return Fault(object.PathOf("domains"), "needs at least one domain");
    for (std::size_t i = 0; i < domains->size(); ++i) {
      const std::string domain_path = fmt::format("{}[{}]", object.PathOf("domains"), i);
      const Json& domain = (*domains)[i];
      if (!domain.is_string() || domain.get<std::string>().empty()) {
        return Fault(domain_path, "must be a non-empty string");
      }
      std::string lower = Lower(domain.get<std::string>());
      if (directory_by_domain_.contains(lower)) {
        return Fault(domain_path, "domain " + lower + " belongs to another directory");
      }
      directory.domains.push_back(std::move(lower));
    }
    if (owner && !partner_kinds_.contains(*owner)) {
      return Fault(object.PathOf("ownerPartner"), "no partner " + *owner + " in the file");
    }
    directory.id = id ? *id : DerivedGuid(world_.name, "directory", directory.domains.front());
    directory.display_name = display_name;
    directory.owner_partner_id = owner;
    for (const auto& domain : directory.domains) directory_by_domain_[domain] = directory.id;
    world_.directories.push_back(std::move(directory));
    return absl::OkStatus();
  }

  absl::StatusOr<Guid> DirectoryRef(Object& object, std::string_view key) {
    WORLD_ASSIGN(domain, object.String(key));
    auto it = directory_by_domain_.find(Lower(domain));
    if (it == directory_by_domain_.end()) {
      return Fault(object.PathOf(key), "no directory with domain " + domain + " in the file");
    }
    return it->second;
  }

  absl::Status ParseSubscription(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldSubscription subscription;
    WORLD_ASSIGN(id, object.OptionalGuid("subscriptionId"));
    WORLD_ASSIGN(display_name, object.String("displayName"));
    WORLD_ASSIGN(offer, object.Enum("offerType", ParseOfferType));
    WORLD_ASSIGN(directory, DirectoryRef(object, "directory"));
    WORLD_ASSIGN(partner, object.OptionalString("partner"));
    WORLD_ASSIGN(currency, object.OptionalString("billingCurrency"));
    WORLD_CHECK(object.Finish());
    if (subscription_by_name_.contains(display_name)) {
      return Fault(object.PathOf("displayName"), "duplicate subscription " + display_name);
    }
    const bool partner_sold = offer == OfferType::kCsp || offer == OfferType::kApss;
    if (partner_sold && !partner) {
      return Fault(object.PathOf("partner"), "a CSP or APSS subscription needs its partner");
    }
    if (!partner_sold && partner) {
      return Fault(object.PathOf("partner"), "only CSP and APSS subscriptions have a partner");
    }
    if (partner && !partner_kinds_.contains(*partner)) {
      return Fault(object.PathOf("partner"), "no partner " + *partner + " in the file");
    }
    if (IsDirectBilled(offer) && !currency) {
      return Fault(object.PathOf("billingCurrency"), "a direct-billed subscription needs one");
    }
    subscription.id = id ? *id : DerivedGuid(world_.name, "subscription", display_name);
    subscription.offer_type = offer;
    subscription.directory_id = directory;
    subscription.partner_id = partner;
    subscription.billing_currency = currency;
    subscription.display_name = display_name;
    subscription_by_name_[display_name] = world_.subscriptions.size();
    world_.subscriptions.push_back(std::move(subscription));
    return absl::OkStatus();
  }

  absl::StatusOr<const WorldSubscription*> SubscriptionRef(Object& object, std::string_view key) {
    WORLD_ASSIGN(name, object.String(key));
    auto it = subscription_by_name_.find(name);
    if (it == subscription_by_name_.end()) {
      return Fault(object.PathOf(key), "no subscription named " + name + " in the file");
    }
    return &world_.subscriptions[it->second];
  }

  absl::Status ParsePrincipal(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldPrincipal principal;
    WORLD_ASSIGN(name, object.String("name"));
    WORLD_ASSIGN(directory, DirectoryRef(object, "directory"));
    WORLD_ASSIGN(kind_text, object.OptionalString("kind"));
    WORLD_ASSIGN(object_id, object.OptionalGuid("objectId"));
    WORLD_ASSIGN(token, object.OptionalBool("token"));
    WORLD_ASSIGN(roles, object.Array("roles"));
    WORLD_CHECK(object.Finish());
    if (kind_text) {
      auto kind = ParsePrincipalKind(*kind_text);
      if (!kind.ok()) return Fault(object.PathOf("kind"), Message(kind.status()));
      principal.kind = *kind;
    }
    if (world_.FindPrincipal(name) != nullptr) {
      return Fault(object.PathOf("name"), "duplicate principal " + name);
    }
    for (std::size_t i = 0; i < roles->size(); ++i) {
      WORLD_ASSIGN(role_object,
                   Object::At((*roles)[i], fmt::format("{}[{}]", object.PathOf("roles"), i)));
      WORLD_ASSIGN(role, role_object.Enum("role", ParseRole));
      WORLD_ASSIGN(partner, role_object.OptionalString("partner"));
      WORLD_ASSIGN(subscription_name, role_object.OptionalString("subscription"));
      WORLD_CHECK(role_object.Finish());
      WorldRoleAssignment assignment{role, "/"};
      switch (role) {
        case Role::kPlatformAdmin:
          if (partner || subscription_name) {
            return Fault(role_object.path(), "PlatformAdmin takes no partner or subscription");
          }
          break;
        case Role::kPartnerAdmin:
          if (!partner || subscription_name) {
            return Fault(role_object.PathOf("partner"), "PartnerAdmin needs a partner (only)");
          }
          if (!partner_kinds_.contains(*partner)) {
            return Fault(role_object.PathOf("partner"), "no partner " + *partner + " in the file");
          }
          assignment.scope = "/partners/" + *partner;
          break;
        case Role::kOwner:
        case Role::kReader: {
          if (!subscription_name || partner) {
            return Fault(role_object.PathOf("subscription"),
                         "Owner and Reader need a subscription (only)");
          }
          auto it = subscription_by_name_.find(*subscription_name);
          if (it == subscription_by_name_.end()) {
            return Fault(role_object.PathOf("subscription"),
                         "no subscription named " + *subscription_name + " in the file");
          }
          assignment.scope = "/subscriptions/" + world_.subscriptions[it->second].id.ToString();
          break;
        }
      }
      principal.roles.push_back(std::move(assignment));
    }
    principal.name = name;
    principal.directory_id = directory;
    principal.object_id = object_id;
    principal.issue_token = token.value_or(false);
    world_.principals.push_back(std::move(principal));
    return absl::OkStatus();
  }

  absl::Status ParseStack(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldStack stack;
    WORLD_ASSIGN(name, object.String("name"));
    WORLD_ASSIGN(cloud_id, object.OptionalGuid("cloudId"));
    WORLD_ASSIGN(object_id, object.OptionalGuid("objectId"));
    WORLD_ASSIGN(directory, DirectoryRef(object, "deploymentDirectory"));
    WORLD_ASSIGN(model, object.Enum("billingModel", ParseBillingModel));
    WORLD_ASSIGN(multi_tenant, object.OptionalBool("multiTenant"));
    WORLD_ASSIGN(usage_reporting, object.OptionalBool("usageReporting"));
    WORLD_ASSIGN(agreement, object.OptionalString("agreementNumber"));
    WORLD_ASSIGN(asset_tag, object.OptionalString("assetTag"));
    WORLD_ASSIGN(approved, object.OptionalBool("approved"));
    WORLD_ASSIGN(subscribers, object.Array("subscribers"));
    WORLD_CHECK(object.Finish());
    if (world_.FindStack(name) != nullptr) {
      return Fault(object.PathOf("name"), "duplicate stack " + name);
    }
    if (model == BillingModel::kCapacity && !agreement) {
      return Fault(object.PathOf("agreementNumber"), "a Capacity stack needs one (R9)");
    }
    if (model == BillingModel::kCustom && !asset_tag) {
      return Fault(object.PathOf("assetTag"), "a Custom stack needs one (R9)");
    }
    stack.name = name;
    stack.cloud_id = cloud_id ? *cloud_id : DerivedGuid(world_.name, "stack", name);
    stack.object_id = object_id ? *object_id : DerivedGuid(world_.name, "stack-object", name);
    stack.deployment_directory_id = directory;
    stack.billing_model = model;
    stack.multi_tenant = multi_tenant.value_or(false);
    stack.usage_reporting = usage_reporting;
    stack.agreement_number = agreement;
    stack.asset_tag = asset_tag;
    stack.approved = approved.value_or(false);
    std::set<std::string> names;
    for (std::size_t i = 0; i < subscribers->size(); ++i) {
      WORLD_ASSIGN(sub, Object::At((*subscribers)[i],
                                   fmt::format("{}[{}]", object.PathOf("subscribers"), i)));
      WORLD_ASSIGN(sub_name, sub.String("name"));
      WORLD_ASSIGN(local_id, sub.OptionalGuid("localSubscriptionId"));
      WORLD_ASSIGN(tenant, DirectoryRef(sub, "tenant"));
      WORLD_ASSIGN(vms, sub.OptionalInt("vms", 0, 1000000));
      WORLD_CHECK(sub.Finish());
      if (!names.insert(sub_name).second) {
        return Fault(sub.PathOf("name"), "duplicate subscriber " + sub_name);
      }
      stack.subscribers.push_back({sub_name,
                                   local_id ? *local_id
                                            : DerivedGuid(world_.name, "stack-subscription",
                                                          fmt::format("{}/{}", name, sub_name)),
                                   tenant, vms});
    }
    world_.stacks.push_back(std::move(stack));
    return absl::OkStatus();
  }

  absl::Status ParseRegistration(const Json& json, const std::string& path) {
    WORLD_ASSIGN(object, Object::At(json, path));
    WorldRegistration registration;
    WORLD_ASSIGN(name, object.String("name"));
    WORLD_ASSIGN(resource_group, object.String("resourceGroup"));
    WORLD_ASSIGN(stack, object.String("stack"));
    WORLD_ASSIGN(subscription, SubscriptionRef(object, "subscription"));
    WORLD_ASSIGN(registered_by, object.OptionalString("registeredBy"));
    WORLD_ASSIGN(activation_key, object.OptionalBool("activationKey"));
    WORLD_ASSIGN(customers, object.Array("customerSubscriptions"));
    WORLD_CHECK(object.Finish());
    if (world_.FindStack(stack) == nullptr) {
      return Fault(object.PathOf("stack"), "no stack named " + stack + " in the file");
    }
    for (const auto& other : world_.registrations) {
      if (other.stack == stack) {
        return Fault(object.PathOf("stack"), "stack " + stack + " is registered twice (R3)");
      }
      if (other.subscription_id == subscription->id &&
          Lower(other.resource_group) == Lower(resource_group) &&
          Lower(other.name) == Lower(name)) {
        return Fault(object.PathOf("name"), "duplicate registration " + name);
      }
    }
    if (registered_by && world_.FindPrincipal(*registered_by) == nullptr) {
      return Fault(object.PathOf("registeredBy"),
                   "no principal named " + *registered_by + " in the file");
    }
    std::set<Guid> tenants;
    for (std::size_t i = 0; i < customers->size(); ++i) {
      WORLD_ASSIGN(customer,
                   Object::At((*customers)[i],
                              fmt::format("{}[{}]", object.PathOf("customerSubscriptions"), i)));
      WORLD_ASSIGN(customer_subscription, SubscriptionRef(customer, "subscription"));
      Guid tenant = customer_subscription->directory_id;
      WORLD_ASSIGN(tenant_domain, customer.OptionalString("tenant"));
      if (tenant_domain) {
        auto it = directory_by_domain_.find(Lower(*tenant_domain));
        if (it == directory_by_domain_.end()) {
          return Fault(customer.PathOf("tenant"),
                       "no directory with domain " + *tenant_domain + " in the file");
        }
        tenant = it->second;
      }
      WORLD_ASSIGN(effective_from_text, customer.OptionalString("effectiveFrom"));
      std::optional<Timestamp> effective_from;
      if (effective_from_text) {
        absl::StatusOr<Timestamp> parsed = Timestamp::Parse(*effective_from_text);
        if (!parsed.ok()) {
          return Fault(customer.PathOf("effectiveFrom"),
                       "not an ISO 8601 date and time: " + *effective_from_text);
        }
        effective_from = *parsed;
      }
      WORLD_CHECK(customer.Finish());
      if (!tenants.insert(tenant).second) {
        return Fault(customer.path(), "tenant mapped twice on one registration (R6)");
      }
      registration.customer_subscriptions.push_back(
          {customer_subscription->id, tenant, customer_subscription->display_name, effective_from});
    }
    registration.name = name;
    registration.resource_group = resource_group;
    registration.stack = stack;
    registration.subscription_id = subscription->id;
    registration.registered_by = registered_by.value_or("");
    registration.activation_key = activation_key.value_or(true);
    world_.registrations.push_back(std::move(registration));
    return absl::OkStatus();
  }

  World world_;
  std::map<std::string, PartnerKind> partner_kinds_;
  std::map<std::string, Guid> directory_by_domain_;
  std::map<std::string, std::size_t> subscription_by_name_;
};

#undef WORLD_ASSIGN
#undef WORLD_CHECK

}  // namespace

const WorldStack* World::FindStack(std::string_view stack_name) const {
  for (const auto& stack : stacks) {
    if (stack.name == stack_name) return &stack;
  }
  return nullptr;
}

const WorldPrincipal* World::FindPrincipal(std::string_view principal_name) const {
  for (const auto& principal : principals) {
    if (Lower(principal.name) == Lower(principal_name)) return &principal;
  }
  return nullptr;
}

absl::StatusOr<World> ParseWorld(std::string_view text) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return InvalidArgumentError(kWorldError,
                                fmt::format("not JSON at byte {}: {}", e.byte, e.what()));
  }
  return Parser().Parse(root);
}

absl::StatusOr<World> LoadWorld(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("WorldFileNotFound", fmt::format("{}: cannot be read", path));
  std::stringstream text;
  text << in.rdbuf();
  auto world = ParseWorld(text.str());
  if (!world.ok()) return Annotate(world.status(), path);
  return world;
}

Guid DerivedGuid(std::string_view world, std::string_view kind, std::string_view key) {
  std::string input = "stackbill-world";
  for (std::string_view part : {world, kind, key}) {
    input.push_back('\0');
    input.append(part);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::array<std::uint8_t, 16> bytes{};
  std::copy_n(digest, bytes.size(), bytes.begin());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x80);  // version 8
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant
  return Guid(bytes);
}

}  // namespace stackbill
