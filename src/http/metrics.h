#pragma once

// RequestMetrics: the server's request metrics in Prometheus text format
// (exposition format 0.0.4), served at /metrics:
//   stackbill_http_requests_total{route,method,status}       counter
//   stackbill_http_request_duration_seconds{route}           histogram
//   stackbill_http_requests_in_flight                        gauge
// `route` is the matched route's name, "unmatched" otherwise. Thread-safe.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace stackbill {

class RequestMetrics {
 public:
  // Upper bounds of the duration histogram's buckets, in seconds (+Inf implied).
  static constexpr std::array<double, 11> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                              0.5,   1.0,  2.5,   5.0,  10.0};

  // A request is being handled (from its headers read to its response
  // written): the in-flight gauge goes up until RequestEnded.
  void RequestStarted();
  void RequestEnded();
  // A response was sent, `seconds` after the request began (every response,
  // including those the server answers itself, e.g. 413).
  void RecordResponse(std::string_view route, std::string_view method, int status, double seconds);

  // The Prometheus text exposition of every metric.
  std::string RenderPrometheus() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kDurationBuckets.size()> buckets{};  // non-cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t>
      requests_;                                // GUARDED_BY(mutex_)
  std::map<std::string, Histogram> durations_;  // GUARDED_BY(mutex_)
  std::int64_t in_flight_ = 0;                  // GUARDED_BY(mutex_)
};

}  // namespace stackbill
