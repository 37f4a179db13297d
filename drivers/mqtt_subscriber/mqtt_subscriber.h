// MqttSubscriberDriver: readings from sensors that publish to a local MQTT broker
// (zigbee2mqtt, ChirpStack integrations, Tasmota, camera counters).
//
// It subscribes to drivers.mqtt.subscriptions at QoS 1 with a persistent session
// (clean session off, a fixed client id) and maps each message's JSON to readings
// (JsonMapping). A QoS 1 message is acknowledged only after its readings are committed
// to the buffer (ReadingSink callback ok), PUBACKs in the order the messages came
// (MQTT-4.6.0-2): if the gateway dies before the commit, the broker delivers the
// message again. When the core pushes back (kBusy) the batch is offered again later
// and its PUBACK waits; with max_unacked messages waiting the driver stops reading the
// socket, so the broker holds the rest. A message that can never be mapped (not JSON,
// wrong types, unknown sensor, too large) is logged, counted and acknowledged, so it
// does not come back forever.
//
// It speaks MQTT 3.1.1 itself over Boost.Asio (see mqtt_codec.h for why not Paho).
// Threads: everything, including the commit callbacks, runs on the core's io_context;
// Start() and Stop() on its thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/driver.h"

namespace mqtt_subscriber {

struct MqttSubscriberStats {
  uint64_t messages = 0;        // PUBLISH packets received
  uint64_t readings = 0;        // readings committed
  uint64_t acked = 0;           // PUBACKs sent
  uint64_t bad_payloads = 0;    // messages with at least one mapping error
  uint64_t unmatched = 0;       // messages no subscription maps
  uint64_t oversize = 0;        // payloads over max_payload_bytes, discarded
  uint64_t busy_retries = 0;
  uint64_t connects = 0;
  uint64_t connection_losses = 0;
};

class MqttSubscriberDriver final : public gateway::Driver {
 public:
  MqttSubscriberDriver(boost::asio::io_context& io, const gateway::Config& config, const gateway::Clock& clock);
  ~MqttSubscriberDriver() override;

  std::string Name() const override { return "mqtt"; }
  gateway::Status Start(gateway::ReadingSink& sink) override;
  void Stop() override;

  const MqttSubscriberStats& stats() const;
  // Readings committed; errors = bad payloads + oversize messages + lost connections.
  gateway::DriverStats Stats() const override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mqtt_subscriber
