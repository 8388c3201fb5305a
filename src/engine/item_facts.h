#pragma once
// MergedFacts: an item's category and unit price merged over the shards' Engagement::Facts
// — the newest by event time; at the same millisecond the lower category name and the
// lower price, so the answer does not depend on which shard saw what.
//
// Thread-safety: a value type; Add reads the interner (thread-safe).

#include <cstdint>
#include <optional>
#include <string_view>

#include "agg/engagement.h"
#include "util/interner.h"

namespace eddy {

struct MergedFacts {
  CategoryId category;
  std::string_view category_name;  // "" when no shard saw one
  int64_t category_ms = INT64_MIN;
  std::optional<int64_t> price_micros;
  int64_t price_ms = INT64_MIN;

  void Add(const Engagement::Facts& f, const Interner& categories) {
    if (f.category.valid()) {
      const std::string_view name = categories.Lookup(f.category.value());
      if (f.category_ms > category_ms || (f.category_ms == category_ms && name < category_name)) {
        category = f.category;
        category_name = name;
        category_ms = f.category_ms;
      }
    }
    if (f.price_ms != INT64_MIN &&
        (f.price_ms > price_ms || (f.price_ms == price_ms && f.price_micros < *price_micros))) {
      price_micros = f.price_micros;
      price_ms = f.price_ms;
    }
  }
};

}  // namespace eddy
