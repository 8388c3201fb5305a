#include "ingest/decoder.h"

#include <gtest/gtest.h>

#include "ingest/event_types.h"
#include "testutil/testutil.h"
#include "util/hash.h"
#include "util/time.h"

namespace eddy {
namespace {

using test::EventBuilder;
using test::JsonArray;
using test::Ndjson;

constexpr int64_t kNow = 1'790'000'000'000;  // 2026-09-21T14:13:20Z

class DecoderTest : public ::testing::Test {
 protected:
  struct Out {
    DecodeResult result;
    std::vector<Event> events;
    std::vector<Rejection> rejected;
  };

  Out Decode(std::string body, BodyFormat format = BodyFormat::kAuto,
             DefaultType dt = DefaultType::kNone) {
    Out out;
    body.reserve(body.size() + Decoder::kPadding);
    out.result = decoder_.Decode(body, body.capacity(), format, dt, &out.events, &out.rejected);
    return out;
  }

  // Decodes one object that must be rejected; returns its error.
  std::string ErrorOf(const std::string& object) {
    Out out = Decode(object);
    EXPECT_TRUE(out.result.status.ok()) << out.result.status.ToString();
    EXPECT_TRUE(out.events.empty());
    if (out.rejected.size() != 1) return "<" + std::to_string(out.rejected.size()) + " errors>";
    EXPECT_EQ(out.rejected[0].index, 0u);
    return out.rejected[0].error;
  }

  Event One(const std::string& object, DefaultType dt = DefaultType::kNone) {
    Out out = Decode(object, BodyFormat::kAuto, dt);
    EXPECT_TRUE(out.result.status.ok()) << out.result.status.ToString();
    EXPECT_TRUE(out.rejected.empty()) << (out.rejected.empty() ? "" : out.rejected[0].error);
    return out.events.empty() ? Event{} : out.events[0];
  }

  std::string_view Item(const Event& e) { return interners_.items.Lookup(e.item.value()); }
  std::string_view User(const Event& e) { return interners_.users.Lookup(e.user.value()); }
  std::string_view Category(const Event& e) {
    return interners_.categories.Lookup(e.category.value());
  }

  Interners interners_;
  IngestOptions options_;
  ManualClock clock_{EventTime(kNow)};
  Decoder decoder_{interners_, options_, &clock_};
};

TEST_F(DecoderTest, SingleObject) {
  Event e = One(EventBuilder().User("u1").Type("view").Item("i1").Category("shoes").Json());
  EXPECT_EQ(e.type, EventType::kView);
  EXPECT_EQ(User(e), "u1");
  EXPECT_EQ(Item(e), "i1");
  EXPECT_EQ(Category(e), "shoes");
  EXPECT_EQ(e.time.millis(), kNow);  // default: receive time
  EXPECT_EQ(e.quantity, 1u);
  EXPECT_FALSE(e.has_price());
  EXPECT_FALSE(e.event_id.present());
}

TEST_F(DecoderTest, PrettyPrintedObjectIsOneEvent) {
  Out out = Decode("{\n  \"userId\": \"u1\",\n  \"type\": \"click\",\n  \"itemId\": \"i1\"\n}\n");
  ASSERT_TRUE(out.result.status.ok());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].type, EventType::kClick);
}

TEST_F(DecoderTest, ArrayKeepsOrder) {
  std::vector<std::string> objs;
  for (int i = 0; i < 10; ++i) {
    objs.push_back(EventBuilder().User("u").Type("view").Item("i" + std::to_string(i)).Json());
  }
  Out out = Decode(JsonArray(objs));
  ASSERT_TRUE(out.result.status.ok());
  ASSERT_EQ(out.events.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Item(out.events[i]), "i" + std::to_string(i));
}

TEST_F(DecoderTest, EmptyArrayIsNoEvents) {
  Out out = Decode("[]");
  EXPECT_TRUE(out.result.status.ok());
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.rejected.empty());
}

