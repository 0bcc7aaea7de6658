#include "http/serve_config.h"

#include <charconv>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill {
namespace {

absl::Status Invalid(std::string_view source, std::string_view what) {
  return InvalidArgumentError("InvalidConfiguration",
                              std::string(source) + ": " + std::string(what));
}

template <typename Int>
absl::Status ParseInt(std::string_view value, Int minimum, Int maximum, Int& out,
                      std::string_view source, std::string_view key) {
  Int parsed{};
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (error != std::errc() || end != value.data() + value.size() || parsed < minimum ||
      parsed > maximum) {
    return Invalid(source, std::string(key) + " = '" + std::string(value) +
                               "' is not a whole number from " + std::to_string(minimum) + " to " +
                               std::to_string(maximum));
  }
  out = parsed;
  return absl::OkStatus();
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

const std::vector<std::string_view>& ServeConfigKeys() {
  static const std::vector<std::string_view> kKeys = {"db",
                                                      "bind",
                                                      "port",
                                                      "port-file",
                                                      "tls-cert",
                                                      "tls-key",
                                                      "insecure-http",
                                                      "public-url",
                                                      "max-body-bytes",
                                                      "threads",
                                                      "keep-alive-max-requests",
                                                      "keep-alive-timeout",
                                                      "read-timeout",
                                                      "write-timeout",
                                                      "page-size",
                                                      "max-body-bytes-in-flight",
                                                      "max-usage-body-bytes",
                                                      "max-usage-records",
                                                      "usage-future-skew",
                                                      "usage-max-age-days",
                                                      "quarantine-quota",
                                                      "reroute-interval",
                                                      "auto-close",
                                                      "auto-close-grace",
                                                      "durability",
                                                      "portal-dir"};
  return kKeys;
}

absl::Status SetServeConfigValue(ServeConfig& config, std::string_view key, std::string_view value,
                                 std::string_view source) {
  ServerOptions& server = config.server;
  constexpr int kMaxSeconds = 24 * 3600;
  if (key == "db") {
    config.db = std::string(value);
  } else if (key == "bind") {
    server.bind_address = std::string(value);
  } else if (key == "port") {
    return ParseInt(value, 0, 65535, server.port, source, key);
  } else if (key == "port-file") {
    config.port_file = std::string(value);
  } else if (key == "tls-cert") {
    server.tls_cert_file = std::string(value);
    server.insecure_http = false;
  } else if (key == "tls-key") {
    server.tls_key_file = std::string(value);
    server.insecure_http = false;
  } else if (key == "insecure-http") {
    if (absl::EqualsIgnoreCase(AbslView(value), "true") || value == "1") {
      server.insecure_http = true;
      server.tls_cert_file.clear();
      server.tls_key_file.clear();
    } else if (absl::EqualsIgnoreCase(AbslView(value), "false") || value == "0") {
      server.insecure_http = false;
    } else {
      return Invalid(source, "insecure-http = '" + std::string(value) + "' is not true or false");
    }
  } else if (key == "public-url") {
    config.public_url = std::string(value);
  } else if (key == "max-body-bytes") {
    return ParseInt<std::size_t>(value, 1, std::size_t{1} << 34, server.max_body_bytes, source,
                                 key);
  } else if (key == "max-body-bytes-in-flight") {
    return ParseInt<std::size_t>(value, 1, std::size_t{1} << 40, server.max_body_bytes_in_flight,
                                 source, key);
  } else if (key == "max-usage-body-bytes") {
    return ParseInt<std::size_t>(value, 1, std::size_t{1} << 34, config.max_usage_body_bytes,
                                 source, key);
  } else if (key == "max-usage-records") {
    return ParseInt(value, 1, 10'000'000, config.max_usage_records, source, key);
  } else if (key == "usage-future-skew") {
    return ParseInt<std::int64_t>(value, 0, std::int64_t{7} * kMaxSeconds,
                                  config.usage_future_skew_seconds, source, key);
  } else if (key == "usage-max-age-days") {
    return ParseInt(value, 1, 3650, config.usage_max_age_days, source, key);
  } else if (key == "quarantine-quota") {
    return ParseInt<std::int64_t>(value, 1, std::int64_t{1} << 40, config.quarantine_quota, source,
                                  key);
  } else if (key == "reroute-interval") {
    return ParseInt(value, 1, kMaxSeconds, config.reroute_interval_seconds, source, key);
  } else if (key == "auto-close") {
    if (value == "on") {
      config.auto_close = true;
    } else if (value == "off") {
      config.auto_close = false;
    } else {
      return Invalid(source, "auto-close = '" + std::string(value) + "' is not on or off");
    }
  } else if (key == "durability") {
    if (value == "normal") {
      config.durability_full = false;
    } else if (value == "full") {
      config.durability_full = true;
    } else {
      return Invalid(source, "durability = '" + std::string(value) + "' is not normal or full");
    }
  } else if (key == "portal-dir") {
    config.portal_dir = std::string(value);
  } else if (key == "auto-close-grace") {
    return ParseInt(value, 0, 24 * 366, config.auto_close_grace_hours, source, key);
  } else if (key == "page-size") {
    return ParseInt(value, 1, 1000, config.page_size, source, key);
  } else if (key == "threads") {
    return ParseInt(value, 1, 1024, server.threads, source, key);
  } else if (key == "keep-alive-max-requests") {
    return ParseInt(value, 1, 1'000'000, server.keep_alive_max_requests, source, key);
  } else if (key == "keep-alive-timeout") {
    return ParseInt(value, 1, kMaxSeconds, server.keep_alive_timeout_seconds, source, key);
  } else if (key == "read-timeout") {
    return ParseInt(value, 1, kMaxSeconds, server.read_timeout_seconds, source, key);
  } else if (key == "write-timeout") {
    return ParseInt(value, 1, kMaxSeconds, server.write_timeout_seconds, source, key);
  } else {
    return Invalid(source, "unknown key '" + std::string(key) + "'");
  }
  return absl::OkStatus();
}

absl::Status ApplyServeConfigFile(ServeConfig& config, std::string_view text,
                                  std::string_view source) {
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t newline = text.find('\n');
    const std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = std::string(source) + ":" + std::to_string(line_number);
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return Invalid(where, "expected 'key = value', got '" + std::string(line) + "'");
    }
    if (absl::Status set = SetServeConfigValue(config, Trim(line.substr(0, equals)),
                                               Trim(line.substr(equals + 1)), where);
        !set.ok()) {
      return set;
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyServeConfigEnvironment(ServeConfig& config,
                                         const std::function<const char*(const char*)>& getenv) {
  for (const std::string_view key : ServeConfigKeys()) {
    std::string name = "STACKBILL_";
    for (const char c : key) {
      name += c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
    }
    const char* value = getenv(name.c_str());
    if (value == nullptr) continue;
    if (absl::Status set = SetServeConfigValue(config, key, value, "environment " + name);
        !set.ok()) {
      return set;
    }
  }
  return absl::OkStatus();
}

std::string DefaultPublicUrl(const ServerOptions& options, int port) {
  std::string host = options.bind_address;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "localhost";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (options.insecure_http ? "http://" : "https://") + host + ":" + std::to_string(port);
}

absl::Status ValidatePublicUrl(std::string_view url) {
  const bool scheme_ok = absl::StartsWithIgnoreCase(AbslView(url), "https://") ||
                         absl::StartsWithIgnoreCase(AbslView(url), "http://");
  const std::size_t host_start = url.find("://") + 3;
  if (!scheme_ok || url.size() <= host_start || url[host_start] == '/' ||
      url.find_first_of("?# ") != std::string_view::npos) {
    return Invalid("public-url", "'" + std::string(url) +
                                     "' is not an absolute http(s) URL without query or "
                                     "fragment (e.g. https://billing.example.com)");
  }
  return absl::OkStatus();
}

}  // namespace stackbill
