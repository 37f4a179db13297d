// OCPP-J 1.6 frames and payload validation: the pure half of the OCPP driver.
//
// A WebSocket text message is one RPC frame: [2,"id","Action",{...}] (CALL),
// [3,"id",{...}] (CALLRESULT) or [4,"id","code","description",{...}] (CALLERROR).
// ParseFrame() checks the structure; ValidateCall() checks the payload of every CALL a
// charge point may send against the OCPP 1.6 JSON schemas (types, required fields,
// enums, CiString lengths, date-time), written here as C++ rules, and says which
// CALLERROR code answers a violation:
//   not JSON, not an array, wrong element types   -> FormationViolation
//   unknown message type number                    -> ProtocolError
//   unknown action                                 -> NotImplemented
//   a 1.6 action the gateway does not serve        -> NotSupported
//   payload property not in the schema             -> FormationViolation (not the PDU structure)
//   a required property missing                    -> OccurenceConstraintViolation (spelled as in
//                                                     the 1.6 spec; the errata and ocpp-rpc write
//                                                     OccurrenceConstraintViolation)
//   a property of the wrong JSON type              -> TypeConstraintViolation
//   enum, maxLength, date-time, integer range      -> PropertyConstraintViolation
// The first violation found decides the code. No I/O, no Asio: fuzzed as it is
// (tests/fuzz/fuzz_ocpp_frame.cc). Pure functions; any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ocpp {

enum class MessageType { kCall = 2, kCallResult = 3, kCallError = 4 };

struct Frame {
  MessageType type = MessageType::kCall;
  std::string id;                                     // unique message id (at most 36 characters)
  std::string action;                                 // CALL only
  nlohmann::json payload = nlohmann::json::object();  // CALL/CALLRESULT payload, CALLERROR details
  std::string error_code;                             // CALLERROR only
  std::string error_description;                      // CALLERROR only
};

// Why a frame or a payload was refused, and the CALLERROR that answers it. id is the
// frame's message id when it could be read, "-1" otherwise.
struct RpcError {
  std::string id;
  std::string code;
  std::string description;
};

std::variant<Frame, RpcError> ParseFrame(std::string_view text);

// How the gateway's local central system treats an action a charge point calls.
enum class ActionSupport {
  kServed,  // answered with its own .conf (Boot, Heartbeat, Status, Authorize, Start/Stop, MeterValues, DataTransfer)
  kAcknowledged,  // validated and answered {} (Diagnostics/FirmwareStatusNotification)
  kNotSupported,  // an OCPP 1.6 action (or security extension) the gateway does not serve
  kUnknown,       // not an OCPP 1.6 action at all
};
ActionSupport SupportOf(std::string_view action);

// nullopt when the payload of a CALL of this action is valid. For kNotSupported and
// kUnknown actions the matching NotSupported / NotImplemented error.
std::optional<RpcError> ValidateCall(const std::string& id, std::string_view action, const nlohmann::json& payload);

// RFC 3339 date-time (the schemas' "format": "date-time") -> UTC epoch ms.
std::optional<int64_t> ParseDateTime(std::string_view s);
std::string FormatDateTime(int64_t epoch_ms);  // "2024-03-04T08:00:00.000Z"

std::string SerializeCallResult(const std::string& id, const nlohmann::json& payload);
std::string SerializeCallError(const RpcError& e);
std::string SerializeCall(const std::string& id, std::string_view action, const nlohmann::json& payload);

}  // namespace ocpp
