// Attribution (src/experiments/attribution.h): an event naming a recommId goes to that
// answer; one without goes to the newest answer within the window that held its item
// (last touch); past the window nothing is attributed; a cancel takes the order's
// purchase lines back, and a purchase of an order already cancelled never converts;
// impressions show an answer once; filtered users are not counted; a checkpoint round
// trip keeps everything.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "experiments/attribution.h"
#include "util/hash.h"
#include "util/serial.h"

namespace eddy {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kMinute = 60'000;

class AttributionTest : public ::testing::Test {
 protected:
  AttributionTest() : state_(Opts(), CapShare{}, interners_) {}

  static Options Opts() {
    Options o;
    o.attribution.window_minutes = 60;
    o.attribution.answers_per_user = 4;
    return o;
  }

  UserId User(const std::string& u) { return UserId(interners_.users.Intern(u)); }
  ItemId Item(const std::string& i) { return ItemId(interners_.items.Intern(i)); }

  // Serves `items` to `user` under variant `variant` of experiment "exp" at kT0 + t.
  void Serve(const std::string& user, const std::string& recomm, const std::string& variant,
             const std::vector<std::string_view>& items, int64_t t, bool shown = false) {
    Event ev;
    ev.type = EventType::kServed;
    ev.user = User(user);
    ev.time = EventTime(kT0 + t);
    ev.recomm = RecommHash(recomm);
    ev.quantity = shown ? 1 : 0;
    ev.query = StringId(interners_.strings.Intern(EncodeServed("exp", variant, items)));
    state_.ApplyExperimentFeed(ev);
  }
  void Impression(const std::string& user, const std::string& recomm, int64_t t) {
    Event ev;
    ev.type = EventType::kImpression;
    ev.user = User(user);
    ev.time = EventTime(kT0 + t);
    ev.recomm = RecommHash(recomm);
    state_.ApplyExperimentFeed(ev);
  }
  // An interaction; `recomm` empty: none named.
  Event Make(EventType type, const std::string& user, const std::string& item, int64_t t,
             const std::string& recomm = "") {
    Event ev;
    ev.type = type;
    ev.user = User(user);
    if (!item.empty()) ev.item = Item(item);
    ev.time = EventTime(kT0 + t);
    if (!recomm.empty()) ev.recomm = RecommHash(recomm);
    return ev;
  }
  void Apply(const Event& ev, bool filtered = false) {
    ApplyInfo info;
    info.filtered = filtered;
    state_.ApplyEvent(ev, info);
  }
  void Purchase(const std::string& user, const std::string& item, const std::string& order,
                double price, int64_t t, const std::string& recomm = "") {
    Event ev = Make(EventType::kPurchase, user, item, t, recomm);
    ev.order = OrderId(interners_.orders.Intern(order));
    ev.price_micros = static_cast<int64_t>(price * 1e6);
    ev.flags |= Event::kHasPrice;
    Apply(ev);
  }
  void Cancel(const std::string& user, const std::string& order, int64_t t) {
    Event ev = Make(EventType::kCancel, user, "", t);
    ev.order = OrderId(interners_.orders.Intern(order));
    Apply(ev);
  }
  ExperimentCounts Counts(const std::string& variant) {
    ExperimentState::Partial p;
    state_.AddTo(p);
    return p.counts[ExperimentState::KeyOf("exp", variant)];
  }
  uint64_t Unmatched() {
    ExperimentState::Partial p;
    state_.AddTo(p);
    return p.unmatched;
  }

