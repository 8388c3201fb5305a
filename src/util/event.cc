#include "eddy/event.h"

namespace eddy {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kView: return "view";
    case EventType::kClick: return "click";
    case EventType::kWishlist: return "wishlist";
    case EventType::kAddToCart: return "add_to_cart";
    case EventType::kRemoveFromCart: return "remove_from_cart";
    case EventType::kPurchase: return "purchase";
    case EventType::kRedemption: return "redemption";
    case EventType::kSearch: return "search";
    case EventType::kCancel: return "cancel";
    case EventType::kInventory: return "inventory";
    case EventType::kSegmentUpdate: return "segment_update";
    case EventType::kCatalogPut: return "catalog_put";
    case EventType::kCatalogPatch: return "catalog_patch";
    case EventType::kCatalogDelete: return "catalog_delete";
    case EventType::kImpression: return "impression";
    case EventType::kServed: return "served";
    case EventType::kAllocation: return "allocation";
  }
  return "unknown";
}

EventWeights DefaultEventWeights() {
  EventWeights w{};
  w[static_cast<size_t>(EventType::kView)] = 1;
  w[static_cast<size_t>(EventType::kClick)] = 3;
  w[static_cast<size_t>(EventType::kWishlist)] = 4;
  w[static_cast<size_t>(EventType::kAddToCart)] = 5;
  w[static_cast<size_t>(EventType::kPurchase)] = 10;
  w[static_cast<size_t>(EventType::kRedemption)] = 8;
  return w;  // remove_from_cart, search, cancel, inventory, segment_update: 0
}

}  // namespace eddy
