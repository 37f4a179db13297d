// ChargePointModel: what the OCPP messages of one charge point mean as readings.
//
// The driver hands every CALL a charge point made, with the central system's answer
// (its own in local mode, the operator's in pass-through), to OnCall(); the model keeps
// the connectors' state and returns the raw readings of the charge point's sensor:
//   connector/{n}/status          String  OCPP ChargePointStatus (StatusNotification)
//   connector/{n}/power_kw        Float   MeterValues Power.Active.Import (W or kW -> kW)
//   connector/{n}/energy_kwh      Double  Energy.Active.Import.Register (Wh or kWh -> kWh),
//                                         also meterStart / meterStop
//   connector/{n}/transaction_id  Int32   the running transaction, 0 when none
//   connector/{n}/transaction     DataSet one row per finished transaction, at StopTransaction:
//       transaction_id Int32, start_ms Int64, stop_ms Int64, meter_start_kwh Double,
//       meter_stop_kwh Double, energy_kwh Double, stop_reason String ("Local" when absent,
//       the spec's default), id_tag_hash String (32 hex chars; never the idTag)
// Connector 0 in StatusNotification is the charge point as a whole: Unavailable or
// Faulted is applied to every connector (nothing can charge), other states of
// connector 0 are ignored (they say nothing about a single connector).
//
// Open transactions live in a TransactionBook shared by all charge points, so a
// reconnect (or, with the book saved in the data directory, a restart) does not lose
// the start of a session. Timestamps from the charge point are used when plausible
// (at most 24 h old and 5 min ahead of the gateway clock), else the arrival time.
//
// Pure and single-threaded (the driver calls it on its loop thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gateway/reading.h"

namespace ocpp {

struct OpenTransaction {
  int32_t id = 0;
  std::string charge_point;
  int connector = 0;
  int64_t start_ms = 0;
  double meter_start_kwh = 0;
  std::string id_tag_hash;
};

class TransactionBook {
 public:
  // Ids never repeat: a counter that starts above every id handed out before (the book
  // is saved) and above seconds since 2024 when the book is new, so a lost book after a
  // crash still does not reuse the ids of sessions a charge point may yet stop.
  explicit TransactionBook(int32_t first_id = 1) : next_id_(first_id < 1 ? 1 : first_id) {}
  int32_t Allocate();
  void Open(OpenTransaction t) { open_[t.id] = std::move(t); }
  std::optional<OpenTransaction> Close(int32_t id);
  const OpenTransaction* Find(int32_t id) const;
  const std::map<int32_t, OpenTransaction>& open() const { return open_; }
  int32_t next_id() const { return next_id_; }

  std::string ToJson() const;
  static std::optional<TransactionBook> FromJson(const std::string& text);

 private:
  int32_t next_id_;
  std::map<int32_t, OpenTransaction> open_;
};

// What a CALL meant for the session table, beside the readings (for logs and stats).
struct CallEffect {
  std::vector<gateway::Reading> readings;
  bool book_changed = false;  // a transaction opened or closed: save the book
  std::string note;           // for the log; no idTag in it
};

class ChargePointModel {
 public:
  using Hasher = std::function<std::string(const std::string& id_tag)>;
  ChargePointModel(std::string charge_point, std::string facility, std::string sensor, int connectors, Hasher hash);

  // A CALL of the charge point and the central system's CALLRESULT payload (for
  // StartTransaction the transactionId comes from it). payload is valid (ValidateCall).
  CallEffect OnCall(const std::string& action, const nlohmann::json& req, const nlohmann::json& conf, int64_t now_ms,
                    TransactionBook& book);
  gateway::Reading Online(bool online, int64_t now_ms) const;

  int connectors() const { return int(connectors_.size()); }
  int32_t transaction_on(int connector) const;

 private:
  struct Connector {
    std::string status;
    int32_t transaction_id = 0;
  };
  gateway::Reading Make(const std::string& point, gateway::Value v, int64_t ts) const;
  void MeterValues(int connector, const nlohmann::json& meter_values, int64_t now_ms, CallEffect* out,
                   std::optional<double>* last_energy_kwh) const;
  bool Valid(int connector) const { return connector >= 1 && connector <= int(connectors_.size()); }

  std::string charge_point_, facility_, sensor_;
  std::vector<Connector> connectors_;
  Hasher hash_;
};

// The timestamp to give a reading: the charge point's own when plausible.
int64_t PlausibleTime(const nlohmann::json& timestamp, int64_t now_ms);

}  // namespace ocpp
