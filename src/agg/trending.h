#pragma once
// Trending categories and velocity (SPEC §3.1-3.2): weighted sums and counts per category
// per minute, with running totals per window. See WindowedSums.

#include "agg/windowed_sums.h"
#include "eddy/ids.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

using CategoryWindows = WindowedSums<CategoryId>;


// The trending/velocity state (SPEC §3.1-3.2): per category, weighted sums and counts per
// minute. A partial of a global answer: shards' sums add.
class TrendingState final : public State, public CategoryWindows {
 public:
  explicit TrendingState(const Options& o) : CategoryWindows(o.windows.minutes), windows_(o.windows.minutes) {}
  std::string_view Name() const override { return "trending"; }
  uint32_t FormatVersion() const override { return 1; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override {
    if (ev.category.valid() && !info.filtered) Apply(ev.category, info.minute, info.weight_micros);
  }
  void Tick(int64_t minute) override { AdvanceTo(minute); }
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t) override { return Load(r); }
  void VisitIds(IdMarks& marks) override {
    ForEachKey([&](CategoryId c) { marks.Mark(c); });
  }
  StateMemory Memory() const override { return {tracked_keys(), bytes(), 0}; }
  void DescribeSettings(std::string* out) const override {
    for (int64_t m : windows_) Setting(out, "window", m);
  }

  using Partial = Sums;
  static void Merge(Partial& into, const Partial& part) {
    for (const auto& [c, cell] : part) {
      Cell& x = into[c];
      x.weight += cell.weight;
      x.count += cell.count;
    }
  }

 private:
  const std::vector<int64_t> windows_;
};

}  // namespace eddy
