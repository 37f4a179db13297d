// SparkplugSession: the edge-node side of Sparkplug B 3.0 that does not depend on the
// MQTT client: topic names, the bdSeq of each connection, the 0..255 message seq, and
// the payloads of NBIRTH, NDEATH, DBIRTH, NDATA and DDATA in the configured encoding,
// and the metric alias scheme of docs/wire-format.md ("Metric aliases").
//
// Owned by the MqttUplink and used only on the core's event-loop thread. Pure, so that
// unit tests check seq wrapping and birth contents without a broker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/sparkplug_codec.h"

namespace gateway::uplink {

class SparkplugSession {
 public:
  SparkplugSession(std::string group_id, std::string edge_node_id,
                   codec::Encoding encoding = codec::Encoding::kSpec);

  // Aliases are unique across the edge node: node metrics 1..15 (fixed), a facility's
  // metrics 16 + their buffer row id (stable while the buffer file is kept).
  static constexpr uint64_t kFirstFacilityAlias = 16;
  static std::optional<uint64_t> NodeAlias(std::string_view name);
  static uint64_t FacilityAlias(uint32_t metric_id) { return kFirstFacilityAlias + metric_id; }

  // Topics of the wire contract.
  std::string NodeTopic(const char* type) const;  // NBIRTH, NDEATH, NDATA, NCMD
  std::string DeviceTopic(const char* type, const std::string& device_id) const;
  static std::string StateTopic(const std::string& primary_host_id);

  // A new MQTT connection starts with this bdSeq in its will and its NBIRTH.
  void BeginConnection(uint64_t bd_seq) { bd_seq_ = bd_seq; }
  uint64_t bd_seq() const { return bd_seq_; }

  // NDEATH: only bdSeq, no seq (the broker sends it for us as the will).
  std::string NDeathPayload(uint64_t now_ms) const;
  // NBIRTH resets seq to 0. node_metrics are the node's other metrics (buffer/depth...).
  std::string NBirthPayload(uint64_t now_ms, std::vector<codec::Metric> node_metrics);
  std::string NextPayload(uint64_t now_ms, std::vector<codec::Metric> metrics);  // DBIRTH, NDATA, DDATA

  uint64_t next_seq() const { return seq_; }

  // What an NCMD from a host application asks of the edge node. Pure: the payload is
  // untrusted bytes from the broker (tests/fuzz/fuzz_sparkplug_ncmd.cc feeds it any).
  struct NodeCommand {
    bool rebirth = false;  // "Node Control/Rebirth" = true
  };
  static Result<NodeCommand> ParseNodeCommand(std::string_view payload);

 private:
  std::string group_id_;
  std::string edge_node_id_;
  codec::Encoding encoding_;
  uint64_t bd_seq_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace gateway::uplink
