// MqttLink: one blocking TCP connection to the broker, framed into MQTT packets.
//
// The host loop drives it: Connect() (CONNECT with the STATE will, CONNACK awaited),
// Send() whole packets, Read() with a timeout, Next() for each complete packet. The
// bytes of the packets come from mqtt_codec (drivers/mqtt_subscriber), which the
// gateway's local-MQTT driver uses for the same reason: a QoS 1 message is
// acknowledged only when the caller sends its PUBACK, after the commit. A packet larger
// than max_packet_bytes closes the connection (the broker redelivers nothing of it to
// a smaller host; mosquitto's message_size_limit should be set to match).
// One thread (the host loop's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gateway/status.h"
#include "mqtt_subscriber/mqtt_codec.h"

namespace host {

struct Packet {
  uint8_t type = 0;
  uint8_t flags = 0;
  std::string body;
};

class MqttLink {
 public:
  explicit MqttLink(size_t max_packet_bytes) : max_packet_bytes_(max_packet_bytes) {}
  ~MqttLink() { Close(); }
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  // TCP connect, CONNECT, CONNACK. session_present tells whether the broker kept our
  // subscriptions and queued messages.
  gateway::Status Connect(const std::string& host, uint16_t port, const std::string& connect_packet, int timeout_ms,
                          bool* session_present);
  gateway::Status Send(const std::string& bytes);
  // Waits up to timeout_ms for bytes; ok with nothing read on a timeout. Also returns
  // early when extra_fd (>= 0: the database connection's socket, for its NOTIFYs)
  // becomes readable.
  gateway::Status Read(int timeout_ms, int extra_fd = -1);
  // The next complete packet already read, if any.
  gateway::Result<std::optional<Packet>> Next();
  void Close();
  bool open() const { return fd_ >= 0; }
  int64_t last_send_ms() const { return last_send_ms_; }
  int64_t last_receive_ms() const { return last_receive_ms_; }

 private:
  size_t max_packet_bytes_;
  int fd_ = -1;
  std::string in_;
  int64_t last_send_ms_ = 0, last_receive_ms_ = 0;
};

int64_t NowMs();       // wall clock, UTC epoch ms
int64_t SteadyMs();    // monotonic

}  // namespace host
