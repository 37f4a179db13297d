// libFuzzer target: an NCMD payload as it arrives from the broker, through the Sparkplug
// codec's Decode (the Protobuf parse and the metric values) and the session's reading
// of the command (SparkplugSession::ParseNodeCommand, what MqttUplink acts on). Must never
// crash, hang or throw. Whatever decodes re-encodes to a payload that decodes and
// encodes to the same bytes again (the codec keeps what it accepted).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/sparkplug_codec.h"
#include "uplink/sparkplug_session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto cmd = gateway::uplink::SparkplugSession::ParseNodeCommand(in);
  auto decoded = gateway::codec::Decode(in);
  if (cmd.ok() && !decoded.ok()) __builtin_trap();
  if (!decoded.ok()) return 0;
  std::string once = gateway::codec::Encode(*decoded);
  auto again = gateway::codec::Decode(once);
  if (!again.ok() || again->metrics.size() != decoded->metrics.size()) __builtin_trap();
  if (gateway::codec::Encode(*again) != once) __builtin_trap();
  if (cmd.ok()) {
    bool rebirth = false;
    for (const auto& m : decoded->metrics) {
      if (m.name == "Node Control/Rebirth" && m.value == gateway::Value(true)) rebirth = true;
    }
    if (cmd->rebirth != rebirth) __builtin_trap();
  }
  return 0;
}