TEST_F(DecoderTest, NdjsonWithBlankLinesAndCrlf) {
  std::string body = EventBuilder().User("u").Type("view").Item("a").Json() + "\r\n\r\n" +
                     EventBuilder().User("u").Type("view").Item("b").Json() + "\n";
  Out out = Decode(body, BodyFormat::kNdjson);
  ASSERT_TRUE(out.result.status.ok());
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(Item(out.events[1]), "b");
}

TEST_F(DecoderTest, NdjsonSentAsApplicationJson) {
  std::string body = Ndjson({EventBuilder().User("u").Type("view").Item("a").Json(),
                             EventBuilder().User("u").Type("view").Item("b").Json()});
  Out out = Decode(body, BodyFormat::kAuto);
  ASSERT_TRUE(out.result.status.ok());
  EXPECT_EQ(out.events.size(), 2u);
}

TEST_F(DecoderTest, TypeAliasesCaseInsensitive) {
  const std::pair<const char*, EventType> cases[] = {
      {"VIEW", EventType::kView},          {"page_view", EventType::kView},
      {"pv", EventType::kView},            {"Click", EventType::kClick},
      {"fav", EventType::kWishlist},       {"favorite", EventType::kWishlist},
      {"add_to_wishlist", EventType::kWishlist}, {"wishlist", EventType::kWishlist},
      {"addtocart", EventType::kAddToCart}, {"cart", EventType::kAddToCart},
      {"add_to_cart", EventType::kAddToCart}, {"remove_from_cart", EventType::kRemoveFromCart},
      {"transaction", EventType::kPurchase}, {"order", EventType::kPurchase},
      {"BUY", EventType::kPurchase},       {"purchase", EventType::kPurchase},
      {"redeem", EventType::kRedemption},  {"redemption", EventType::kRedemption},
  };
  for (auto [name, type] : cases) {
    Event e = One(EventBuilder().User("u").Type(name).Item("i").Json());
    EXPECT_EQ(e.type, type) << name;
  }
  EXPECT_EQ(One(EventBuilder().User("u").Type("search").Str("query", "red shoes").Json()).type,
            EventType::kSearch);
  EXPECT_EQ(One(EventBuilder().User("u").Type("cancel").Str("orderId", "o1").Json()).type,
            EventType::kCancel);
  EXPECT_EQ(One(EventBuilder().Type("inventory").Item("i").Raw("stock", "5").Json()).type,
            EventType::kInventory);
}

TEST_F(DecoderTest, FieldAliases) {
  for (const char* user : {"userId", "user_id", "customerId", "visitorid"}) {
    for (const char* item : {"itemId", "item_id", "productId", "product_id", "offer_id",
                             "offerId", "itemid"}) {
      Event e = One(EventBuilder().Str(user, "U").Type("view").Str(item, "I").Json());
      EXPECT_EQ(User(e), "U") << user;
      EXPECT_EQ(Item(e), "I") << item;
    }
  }
  for (const char* type : {"type", "event_type", "eventType", "event", "behavior"}) {
    EXPECT_EQ(One(EventBuilder().User("u").Str(type, "click").Item("i").Json()).type,
              EventType::kClick)
        << type;
  }
  for (const char* cat : {"category", "productCategory", "categoryid", "category_id"}) {
    EXPECT_EQ(Category(One(EventBuilder().User("u").Type("view").Item("i").Str(cat, "C").Json())),
              "C")
        << cat;
  }
  Event s = One(EventBuilder().User("u").Type("view").Item("i").Str("session_id", "s9").Json());
  EXPECT_EQ(interners_.sessions.Lookup(s.session.value()), "s9");
}

TEST_F(DecoderTest, NumericIdsAreDecimalStrings) {
  Event e = One("{\"user_id\":543462,\"item_id\":1715,\"category_id\":1464116,"
                "\"behavior\":\"pv\",\"timestamp\":1511658000}");
  EXPECT_EQ(User(e), "543462");
  EXPECT_EQ(Item(e), "1715");
  EXPECT_EQ(Category(e), "1464116");
  EXPECT_EQ(e.time.millis(), 1'511'658'000'000);
}

