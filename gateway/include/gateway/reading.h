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
#include <vector>

#include "gateway/status.h"

namespace gateway {

// Sparkplug B 3.0 DataType numbers for the alternatives of Value, in variant order.
enum class DataType : uint32_t {
  kBoolean = 11,
  kInt32 = 3,
  kInt64 = 4,
  kUInt32 = 7,
  kUInt64 = 8,
  kFloat = 9,
  kDouble = 10,
  kString = 12,
  kDataSet = 16,
};

// One cell of a DataSet: the scalar alternatives of Value.
using Scalar = std::variant<bool, int32_t, int64_t, uint32_t, uint64_t, float, double, std::string>;

// A table (Sparkplug DataSet): named, typed columns and rows of scalars. Used for
// whole records such as the daily report (reports/daily); every row has one cell per
// column, of the column's type (scalar DataTypes only).
struct DataSet {
  std::vector<std::string> columns;
  std::vector<DataType> types;
  std::vector<std::vector<Scalar>> rows;
  bool operator==(const DataSet&) const = default;
};

// Each alternative maps to exactly one Sparkplug B DataType (see codec/sparkplug_codec.h).
using Value = std::variant<bool, int32_t, int64_t, uint32_t, uint64_t, float, double, std::string, DataSet>;

DataType DataTypeOf(const Scalar& v);
DataType DataTypeOf(const Value& v);
const char* DataTypeName(DataType t);
std::string ValueToString(const Value& v);
Value ToValue(const Scalar& s);

// The stored form of a DataSet (the buffer keeps it as JSON text), and back.
std::string DataSetToJson(const DataSet& d);
Result<DataSet> DataSetFromJson(const std::string& json);

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
  // Delivered again by its source, not a fresh observation: a retained MQTT message.
  // Only the call-button rules look at it (a replayed press is a phantom); not stored.
  bool replayed = false;

  // The Sparkplug metric name under the facility's device.
  std::string MetricName() const {
    return sensor_id.empty() ? point : "sensors/" + sensor_id + "/" + point;
  }
};

}  // namespace gateway
