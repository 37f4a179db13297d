#include "host_config.h"

#include "gateway/local_time.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace host {

namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxSecretBytes = 4096;

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}
  std::vector<std::string> errors;

  void Error(const YAML::Node& n, const std::string& key, const std::string& msg) {
    YAML::Mark m = n.Mark();
    std::string e = file_;
    e += ":";
    e += std::to_string(m.is_null() ? 1 : m.line + 1);
    e += ": ";
    e += key;
    e += ": ";
    e += msg;
    errors.push_back(std::move(e));
  }

  using Handler = std::function<void(const YAML::Node&, const std::string&)>;
  void Map(const YAML::Node& node, const std::string& path, const std::map<std::string, Handler>& fields) {
    if (!node || node.IsNull()) return;
    if (!node.IsMap()) {
      Error(node, path.empty() ? "(top)" : path, "expected a map of keys");
      return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      YAML::Node k = it->first, v = it->second;
      std::string name = k.Scalar();
      std::string full = path.empty() ? name : path + "." + name;
      auto f = fields.find(name);
      if (f == fields.end()) {
        Error(k, full, "unknown key");
        continue;
      }
      f->second(v, full);
    }
  }

  void String(const YAML::Node& v, const std::string& key, std::string* out) {
    if (!v.IsScalar()) return Error(v, key, "expected a string");
    *out = v.Scalar();
  }

  template <typename T>
  void UInt(const YAML::Node& v, const std::string& key, T* out, uint64_t lo, uint64_t hi) {
    uint64_t x = 0;
    try {
      if (!v.IsScalar() || v.Scalar().empty() || v.Scalar()[0] == '-') throw YAML::Exception(v.Mark(), "");
      x = v.as<uint64_t>();
    } catch (const YAML::Exception&) {
      return Error(v, key, "expected a whole number");
    }
    if (x < lo || x > hi) return Error(v, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    *out = static_cast<T>(x);
  }

  // A secret file: read whole, a trailing newline dropped; the message never quotes it.
  void Secret(const YAML::Node& v, const std::string& key, std::string* out) {
    std::string path;
    String(v, key, &path);
    if (path.empty()) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error(v, key, "cannot read " + path);
    std::string s(kMaxSecretBytes + 1, '\0');
    in.read(s.data(), std::streamsize(s.size()));
    s.resize(size_t(in.gcount()));
    if (s.size() > kMaxSecretBytes) return Error(v, key, path + " is larger than 4 KiB");
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    *out = std::move(s);
  }

  // Sparkplug ids: no '/', '+', '#' (they are topic levels).
  void Id(const YAML::Node& v, const std::string& key, std::string* out) {
    String(v, key, out);
    if (out->empty() || out->find_first_of("/+#") != std::string::npos)
      Error(v, key, "must be non-empty, without '/', '+' or '#'");
  }

 private:
  std::string file_;
};

}  // namespace

