// OcppDriver: charge points speaking OCPP 1.6J (JSON over WebSocket) feed the
// charge_point sensors of charging facilities.
//
// Charge points connect to ws[s]://{listen}:{port}/ocpp/{chargePointId} with the
// WebSocket subprotocol ocpp1.6 (required; a handshake without it gets 400). Security
// profile 1: HTTP Basic auth, user = chargePointId, password per charge point from the
// config, compared in constant time (401 otherwise); profile 2: the same over TLS
// (cert_file/key_file). Unknown ids get 404 unless allow_unknown (then served, but no
// readings: there is no sensor to give them to). A second connection with the same id
// replaces the first (closed with 1001), as OCPP expects after a charge point reboot.
//
// Per connection: messages over max_frame_bytes close it with 1009; binary messages
// with 1003; CALLs beyond max_calls_per_minute get CALLERROR GenericError and a
// sustained flood closes it with 1008; ten malformed frames in a row close it with
// 1002. A WebSocket ping goes out after idle_timeout_s/2 of silence and the connection
// is closed when nothing arrives for idle_timeout_s. CALLs of one charge point are
// answered one after the other, in order.
//
// Local central system (no upstream): the gateway answers BootNotification (Accepted,
// currentTime, heartbeat interval), Heartbeat, StatusNotification, Authorize (authorize:
// any, or the listed idTags), StartTransaction (a new transaction id, unique across
// restarts), StopTransaction, MeterValues, DataTransfer (UnknownVendorId unless the
// vendorId is listed), acknowledges Diagnostics/FirmwareStatusNotification, and refuses
// the rest (NotSupported / NotImplemented). Answers to calls that carry readings are
// sent once the readings are committed; if the core pushes back, GenericError, so
// that the charge point sends them again.
//
// Pass-through (upstream: ws:// or wss:// of the operator's central system): for each
// charge point the gateway opens its own connection to {upstream}/{chargePointId}
// (subprotocol ocpp1.6, Basic auth when upstream_password is set) and relays every
// text frame both ways unchanged and in order, reading the charge point's CALLs and
// the central system's CALLRESULTs (matched by message id) for readings. While the
// upstream is unreachable the charge point stays connected and its CALLs are answered
// locally as above (so transaction ids then come from the gateway); calls relayed and
// not answered when the upstream drops are answered locally too; the upstream is
// retried with backoff (1 s doubling to 60 s). Nothing answered locally is replayed to
// the operator later: the operator sees the charge point's own retransmissions of
// transaction messages, and the gateway's readings have the rest.
//
// Readings: see ocpp_session.h (connector/{n}/...), plus online (Boolean) per charge
// point on connect and disconnect. idTags only ever leave as id_tag.h hashes (logs too).
//
// Threads: everything runs on the core's io_context; Start()/Stop() on its thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/driver.h"

namespace ocpp {

struct OcppStats {
  uint64_t connections = 0;         // WebSocket sessions accepted
  uint64_t refused_handshakes = 0;  // 400/401/404/503 at the handshake
  uint64_t calls = 0;               // CALLs from charge points
  uint64_t call_errors = 0;         // CALLERRORs the gateway sent
  uint64_t closed_for_abuse = 0;    // too big, binary, flood, malformed
  uint64_t relayed_frames = 0;      // pass-through, both directions
  uint64_t answered_locally = 0;    // pass-through calls answered by the gateway (upstream down)
  uint64_t readings = 0;
  uint64_t busy = 0;
  uint64_t connected = 0;  // charge points connected now
};

class OcppDriver final : public gateway::Driver {
 public:
  OcppDriver(boost::asio::io_context& io, const gateway::Config& config, const gateway::Clock& clock);
  ~OcppDriver() override;

  std::string Name() const override { return "ocpp"; }
  gateway::Status Start(gateway::ReadingSink& sink) override;
  void Stop() override;
  gateway::DriverStats Stats() const override;

  uint16_t port() const;  // after Start
  const OcppStats& stats() const;

  struct Impl;  // the implementation (ocpp_driver.cc); public only for its own helpers

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ocpp
