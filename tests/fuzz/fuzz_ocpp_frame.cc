// libFuzzer target: the OCPP-J frame parser, the payload validators and the session
// model behind them (what a charge point's bytes reach before any reading is made).
// Every input must be parsed or refused with a CALLERROR, and whatever passes the
// validators must not crash the model.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ocpp/ocpp_protocol.h"
#include "ocpp/ocpp_session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ocpp::TransactionBook book(1000);
  static ocpp::ChargePointModel model("CP", "f", "CP", 3,
                                      [](const std::string& t) { return std::to_string(t.size()); });
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ocpp::ParseFrame(text);
  if (auto* err = std::get_if<ocpp::RpcError>(&parsed)) {
    (void)ocpp::SerializeCallError(*err);
    return 0;
  }
  const auto& f = std::get<ocpp::Frame>(parsed);
  if (f.type != ocpp::MessageType::kCall) return 0;
  if (auto bad = ocpp::ValidateCall(f.id, f.action, f.payload)) {
    (void)ocpp::SerializeCallError(*bad);
    return 0;
  }
  nlohmann::json conf = nlohmann::json::object();
  if (f.action == "StartTransaction") conf["transactionId"] = book.Allocate();
  auto effect = model.OnCall(f.action, f.payload, conf, 1709539200000, book);
  (void)effect;
  if (book.open().size() > 1000) book = ocpp::TransactionBook(1000);
  (void)ocpp::SerializeCallResult(f.id, conf);
  return 0;
}