TEST_F(DecoderTest, TotalAmountGivesUnitPrice) {
  Event e = One(EventBuilder().User("u").Type("purchase").Item("i").Raw("quantity", "2")
                    .Raw("totalAmount", "49.98").Json());
  ASSERT_TRUE(e.has_price());
  EXPECT_EQ(e.price_micros, 24'990'000);
  EXPECT_EQ(e.quantity, 2u);
  Event both = One(EventBuilder().User("u").Type("purchase").Item("i").Price(10)
                       .Raw("totalAmount", "99").Json());
  EXPECT_EQ(both.price_micros, 10'000'000);  // an explicit price wins
}

TEST_F(DecoderTest, Timestamps) {
  auto time_of = [&](const std::string& raw) {
    return One(EventBuilder().User("u").Type("view").Item("i").Raw("timestamp", raw).Json())
        .time.millis();
  };
  EXPECT_EQ(time_of("1511658000"), 1'511'658'000'000);         // epoch seconds
  EXPECT_EQ(time_of("1511658000123"), 1'511'658'000'123);      // epoch milliseconds
  EXPECT_EQ(time_of("1511658000.5"), 1'511'658'000'500);       // fractional seconds
  EXPECT_EQ(time_of("\"2017-11-26T01:00:00Z\""), 1'511'658'000'000);
  EXPECT_EQ(time_of("\"2017-11-26T02:00:00+01:00\""), 1'511'658'000'000);
  EXPECT_EQ(time_of("\"2017-11-26T01:00:00.250Z\""), 1'511'658'000'250);
  EXPECT_EQ(time_of("\"1511658000\""), 1'511'658'000'000);     // digits in a string
}

TEST_F(DecoderTest, SeedPurchaseBodyAsPrinted) {
  // seeds/002: POST /v1/streaming/events/purchase, no `type` field.
  const char* body = R"({
  "customerId": "customer-123",
  "productId": "product-456",
  "productCategory": "beverages",
  "productName": "Premium Coffee Beans",
  "quantity": 2,
  "price": 24.99,
  "totalAmount": 49.98,
  "timestamp": "2025-01-19T10:30:00Z",
  "location": "Store A",
  "paymentMethod": "credit_card",
  "deviceType": "web"
})";
  Event e = One(body, DefaultType::kPurchase);
  EXPECT_EQ(e.type, EventType::kPurchase);
  EXPECT_EQ(User(e), "customer-123");
  EXPECT_EQ(Item(e), "product-456");
  EXPECT_EQ(Category(e), "beverages");
  EXPECT_EQ(e.quantity, 2u);
  EXPECT_EQ(e.price_micros, 24'990'000);
  EXPECT_EQ(e.time, *ParseIso8601("2025-01-19T10:30:00Z"));
  EXPECT_EQ(interners_.strings.Lookup(e.location.value()), "Store A");
  EXPECT_EQ(interners_.strings.Lookup(e.device.value()), "web");
}

TEST_F(DecoderTest, SeedSegmentUpdateAndBatch) {
  const std::string segment = R"({
  "customerId": "customer-123",
  "previousSegment": "New Customer",
  "newSegment": "Potential Loyalist",
  "segmentationScore": 0.85,
  "reasonCodes": ["high_value_customer", "frequent_purchaser"],
  "timestamp": "2025-01-19T10:30:00Z",
  "confidence": 0.85,
  "modelVersion": "v1.0"
})";
  Event s = One(segment, DefaultType::kSegmentUpdate);
  EXPECT_EQ(s.type, EventType::kSegmentUpdate);
  EXPECT_EQ(interners_.strings.Lookup(s.query.value()), "Potential Loyalist");

  const std::string purchase =
      R"({"customerId":"c1","productId":"p1","productCategory":"x","quantity":1,"price":5})";
  Out out = Decode("[" + purchase + "," + segment + "]", BodyFormat::kAuto,
                   DefaultType::kSeedBatch);
  ASSERT_TRUE(out.result.status.ok());
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(out.events[0].type, EventType::kPurchase);
  EXPECT_EQ(out.events[1].type, EventType::kSegmentUpdate);
}

