#pragma once
// Reading event files for replay: NDJSON (one JSON object per line) or CSV mapped to JSON
// objects by column names. Shared by `eddy eval` and eddy-load's --replay.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eddy {

// Maps one CSV row to a JSON object: each named column becomes a key (eddy accepts the
// common column names as aliases, SPEC §1.3); "-" or an empty name skips a column.
// Columns timestamp, price, quantity, stock and totalAmount become numbers when numeric.
// nullopt if the row has fewer fields than columns.
std::optional<std::string> CsvRowToJson(const std::vector<std::string>& columns,
                                        const std::string& row);
std::vector<std::string> SplitColumns(const std::string& spec);

// An event of a replayed file: its JSON and its event time in ms (0 if none).
struct ReplayEvent {
  std::string json;
  int64_t time_ms = 0;
};

// Reads a whole file: NDJSON (one object per line) or, when `csv_columns` is non-empty,
// CSV. Lines that cannot be mapped are counted in *skipped.
std::vector<ReplayEvent> LoadReplay(const std::string& path,
                                    const std::vector<std::string>& csv_columns,
                                    uint64_t* skipped);

}  // namespace eddy
