// Freshness probe (SPEC §5: an acknowledged event is visible to every read within 10 ms,
// p99, under load). Against a running eddy, in a loop: POST one event with a new user,
// item and category; when the reply arrives, start the clock and read until the event
// shows — alternately in the user's recent items (a single-shard read) and in its
// category's velocity (a read gathered from every shard). Prints the time from the POST's
// reply to the first read that reflects the event, and how many first reads already did.
// Run beside eddy-load for the load (bench/freshness.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "testutil/http_client.h"
#include "testutil/testutil.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: freshness PORT SECONDS\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
  const double seconds = std::stod(argv[2]);
  using Clock = std::chrono::steady_clock;
  eddy::test::HttpClient post(port), read(port);
  std::vector<double> recent_ms, velocity_ms;
  uint64_t first_try = 0, probes = 0, failures = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (uint64_t n = 0; Clock::now() < end; ++n) {
    const std::string id = "fresh-" + std::to_string(n);
    const std::string body = "{\"userId\":\"" + id + "\",\"type\":\"view\",\"itemId\":\"" + id +
                             "\",\"category\":\"" + id + "\"}";
    if (post.Post("/v1/events", body).status != 200) {
      ++failures;  // 429 under overload: not a freshness sample
      continue;
    }
    const auto t0 = Clock::now();
    const bool by_user = n % 2 == 0;
    const std::string target = by_user ? "/v1/users/" + id + "/recent?k=1"
                                       : "/v1/categories/" + id + "/velocity?minutes=1";
    const std::string want = by_user ? "\"itemId\":\"" + id + "\"" : "\"events\":1";
    int reads = 0;
    while (true) {
      ++reads;
      eddy::test::HttpResult r = read.Get(target);
      if (r.status == 200 && r.body.find(want) != std::string::npos) break;
      if (Clock::now() - t0 > std::chrono::seconds(5)) {
        std::fprintf(stderr, "probe %s not visible after 5 s: %s\n", id.c_str(), r.body.c_str());
        return 1;
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    (by_user ? recent_ms : velocity_ms).push_back(ms);
    first_try += reads == 1;
    ++probes;
  }
  std::printf("%s\n", eddy::test::LatencyLine("freshness recent (one shard)", recent_ms).c_str());
  std::printf("%s\n", eddy::test::LatencyLine("freshness velocity (all shards)", velocity_ms).c_str());
  std::printf("visible on the first read: %llu of %llu probes; %llu POSTs refused\n",
              static_cast<unsigned long long>(first_try), static_cast<unsigned long long>(probes),
              static_cast<unsigned long long>(failures));
  return 0;
}
