#include "uplink/sparkplug_session.h"

namespace gateway::uplink {

SparkplugSession::SparkplugSession(std::string group_id, std::string edge_node_id, codec::Encoding encoding)
    : group_id_(std::move(group_id)), edge_node_id_(std::move(edge_node_id)), encoding_(encoding) {}

std::optional<uint64_t> SparkplugSession::NodeAlias(std::string_view name) {
  // Fixed, so that a host may even hard-code them; bdSeq and Node Control/Rebirth go by
  // name (the will is made before any birth, and hosts write the rebirth by name).
  if (name == "gateway/version") return 1;
  if (name == "buffer/depth") return 2;
  if (name == "buffer/dropped") return 3;
  if (name == "uplink/reconnects") return 4;
  return std::nullopt;
}

std::string SparkplugSession::NodeTopic(const char* type) const {
  return "spBv1.0/" + group_id_ + "/" + type + "/" + edge_node_id_;
}

std::string SparkplugSession::DeviceTopic(const char* type, const std::string& device_id) const {
  return NodeTopic(type) + "/" + device_id;
}

std::string SparkplugSession::StateTopic(const std::string& primary_host_id) {
  return "spBv1.0/STATE/" + primary_host_id;
}

std::string SparkplugSession::NDeathPayload(uint64_t now_ms) const {
  codec::Payload p;
  p.timestamp_ms = now_ms;
  p.metrics.push_back(codec::Metric{"bdSeq", Value(bd_seq_), now_ms, false});
  return codec::Encode(p, encoding_);
}

std::string SparkplugSession::NBirthPayload(uint64_t now_ms, std::vector<codec::Metric> node_metrics) {
  seq_ = 0;
  codec::Payload p;
  p.timestamp_ms = now_ms;
  p.seq = seq_;
  p.metrics.push_back(codec::Metric{"bdSeq", Value(bd_seq_), now_ms, false});
  p.metrics.push_back(codec::Metric{"Node Control/Rebirth", Value(false), now_ms, false});
  for (auto& m : node_metrics) p.metrics.push_back(std::move(m));
  seq_ = 1;
  return codec::Encode(p, encoding_);
}

std::string SparkplugSession::NextPayload(uint64_t now_ms, std::vector<codec::Metric> metrics) {
  codec::Payload p;
  p.timestamp_ms = now_ms;
  p.seq = seq_;
  p.metrics = std::move(metrics);
  seq_ = (seq_ + 1) % 256;
  return codec::Encode(p, encoding_);
}

Result<SparkplugSession::NodeCommand> SparkplugSession::ParseNodeCommand(std::string_view payload) {
  // A command is a few metrics; anything larger is not one of ours to parse.
  auto decoded = codec::Decode(payload, 64 * 1024);
  if (!decoded.ok()) return decoded.status();
  NodeCommand cmd;
  for (const auto& m : decoded->metrics) {
    if (m.name == "Node Control/Rebirth" && std::holds_alternative<bool>(m.value) && std::get<bool>(m.value)) {
      cmd.rebirth = true;
    }
  }
  return cmd;
}

}  // namespace gateway::uplink