TEST_F(DecoderTest, LocationObject) {
  Event e = One(EventBuilder().User("u").Type("purchase").Item("i")
                    .Raw("location", R"({"country":"DE","region":"BE","city":"Berlin"})").Json());
  EXPECT_EQ(interners_.strings.Lookup(e.location.value()), "DE/BE/Berlin");
  EXPECT_EQ(interners_.strings.Lookup(e.country.value()), "DE");
}

TEST_F(DecoderTest, UnknownFieldsAndNullsIgnored) {
  Event e = One(R"({"userId":"u","type":"view","itemId":"i","extra":{"a":[1,2,{"b":null}]},)"
                R"("sessionId":null,"price":null})");
  EXPECT_FALSE(e.session.valid());
  EXPECT_FALSE(e.has_price());
}

TEST_F(DecoderTest, EventIdHashedStably) {
  Event a = One(EventBuilder().User("u").Type("view").Item("i").Id("e-1").Json());
  Event b = One(EventBuilder().User("v").Type("click").Item("j").Id("e-1").Json());
  Event c = One(EventBuilder().User("u").Type("view").Item("i").Id("e-2").Json());
  EXPECT_TRUE(a.event_id.present());
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_FALSE(a.event_id == c.event_id);
}

// `eddy dump` prints an eventId as its hash; posting that back names the same event.
TEST_F(DecoderTest, EventIdHashAsDumpPrintsIt) {
  Event a = One(EventBuilder().User("u").Type("view").Item("i").Id("e-1").Json());
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(a.event_id.hi),
                static_cast<unsigned long long>(a.event_id.lo));
  Event b = One(EventBuilder().User("u").Type("view").Item("i").Str("eventIdHash", hex).Json());
  EXPECT_EQ(a.event_id, b.event_id);
  // eventId wins when both are given.
  Event c = One(EventBuilder().User("u").Type("view").Item("i").Id("e-2").Str("eventIdHash", hex).Json());
  EXPECT_FALSE(c.event_id == a.event_id);
  for (const char* bad : {"12", "zz000000000000000000000000000000", "00000000000000000000000000000000"}) {
    EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Item("i").Str("eventIdHash", bad).Json()),
              "eventIdHash: must be 32 hex digits (as eddy dump prints it), not 0")
        << bad;
  }
}

// A recommId (or its aliases) is kept as its hash; `eddy dump` prints the hash, which posts
// back as the same; an impression must name one.
TEST_F(DecoderTest, RecommIdAliasesAndTheHashAsDumpPrintsIt) {
  const uint64_t want = RecommHash("r0123");
  for (const char* key : {"recommId", "recomm_id", "recommendationId"}) {
    Event e = One(EventBuilder().User("u").Type("click").Item("i").Str(key, "r0123").Json());
    EXPECT_EQ(e.recomm, want) << key;
  }
  EXPECT_EQ(One(EventBuilder().User("u").Type("view").Item("i").Json()).recomm, 0u);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(want));
  EXPECT_EQ(One(EventBuilder().User("u").Type("view").Item("i").Str("recommIdHash", hex).Json()).recomm, want);
  for (const char* bad : {"12", "zz00000000000000", "0000000000000000"}) {
    EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Item("i").Str("recommIdHash", bad).Json()),
              "recommIdHash: must be 16 hex digits (as eddy dump prints it), not 0")
        << bad;
  }
  Event imp = One(EventBuilder().User("u").Type("impression").Str("recommId", "r0123").Json());
  EXPECT_EQ(imp.type, EventType::kImpression);
  EXPECT_EQ(imp.recomm, want);
  EXPECT_FALSE(imp.item.valid());  // an impression is of an answer, not an item
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("impression").Json()),
            "recommId: required for impression events (the answer shown)");
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("click").Item("i").Raw("recommId", "[1]").Json()),
            "recommId: must be a string");
  // eddy's own records are not a type a client can post.
  EXPECT_NE(ErrorOf(EventBuilder().User("u").Type("served").Item("i").Json()).find("unknown event type 'served'"),
            std::string::npos);
}

