#include <chrono>

#include "eddy/clock.h"

namespace eddy {
namespace {

class SystemClock final : public Clock {
 public:
  EventTime Now() const override {
    return EventTime(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  }
};

}  // namespace

Clock* Clock::System() {
  static SystemClock clock;
  return &clock;
}

}  // namespace eddy
