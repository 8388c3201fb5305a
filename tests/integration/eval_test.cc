// `eddy eval` end to end on a log whose answers can be worked out by hand.
#include <gtest/gtest.h>

#include <string>

#include "testutil/daemon.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

// 100 users each view "hot", then an item nobody else ever sees, a minute apart; users in
// time order. Split 0.8 of the 200 events: the last 20 users' 40 events are predicted with
// k = 1. Before a user's first event every method says "hot" (a hit): eddy and POP from
// popularity, Recent, Item-KNN, V-SKNN and SR — which know nothing of a user without history —
// by the back-fill with POP every method's short list gets; before the second, the item
// is new to everyone (a miss).
constexpr const char* kMethods[] = {"eddy      ", "eddy-embed", "POP       ", "Recent    ",
                                    "Item-KNN  ", "V-SKNN    ", "SR        "};

TEST(EvalCommandTest, HitRateAndMrrOfEddyAndTheBaselines) {
  test::TempDir dir;
  std::string csv;
  for (int u = 0; u < 100; ++u) {
    const int64_t t = 1'700'000'000 + u * 600;
    csv += "u" + std::to_string(u) + ",hot," + std::to_string(t) + "\n";
    csv += "u" + std::to_string(u) + ",only-" + std::to_string(u) + "," + std::to_string(t + 60) + "\n";
  }
  const std::string file = (dir.path() / "log.csv").string();
  test::WriteFile(file, csv);
  auto [code, out] = test::RunCommand({EDDY_BINARY, "eval", "--data", file, "--csv-columns",
                                       "userId,itemId,timestamp", "--k", "1", "--split", "0.8"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("200 events (0 rows skipped, 0 rejected by eddy), time-ordered; split 0.80: 160 replayed, 40 "
                     "after; 40 next-item predictions evaluated"),
            std::string::npos)
      << out;
  // HR, MRR and NDCG (a hit at rank 1 gains 1/log2(2) = 1).
  for (const char* method : kMethods) {
    EXPECT_NE(out.find(std::string(method) + "     0.5000     0.5000     0.5000"), std::string::npos)
        << method << "\n" << out;
  }
  EXPECT_NE(out.find("exclude none"), std::string::npos) << out;

  // Excluding what each user saw, alike for every method: "hot" is gone from the second
  // lists (still misses), the first ones are unchanged.
  auto [xcode, xout] = test::RunCommand({EDDY_BINARY, "eval", "--data", file, "--csv-columns",
                                         "userId,itemId,timestamp", "--k", "1", "--split", "0.8",
                                         "--exclude", "seen"});
  ASSERT_EQ(xcode, 0) << xout;
  EXPECT_NE(xout.find("exclude seen"), std::string::npos) << xout;
  for (const char* method : kMethods) {
    EXPECT_NE(xout.find(std::string(method) + "     0.5000     0.5000     0.5000"), std::string::npos)
        << method << "\n" << xout;
  }

  // The weight search: on the last tenth of the replayed part (events 144..160: 8 users'
  // first events, hits whatever the weights, and second ones, misses), then the same
  // evaluation with the weights it chose.
  auto [tcode, tout] = test::RunCommand({EDDY_BINARY, "eval", "--data", file, "--csv-columns",
                                         "userId,itemId,timestamp", "--k", "1", "--split", "0.8",
                                         "--tune"});
  ASSERT_EQ(tcode, 0) << tout;
  EXPECT_NE(tout.find("tune round 1: 44 weight variants x 16 validation predictions (events 144..160)"),
            std::string::npos) << tout;
  EXPECT_NE(tout.find("best HR@1 0.5000 (start 0.5000)"), std::string::npos) << tout;
  EXPECT_NE(tout.find("tuned weights: --set ranking.weight_coview="), std::string::npos) << tout;
  EXPECT_NE(tout.find("eddy           0.5000     0.5000     0.5000"), std::string::npos) << tout;

  auto [bad, msg] = test::RunCommand({EDDY_BINARY, "eval", "--data", file, "--split", "1.5"});
  EXPECT_EQ(bad, 2);
  EXPECT_NE(msg.find("--split must be in (0, 1)"), std::string::npos) << msg;
  auto [missing, why] = test::RunCommand({EDDY_BINARY, "eval", "--data", file + ".nope"});
  EXPECT_EQ(missing, 2);
  EXPECT_NE(why.find("cannot read"), std::string::npos) << why;
}

}  // namespace
}  // namespace eddy
