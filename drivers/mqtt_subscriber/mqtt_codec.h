// MqttCodec: the few MQTT 3.1.1 packets a subscriber needs, as bytes.
//
// Why not Paho here: Paho C 1.3 (under Paho C++ 1.2) sends the PUBACK of a QoS 1
// message before its message callback runs (MQTTProtocol_handlePublishes), and has no
// manual-ack switch, so a message would be acknowledged before its readings are on
// disk and a crash in between would lose it. This client sends each PUBACK itself,
// after the commit. It speaks only what the driver needs: CONNECT, CONNACK, SUBSCRIBE,
// SUBACK, PUBLISH (QoS 0 and 1 in), PUBACK (out), PINGREQ/PINGRESP, DISCONNECT.
// The town host (host/) uses it for the same reason, and also sends PUBLISH (its STATE
// and NCMDs) and a will; it is its own library (mqtt_codec) so both link the one copy.
//
// Pure functions over byte strings; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqtt_subscriber {

enum PacketType : uint8_t {
  kConnect = 1, kConnAck = 2, kPublish = 3, kPubAck = 4, kSubscribe = 8, kSubAck = 9,
  kPingReq = 12, kPingResp = 13, kDisconnect = 14,
};

std::string EncodeConnect(const std::string& client_id, bool clean_session, uint16_t keep_alive_s,
                          const std::string& username, const std::string& password);
// The will of a connection (MQTT 3.1.1 section 3.1.2.5).
struct Will {
  std::string topic;
  std::string payload;
  uint8_t qos = 1;
  bool retain = false;
};
std::string EncodeConnect(const std::string& client_id, bool clean_session, uint16_t keep_alive_s,
                          const std::string& username, const std::string& password, const Will& will);
// packet_id is ignored (and not written) for QoS 0.
std::string EncodePublish(const std::string& topic, std::string_view payload, uint8_t qos, bool retain,
                          uint16_t packet_id);
std::string EncodeSubscribe(uint16_t packet_id, const std::vector<std::string>& filters, uint8_t qos);
std::string EncodePubAck(uint16_t packet_id);
std::string EncodePingReq();
std::string EncodeDisconnect();

// The fixed header at the start of `buf`: type, flags and the length of the rest.
struct FixedHeader {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t remaining = 0;
  size_t header_size = 0;  // bytes of the fixed header itself
};
// nullopt: more bytes needed. Sets *malformed for a remaining length over 4 bytes.
std::optional<FixedHeader> ParseFixedHeader(std::string_view buf, bool* malformed);

struct Publish {
  std::string topic;
  uint8_t qos = 0;
  bool dup = false;
  // The broker sends a retained message with RETAIN set only when a new subscription
  // replays it (MQTT-3.3.1-8); live messages to an established one have it clear (-9).
  bool retain = false;
  uint16_t packet_id = 0;
  std::string_view payload;  // into the buffer given to ParsePublish
};
// Variable header and payload of a PUBLISH (`body` = the `remaining` bytes).
std::optional<Publish> ParsePublish(uint8_t flags, std::string_view body);
// Topic and packet id from the first bytes of a PUBLISH body that is too large to keep.
std::optional<Publish> ParsePublishHead(uint8_t flags, std::string_view head);

// Does `topic` match the filter (with + and #)? Topics starting with '$' match only
// filters that name that first level (MQTT-4.7.2-1).
bool TopicMatches(std::string_view filter, std::string_view topic);

}  // namespace mqtt_subscriber
