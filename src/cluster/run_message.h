#pragma once
// A message of the JetStream log (issue 20; docs/scale-out.md): the events of one ingest
// request that share a partition — a "run", as the local log reserves them — each in the
// store's codec (store/event_codec.h). One message per run instead of one per event: on
// this box JetStream carries 1.5 M events/s at R1 with 25 events a message against 0.1 M
// with one (bench/cluster_bench).
//
// Format version 1: u8 'R', u8 version (1), varint count (≥ 1), then count × (varint
// length, bytes).
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "eddy/event.h"
#include "eddy/status.h"

namespace eddy {

inline constexpr uint8_t kRunMessageVersion = 1;

// The message of a run of encoded events (at least one).
std::string EncodeRun(const std::vector<std::string_view>& events);

// The events of a message, as views into it; Corruption (naming what is wrong) for a
// message that is not a whole run of this version.
Status DecodeRun(std::string_view message, std::vector<std::string_view>* events);

// The run's JetStream message id, from its events' idempotency keys in order when every
// event has one — a retried request gives the same runs, so JetStream stores each once —
// else empty: no de-duplication by JetStream (the owner's memory of eventIds still drops
// the retried events that have one, as on a single node).
std::string RunMessageId(const std::vector<EventIdHash>& ids);

}  // namespace eddy
