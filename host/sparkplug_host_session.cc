#include "sparkplug_host_session.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "codec/sparkplug_codec.h"

namespace host {

namespace {

constexpr std::string_view kNamespace = "spBv1.0";

struct Topic {
  std::string_view group, type, edge, device;
};

bool ParseTopic(std::string_view t, Topic* out) {
  std::string_view parts[6];
  size_t n = 0, start = 0;
  for (;;) {
    size_t slash = t.find('/', start);
    if (n == 5) return false;
    parts[n++] = t.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (n < 4 || parts[0] != kNamespace) return false;
  for (size_t i = 0; i < n; ++i)
    if (parts[i].empty()) return false;
  out->group = parts[1];
  out->type = parts[2];
  out->edge = parts[3];
  out->device = n == 5 ? parts[4] : std::string_view{};
  return true;
}

std::string TypeKey(std::string_view device, std::string_view metric) {
  std::string k(device);
  k += '\n';
  k += metric;
  return k;
}

int64_t BdSeqOf(const gateway::codec::Payload& p) {
  for (const auto& m : p.metrics) {
    if (m.name != "bdSeq") continue;
    if (auto* u = std::get_if<uint64_t>(&m.value)) return int64_t(*u & 0xff);
    if (auto* i = std::get_if<int64_t>(&m.value)) return *i & 0xff;
    if (auto* u32 = std::get_if<uint32_t>(&m.value)) return *u32 & 0xff;
  }
  return -1;
}

}  // namespace

uint32_t LookupType(const void* ctx, std::optional<uint64_t> alias, std::string_view name) {
  auto* c = static_cast<const SparkplugHostSession::LookupCtx*>(ctx);
  if (c->node == nullptr) return 0;
  if (alias) {
    auto it = c->node->aliases.find(*alias);
    if (it != c->node->aliases.end()) return it->second.datatype;
  }
  auto it = c->node->types.find(TypeKey(c->device, name));
  return it == c->node->types.end() ? 0 : it->second;
}

SparkplugHostSession::SparkplugHostSession(std::vector<std::string> groups, uint32_t reorder_timeout_ms,
                                           uint32_t rebirth_min_interval_ms, size_t max_payload_bytes)
    : groups_(groups.begin(), groups.end()),
      reorder_timeout_ms_(reorder_timeout_ms),
      rebirth_min_interval_ms_(rebirth_min_interval_ms),
      max_payload_bytes_(max_payload_bytes) {}

void SparkplugHostSession::AskRebirth(Node& n, const NodeRef& ref, int64_t now_ms, SessionOutput* out) {
  if (now_ms - n.last_rebirth_ms < int64_t(rebirth_min_interval_ms_)) return;
  n.last_rebirth_ms = now_ms;
  out->rebirths.push_back(ref);
  ++stats_.rebirths_requested;
}

void SparkplugHostSession::TrackSeq(Node& n, const NodeRef& ref, uint64_t seq64, int64_t now_ms, SessionOutput* out) {
  const int seq = int(seq64 & 0xff);
  if (n.last_seq < 0) {
    n.last_seq = seq;
    return;
  }
  const int ahead = (seq - n.last_seq + 256) % 256;
  if (ahead == 1) {
    n.last_seq = seq;
  } else if (ahead >= 2 && ahead <= 128) {
    // Skipped ahead: everything between is missing until it comes (reordered) or the
    // timeout asks for a rebirth.
    for (int s = (n.last_seq + 1) % 256; s != seq; s = (s + 1) % 256) n.missing.insert(s);
    stats_.seq_gaps += uint64_t(ahead - 1);
    if (n.gap_since_ms == 0) n.gap_since_ms = now_ms;
    n.last_seq = seq;
  } else if (n.missing.erase(seq) > 0) {
    ++stats_.reordered;
  }
  // Otherwise behind and not missing: a redelivery, which the store absorbs.
  if (n.missing.empty()) n.gap_since_ms = 0;
  (void)ref;
  (void)out;
}

void SparkplugHostSession::Handle(std::string_view topic, std::string_view payload, int64_t now_ms,
                                  SessionOutput* out) {
  ++stats_.messages;
  Topic t;
  if (!ParseTopic(topic, &t)) {
    ++stats_.bad_payloads;
    return;
  }
  if (t.type == "STATE" || groups_.count(std::string(t.group)) == 0) return;
  NodeRef ref{std::string(t.group), std::string(t.edge)};
  const bool is_device = !t.device.empty();
  const bool known_type = t.type == "NBIRTH" || t.type == "NDEATH" || t.type == "NDATA" || t.type == "DBIRTH" ||
                          t.type == "DDEATH" || t.type == "DDATA" || t.type == "NCMD" || t.type == "DCMD";
  if (!known_type || is_device != (t.type[0] == 'D')) {
    ++stats_.bad_payloads;
    return;
  }
  if (t.type == "NCMD" || t.type == "DCMD") return;  // ours (or another application's)

  Node& n = nodes_[ref];
  n.last_heard_ms = now_ms;
  LookupCtx ctx{&n, std::string(t.device)};
  auto decoded = gateway::codec::Decode(payload, max_payload_bytes_, &LookupType, &ctx);
  if (!decoded.ok()) {
    ++stats_.bad_payloads;
    spdlog::warn("{}: {}", topic, decoded.status().message());
    return;
  }
  gateway::codec::Payload& p = decoded.value();

  if (t.type == "NDEATH") {
    const int64_t bd = BdSeqOf(p);
    if (!n.born || bd != n.bd_seq) {
      ++stats_.stale_deaths;
      return;
    }
    n.online = false;
    n.born = false;
    n.last_seq = -1;
    n.missing.clear();
    n.gap_since_ms = 0;
    n.devices_online.clear();
    out->events.push_back({LifecycleEvent::kNodeDeath, ref.group, ref.edge_node, "", now_ms, bd, {}});
    return;
  }

  const bool birth = t.type == "NBIRTH" || t.type == "DBIRTH";
  if (t.type == "NBIRTH") {
    n.born = true;
    n.online = true;
    n.bd_seq = BdSeqOf(p);
    n.last_seq = p.seq ? int(*p.seq & 0xff) : 0;
    n.missing.clear();
    n.gap_since_ms = 0;
    n.aliases.clear();
    n.types.clear();
    n.devices_online.clear();
  } else if (!n.born) {
    // Data (or a DBIRTH) from a node whose NBIRTH this host has not seen: the named
    // metrics are still facts and are stored; the births are asked for.
    ++stats_.data_without_birth;
    AskRebirth(n, ref, now_ms, out);
  } else if (p.seq) {
    TrackSeq(n, ref, *p.seq, now_ms, out);
  }

  LifecycleEvent ev;
  if (birth) {
    ev.kind = t.type == "NBIRTH" ? LifecycleEvent::kNodeBirth : LifecycleEvent::kDeviceBirth;
    ev.group = ref.group;
    ev.edge_node = ref.edge_node;
    ev.device = std::string(t.device);
    ev.ts_ms = p.timestamp_ms ? int64_t(p.timestamp_ms) : now_ms;
    ev.bd_seq = n.bd_seq;
    if (is_device) n.devices_online.insert(ev.device);
  }
  if (t.type == "DDEATH") {
    n.devices_online.erase(std::string(t.device));
    out->events.push_back({LifecycleEvent::kDeviceDeath, ref.group, ref.edge_node, std::string(t.device), now_ms,
                           n.bd_seq, {}});
    return;
  }

  bool unresolved = false;
  for (auto& m : p.metrics) {
    std::string name = std::move(m.name);
    const uint32_t dt = uint32_t(gateway::DataTypeOf(m.value));
    if (birth) {
      if (m.alias) n.aliases[*m.alias] = MetricDecl{name, dt, int64_t(*m.alias)};
      n.types[TypeKey(t.device, name)] = dt;
      ev.metrics.push_back({name, dt, m.alias ? int64_t(*m.alias) : -1});
    } else if (name.empty()) {
      auto it = m.alias ? n.aliases.find(*m.alias) : n.aliases.end();
      if (it == n.aliases.end()) {
        ++stats_.unresolved_aliases;
        unresolved = true;
        continue;
      }
      name = it->second.name;
    }
    if (name.empty()) continue;
    SampleRow row;
    row.group = ref.group;
    row.edge_node = ref.edge_node;
    row.device = std::string(t.device);
    row.metric = std::move(name);
    row.ts_ms = m.timestamp_ms ? int64_t(m.timestamp_ms) : int64_t(p.timestamp_ms);
    row.value = std::move(m.value);
    row.historical = m.is_historical;
    out->samples.push_back(std::move(row));
  }
  if (unresolved) AskRebirth(n, ref, now_ms, out);
  if (birth) out->events.push_back(std::move(ev));
}

void SparkplugHostSession::Tick(int64_t now_ms, SessionOutput* out) {
  for (auto& [ref, n] : nodes_) {
    if (n.gap_since_ms != 0 && now_ms - n.gap_since_ms >= int64_t(reorder_timeout_ms_)) {
      spdlog::warn("{}/{}: seq {} missing for {} ms: asking for a rebirth", ref.group, ref.edge_node,
                   *n.missing.begin(), now_ms - n.gap_since_ms);
      n.missing.clear();
      n.gap_since_ms = 0;
      AskRebirth(n, ref, now_ms, out);
    }
  }
}

int64_t SparkplugHostSession::NextDeadline() const {
  int64_t d = std::numeric_limits<int64_t>::max();
  for (const auto& [ref, n] : nodes_)
    if (n.gap_since_ms != 0) d = std::min(d, n.gap_since_ms + int64_t(reorder_timeout_ms_));
  return d;
}

void SparkplugHostSession::RestoreDeclaration(const NodeRef& ref, const std::string& device, const MetricDecl& decl) {
  if (groups_.count(ref.group) == 0) return;
  Node& n = nodes_[ref];
  if (decl.alias >= 0) n.aliases[uint64_t(decl.alias)] = decl;
  n.types[TypeKey(device, decl.name)] = decl.datatype;
}

std::vector<NodeView> SparkplugHostSession::Nodes() const {
  std::vector<NodeView> v;
  for (const auto& [ref, n] : nodes_) v.push_back({ref, n.online, n.born, n.bd_seq, n.last_heard_ms});
  return v;
}

std::optional<NodeView> SparkplugHostSession::FindNode(const NodeRef& ref) const {
  auto it = nodes_.find(ref);
  if (it == nodes_.end()) return std::nullopt;
  return NodeView{ref, it->second.online, it->second.born, it->second.bd_seq, it->second.last_heard_ms};
}

}  // namespace host
