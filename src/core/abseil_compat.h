#pragma once

// Debian 12's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW 0, so
// absl::string_view is its own type and does not convert from
// std::string_view. stackbill's strings are std::string_view; code that hands
// one to an Abseil function (StrCat, EqualsIgnoreCase, heterogeneous hash-map
// look-up) converts it here, in one place.

#include <string_view>

#include "absl/strings/string_view.h"

namespace stackbill {

inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace stackbill
