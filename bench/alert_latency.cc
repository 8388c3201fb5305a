// Alert latency (issue 15: an alert reaches GET /v1/alerts/stream within 100 ms of the
// event that raised it). Against a running eddy, in a loop: PUT a new item with stock 1
// and lowStockThreshold 1; POST a purchase of it (stock 1 -> 0: below the threshold); when
// the purchase's reply (the acknowledgement) arrives, start the clock and wait for that
// item's alert on an open SSE stream. Prints the time from acknowledgement to delivery,
// and from sending the purchase to delivery. Run beside eddy-load for the load
// (bench/alerts.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "testutil/http_client.h"
#include "testutil/sse_client.h"
#include "testutil/testutil.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: alert_latency PORT SECONDS\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
  const double seconds = std::stod(argv[2]);
  using Clock = std::chrono::steady_clock;
  eddy::test::HttpClient http(port);
  eddy::test::SseClient stream(port, "/v1/alerts/stream");
  if (!stream.ok()) {
    std::fprintf(stderr, "alert stream not opened: %s\n", stream.head().c_str());
    return 1;
  }
  std::vector<double> from_ack_ms, from_send_ms;
  uint64_t refused = 0;
  const std::string run = std::to_string(Clock::now().time_since_epoch().count());
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (uint64_t n = 0; Clock::now() < end; ++n) {
    const std::string item = "probe-" + run + "-" + std::to_string(n);
    if (http.Request("PUT", "/v1/items/" + item, R"({"stock":1,"lowStockThreshold":1})",
                     "application/json")
            .status != 200) {
      ++refused;  // 429 under overload: not a sample
      continue;
    }
    const auto sent = Clock::now();
    const std::string purchase =
        R"({"userId":"alert-probe","type":"purchase","itemId":")" + item + R"("})";
    if (http.Post("/v1/events", purchase).status != 200) {
      ++refused;
      continue;
    }
    const auto acked = Clock::now();
    const std::string want = "inventory-" + item + "-";  // then its time and "-1"
    while (true) {
      std::optional<eddy::test::SseEvent> ev = stream.Next(std::chrono::seconds(5));
      if (!ev) {
        std::fprintf(stderr, "no alert %s within 5 s of its acknowledgement\n", want.c_str());
        return 1;
      }
      // Others: the load's alerts, or an earlier probe's.
      if (ev->id.starts_with(want) && ev->data.find("\"active\":true") != std::string::npos) break;
    }
    const auto got = Clock::now();
    from_ack_ms.push_back(std::chrono::duration<double, std::milli>(got - acked).count());
    from_send_ms.push_back(std::chrono::duration<double, std::milli>(got - sent).count());
  }
  std::printf("%s\n", eddy::test::LatencyLine("alert latency acknowledged -> SSE", from_ack_ms).c_str());
  std::printf("%s\n", eddy::test::LatencyLine("alert latency sent -> SSE", from_send_ms).c_str());
  std::printf("%llu requests refused (429) and not sampled\n",
              static_cast<unsigned long long>(refused));
  return 0;
}