  Interners interners_;
  ExperimentState state_;
};

TEST_F(AttributionTest, AnExplicitRecommIdAttributesToThatAnswerEvenForAnItemNotInIt) {
  Serve("u", "r1", "A", {"i1", "i2"}, 0);
  Serve("u", "r2", "B", {"i1", "i3"}, kMinute);
  // i1 is in both; the id says r1 (variant A), though r2 is newer.
  Apply(Make(EventType::kClick, "u", "i1", 2 * kMinute, "r1"));
  // An item the answer did not hold: the id still says which answer brought the user.
  Apply(Make(EventType::kAddToCart, "u", "i9", 3 * kMinute, "r1"));
  const ExperimentCounts a = Counts("A"), b = Counts("B");
  EXPECT_EQ(a.served, 1u);
  EXPECT_EQ(a.shown, 1u);  // an outcome shows the answer
  EXPECT_EQ(a.clicks, 1u);
  EXPECT_EQ(a.clicked, 1u);
  EXPECT_EQ(a.carted, 1u);
  EXPECT_EQ(a.by_id, 2u);
  EXPECT_EQ(b.served, 1u);
  EXPECT_EQ(b.shown, 0u);
  EXPECT_EQ(b.clicks, 0u);
  // An id no answer of this user has: not attributed, counted as unmatched.
  Apply(Make(EventType::kClick, "u", "i1", 4 * kMinute, "r-unknown"));
  EXPECT_EQ(Unmatched(), 1u);
  // So is one of a user who was never served an answer.
  Apply(Make(EventType::kClick, "stranger", "i1", 4 * kMinute, "r1"));
  EXPECT_EQ(Unmatched(), 2u);
  EXPECT_EQ(Counts("B").clicks, 0u);
}

TEST_F(AttributionTest, LastTouchGoesToTheNewestShownAnswerThatHeldTheItemWithinTheWindow) {
  Serve("u", "r1", "A", {"i1", "i2"}, 0, /*shown=*/true);
  Serve("u", "r2", "B", {"i1", "i3"}, kMinute);
  // r2 is served but not shown yet: a click on i3 (only r2 held it) is nobody's.
  Apply(Make(EventType::kClick, "u", "i3", kMinute));
  EXPECT_EQ(Counts("B").clicks, 0u);
  Impression("u", "r2", kMinute);
  Apply(Make(EventType::kClick, "u", "i1", 2 * kMinute));  // both held it: r2, the newer
  Apply(Make(EventType::kClick, "u", "i2", 3 * kMinute));  // only r1 held it
  Apply(Make(EventType::kClick, "u", "i7", 4 * kMinute));  // none held it
  Apply(Make(EventType::kClick, "v", "i1", 4 * kMinute));  // another user: not theirs
  EXPECT_EQ(Counts("B").clicks, 1u);
  EXPECT_EQ(Counts("A").clicks, 1u);
  EXPECT_EQ(Counts("A").by_id + Counts("B").by_id, 0u);
  // Two clicks on one answer: two clicks, one clicked answer.
  Apply(Make(EventType::kView, "u", "i3", 5 * kMinute));
  EXPECT_EQ(Counts("B").clicks, 2u);
  EXPECT_EQ(Counts("B").clicked, 1u);
  // An explicit id needs no impression: the click says the answer was seen.
  Serve("u", "r3", "A", {"i9"}, 6 * kMinute);
  Apply(Make(EventType::kClick, "u", "i9", 7 * kMinute, "r3"));
  EXPECT_EQ(Counts("A").clicks, 2u);
  EXPECT_EQ(Counts("A").shown, 2u);
}

TEST_F(AttributionTest, OutsideTheWindowNothingIsAttributed) {
  Serve("u", "r1", "A", {"i1"}, 0, /*shown=*/true);
  // The window is 60 minutes: at 60 still in, at 61 out (by id or by last touch alike).
  Apply(Make(EventType::kClick, "u", "i1", 60 * kMinute));
  EXPECT_EQ(Counts("A").clicks, 1u);
  Apply(Make(EventType::kClick, "u", "i1", 61 * kMinute));
  Apply(Make(EventType::kAddToCart, "u", "i1", 61 * kMinute, "r1"));
  EXPECT_EQ(Counts("A").clicks, 1u);
  EXPECT_EQ(Counts("A").carts, 0u);
  // The log says what came after an answer; the window bounds the time between them
  // either way (a client's clock behind the engine's): 5 minutes "before" is in, 61 out.
  Serve("w", "r2", "A", {"i1"}, 100 * kMinute, /*shown=*/true);
  Apply(Make(EventType::kClick, "w", "i1", 95 * kMinute));
  EXPECT_EQ(Counts("A").clicks, 2u);
  Apply(Make(EventType::kClick, "w", "i1", 39 * kMinute));
  EXPECT_EQ(Counts("A").clicks, 2u);
}

TEST_F(AttributionTest, ACancelTakesThePurchaseBackAndAPurchaseAfterItsCancelNeverConverts) {
  Serve("u", "r1", "A", {"i1", "i2"}, 0, /*shown=*/true);
  Purchase("u", "i1", "o1", 10, kMinute);
  Purchase("u", "i2", "o1", 5, kMinute);
  ExperimentCounts a = Counts("A");
  EXPECT_EQ(a.purchases, 2u);
  EXPECT_EQ(a.bought, 1u);
  EXPECT_EQ(a.revenue_micros, 15'000'000);
  EXPECT_TRUE(a.revenue_sq == static_cast<__int128>(15'000'000) * 15'000'000);
  Cancel("u", "o1", 2 * kMinute);
  a = Counts("A");
  EXPECT_EQ(a.purchases, 0u);
  EXPECT_EQ(a.bought, 0u);
  EXPECT_EQ(a.cancelled, 2u);
  EXPECT_EQ(a.revenue_micros, 0);
  EXPECT_TRUE(a.revenue_sq == 0);
  Cancel("u", "o1", 3 * kMinute);  // twice: nothing more
  EXPECT_EQ(Counts("A").cancelled, 2u);
  // A line of the cancelled order arriving late: counted as cancelled, not a conversion.
  Purchase("u", "i1", "o1", 10, 4 * kMinute);
  a = Counts("A");
  EXPECT_EQ(a.purchases, 0u);
  EXPECT_EQ(a.bought, 0u);
  EXPECT_EQ(a.cancelled, 3u);
  // A new order after the cancel converts as usual.
  Purchase("u", "i2", "o2", 7, 5 * kMinute);
  a = Counts("A");
  EXPECT_EQ(a.purchases, 1u);
  EXPECT_EQ(a.bought, 1u);
  EXPECT_EQ(a.revenue_micros, 7'000'000);
  // A cancel that comes before any line of its order: the lines never convert.
  Cancel("u", "o3", 6 * kMinute);
  Purchase("u", "i1", "o3", 9, 7 * kMinute);
  EXPECT_EQ(Counts("A").bought, 1u);
  EXPECT_EQ(Counts("A").revenue_micros, 7'000'000);
}

TEST_F(AttributionTest, ImpressionsShowAnAnswerOnceAndServeModeShowsItAtOnce) {
  Serve("u", "r1", "A", {"i1"}, 0);
  Serve("u", "r2", "A", {"i2"}, 0, /*shown=*/true);
  EXPECT_EQ(Counts("A").shown, 1u);
  Impression("u", "r1", kMinute);
  Impression("u", "r1", kMinute);  // twice: one shown answer
  Impression("u", "r2", kMinute);  // already shown on serve
  EXPECT_EQ(Counts("A").served, 2u);
  EXPECT_EQ(Counts("A").shown, 2u);
  Impression("u", "nope", kMinute);
  EXPECT_EQ(Unmatched(), 1u);
}

TEST_F(AttributionTest, FilteredEventsAreNotAttributed) {
  Serve("bot", "r1", "A", {"i1"}, 0, /*shown=*/true);
  Apply(Make(EventType::kClick, "bot", "i1", kMinute), /*filtered=*/true);
  EXPECT_EQ(Counts("A").clicks, 0u);
}

TEST_F(AttributionTest, OnlyTheNewestAnswersPerUserAreKept) {
  for (int i = 0; i < 6; ++i) {
    Serve("u", "r" + std::to_string(i), "A", {"i" + std::to_string(i)}, i, /*shown=*/true);
  }
  // answers_per_user = 4: r0 and r1 are gone.
  Apply(Make(EventType::kClick, "u", "i0", kMinute));
  Apply(Make(EventType::kClick, "u", "i1", kMinute, "r1"));
  EXPECT_EQ(Counts("A").clicks, 0u);
  Apply(Make(EventType::kClick, "u", "i2", kMinute));
  EXPECT_EQ(Counts("A").clicks, 1u);
  EXPECT_EQ(state_.Memory().keys, 1u);
}

TEST_F(AttributionTest, ACheckpointRoundTripKeepsAnswersOrdersAndCounts) {
  Serve("u", "r1", "A", {"i1", "i2"}, 0, /*shown=*/true);
  Serve("v", "r2", "B", {"i3"}, 0, true);
  Purchase("u", "i1", "o1", 10, kMinute);
  Cancel("v", "o9", kMinute);
  std::string bytes;
  SerialWriter w(&bytes);
  state_.SaveTo(w);
  ExperimentState copy(Opts(), CapShare{}, interners_);
  SerialReader r(bytes);
  ASSERT_TRUE(copy.LoadFrom(r, 1));
  ASSERT_TRUE(r.done());
  std::string again;
  SerialWriter w2(&again);
  copy.SaveTo(w2);
  EXPECT_EQ(again, bytes);
  // The copy attributes what the original would: a cancel of o1 takes r1's line back.
  Event cancel = Make(EventType::kCancel, "u", "", 2 * kMinute);
  cancel.order = OrderId(interners_.orders.Intern("o1"));
  copy.ApplyEvent(cancel, ApplyInfo{});
  ExperimentState::Partial p;
  copy.AddTo(p);
  EXPECT_EQ(p.counts[ExperimentState::KeyOf("exp", "A")].bought, 0u);
  EXPECT_EQ(p.counts[ExperimentState::KeyOf("exp", "A")].cancelled, 1u);
  EXPECT_EQ(p.counts[ExperimentState::KeyOf("exp", "B")].shown, 1u);
  // A truncated section does not load.
  ExperimentState bad(Opts(), CapShare{}, interners_);
  SerialReader cut(std::string_view(bytes).substr(0, bytes.size() / 2));
  EXPECT_FALSE(bad.LoadFrom(cut, 1) && cut.done());
}

// Cluster mode sends a node's partial as bytes: it comes back equal, and a cut one fails.
TEST_F(AttributionTest, APartialRoundTripsAsBytes) {
  Serve("u", "r1", "A", {"i1", "i2"}, 0, /*shown=*/true);
  Serve("v", "r2", "B", {"i3"}, 0, true);
  Purchase("u", "i1", "o1", 10, kMinute);
  ExperimentState::Partial p;
  state_.AddTo(p);
  p.unmatched = 3;
  p.allocations["exp"].push_back({kT0, {"A", "B"}, {0.25, 0.75}});
  std::string bytes;
  SerialWriter w(&bytes);
  ExperimentState::SavePartial(w, p);
  ExperimentState::Partial back;
  SerialReader r(bytes);
  ASSERT_TRUE(ExperimentState::LoadPartial(r, &back));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(back.counts, p.counts);
  EXPECT_EQ(back.counts[ExperimentState::KeyOf("exp", "A")].bought, 1u);
  EXPECT_EQ(back.unmatched, 3u);
  EXPECT_EQ(back.allocations, p.allocations);
  SerialReader cut(std::string_view(bytes).substr(0, bytes.size() - 3));
  EXPECT_FALSE(ExperimentState::LoadPartial(cut, &back) && cut.done());
}

}  // namespace
}  // namespace eddy
