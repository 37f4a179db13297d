// JsonMapping: turns one MQTT message (topic + JSON payload) into readings, following
// drivers.mqtt.subscriptions: which facility and sensor (fixed, a topic level or a
// JSON Pointer), which JSON Pointer feeds which point with which type, and where the
// timestamp is.
//
// A point whose pointer is absent from a payload is skipped (zigbee2mqtt sends partial
// updates); a value of the wrong type, a payload that is not JSON, or a sensor that is
// not configured is an error, reported with the pointer that failed. Pure and
// immutable after construction; any thread. Fuzzed (tests/fuzz).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/reading.h"

namespace mqtt_subscriber {

struct MapOutcome {
  bool matched = false;             // some subscription's filter matched the topic
  std::vector<gateway::Reading> readings;
  std::vector<std::string> errors;  // one per problem, naming the pointer or the sensor
  size_t missing = 0;               // configured pointers absent from the payload
};

class JsonMapping {
 public:
  explicit JsonMapping(const gateway::Config& config);

  std::vector<std::string> Filters() const;
  // `replayed`: the message came with RETAIN (a retained one replayed to a new
  // subscription); its readings are marked Reading::replayed.
  MapOutcome Map(std::string_view topic, std::string_view payload, int64_t now_ms, bool replayed = false) const;

 private:
  const gateway::Config& config_;
  std::set<std::pair<std::string, std::string>> sensors_;  // (facility, sensor) with driver mqtt
};

}  // namespace mqtt_subscriber
