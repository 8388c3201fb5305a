#include "ingest/event_types.h"

#include <array>
#include <cctype>
#include <utility>

namespace eddy {
namespace {

struct NameType {
  std::string_view name;
  EventType type;
};

// Canonical names (in EventType order) first, then aliases. All lower case.
constexpr std::array kNames = {
    NameType{"view", EventType::kView},
    NameType{"click", EventType::kClick},
    NameType{"wishlist", EventType::kWishlist},
    NameType{"add_to_cart", EventType::kAddToCart},
    NameType{"remove_from_cart", EventType::kRemoveFromCart},
    NameType{"purchase", EventType::kPurchase},
    NameType{"redemption", EventType::kRedemption},
    NameType{"search", EventType::kSearch},
    NameType{"cancel", EventType::kCancel},
    NameType{"inventory", EventType::kInventory},
    NameType{"segment_update", EventType::kSegmentUpdate},
    NameType{"catalog_put", EventType::kCatalogPut},
    NameType{"catalog_patch", EventType::kCatalogPatch},
    NameType{"catalog_delete", EventType::kCatalogDelete},
    NameType{"impression", EventType::kImpression},
    NameType{"page_view", EventType::kView},
    NameType{"pv", EventType::kView},
    NameType{"fav", EventType::kWishlist},
    NameType{"favorite", EventType::kWishlist},
    NameType{"add_to_wishlist", EventType::kWishlist},
    NameType{"addtocart", EventType::kAddToCart},
    NameType{"cart", EventType::kAddToCart},
    NameType{"transaction", EventType::kPurchase},
    NameType{"order", EventType::kPurchase},
    NameType{"buy", EventType::kPurchase},
    NameType{"redeem", EventType::kRedemption},
};

}  // namespace

std::optional<EventType> ParseEventType(std::string_view name) {
  char lower[32];
  if (name.size() > sizeof lower) return std::nullopt;
  for (size_t i = 0; i < name.size(); ++i) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  std::string_view l(lower, name.size());
  for (const NameType& nt : kNames) {
    if (nt.name == l) return nt.type;
  }
  return std::nullopt;
}

bool RequiresItem(EventType type) {
  switch (type) {
    case EventType::kSearch:
    case EventType::kCancel:
    case EventType::kSegmentUpdate:
    case EventType::kImpression:
      return false;
    default:
      return true;
  }
}

std::string_view EventTypeList() {
  return "view, click, wishlist, add_to_cart, remove_from_cart, purchase, redemption, search, "
         "cancel, inventory, segment_update, catalog_put, catalog_patch, catalog_delete, impression";
}

}  // namespace eddy
