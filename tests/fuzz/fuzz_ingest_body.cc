// libFuzzer target: the HTTP ingest body parser. Must never crash or throw; a batch is
// accepted whole with every reading for a configured sensor, or refused with a message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http_ingest/ingest_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const http_ingest::IngestBodyParser parser({{"canteen-1", "meal-1"}, {"canteen-1", "cam-1"}}, 1000);
  auto out = parser.Parse(std::string_view(reinterpret_cast<const char*>(data), size), 1700000000000);
  if (out.ok()) {
    if (out->empty()) __builtin_trap();
    for (const auto& r : *out) {
      if (r.facility_id != "canteen-1" || r.point.empty() || r.point == "online") __builtin_trap();
    }
  } else if (out.status().message().empty()) {
    __builtin_trap();
  }
  return 0;
}
