#include "fraud/ip_orders.h"

#include <algorithm>
#include <limits>

#include "util/hash.h"

namespace eddy {

std::pair<uint64_t, uint64_t> IpOrderKeys(const Event& ev, const Interners& in) {
  const uint64_t ip = StableHash64(in.strings.Lookup(ev.ip.value()));
  if (ev.order.valid()) return {ip, StableHash64(in.orders.Lookup(ev.order.value()))};
  if (ev.event_id.present()) return {ip, ev.event_id.lo ^ (ev.event_id.hi * 0x9E3779B97F4A7C15ull)};
  uint64_t k = ev.user.valid() ? StableHash64(in.users.Lookup(ev.user.value())) : 0;
  if (ev.item.valid()) k ^= StableHash64(in.items.Lookup(ev.item.value())) * 0x9E3779B97F4A7C15ull;
  k ^= static_cast<uint64_t>(ev.time.millis()) * 0xC2B2AE3D27D4EB4Full;
  k ^= static_cast<uint64_t>(ev.price_micros) * 0x165667B19E3779F9ull;
  return {ip, k ^ (uint64_t{ev.quantity} << 32 | 0x5bd1e995u)};
}

IpOrderWindow::IpOrderWindow(int64_t window_ms, uint64_t max_ips)
    : window_ms_(window_ms), ips_(max_ips) {}

uint16_t IpOrderWindow::Add(uint64_t ip, uint64_t order, int64_t time_ms, bool* added) {
  MutexLock lock(&mu_);
  Ip& e = ips_.Touch(ip, [this](uint64_t, const Ip& gone) { orders_ -= gone.orders.size(); });
  *added = std::none_of(e.orders.begin(), e.orders.end(),
                        [order](const Order& o) { return o.key == order; });
  if (*added) {
    if (e.orders.size() == kMaxPerIp) {
      e.orders.erase(std::min_element(e.orders.begin(), e.orders.end(),
                                      [](const Order& a, const Order& b) {
                                        return a.time_ms < b.time_ms;
                                      }));
      --orders_;
    }
    e.orders.push_back({time_ms, order});
    ++orders_;
    e.newest_ms = std::max(e.newest_ms, time_ms);
    const int64_t keep_from = e.newest_ms - window_ms_;
    const size_t before = e.orders.size();
    std::erase_if(e.orders, [keep_from](const Order& o) { return o.time_ms <= keep_from; });
    orders_ -= before - e.orders.size();
  }
  size_t n = 0;
  for (const Order& o : e.orders) {
    n += o.time_ms > time_ms - window_ms_ && o.time_ms < time_ms + window_ms_;
  }
  // An order added before, now out of the window of this time (a retry long after): at
  // least itself.
  n = std::max<size_t>(n, 1);
  return static_cast<uint16_t>(std::min<size_t>(n, std::numeric_limits<uint16_t>::max()));
}

void IpOrderWindow::Remove(uint64_t ip, uint64_t order) {
  MutexLock lock(&mu_);
  Ip* found = ips_.Find(ip);
  if (found == nullptr) return;
  Ip& e = *found;
  const size_t before = e.orders.size();
  std::erase_if(e.orders, [order](const Order& o) { return o.key == order; });
  orders_ -= before - e.orders.size();
}

void IpOrderWindow::Save(SerialWriter& w) const {
  MutexLock lock(&mu_);
  w.U64(ips_.size());
  ips_.ForEach([&w](uint64_t ip, const Ip& e) {  // least recent first: Load appends
    w.Fixed64(ip);
    w.I64(e.newest_ms);
    w.U64(e.orders.size());
    for (const Order& o : e.orders) {
      w.I64(o.time_ms);
      w.Fixed64(o.key);
    }
  });
}

bool IpOrderWindow::Load(SerialReader& r) {
  MutexLock lock(&mu_);
  ips_.Clear();
  orders_ = 0;
  const uint64_t n = r.Count(10);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const uint64_t ip = r.Fixed64();
    Ip* e = ips_.Append(ip);
    if (e == nullptr) break;  // a duplicate, or past max_ips
    e->newest_ms = r.I64();
    const uint64_t m = r.Count(9);
    if (m > kMaxPerIp) break;
    for (uint64_t j = 0; j < m && r.ok(); ++j) {
      const int64_t t = r.I64();
      e->orders.push_back({t, r.Fixed64()});
    }
    orders_ += e->orders.size();
  }
  if (!r.ok() || ips_.size() != n) {
    ips_.Clear();
    orders_ = 0;
    return false;
  }
  return true;
}

size_t IpOrderWindow::ips() const {
  MutexLock lock(&mu_);
  return ips_.size();
}

uint64_t IpOrderWindow::bytes() const {
  MutexLock lock(&mu_);
  return ips_.bytes() + orders_ * sizeof(Order);
}

}  // namespace eddy
