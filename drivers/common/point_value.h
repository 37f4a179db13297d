// Point values for the southbound drivers: the one place that decides which Sparkplug
// type a point gets and how a source value (a register, a JSON field) is converted to
// it, so that Modbus, MQTT and HTTP give the same point the same type and the facility
// model can read it.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "gateway/config.h"
#include "gateway/reading.h"
#include "gateway/status.h"

namespace drivers {

// A value as a source gave it, before conversion.
using Source = std::variant<bool, int64_t, uint64_t, double, std::string>;

// The type a known point has in the wire contract and the facility model
// (entries_total -> UInt64, occupancy -> UInt32, occupied -> Boolean, ...); kAuto for a
// point the gateway does not interpret, which keeps its natural type.
gateway::PointType AutoType(const std::string& point);

// Converts `v` to `type` (kAuto: AutoType(point), else `natural`). Fails with a message
// that says what did not fit ("-3 is not a valid UInt64"), never throws.
gateway::Result<gateway::Value> Convert(const Source& v, gateway::PointType type, const std::string& point,
                                        gateway::PointType natural);

// A JSON scalar as a Source: booleans, integers (signed or unsigned), other numbers as
// double, strings. Objects, arrays and null are refused.
gateway::Result<Source> FromJson(const nlohmann::json& j);

// The natural type of a JSON-born Source: bool, Int64, UInt64, Double, String.
gateway::PointType NaturalType(const Source& v);

const char* PointTypeName(gateway::PointType t);

// Resolves an RFC 6901 pointer without exceptions; nullptr when absent or malformed.
const nlohmann::json* FindPointer(const nlohmann::json& doc, const std::string& pointer);

// Epoch ms from a JSON timestamp: a number of seconds (< 1e11) or milliseconds, or an
// RFC 3339 string ("2024-03-04T08:00:00Z", "...+08:00", fractional seconds allowed).
gateway::Result<int64_t> TimestampFromJson(const nlohmann::json& j);

}  // namespace drivers