// `eddy dump` prints a purchase's acceptance lag; posting it back keeps it (only purchases
// carry one).
TEST_F(DecoderTest, AcceptLagAsDumpPrintsIt) {
  Event p = One(EventBuilder().User("u").Type("purchase").Item("i").Raw("acceptLagMs", "1234").Json());
  EXPECT_TRUE(p.flags & Event::kHasAcceptLag);
  EXPECT_EQ(p.accept_lag_ms, 1234u);
  Event v = One(EventBuilder().User("u").Type("view").Item("i").Raw("acceptLagMs", "1234").Json());
  EXPECT_FALSE(v.flags & Event::kHasAcceptLag);
  EXPECT_NE(ErrorOf(EventBuilder().User("u").Type("purchase").Item("i").Raw("acceptLagMs", "-1").Json())
                .find("acceptLagMs"),
            std::string::npos);
}

// Inventory events and catalog changes belong to their item's partition (where its stock
// is kept), whatever user they name; the user is not kept. Other events go by user.
TEST_F(DecoderTest, InventoryEventsArePartitionedByItem) {
  const uint32_t by_item = static_cast<uint32_t>(StableHash64("sku"));
  Event inv = One(EventBuilder().User("warehouse").Type("inventory").Item("sku").Raw("stock", "4").Json());
  EXPECT_EQ(inv.user_hash, by_item);
  EXPECT_FALSE(inv.user.valid());
  EXPECT_EQ(inv.stock, 4);
  EXPECT_EQ(One(EventBuilder().Type("inventory").Item("sku").Raw("stock", "0").Json()).user_hash, by_item);
  Event view = One(EventBuilder().User("warehouse").Type("view").Item("sku").Json());
  EXPECT_EQ(view.user_hash, static_cast<uint32_t>(StableHash64("warehouse")));
}

// --- SPEC §1.4: one test per bad-input case, exact error text -----------------------------

TEST_F(DecoderTest, RejectsMissingUser) {
  EXPECT_EQ(ErrorOf(EventBuilder().Type("view").Item("i").Json()), "userId: required");
}

TEST_F(DecoderTest, RejectsMissingType) {
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Item("i").Json()), "type: required");
}

TEST_F(DecoderTest, RejectsUnknownType) {
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("teleport").Item("i").Json()),
            "type: unknown event type 'teleport' (expected one of " +
                std::string(EventTypeList()) + ")");
}

TEST_F(DecoderTest, RejectsMissingItemForItemEvents) {
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Json()),
            "itemId: required for view events");
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("buy").Json()),
            "itemId: required for purchase events");
}

TEST_F(DecoderTest, RejectsTypeSpecificMissingFields) {
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("cancel").Json()),
            "orderId: required for cancel events");
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("search").Json()),
            "query: required for search events");
  EXPECT_EQ(ErrorOf(EventBuilder().Type("inventory").Item("i").Json()),
            "stock: required for inventory events");
}

TEST_F(DecoderTest, RejectsWrongTypes) {
  EXPECT_EQ(ErrorOf(R"({"userId":true,"type":"view","itemId":"i"})"), "userId: must be a string");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":7,"itemId":"i"})"), "type: must be a string");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":["i"]})"), "itemId: must be a string");
  EXPECT_EQ(ErrorOf(R"({"customerId":1.5,"type":"view","itemId":"i"})"),
            "customerId: must be a string or an integer");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":"i","price":"9.99"})"),
            "price: must be a number");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":"i","quantity":"2"})"),
            "quantity: must be an integer >= 1");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":"i","quantity":1.5})"),
            "quantity: must be an integer >= 1");
  EXPECT_EQ(ErrorOf(R"({"type":"inventory","itemId":"i","stock":-1})"),
            "stock: must be an integer >= 0");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":"i","location":5})"),
            "location: must be a string or an object");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":"i","timestamp":true})"),
            "timestamp: must be an ISO-8601 string or epoch seconds/milliseconds");
}

