#include "ocpp/ocpp_protocol.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <vector>

#include "gateway/local_time.h"

namespace ocpp {

using nlohmann::json;

namespace {

constexpr size_t kMaxMessageId = 36;

// --- schema rules ---------------------------------------------------------------

enum class T { kString, kInteger, kNumber, kObject, kArray, kDateTime };

struct Rule {
  const char* name;
  T type;
  bool required = false;
  size_t max_length = 0;           // strings: CiStringNN
  std::vector<const char*> enums;  // strings: allowed values
  std::vector<Rule> properties;    // objects (additionalProperties: false)
  std::vector<Rule> items;         // arrays: one rule, the items' (an object)
};

Rule Str(const char* n, size_t max, bool req = false) { return Rule{n, T::kString, req, max, {}, {}, {}}; }
Rule Enum(const char* n, std::vector<const char*> e, bool req = false) {
  return Rule{n, T::kString, req, 0, std::move(e), {}, {}};
}
Rule Int(const char* n, bool req = false) { return Rule{n, T::kInteger, req, 0, {}, {}, {}}; }
Rule Time(const char* n, bool req = false) { return Rule{n, T::kDateTime, req, 0, {}, {}, {}}; }
Rule Obj(const char* n, std::vector<Rule> props, bool req = false) {
  return Rule{n, T::kObject, req, 0, {}, std::move(props), {}};
}
Rule Arr(const char* n, Rule item, bool req = false) { return Rule{n, T::kArray, req, 0, {}, {}, {std::move(item)}}; }

const std::vector<const char*> kContexts = {"Interruption.Begin", "Interruption.End", "Sample.Clock", "Sample.Periodic",
                                            "Transaction.Begin",  "Transaction.End",  "Trigger",      "Other"};
const std::vector<const char*> kMeasurands = {"Energy.Active.Export.Register",
                                              "Energy.Active.Import.Register",
                                              "Energy.Reactive.Export.Register",
                                              "Energy.Reactive.Import.Register",
                                              "Energy.Active.Export.Interval",
                                              "Energy.Active.Import.Interval",
                                              "Energy.Reactive.Export.Interval",
                                              "Energy.Reactive.Import.Interval",
                                              "Power.Active.Export",
                                              "Power.Active.Import",
                                              "Power.Offered",
                                              "Power.Reactive.Export",
                                              "Power.Reactive.Import",
                                              "Power.Factor",
                                              "Current.Import",
                                              "Current.Export",
                                              "Current.Offered",
                                              "Voltage",
                                              "Frequency",
                                              "Temperature",
                                              "SoC",
                                              "RPM"};
const std::vector<const char*> kPhases = {"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"};
const std::vector<const char*> kLocations = {"Cable", "EV", "Inlet", "Outlet", "Body"};
const std::vector<const char*> kUnits = {"Wh", "kWh",     "varh",    "kvarh",      "W",      "kW",
                                         "VA", "kVA",     "var",     "kvar",       "A",      "V",
                                         "K",  "Celcius", "Celsius", "Fahrenheit", "Percent"};

Rule MeterValue(const char* name) {
  return Obj(name, {Time("timestamp", true),
                    Arr("sampledValue",
                        Obj("", {Str("value", 0, true), Enum("context", kContexts),
                                 Enum("format", {"Raw", "SignedData"}), Enum("measurand", kMeasurands),
                                 Enum("phase", kPhases), Enum("location", kLocations), Enum("unit", kUnits)}),
                        true)});
}

struct ActionRules {
  const char* action;
  std::vector<Rule> properties;
};

const std::vector<ActionRules>& Served() {
  static const std::vector<ActionRules> rules = {
      {"Authorize", {Str("idTag", 20, true)}},
      {"BootNotification",
       {Str("chargePointVendor", 20, true), Str("chargePointModel", 20, true), Str("chargePointSerialNumber", 25),
        Str("chargeBoxSerialNumber", 25), Str("firmwareVersion", 50), Str("iccid", 20), Str("imsi", 20),
        Str("meterType", 25), Str("meterSerialNumber", 25)}},
      {"DataTransfer", {Str("vendorId", 255, true), Str("messageId", 50), Str("data", 0)}},
      {"DiagnosticsStatusNotification", {Enum("status", {"Idle", "Uploaded", "UploadFailed", "Uploading"}, true)}},
      {"FirmwareStatusNotification",
       {Enum("status",
             {"Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed", "Installing", "Installed"},
             true)}},
      {"Heartbeat", {}},
      {"MeterValues", {Int("connectorId", true), Int("transactionId"), Arr("meterValue", MeterValue(""), true)}},
      {"StartTransaction",
       {Int("connectorId", true), Str("idTag", 20, true), Int("meterStart", true), Int("reservationId"),
        Time("timestamp", true)}},
      {"StatusNotification",
       {Int("connectorId", true),
        Enum("errorCode",
             {"ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature", "InternalError",
              "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "PowerMeterFailure",
              "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage", "OverVoltage", "WeakSignal"},
             true),
        Str("info", 50),
        Enum("status",
             {"Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing", "Reserved",
              "Unavailable", "Faulted"},
             true),
        Time("timestamp"), Str("vendorId", 255), Str("vendorErrorCode", 50)}},
      {"StopTransaction",
       {Str("idTag", 20), Int("meterStop", true), Time("timestamp", true), Int("transactionId", true),
        Enum("reason", {"EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss", "Reboot",
                        "Remote", "SoftReset", "UnlockCommand", "DeAuthorized"}),
        Arr("transactionData", MeterValue(""))}},
  };
  return rules;
}

// Every other action name of OCPP 1.6 (both directions) and of its security extension.
constexpr const char* kOtherActions[] = {"CancelReservation",
                                         "CertificateSigned",
                                         "ChangeAvailability",
                                         "ChangeConfiguration",
                                         "ClearCache",
                                         "ClearChargingProfile",
                                         "DeleteCertificate",
                                         "ExtendedTriggerMessage",
                                         "GetCompositeSchedule",
                                         "GetConfiguration",
                                         "GetDiagnostics",
                                         "GetInstalledCertificateIds",
                                         "GetLocalListVersion",
                                         "GetLog",
                                         "InstallCertificate",
                                         "LogStatusNotification",
                                         "RemoteStartTransaction",
                                         "RemoteStopTransaction",
                                         "ReserveNow",
                                         "Reset",
                                         "SecurityEventNotification",
                                         "SendLocalList",
                                         "SetChargingProfile",
                                         "SignCertificate",
                                         "SignedFirmwareStatusNotification",
                                         "SignedUpdateFirmware",
                                         "TriggerMessage",
                                         "UnlockConnector",
                                         "UpdateFirmware"};

struct Violation {
  const char* code;
  std::string description;
};

const char* TypeName(T t) {
  switch (t) {
    case T::kString:
      return "string";
    case T::kInteger:
      return "integer";
    case T::kNumber:
      return "number";
    case T::kObject:
      return "object";
    case T::kArray:
      return "array";
    case T::kDateTime:
      return "date-time string";
  }
  return "?";
}

// The JSON Schema "integer": a number with no fractional part (5.0 counts).
bool IsInteger(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

// Character count of UTF-8 text, as JSON Schema's maxLength counts (code points).
size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::optional<Violation> Check(const Rule& rule, const json& v, const std::string& where);

std::optional<Violation> CheckObject(const std::vector<Rule>& props, const json& v, const std::string& where) {
  if (!v.is_object()) return Violation{"TypeConstraintViolation", where + ": expected an object"};
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool known = std::any_of(props.begin(), props.end(), [&](const Rule& r) { return it.key() == r.name; });
    if (!known) {
      std::string key = it.key().size() > 40 ? it.key().substr(0, 40) + "..." : it.key();
      return Violation{"FormationViolation", where + ": property '" + key + "' is not in the schema"};
    }
  }
  for (const Rule& r : props) {
    auto it = v.find(r.name);
    if (it == v.end()) {
      if (r.required)
        return Violation{"OccurenceConstraintViolation", where + ": required property '" + r.name + "' is missing"};
      continue;
    }
    if (auto bad = Check(r, *it, where + "." + r.name)) return bad;
  }
  return std::nullopt;
}

std::optional<Violation> Check(const Rule& rule, const json& v, const std::string& where) {
  switch (rule.type) {
    case T::kString:
    case T::kDateTime: {
      if (!v.is_string()) return Violation{"TypeConstraintViolation", where + ": expected a " + TypeName(rule.type)};
      const auto& s = v.get_ref<const std::string&>();
      if (rule.max_length && CodePoints(s) > rule.max_length) {
        return Violation{"PropertyConstraintViolation",
                         where + ": longer than " + std::to_string(rule.max_length) + " characters"};
      }
      if (!rule.enums.empty() &&
          std::none_of(rule.enums.begin(), rule.enums.end(), [&](const char* e) { return s == e; })) {
        return Violation{"PropertyConstraintViolation", where + ": not one of the allowed values"};
      }
      if (rule.type == T::kDateTime && !ParseDateTime(s)) {
        return Violation{"PropertyConstraintViolation", where + ": not an RFC 3339 date-time"};
      }
      return std::nullopt;
    }
    case T::kInteger:
      if (!IsInteger(v)) return Violation{"TypeConstraintViolation", where + ": expected an integer"};
      return std::nullopt;
    case T::kNumber:
      if (!v.is_number()) return Violation{"TypeConstraintViolation", where + ": expected a number"};
      return std::nullopt;
    case T::kObject:
      return CheckObject(rule.properties, v, where);
    case T::kArray: {
      if (!v.is_array()) return Violation{"TypeConstraintViolation", where + ": expected an array"};
      for (size_t i = 0; i < v.size(); ++i) {
        if (auto bad = Check(rule.items.front(), v[i], where + "[" + std::to_string(i) + "]")) return bad;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

RpcError Formation(std::string id, std::string what) { return {std::move(id), "FormationViolation", std::move(what)}; }

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {  // H. Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

}  // namespace

std::variant<Frame, RpcError> ParseFrame(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Formation("-1", "the frame is not JSON");
  if (!j.is_array()) return Formation("-1", "the frame is not a JSON array");
  if (j.size() < 3)
    return Formation(j.size() >= 2 && j[1].is_string() ? j[1].get<std::string>() : "-1",
                     "a frame has at least 3 elements");
  if (!j[1].is_string()) return Formation("-1", "the message id is not a string");
  std::string id = j[1].get<std::string>();
  if (id.empty() || id.size() > kMaxMessageId) return Formation("-1", "the message id must have 1 to 36 characters");
  if (!j[0].is_number_integer()) return Formation(id, "the message type is not an integer");
  const int64_t type = j[0].get<int64_t>();
  Frame f;
  f.id = std::move(id);
  switch (type) {
    case 2:
      if (j.size() != 4) return Formation(f.id, "a CALL has 4 elements");
      if (!j[2].is_string() || j[2].get_ref<const std::string&>().empty())
        return Formation(f.id, "the action is not a string");
      if (!j[3].is_object()) return Formation(f.id, "the CALL payload is not an object");
      f.type = MessageType::kCall;
      f.action = j[2].get<std::string>();
      f.payload = std::move(j[3]);
      return f;
    case 3:
      if (j.size() != 3) return Formation(f.id, "a CALLRESULT has 3 elements");
      if (!j[2].is_object()) return Formation(f.id, "the CALLRESULT payload is not an object");
      f.type = MessageType::kCallResult;
      f.payload = std::move(j[2]);
      return f;
    case 4:
      if (j.size() != 5) return Formation(f.id, "a CALLERROR has 5 elements");
      if (!j[2].is_string() || !j[3].is_string() || !j[4].is_object())
        return Formation(f.id, "a CALLERROR is [4, id, code, description, {details}]");
      f.type = MessageType::kCallError;
      f.error_code = j[2].get<std::string>();
      f.error_description = j[3].get<std::string>();
      f.payload = std::move(j[4]);
      return f;
    default:
      return RpcError{f.id, "ProtocolError", "unknown message type " + std::to_string(type)};
  }
}

ActionSupport SupportOf(std::string_view action) {
  for (const auto& a : Served()) {
    if (action == a.action) {
      return action == "DiagnosticsStatusNotification" || action == "FirmwareStatusNotification"
                 ? ActionSupport::kAcknowledged
                 : ActionSupport::kServed;
    }
  }
  for (const char* a : kOtherActions) {
    if (action == a) return ActionSupport::kNotSupported;
  }
  return ActionSupport::kUnknown;
}

std::optional<RpcError> ValidateCall(const std::string& id, std::string_view action, const json& payload) {
  for (const auto& a : Served()) {
    if (action != a.action) continue;
    if (auto bad = CheckObject(a.properties, payload, std::string(action))) {
      return RpcError{id, bad->code, std::move(bad->description)};
    }
    return std::nullopt;
  }
  std::string name(action.substr(0, 64));
  if (SupportOf(action) == ActionSupport::kNotSupported) {
    return RpcError{id, "NotSupported", name + " is not supported by this central system"};
  }
  return RpcError{id, "NotImplemented", "unknown action '" + name + "'"};
}

std::optional<int64_t> ParseDateTime(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't' and 'z' accepted as RFC 3339 allows.
  auto digits = [&](size_t pos, size_t n, int* out) { return gateway::ParseFixedDigits(s, pos, n, out); };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, &y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) || s[16] != ':' ||
      !digits(17, 2, &sec)) {
    return std::nullopt;
  }
  if (!gateway::ValidCalendarDate(y, mo, d) || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, &om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(y, unsigned(mo), unsigned(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(sec, 59) - offset_min * 60;
  return secs * 1000 + ms;
}

std::string FormatDateTime(int64_t epoch_ms) {
  std::time_t secs = std::time_t(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(epoch_ms % 1000));
  return buf;
}

std::string SerializeCallResult(const std::string& id, const json& payload) {
  return json::array({3, id, payload}).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string SerializeCallError(const RpcError& e) {
  return json::array({4, e.id, e.code, e.description, json::object()})
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string SerializeCall(const std::string& id, std::string_view action, const json& payload) {
  return json::array({2, id, std::string(action), payload}).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ocpp
