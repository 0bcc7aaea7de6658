#include "http/metrics.h"

#include <gtest/gtest.h>

namespace stackbill {
namespace {

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(MetricsTest, RequestsAreCountedByRouteMethodAndStatus) {
  RequestMetrics metrics;
  metrics.RecordResponse("registrations.put", "PUT", 201, 0.02);
  metrics.RecordResponse("registrations.put", "PUT", 201, 0.2);
  metrics.RecordResponse("unmatched", "GET", 404, 0.001);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "# TYPE stackbill_http_requests_total counter\n"));
  EXPECT_TRUE(Contains(text,
                       "stackbill_http_requests_total{route=\"registrations.put\",method=\"PUT\","
                       "status=\"201\"} 2\n"));
  EXPECT_TRUE(Contains(
      text,
      "stackbill_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
}

TEST(MetricsTest, TheDurationHistogramIsCumulative) {
  RequestMetrics metrics;
  metrics.RecordResponse("r", "GET", 200, 0.02);
  metrics.RecordResponse("r", "GET", 200, 0.2);
  metrics.RecordResponse("r", "GET", 200, 60);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_TRUE(Contains(
      text, "stackbill_http_request_duration_seconds_bucket{route=\"r\",le=\"0.01\"} 0\n"));
  EXPECT_TRUE(Contains(
      text, "stackbill_http_request_duration_seconds_bucket{route=\"r\",le=\"0.025\"} 1\n"));
  EXPECT_TRUE(Contains(
      text, "stackbill_http_request_duration_seconds_bucket{route=\"r\",le=\"0.25\"} 2\n"));
  EXPECT_TRUE(
      Contains(text, "stackbill_http_request_duration_seconds_bucket{route=\"r\",le=\"10\"} 2\n"));
  EXPECT_TRUE(Contains(
      text, "stackbill_http_request_duration_seconds_bucket{route=\"r\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(text, "stackbill_http_request_duration_seconds_count{route=\"r\"} 3\n"));
}

TEST(MetricsTest, TheInFlightGaugeFollowsStartsAndEnds) {
  RequestMetrics metrics;
  metrics.RequestStarted();
  metrics.RequestStarted();
  metrics.RequestEnded();
  EXPECT_TRUE(Contains(metrics.RenderPrometheus(), "stackbill_http_requests_in_flight 1\n"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  RequestMetrics metrics;
  metrics.RecordResponse("a\"b\\c\nd", "GET", 200, 0);
  EXPECT_TRUE(Contains(metrics.RenderPrometheus(), "route=\"a\\\"b\\\\c\\nd\""));
}

}  // namespace
}  // namespace stackbill