TEST_F(DecoderTest, RejectsEmptyAndOverlongStrings) {
  EXPECT_EQ(ErrorOf(R"({"userId":"","type":"view","itemId":"i"})"), "userId: must not be empty");
  std::string long_id(129, 'x');
  EXPECT_EQ(ErrorOf(EventBuilder().User(long_id).Type("view").Item("i").Json()),
            "userId: longer than 128 bytes");
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Item("i").Id(long_id).Json()),
            "eventId: longer than 128 bytes");
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("search").Str("query", std::string(1025, 'q'))
                        .Json()),
            "query: longer than 1024 bytes");
  // Exactly at the limit is fine.
  One(EventBuilder().User(std::string(128, 'x')).Type("view").Item("i").Json());
}

// Every accepted id is valid UTF-8: simdjson validates the body's bytes, and an escape
// naming a lone surrogate is refused naming the field.
TEST_F(DecoderTest, RejectsIdsThatAreNotUtf8) {
  EXPECT_EQ(ErrorOf(R"({"userId":"u\ud800","type":"view","itemId":"i"})"),
            "userId: must be a valid string");
  EXPECT_EQ(ErrorOf(R"({"userId":"u","type":"view","itemId":"\udfff"})"),
            "itemId: must be a valid string");
  // Raw invalid bytes make the line malformed JSON, named as such.
  Out out = Decode("{\"userId\":\"\xFF\",\"type\":\"view\",\"itemId\":\"i\"}\n",
                   BodyFormat::kNdjson);
  ASSERT_EQ(out.rejected.size(), 1u);
  EXPECT_EQ(out.rejected[0].error.rfind("json: ", 0), 0u) << out.rejected[0].error;
  One(R"({"userId":"caf\u00e9 \ud83d\ude00","type":"view","itemId":"i"})");  // a valid pair
}

TEST_F(DecoderTest, RejectsNegativePrice) {
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("purchase").Item("i").Price(-0.01).Json()),
            "price: must be >= 0");
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("purchase").Item("i")
                        .Raw("totalAmount", "-3").Json()),
            "totalAmount: must be >= 0");
}

TEST_F(DecoderTest, RejectsQuantityBelowOne) {
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("purchase").Item("i").Raw("quantity", "0")
                        .Json()),
            "quantity: must be an integer >= 1");
}

TEST_F(DecoderTest, RejectsFutureTimestamp) {
  int64_t ok = kNow + 300'000;
  One(EventBuilder().User("u").Type("view").Item("i").Time(ok).Json());
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Item("i").Time(ok + 1).Json()),
            "timestamp: more than 300 s in the future");
}

TEST_F(DecoderTest, RejectsMalformedTimestamps) {
  const std::string what = "timestamp: must be an ISO-8601 string or epoch seconds/milliseconds";
  for (const char* bad : {"\"yesterday\"", "\"2017-13-01T00:00:00Z\"", "\"2017-02-30\"",
                          "\"2017-11-26T25:00:00Z\"", "\"2017-11-26T01:00:00+2\""}) {
    EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Item("i").Raw("timestamp", bad)
                          .Json()),
              what)
        << bad;
  }
  EXPECT_EQ(ErrorOf(EventBuilder().User("u").Type("view").Item("i").Raw("timestamp", "-5")
                        .Json()),
            "timestamp: must not be before 1970-01-01");
}

TEST_F(DecoderTest, RejectsNonObjectEvents) {
  Out out = Decode(R"([1, "x", {"userId":"u","type":"view","itemId":"i"}, null])");
  ASSERT_TRUE(out.result.status.ok());
  EXPECT_EQ(out.events.size(), 1u);
  ASSERT_EQ(out.rejected.size(), 3u);
  EXPECT_EQ(out.rejected[0].index, 0u);
  EXPECT_EQ(out.rejected[0].error, "event: must be a JSON object");
  EXPECT_EQ(out.rejected[1].index, 1u);
  EXPECT_EQ(out.rejected[2].index, 3u);
}

