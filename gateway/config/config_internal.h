// Private to gateway/config/: what the parse pass (config_loader.cc) hands to the
// validation pass (config_validate.cc).
//
// The typed structs in gateway/config.h keep a `line` only for list items, but every
// message must point at the line of its key. So the parse pass records, beside the
// structs, where each key path was written ("uplink.reconnect.max_ms",
// "facilities[1].sensors[0].connectors") and which paths it already complained about,
// so that the validation pass neither repeats nor contradicts a parse error. Used on
// the loading thread only, inside LoadConfig().
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/status.h"

namespace gateway::config_detail {

struct ParseInfo {
  std::string file;
  std::map<std::string, int> lines;  // key path -> 1-based line where it was written
  std::set<std::string> bad;         // key paths that already carry a parse error

  // Values with no field of their own in Config; the validation pass resolves them.
  std::optional<double> max_disk_mb;
  std::string password_file;
  // drivers.mqtt.password_file, drivers.http.token_file (read by the validation pass).
  std::string mqtt_password_file;
  std::string http_token_file;
  std::string web_password_file;
  std::string ocpp_salt_file;  // drivers.ocpp.id_tag_salt_file
  std::string webhook_token_file;  // alarms.escalation.webhook.token_file

  bool Has(const std::string& path) const { return lines.count(path) != 0; }
};

// The second pass: checks ranges, references, ids and files over the whole config,
// fills in derived defaults (client_id, facility time zones, charging capacity, the
// password from password_file) and appends every problem it finds.
void ValidateConfig(const ParseInfo& info, Config* config, std::vector<ConfigError>* errors,
                    std::vector<ConfigError>* warnings);

// Reads a small regular file whole (config files, password files). The message of a
// failure names the path and the OS reason, never the content.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

}  // namespace gateway::config_detail
