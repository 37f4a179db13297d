// IngestBody: the JSON batch a device or terminal POSTs to the HTTP ingest driver,
// parsed and checked into readings. The schema (also in the README):
//
//   {"facility": "canteen-1",            optional default for every reading
//    "sensor": "meal-1",                 optional default for every reading
//    "readings": [
//      {"facility": "...", "sensor": "...",   unless given above
//       "point": "meals_total",               required
//       "value": 1234,                        required: number, boolean or string
//       "ts": 1700000000000,                  optional: epoch ms (or s) or RFC 3339; default now
//       "type": "uint64"}]}                   optional: bool, int32, int64, uint32, uint64,
//                                             float, double, string; default by point
//
// Every problem names the field: "readings[3].value: \"abc\" is not a number (uint64)".
// Unknown keys are refused, so a typo is a 400 and not a silently ignored field; so are
// keys given twice in one object (no "last wins", for "facility" least of all). Before
// a document is built, a SAX pass bounds what a client can make it cost: nesting (4
// levels), strings (1024 bytes: a string value is re-sent in every DBIRTH of its
// point) and the number of values (8 per allowed reading). A batch is accepted whole
// or not at all. Pure; any thread. Fuzzed (tests/fuzz).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/reading.h"
#include "gateway/status.h"

namespace http_ingest {

class IngestBodyParser {
 public:
  // Accepts readings for sensors whose driver is "http".
  explicit IngestBodyParser(const gateway::Config& config);
  // For tests and fuzzing: an explicit set of (facility, sensor).
  IngestBodyParser(std::set<std::pair<std::string, std::string>> sensors, uint32_t max_readings);

  gateway::Result<std::vector<gateway::Reading>> Parse(std::string_view body, int64_t now_ms) const;

 private:
  std::set<std::pair<std::string, std::string>> sensors_;
  uint32_t max_readings_;
  // A reading stamped further back than this is refused (history.late_days + 1 days):
  // the core could no longer count it in its day.
  int64_t max_age_ms_ = 8 * 86'400'000LL;
  int late_days_ = 7;
};

}  // namespace http_ingest
