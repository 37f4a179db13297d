#include "alarm_commands.h"

#include <algorithm>
#include <climits>
#include <set>

namespace host {

void AlarmCommands::NewRound(Item& it) {
  it.sends = 0;
  it.abandoned = false;
  // Due at once, unless a DCMD went out less than min_interval ago (a node that dies
  // and is born again within seconds is not sent two DCMDs in a row).
  it.reannounced = true;
}

void AlarmCommands::Sync(const std::vector<AckRequest>& pending) {
  std::set<Key> keep;
  for (const auto& r : pending) {
    Key k{r.group, r.edge_node, r.facility, r.alarm_id};
    keep.insert(k);
    auto [it, added] = items_.try_emplace(k);
    if (added) {
      it->second.operator_name = r.requested_by;
      it->second.request_id = r.request_id;
    } else if (r.request_id > it->second.request_id) {
      it->second.operator_name = r.requested_by;
      it->second.request_id = r.request_id;
      NewRound(it->second);
    }
  }
  std::erase_if(items_, [&](const auto& kv) { return !keep.count(kv.first); });
}

void AlarmCommands::OnAlarmRow(const AlarmRow& row, int64_t /*now_ms*/) {
  auto it = items_.find(Key{row.group, row.edge_node, row.facility, row.id});
  if (it == items_.end()) return;
  if (row.state == AlarmState::kAcknowledged) {
    items_.erase(it);
    return;
  }
  it->second.reannounced = true;
}

void AlarmCommands::OnNode(const std::string& group, const std::string& edge_node, bool online, int64_t bd_seq) {
  auto [n, added] = nodes_.try_emplace(NodeKey{group, edge_node});
  const bool born = online && (added || !n->second.online || n->second.bd_seq != bd_seq);
  n->second.online = online;
  n->second.bd_seq = bd_seq;
  // The first sight of a node online counts as a birth too: a try made before it
  // (the host had just started) went out blind.
  if (!born) return;
  for (auto& [k, it] : items_)
    if (std::get<0>(k) == group && std::get<1>(k) == edge_node) NewRound(it);
}

bool AlarmCommands::MaySend(const Key& k, const Item& it) const {
  if (it.abandoned) return false;
  auto n = nodes_.find(NodeKey{std::get<0>(k), std::get<1>(k)});
  // Not seen yet (the host has just started): one try; the resends wait for a birth.
  if (n == nodes_.end()) return it.sends == 0;
  return n->second.online;
}

int64_t AlarmCommands::DueAt(const Key& k, const Item& it) const {
  if (!MaySend(k, it)) return INT64_MAX;
  if (it.last_sent_ms < 0) return INT64_MIN;
  if (it.reannounced) return it.last_sent_ms + min_interval_ms_;
  return it.last_sent_ms + std::max(resend_ms_, min_interval_ms_);
}

std::vector<AckCommand> AlarmCommands::Due(int64_t now_ms) {
  std::vector<AckCommand> out;
  for (auto& [k, it] : items_) {
    if (DueAt(k, it) > now_ms) continue;
    ++it.sends;
    out.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), it.operator_name, it.sends});
    it.last_sent_ms = now_ms;
    it.reannounced = false;
    ++sent_total_;
    if (it.sends >= max_sends_) {
      // This send is the round's last; what answers it still completes the command.
      it.abandoned = true;
      ++abandoned_total_;
      abandoned_.push_back(out.back());
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> AlarmCommands::PendingNodes() const {
  std::vector<std::pair<std::string, std::string>> out;
  // items_ is ordered by group, then edge node: equal pairs are adjacent.
  for (const auto& [k, it] : items_)
    if (out.empty() || out.back().first != std::get<0>(k) || out.back().second != std::get<1>(k))
      out.emplace_back(std::get<0>(k), std::get<1>(k));
  return out;
}

std::vector<AckCommand> AlarmCommands::TakeAbandoned() {
  std::vector<AckCommand> out;
  out.swap(abandoned_);
  return out;
}

int64_t AlarmCommands::NextDeadline() const {
  int64_t next = INT64_MAX;
  for (const auto& [k, it] : items_) next = std::min(next, DueAt(k, it));
  return next;
}

}  // namespace host
