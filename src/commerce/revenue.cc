#include "commerce/revenue.h"

#include <algorithm>

#include "util/time.h"

namespace eddy {
namespace {

int64_t WindowStart(int64_t time_ms, int64_t size_minutes) {
  return FloorDiv(MinuteOf(time_ms), size_minutes) * size_minutes;
}

}  // namespace

RevenueState::RevenueState(const Options& o, const CapShare& share)
    : options_(o.revenue),
      max_orders_(share.Of(o.revenue.max_orders)),
      windows_(std::min(o.revenue.window_minutes.size(), kMaxSizes)) {}

void RevenueState::ApplyEvent(const Event& ev, const ApplyInfo& info) {
  if (ev.type == EventType::kPurchase) {
    AdvanceTo(info.minute);
    Purchase(ev);
  } else if (ev.type == EventType::kCancel && ev.order.valid() && ev.user.valid()) {
    AdvanceTo(info.minute);
    Cancel(ev);
  }
}

int64_t RevenueState::KeepFrom() const {
  return cur_ == INT64_MIN ? INT64_MIN : cur_ - options_.retention_minutes - kReadSlackMinutes;
}

void RevenueState::AdvanceTo(int64_t minute) {
  if (minute <= cur_) return;
  cur_ = minute;
  for (size_t s = 0; s < windows_.size(); ++s) {
    // A window is kept while its end is within the retention.
    auto& w = windows_[s];
    w.erase(w.begin(), w.lower_bound(KeepFrom() - options_.window_minutes[s] + 1));
  }
}

void RevenueState::Count(const Order& order, size_t index, int sign, bool cancel) {
  const Line& line = order.lines[index];
  for (size_t s = 0; s < windows_.size(); ++s) {
    const int64_t size = options_.window_minutes[s];
    const int64_t start = WindowStart(line.time, size);
    if (start + size <= KeepFrom()) continue;  // left the retention: not kept
    const bool late = line.late >> s & 1;
    if (late && cancel) continue;  // late lines were never in the figures a cancel takes back
    Cells& cells = windows_[s][start];
    const CategoryId scopes[2] = {CategoryId(), line.category};
    for (size_t k = 0; k < (line.category.valid() ? 2u : 1u); ++k) {
      const CategoryId scope = scopes[k];
      RevenueCell& c = cells[scope];
      if (late) {
        c.late += sign;
        c.late_revenue_micros += sign * std::max<int64_t>(line.amount, 0);
        continue;
      }
      c.units += sign * static_cast<int64_t>(line.units);
      if (line.amount >= 0) {
        c.revenue_micros += sign * line.amount;
      } else {
        c.unpriced += sign;
      }
      // The order counts once per cell: at its first line there (priced: first priced).
      bool seen = false, seen_priced = false;
      for (size_t j = 0; j < index; ++j) {
        const Line& o = order.lines[j];
        if ((o.late >> s & 1) || WindowStart(o.time, size) != start) continue;
        if (scope.valid() && o.category != scope) continue;
        seen = true;
        seen_priced |= o.amount >= 0;
      }
      if (!seen) {
        c.orders += sign;
        if (cancel) c.cancelled += 1;
      }
      if (line.amount >= 0 && !seen_priced) c.priced_orders += sign;
    }
  }
}

RevenueState::Order* RevenueState::Remember(OrderKey key) {
  auto [it, inserted] = orders_.try_emplace(key);
  if (!inserted) return &it->second;
  order_fifo_.push_back(key);
  if (order_fifo_.size() > max_orders_) {
    auto old = orders_.find(order_fifo_.front());
    lines_ -= old->second.lines.size();
    orders_.erase(old);
    order_fifo_.pop_front();
    ++forgotten_;
    it = orders_.find(key);  // erase may have moved it
  }
  return &it->second;
}

void RevenueState::Purchase(const Event& ev) {
  Line line;
  line.time = ev.time.millis();
  line.category = ev.category;
  line.units = ev.quantity;
  if (ev.has_price()) line.amount = ev.price_micros * static_cast<int64_t>(ev.quantity);
  const int64_t accepted = line.time + ev.accept_lag_ms;
  for (size_t s = 0; s < windows_.size(); ++s) {
    const int64_t close_ms = (WindowStart(line.time, options_.window_minutes[s]) +
                              options_.window_minutes[s]) * 60'000;
    if (accepted > close_ms + options_.lateness_ms) line.late |= uint8_t(1u << s);
  }
  Order* order = ev.order.valid() && ev.user.valid() ? Remember({ev.user, ev.order}) : nullptr;
  // A line counts alone (an order of its own) without an orderId, and past kMaxLines of a
  // giant order — in cells of its own, so a line costs O(kMaxLines) at most, which a
  // cancel that came first still cancels and a later one no longer reaches.
  Order single;
  const bool alone = order == nullptr || order->lines.size() >= kMaxLines;
  Order& into = alone ? single : *order;
  into.lines.push_back(line);
  if (!alone) ++lines_;
  const size_t index = into.lines.size() - 1;
  Count(into, index, +1, false);
  if (order != nullptr && order->cancelled) Count(into, index, -1, true);
}

void RevenueState::Cancel(const Event& ev) {
  Order* order = Remember({ev.user, ev.order});
  if (order->cancelled) return;
  order->cancelled = true;
  for (size_t i = 0; i < order->lines.size(); ++i) Count(*order, i, -1, true);
}

void RevenueState::AddWindows(size_t size, CategoryId category, int64_t from_minute,
                              int64_t to_minute, Partial* out) const {
  if (size >= windows_.size()) return;
  const auto& w = windows_[size];
  for (auto it = w.lower_bound(from_minute); it != w.end() && it->first < to_minute; ++it) {
    auto c = it->second.find(category);
    if (c != it->second.end() && !c->second.empty()) (*out)[it->first].Add(c->second);
  }
}

namespace {

void SaveCell(SerialWriter& w, const RevenueCell& c) {
  for (int64_t v : {c.orders, c.priced_orders, c.units, c.revenue_micros, c.unpriced,
                    c.cancelled, c.late, c.late_revenue_micros}) {
    w.I64(v);
  }
}

void LoadCell(SerialReader& r, RevenueCell* c) {
  for (int64_t* v : {&c->orders, &c->priced_orders, &c->units, &c->revenue_micros,
                     &c->unpriced, &c->cancelled, &c->late, &c->late_revenue_micros}) {
    *v = r.I64();
  }
}

}  // namespace

void RevenueState::SaveTo(SerialWriter& w) {
  w.I64(cur_);
  w.U64(forgotten_);
  w.U64(windows_.size());
  for (const auto& size : windows_) {
    w.U64(size.size());
    for (const auto& [start, cells] : size) {
      w.I64(start);
      w.U64(cells.size());
      for (const auto& [cat, cell] : cells) {
        w.U64(cat.value());
        SaveCell(w, cell);
      }
    }
  }
  w.U64(order_fifo_.size());
  for (const OrderKey& key : order_fifo_) {
    const Order& o = orders_.at(key);
    w.U64(key.first.value());
    w.U64(key.second.value());
    w.U8(o.cancelled ? 1 : 0);
    w.U64(o.lines.size());
    for (const Line& l : o.lines) {
      w.I64(l.time);
      w.U64(l.category.value());
      w.U64(l.units);
      w.I64(l.amount);
      w.U8(l.late);
    }
  }
}

bool RevenueState::LoadFrom(SerialReader& r, uint32_t) {
  orders_.clear();
  order_fifo_.clear();
  lines_ = 0;
  for (auto& size : windows_) size.clear();
  cur_ = r.I64();
  forgotten_ = r.U64();
  if (r.U64() != windows_.size()) return false;
  for (auto& size : windows_) {
    const uint64_t n = r.Count(2);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      Cells& cells = size[r.I64()];
      const uint64_t m = r.Count(9);
      for (uint64_t j = 0; j < m && r.ok(); ++j) LoadCell(r, &cells[ReadCategoryId(r)]);
    }
  }
  const uint64_t orders = r.Count(4);
  if (orders > max_orders_) return false;
  for (uint64_t i = 0; i < orders && r.ok(); ++i) {
    const UserId user = ReadUserId(r);
    const OrderId id = ReadOrderId(r);
    auto [it, inserted] = orders_.try_emplace({user, id});
    if (!inserted) return false;
    order_fifo_.push_back({user, id});
    Order& o = it->second;
    o.cancelled = r.U8() != 0;
    const uint64_t lines = r.Count(5);
    if (lines > kMaxLines) return false;
    o.lines.resize(lines);
    for (Line& l : o.lines) {
      l.time = r.I64();
      l.category = ReadCategoryId(r);
      l.units = r.U32();
      l.amount = r.I64();
      l.late = r.U8();
    }
    lines_ += lines;
  }
  return r.ok();
}

