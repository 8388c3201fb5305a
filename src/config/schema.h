#pragma once
// The config schema (internal to src/config).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/options.h"

namespace eddy {

struct KeySpec {
  enum Kind { kInt, kDouble, kString, kEnum, kDurationList, kDuration, kBool, kStringList };
  std::string_view section;
  std::string_view key;
  Kind kind = kInt;
  int64_t min = 0;  // kInt, kDouble
  int64_t max = 0;
  std::vector<std::string_view> allowed;  // kEnum
  // kEnum values that are known but refused, with the reason.
  std::vector<std::pair<std::string_view, std::string_view>> refused;
  std::function<void(Options&, int64_t)> set_int;
  std::function<void(Options&, double)> set_double;
  std::function<void(Options&, const std::string&)> set_string;
  std::function<void(Options&, bool)> set_bool;  // kBool
  std::function<void(Options&, std::vector<int64_t>)> set_minutes;  // kDurationList
  // kStringList: "" when the list is taken, else what is wrong with it.
  std::function<std::string(Options&, const std::vector<std::string>&)> set_strings;
  std::string_view describe;  // kStringList: what each string is
};

const std::vector<KeySpec>& ConfigSchema();

}  // namespace eddy