TEST_F(DecoderTest, MixedBatchAcceptsExactlyTheGoodEvents) {
  std::vector<std::string> objs = {
      EventBuilder().User("u1").Type("view").Item("a").Json(),
      EventBuilder().User("u1").Type("view").Json(),  // no item
      EventBuilder().User("u2").Type("click").Item("b").Json(),
      EventBuilder().User("u3").Type("purchase").Item("c").Price(-1).Json(),
      EventBuilder().User("u4").Type("wishlist").Item("d").Json(),
  };
  for (BodyFormat f : {BodyFormat::kAuto, BodyFormat::kNdjson}) {
    Out out = Decode(f == BodyFormat::kAuto ? JsonArray(objs) : Ndjson(objs), f);
    ASSERT_TRUE(out.result.status.ok());
    ASSERT_EQ(out.events.size(), 3u);
    EXPECT_EQ(Item(out.events[0]), "a");
    EXPECT_EQ(Item(out.events[1]), "b");
    EXPECT_EQ(Item(out.events[2]), "d");
    ASSERT_EQ(out.rejected.size(), 2u);
    EXPECT_EQ(out.rejected[0].index, 1u);
    EXPECT_EQ(out.rejected[0].error, "itemId: required for view events");
    EXPECT_EQ(out.rejected[1].index, 3u);
    EXPECT_EQ(out.rejected[1].error, "price: must be >= 0");
  }
}

TEST_F(DecoderTest, NdjsonMalformedLineRejectedOthersKept) {
  std::string good = EventBuilder().User("u").Type("view").Item("i").Json();
  std::string body = good + "\n{\"userId\": \"u\", \"type\": \n" + good + "\n";
  Out out = Decode(body, BodyFormat::kNdjson);
  ASSERT_TRUE(out.result.status.ok());
  EXPECT_EQ(out.events.size(), 2u);
  ASSERT_EQ(out.rejected.size(), 1u);
  EXPECT_EQ(out.rejected[0].index, 1u);
  EXPECT_EQ(out.rejected[0].error.rfind("json: ", 0), 0u) << out.rejected[0].error;
  EXPECT_NE(out.rejected[0].error.find(" at byte "), std::string::npos);
}

TEST_F(DecoderTest, MalformedBodyIsWholeRequestError) {
  Out out = Decode(R"([{"userId":"u","type":"view","itemId":"i"}, {"userId": })");
  EXPECT_EQ(out.result.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.result.status.message().rfind("malformed JSON: ", 0), 0u);
  EXPECT_GT(out.result.error_offset, 0) << out.result.status.ToString();
  EXPECT_TRUE(out.events.empty());  // nothing of a broken array is taken
  EXPECT_TRUE(out.rejected.empty());

  Out single = Decode(R"({"userId": "u", "type": })");
  EXPECT_EQ(single.result.status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(single.events.empty());
}

TEST_F(DecoderTest, EmptyAndNonObjectBodies) {
  Out empty = Decode("  \n ");
  EXPECT_EQ(empty.result.status.message(),
            "empty body: expected a JSON object, an array of objects, or NDJSON");
  Out scalar = Decode("42");
  EXPECT_EQ(scalar.result.status.message(),
            "body: expected a JSON object, an array of objects, or NDJSON");
  EXPECT_EQ(scalar.result.error_offset, 0);
}

TEST_F(DecoderTest, InvalidUtf8IsMalformed) {
  Out out = Decode("{\"userId\":\"u\xff\",\"type\":\"view\",\"itemId\":\"i\"}");
  EXPECT_EQ(out.result.status.code(), StatusCode::kInvalidArgument);
}

TEST_F(DecoderTest, RejectedEventsDoNotGrowInterners) {
  const uint32_t before = interners_.users.size();
  ErrorOf(EventBuilder().User("never-interned").Type("view").Json());
  EXPECT_EQ(interners_.users.size(), before);
  EXPECT_EQ(interners_.users.Find("never-interned"), 0u);
}

}  // namespace
}  // namespace eddy
