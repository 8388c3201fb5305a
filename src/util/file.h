#pragma once
// Writing a small file whole and durably: a temp file beside it, written and fsynced,
// renamed over `path`, and the directory fsynced. A reader sees the old file or the new
// one, never a part; after a crash the same holds.

#include <initializer_list>
#include <string>
#include <string_view>

#include "eddy/status.h"

namespace eddy {

// `parts` concatenated. On an error the temp file is removed and `path` is unchanged.
Status WriteFileDurably(const std::string& path, std::initializer_list<std::string_view> parts);

}  // namespace eddy
