#pragma once
// Strong ID types. A string (user, item, category, ...) is interned once into a dense 32-bit
// ID of its own kind; partitions and offsets have their own types. Never mix them up with a
// bare integer: each is a distinct type. Value 0 of an interned ID means "absent".

#include <compare>
#include <cstdint>
#include <functional>

namespace eddy {

template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr bool valid() const { return v_ != 0; }
  constexpr auto operator<=>(const StrongId&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.v_);
  }

 private:
  Rep v_ = 0;
};

using UserId = StrongId<struct UserIdTag, uint32_t>;
using ItemId = StrongId<struct ItemIdTag, uint32_t>;
using CategoryId = StrongId<struct CategoryIdTag, uint32_t>;
using SessionId = StrongId<struct SessionIdTag, uint32_t>;
using OrderId = StrongId<struct OrderIdTag, uint32_t>;
// Free-form strings that are not keys of an aggregate (query, device, ip, location, segment).
using StringId = StrongId<struct StringIdTag, uint32_t>;
// Partition index in [0, partitions).
using PartitionId = StrongId<struct PartitionIdTag, uint32_t>;
// Position of an entry in one partition of the log; starts at 0, strictly increasing.
using Offset = StrongId<struct OffsetTag, uint64_t>;

}  // namespace eddy

template <typename Tag, typename Rep>
struct std::hash<eddy::StrongId<Tag, Rep>> {
  size_t operator()(eddy::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};
