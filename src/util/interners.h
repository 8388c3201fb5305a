#pragma once
// Interners: the string tables of one engine, one per kind of string. Every string of an
// accepted event is interned once into a dense 32-bit id of its kind.
//
// Thread-safety: as Interner (thread-safe); Save/Load as Interner's.

#include "util/interner.h"
#include "util/serial.h"

namespace eddy {

// The interners of one engine, one per kind of string.
struct Interners {
  Interner users;
  Interner items;
  Interner categories;
  Interner sessions;
  Interner orders;
  Interner strings;  // queries, devices, IPs, locations, segments

  // Checkpoint: every kind, in this order (Interner::Save/Load).
  void Save(SerialWriter& w) const {
    for (const Interner* i : {&users, &items, &categories, &sessions, &orders, &strings}) i->Save(w);
  }
  bool Load(SerialReader& r) {
    for (Interner* i : {&users, &items, &categories, &sessions, &orders, &strings}) {
      if (!i->Load(r)) return false;
    }
    return true;
  }
};

}  // namespace eddy