gateway::Result<HostConfig> LoadHostConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return gateway::Status::NotFound(path + ": cannot open the config file");
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  if (text.size() > kMaxConfigBytes) return gateway::Status::InvalidArgument(path + ": larger than 1 MiB");

  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return gateway::Status::InvalidArgument(path + ":" + std::to_string(e.mark.is_null() ? 0 : e.mark.line + 1) +
                                            ": YAML syntax error: " + e.msg);
  }
  HostConfig c;
  Parser p(path);
  using N = const YAML::Node&;
  using S = const std::string&;
  bool groups_seen = false;
  p.Map(root, "", {
    {"host", [&](N v, S k) {
      p.Map(v, k, {
        {"id", [&](N x, S kk) { p.Id(x, kk, &c.host_id); }},
        {"groups", [&](N x, S kk) {
          groups_seen = true;
          if (!x.IsSequence() || x.size() == 0) return p.Error(x, kk, "expected a list of one or more group ids");
          for (size_t i = 0; i < x.size(); ++i) {
            std::string g;
            p.Id(x[i], kk + "[" + std::to_string(i) + "]", &g);
            for (const auto& old : c.groups)
              if (old == g) p.Error(x[i], kk + "[" + std::to_string(i) + "]", "group " + g + " listed twice");
            c.groups.push_back(g);
          }
        }},
        {"reorder_timeout_ms", [&](N x, S kk) { p.UInt(x, kk, &c.reorder_timeout_ms, 100, 600000); }},
        {"rebirth_min_interval_ms", [&](N x, S kk) { p.UInt(x, kk, &c.rebirth_min_interval_ms, 0, 3600000); }},
        {"timezone", [&](N x, S kk) {
          p.String(x, kk, &c.timezone);
          if (!gateway::TimeZone::Load(c.timezone).ok()) p.Error(x, kk, "not a time zone of the tz database: " + c.timezone);
        }},
      });
    }},
    {"mqtt", [&](N v, S k) {
      p.Map(v, k, {
        {"host", [&](N x, S kk) { p.String(x, kk, &c.mqtt_host); }},
        {"port", [&](N x, S kk) { p.UInt(x, kk, &c.mqtt_port, 1, 65535); }},
        {"client_id", [&](N x, S kk) { p.Id(x, kk, &c.mqtt_client_id); }},
        {"username", [&](N x, S kk) { p.String(x, kk, &c.mqtt_username); }},
        {"password_file", [&](N x, S kk) { p.Secret(x, kk, &c.mqtt_password); }},
        {"keep_alive_s", [&](N x, S kk) { p.UInt(x, kk, &c.keep_alive_s, 5, 3600); }},
        {"max_payload_bytes", [&](N x, S kk) { p.UInt(x, kk, &c.max_payload_bytes, 1024, 64u << 20); }},
      });
    }},
    {"metrics", [&](N v, S k) {
      p.Map(v, k, {
        {"enabled", [&](N x, S kk) {
          if (!x.IsScalar() || (x.Scalar() != "true" && x.Scalar() != "false")) return p.Error(x, kk, "expected true or false");
          c.metrics_enabled = x.Scalar() == "true";
        }},
        {"address", [&](N x, S kk) { p.String(x, kk, &c.metrics_address); }},
        {"port", [&](N x, S kk) { p.UInt(x, kk, &c.metrics_port, 0, 65535); }},
      });
    }},
    {"board", [&](N v, S k) {
      p.Map(v, k, {
        {"enabled", [&](N x, S kk) {
          if (!x.IsScalar() || (x.Scalar() != "true" && x.Scalar() != "false")) return p.Error(x, kk, "expected true or false");
          c.board_enabled = x.Scalar() == "true";
        }},
        {"address", [&](N x, S kk) { p.String(x, kk, &c.board_address); }},
        {"port", [&](N x, S kk) { p.UInt(x, kk, &c.board_port, 0, 65535); }},
        {"refresh_ms", [&](N x, S kk) { p.UInt(x, kk, &c.board_refresh_ms, 100, 60000); }},
        {"users_file", [&](N x, S kk) {
          p.String(x, kk, &c.board_users_file);
          if (c.board_users_file.empty()) p.Error(x, kk, "must not be empty (omit it: nobody can log in)");
        }},
        {"session_hours", [&](N x, S kk) { p.UInt(x, kk, &c.board_session_hours, 1, 168); }},
      });
    }},
    {"database", [&](N v, S k) {
      p.Map(v, k, {
        {"conninfo", [&](N x, S kk) {
          p.String(x, kk, &c.pg_conninfo);
          if (c.pg_conninfo.find("password") != std::string::npos)
            p.Error(x, kk, "must not contain a password: use database.password_file");
        }},
        {"password_file", [&](N x, S kk) { p.Secret(x, kk, &c.pg_password); }},
        {"retention_days", [&](N x, S kk) { p.UInt(x, kk, &c.retention_days, 1, 36500); }},
        {"max_batch_messages", [&](N x, S kk) { p.UInt(x, kk, &c.max_batch_messages, 1, 65535); }},
      });
    }},
  });
  if (!groups_seen && p.errors.empty()) p.Error(root["host"] ? root["host"] : root, "host.groups", "required: the groups (towns) this host serves");
  if (c.pg_conninfo.empty() && p.errors.empty()) p.Error(root, "database.conninfo", "required: a libpq connection string");
  if (!p.errors.empty()) {
    std::string all;
    for (const auto& e : p.errors) {
      if (!all.empty()) all += "\n";
      all += e;
    }
    return gateway::Status::InvalidArgument(all);
  }
  if (c.mqtt_client_id.empty()) {
    c.mqtt_client_id = "community-host-";
    c.mqtt_client_id += c.host_id;
  }
  return c;
}

}  // namespace host
