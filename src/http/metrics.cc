#include "http/metrics.h"

#include <fmt/format.h>

namespace stackbill {
namespace {

// Label values escape backslash, double quote and newline (exposition format).
std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void RequestMetrics::RequestStarted() {
  std::lock_guard lock(mutex_);
  ++in_flight_;
}

void RequestMetrics::RequestEnded() {
  std::lock_guard lock(mutex_);
  --in_flight_;
}

void RequestMetrics::RecordResponse(std::string_view route, std::string_view method, int status,
                                    double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), std::string(method), status}];
  Histogram& histogram = durations_[std::string(route)];
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      ++histogram.buckets[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum += seconds;
}

std::string RequestMetrics::RenderPrometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out +=
      "# HELP stackbill_http_requests_total HTTP requests answered, by route, method and "
      "status.\n# TYPE stackbill_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out += fmt::format(
        "stackbill_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
        EscapeLabel(route), EscapeLabel(method), status, count);
  }
  out +=
      "# HELP stackbill_http_request_duration_seconds Time from reading a request to "
      "answering it.\n# TYPE stackbill_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : durations_) {
    const std::string label = EscapeLabel(route);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += histogram.buckets[i];
      out += fmt::format(
          "stackbill_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", label,
          kDurationBuckets[i], cumulative);
    }
    out += fmt::format(
        "stackbill_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", label,
        histogram.count);
    out += fmt::format("stackbill_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label,
                       histogram.sum);
    out += fmt::format("stackbill_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label,
                       histogram.count);
  }
  out +=
      "# HELP stackbill_http_requests_in_flight Requests being handled now.\n"
      "# TYPE stackbill_http_requests_in_flight gauge\n";
  out += fmt::format("stackbill_http_requests_in_flight {}\n", in_flight_);
  return out;
}

}  // namespace stackbill
