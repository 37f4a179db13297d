// SparkplugHostSession: what a Sparkplug B 3.0 Primary Host knows of its edge nodes.
//
// Pure state, no I/O: the host loop hands it every PUBLISH of spBv1.0/{group}/# and
// gets back the rows to commit, the births and deaths seen, and the rebirths to ask
// for. It tracks per edge node the bdSeq of its NBIRTH (an NDEATH with another bdSeq is
// a stale will and changes nothing), the seq of its messages (0..255, wrapping), and
// the aliases of its births. A seq that skips ahead opens a gap; a message that fills
// it late (reordered) closes it; a gap still open after reorder_timeout_ms asks for
// NCMD Node Control/Rebirth, as does data from a node whose birth the host has not
// seen, or a metric sent by an alias no birth declared. Data is stored whether or not
// it arrives in order: the store's natural key makes its order irrelevant, and holding
// it back would only add lag.
//
// One thread (the host loop's).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/reading.h"

namespace host {

struct SampleRow {
  std::string group, edge_node, device;  // device "" for node-level metrics
  std::string metric;
  int64_t ts_ms = 0;
  gateway::Value value;
  bool historical = false;
};

struct MetricDecl {
  std::string name;
  uint32_t datatype = 0;
  int64_t alias = -1;  // -1: none
};

struct LifecycleEvent {
  enum Kind { kNodeBirth, kNodeDeath, kDeviceBirth, kDeviceDeath } kind;
  std::string group, edge_node, device;
  int64_t ts_ms = 0;
  int64_t bd_seq = -1;
  std::vector<MetricDecl> metrics;  // births: the metrics declared
};

struct NodeRef {
  std::string group, edge_node;
  bool operator<(const NodeRef& o) const { return group != o.group ? group < o.group : edge_node < o.edge_node; }
};

struct SessionOutput {
  std::vector<SampleRow> samples;
  std::vector<LifecycleEvent> events;
  std::vector<NodeRef> rebirths;  // send NCMD Node Control/Rebirth to these
};

struct SessionStats {
  uint64_t messages = 0;
  uint64_t bad_payloads = 0;        // not Sparkplug, or a topic outside the namespace
  uint64_t unresolved_aliases = 0;  // metrics by an alias no birth declared (not stored)
  uint64_t data_without_birth = 0;
  uint64_t seq_gaps = 0;            // seq numbers found missing
  uint64_t reordered = 0;           // missing ones that came late
  uint64_t stale_deaths = 0;        // NDEATH whose bdSeq is not the current birth's
  uint64_t rebirths_requested = 0;
};

struct NodeView {
  NodeRef ref;
  bool online = false;
  bool born = false;
  int64_t bd_seq = -1;
  int64_t last_heard_ms = 0;
};

class SparkplugHostSession {
 public:
  SparkplugHostSession(std::vector<std::string> groups, uint32_t reorder_timeout_ms, uint32_t rebirth_min_interval_ms,
                       size_t max_payload_bytes);

  // One PUBLISH. Messages of groups not served are ignored (the subscription should
  // not deliver them).
  void Handle(std::string_view topic, std::string_view payload, int64_t now_ms, SessionOutput* out);
  // Gaps past their reorder timeout become rebirth requests.
  void Tick(int64_t now_ms, SessionOutput* out);
  // The earliest instant Tick has something to do, or INT64_MAX.
  int64_t NextDeadline() const;

  // A declaration of a birth committed before this process started (the store's
  // metric_catalog), so that data by alias alone that the broker redelivers after a
  // host restart, ahead of any new birth, still resolves. The node stays unborn: its
  // data still asks for a rebirth.
  void RestoreDeclaration(const NodeRef& ref, const std::string& device, const MetricDecl& decl);

  const SessionStats& stats() const { return stats_; }
  std::vector<NodeView> Nodes() const;
  // One node, without copying them all; none if this process never heard of it.
  std::optional<NodeView> FindNode(const NodeRef& ref) const;

 private:
  struct Node {
    bool born = false;
    bool online = false;
    int64_t bd_seq = -1;
    int last_seq = -1;
    std::set<int> missing;
    int64_t gap_since_ms = 0;
    int64_t last_rebirth_ms = INT64_MIN / 2;
    int64_t last_heard_ms = 0;
    std::map<uint64_t, MetricDecl> aliases;       // alias -> declaration (node-wide)
    std::map<std::string, uint32_t> types;        // "device\nmetric" -> datatype
    std::set<std::string> devices_online;
  };
  friend uint32_t LookupType(const void*, std::optional<uint64_t>, std::string_view);
  struct LookupCtx {
    const Node* node;
    std::string device;
  };

  void TrackSeq(Node& n, const NodeRef& ref, uint64_t seq, int64_t now_ms, SessionOutput* out);
  void AskRebirth(Node& n, const NodeRef& ref, int64_t now_ms, SessionOutput* out);

  std::set<std::string> groups_;
  uint32_t reorder_timeout_ms_;
  uint32_t rebirth_min_interval_ms_;
  size_t max_payload_bytes_;
  std::map<NodeRef, Node> nodes_;
  SessionStats stats_;
};

}  // namespace host
