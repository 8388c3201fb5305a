#pragma once
// Event type names and aliases (SPEC §1.2).

#include <optional>
#include <string_view>

#include "eddy/event.h"

namespace eddy {

// Case-insensitive; accepts the canonical names and the aliases of SPEC §1.2.
std::optional<EventType> ParseEventType(std::string_view name);

// Whether an event of this type must name an item.
bool RequiresItem(EventType type);

// "view, click, ..." — the accepted canonical names, for error messages and docs.
std::string_view EventTypeList();

}  // namespace eddy
