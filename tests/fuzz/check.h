#pragma once
// The fuzz targets' property check: a violated property aborts, which libFuzzer reports
// as a crash (and keeps the input), as does regress_main.cc's run under ctest.
#include <cstdlib>

namespace eddy::fuzz {

inline void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace eddy::fuzz
