// SparkplugCodec: gateway values <-> Sparkplug B 3.0 Protobuf payloads.
//
// The only place that knows the Protobuf classes; the uplink hands it plain metrics
// and gets bytes back. Two encodings (docs/wire-format.md, "Value encoding"): kSpec puts
// Int32/UInt32 in int_value (Int32 as two's complement) and Int64/UInt64 in long_value,
// as the specification's "Metric value" table says; kTahu puts UInt32 in long_value and
// gives DataSet columns only the types Eclipse Tahu's decoders read correctly (UInt64
// columns as Int64, Int32/Int64 columns as Double), for Node-RED, Ignition and Tahu
// Java. Decode reads both.
// Stateless functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/reading.h"
#include "gateway/status.h"

namespace gateway::codec {

enum class Encoding { kSpec, kTahu };

struct Metric {
  std::string name;  // empty: not sent (a data message that carries the alias alone)
  Value value;
  uint64_t timestamp_ms = 0;
  bool is_historical = false;
  std::optional<uint64_t> alias = std::nullopt;  // Sparkplug metric alias; none: not sent
};

struct Payload {
  uint64_t timestamp_ms = 0;
  std::optional<uint64_t> seq;  // absent only in NDEATH, as the specification requires
  std::vector<Metric> metrics;
};

// Serialises a payload. Never fails for well-formed Values.
std::string Encode(const Payload& payload, Encoding encoding = Encoding::kSpec);

// Parses a payload from the network. Bounded by max_bytes; metrics of types the
// gateway does not use (Template, arrays...) are skipped, not errors, and so is a
// DataSet with a column type other than the scalar ones of gateway::Scalar. A UInt32
// is read from whichever of int_value and long_value carries it (either encoding).
Result<Payload> Decode(std::string_view bytes, size_t max_bytes = 1 << 20);

// For a receiver of aliases: the datatype a birth declared for a metric that arrives
// without one (Sparkplug 3.0 lets data messages omit it); 0 when unknown. Called with
// the metric's alias (or nullopt) and name (empty when sent by alias alone).
using DatatypeLookup = uint32_t (*)(const void* ctx, std::optional<uint64_t> alias, std::string_view name);
Result<Payload> Decode(std::string_view bytes, size_t max_bytes, DatatypeLookup lookup, const void* ctx);

}  // namespace gateway::codec
