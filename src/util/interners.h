#pragma once
// Interners: the string tables of one engine, one per kind of string. Every string of an
// accepted event is interned once into a dense 32-bit id of its kind. Ids no state
// references any more are recycled (util/id_epochs.h, engine/id_recycler.h).
//
// Thread-safety: as Interner (thread-safe); Save/Load as Interner's. `recycle_mu` is held
// by a sweep and by a checkpoint (states and interners saved together must agree).

#include <array>
#include <string_view>

#include "eddy/ids.h"
#include "util/id_epochs.h"
#include "util/interner.h"
#include "util/mutex.h"
#include "util/serial.h"

namespace eddy {

// The interners of one engine, one per kind of string.
struct Interners {
  // The kinds, in checkpoint order: the index of each in All(), kNames and IdMarks.
  enum Kind : size_t { kUsers, kItems, kCategories, kSessions, kOrders, kStrings, kKinds };
  static constexpr std::array<std::string_view, kKinds> kNames = {
      "users", "items", "categories", "sessions", "orders", "strings"};

  IdEpochs epochs;  // first: the interners below point at it
  Interner users{&epochs};
  Interner items{&epochs};
  Interner categories{&epochs};
  Interner sessions{&epochs};
  Interner orders{&epochs};
  Interner strings{&epochs};  // queries, devices, IPs, locations, segments
  mutable Mutex recycle_mu;

  // Every kind, indexed by Kind.
  std::array<Interner*, kKinds> All() {
    return {&users, &items, &categories, &sessions, &orders, &strings};
  }
  std::array<const Interner*, kKinds> All() const {
    return {&users, &items, &categories, &sessions, &orders, &strings};
  }

  // Checkpoint: every kind, in Kind order (Interner::Save/Load).
  void Save(SerialWriter& w) const {
    for (const Interner* i : All()) i->Save(w);
  }
  bool Load(SerialReader& r) {
    for (Interner* i : All()) {
      if (!i->Load(r)) return false;
    }
    return true;
  }
};

// Reading an id of each kind from a checkpoint (SerialReader::Id: translated when the
// checkpoint came from other interners).
inline UserId ReadUserId(SerialReader& r) { return UserId(r.Id(Interners::kUsers)); }
inline ItemId ReadItemId(SerialReader& r) { return ItemId(r.Id(Interners::kItems)); }
inline CategoryId ReadCategoryId(SerialReader& r) { return CategoryId(r.Id(Interners::kCategories)); }
inline SessionId ReadSessionId(SerialReader& r) { return SessionId(r.Id(Interners::kSessions)); }
inline OrderId ReadOrderId(SerialReader& r) { return OrderId(r.Id(Interners::kOrders)); }
inline StringId ReadStringId(SerialReader& r) { return StringId(r.Id(Interners::kStrings)); }

// The ids a state references (State::VisitIds), one set per kind (indexed by
// Interners::Kind); ids at or above each interner's bound when the marks were made are
// newer than the sweep and never freed by it.
struct IdMarks {
  explicit IdMarks(const Interners& in) {
    for (size_t k = 0; k < Interners::kKinds; ++k) kinds[k] = IdBitmap(in.All()[k]->bound());
  }

  void Mark(UserId id) { kinds[Interners::kUsers].Set(id.value()); }
  void Mark(ItemId id) { kinds[Interners::kItems].Set(id.value()); }
  void Mark(CategoryId id) { kinds[Interners::kCategories].Set(id.value()); }
  void Mark(SessionId id) { kinds[Interners::kSessions].Set(id.value()); }
  void Mark(OrderId id) { kinds[Interners::kOrders].Set(id.value()); }
  void Mark(StringId id) { kinds[Interners::kStrings].Set(id.value()); }
  void Or(const IdMarks& o) {
    for (size_t k = 0; k < Interners::kKinds; ++k) kinds[k].Or(o.kinds[k]);
  }

  std::array<IdBitmap, Interners::kKinds> kinds;
};

}  // namespace eddy