void RevenueState::VisitIds(IdMarks& marks) {
  for (const auto& size : windows_) {
    for (const auto& [start, cells] : size) {
      for (const auto& [cat, cell] : cells) {
        if (cat.valid()) marks.Mark(cat);
      }
    }
  }
  for (const auto& [key, order] : orders_) {
    marks.Mark(key.first);
    marks.Mark(key.second);
    for (const Line& l : order.lines) {
      if (l.category.valid()) marks.Mark(l.category);
    }
  }
}

StateMemory RevenueState::Memory() const {
  uint64_t bytes = orders_.capacity() * (sizeof(OrderKey) + sizeof(Order) + 1) +
                   order_fifo_.size() * sizeof(OrderKey) + lines_ * sizeof(Line);
  uint64_t cells = 0;
  for (const auto& size : windows_) {
    for (const auto& [start, c] : size) {
      bytes += 64 + c.capacity() * (sizeof(CategoryId) + sizeof(RevenueCell) + 1);
      cells += c.size();
    }
  }
  return {orders_.size() + cells, bytes, forgotten_};
}

void RevenueState::DescribeSettings(std::string* out) const {
  Setting(out, "enabled", options_.enabled);
  for (int64_t m : options_.window_minutes) Setting(out, "window", m);
  Setting(out, "lateness_ms", options_.lateness_ms);
  Setting(out, "retention", options_.retention_minutes);
  Setting(out, "max_orders", options_.max_orders);
}

}  // namespace eddy
