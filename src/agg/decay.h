#pragma once
// Exponential decay without drift (SPEC §3.4–3.5): a decayed sum Σ w · 2^(−(now − t) / H)
// is kept in rebased exponent form, S = Σ w · 2^((t − ref) / H), for a reference time
// `ref` that is a whole number of half-lives. A read multiplies by 2^((ref − now) / H)
// once; nothing is touched as time passes. When an event lands more than kMaxHalfLives
// past `ref`, the owner moves `ref` forward by whole half-lives and scales its sums by an
// exact power of two (std::ldexp), so rebasing loses no precision either.

#include <cmath>
#include <cstdint>

namespace eddy {

class DecayScale {
 public:
  static constexpr int64_t kMaxHalfLives = 64;

  explicit DecayScale(int64_t half_life_ms)
      : half_life_ms_(half_life_ms), half_life_(static_cast<double>(half_life_ms)) {}

  int64_t half_life_ms() const { return half_life_ms_; }

  // The reference for a first event at `t_ms`: t rounded down to a whole half-life.
  int64_t RefFor(int64_t t_ms) const {
    int64_t q = t_ms / half_life_ms_;
    if (t_ms % half_life_ms_ < 0) --q;
    return q * half_life_ms_;
  }
  // True when an event at `t_ms` needs `ref` moved forward first.
  bool NeedsRebase(int64_t ref_ms, int64_t t_ms) const {
    return t_ms - ref_ms > kMaxHalfLives * half_life_ms_;
  }
  // Half-lives `ref` moves by for an event at `t_ms`; sums are then scaled by
  // std::ldexp(s, -shift).
  int64_t RebaseShift(int64_t ref_ms, int64_t t_ms) const {
    return (RefFor(t_ms) - ref_ms) / half_life_ms_;
  }
  // 2^((t − ref) / H): what an event of weight 1 at t adds to a sum based at ref.
  double Growth(int64_t ref_ms, int64_t t_ms) const {
    return std::exp2(static_cast<double>(t_ms - ref_ms) / half_life_);
  }
  // 2^((ref − now) / H): turns a sum based at ref into its score at now.
  double ScoreFactor(int64_t ref_ms, int64_t now_ms) const {
    return std::exp2(static_cast<double>(ref_ms - now_ms) / half_life_);
  }

 private:
  int64_t half_life_ms_;
  double half_life_;
};

}  // namespace eddy
