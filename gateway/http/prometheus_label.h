// PrometheusLabel: a label value for the Prometheus text format (/metrics of the gateway
// and of the town host): backslash, double quote and newline escaped, as the format
// requires. A pure function; any thread.
#pragma once

#include <string>

namespace gateway::http {

inline std::string PrometheusLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace gateway::http
