// Reading: one typed value of one point, as a driver or the facility model produced it.
//
// Readings are plain values, copied freely between threads. A reading names its
// facility and, for raw sensor points, its sensor; derived facility metrics
// (occupancy/current, visits/entries, ...) have an empty sensor_id. The metric name on
// the wire follows from those two: "sensors/{sensor}/{point}" or "{point}".
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace gateway {

// Each alternative maps to exactly one Sparkplug B DataType (see codec/sparkplug_codec.h).
using Value = std::variant<bool, int32_t, int64_t, uint32_t, uint64_t, float, double, std::string>;

// Sparkplug B 3.0 DataType numbers for the alternatives above, in variant order.
enum class DataType : uint32_t {
  kBoolean = 11,
  kInt32 = 3,
  kInt64 = 4,
  kUInt32 = 7,
  kUInt64 = 8,
  kFloat = 9,
  kDouble = 10,
  kString = 12,
};

DataType DataTypeOf(const Value& v);
const char* DataTypeName(DataType t);
std::string ValueToString(const Value& v);

enum class Quality : uint8_t {
  kGood = 0,       // read from the device as it is
  kUncertain = 1,  // e.g. a counter that was reset and re-based
  kBad = 2,        // the device answered, but the value is not trustworthy
};

struct Reading {
  std::string facility_id;
  std::string sensor_id;  // empty for facility-level metrics
  std::string point;      // e.g. "entries_total", or "occupancy/current"
  Value value;
  int64_t ts_ms = 0;      // UTC epoch milliseconds, when the value was taken
  Quality quality = Quality::kGood;

  // The Sparkplug metric name under the facility's device.
  std::string MetricName() const {
    return sensor_id.empty() ? point : "sensors/" + sensor_id + "/" + point;
  }
};

}  // namespace gateway
