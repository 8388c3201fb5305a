#pragma once
// Interners: the string tables of one engine, one per kind of string. Every string of an
// accepted event is interned once into a dense 32-bit id of its kind. Ids no state
// references any more are recycled (util/id_epochs.h, engine/id_recycler.h).
//
// Thread-safety: as Interner (thread-safe); Save/Load as Interner's. `recycle_mu` is held
// by a sweep and by a checkpoint (states and interners saved together must agree).

#include "eddy/ids.h"
#include "util/id_epochs.h"
#include "util/interner.h"
#include "util/mutex.h"
#include "util/serial.h"

namespace eddy {

// The interners of one engine, one per kind of string.
struct Interners {
  IdEpochs epochs;  // first: the interners below point at it
  Interner users{&epochs};
  Interner items{&epochs};
  Interner categories{&epochs};
  Interner sessions{&epochs};
  Interner orders{&epochs};
  Interner strings{&epochs};  // queries, devices, IPs, locations, segments
  mutable Mutex recycle_mu;

  // Every kind, in checkpoint order.
  template <typename F>
  void ForEach(F f) {
    for (Interner* i : {&users, &items, &categories, &sessions, &orders, &strings}) f(*i);
  }
  template <typename F>
  void ForEach(F f) const {
    for (const Interner* i : {&users, &items, &categories, &sessions, &orders, &strings}) f(*i);
  }

  // Checkpoint: every kind, in this order (Interner::Save/Load).
  void Save(SerialWriter& w) const {
    ForEach([&](const Interner& i) { i.Save(w); });
  }
  bool Load(SerialReader& r) {
    bool ok = true;
    ForEach([&](Interner& i) { ok = ok && i.Load(r); });
    return ok;
  }
};

// The ids a state references (State::VisitIds), one set per kind; ids at or above each
// interner's bound when the marks were made are newer than the sweep and never freed by it.
struct IdMarks {
  explicit IdMarks(const Interners& in)
      : users(in.users.bound()),
        items(in.items.bound()),
        categories(in.categories.bound()),
        sessions(in.sessions.bound()),
        orders(in.orders.bound()),
        strings(in.strings.bound()) {}

  void Mark(UserId id) { users.Set(id.value()); }
  void Mark(ItemId id) { items.Set(id.value()); }
  void Mark(CategoryId id) { categories.Set(id.value()); }
  void Mark(SessionId id) { sessions.Set(id.value()); }
  void Mark(OrderId id) { orders.Set(id.value()); }
  void Mark(StringId id) { strings.Set(id.value()); }
  void Or(const IdMarks& o) {
    users.Or(o.users);
    items.Or(o.items);
    categories.Or(o.categories);
    sessions.Or(o.sessions);
    orders.Or(o.orders);
    strings.Or(o.strings);
  }

  IdBitmap users, items, categories, sessions, orders, strings;
};

}  // namespace eddy
