#include "alarm_commands.h"

#include <algorithm>
#include <climits>
#include <set>

namespace host {

void AlarmCommands::Sync(const std::vector<AckRequest>& pending) {
  std::set<Key> keep;
  for (const auto& r : pending) {
    Key k{r.group, r.edge_node, r.facility, r.alarm_id};
    keep.insert(k);
    auto [it, added] = items_.try_emplace(k);
    if (added) it->second.operator_name = r.requested_by;
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

int64_t AlarmCommands::DueAt(const Item& it) const {
  if (it.last_sent_ms < 0) return INT64_MIN;
  if (it.reannounced) return it.last_sent_ms + min_interval_ms_;
  return it.last_sent_ms + std::max(resend_ms_, min_interval_ms_);
}

std::vector<AckCommand> AlarmCommands::Due(int64_t now_ms) {
  std::vector<AckCommand> out;
  for (auto& [k, it] : items_) {
    if (DueAt(it) > now_ms) continue;
    out.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), it.operator_name});
    it.last_sent_ms = now_ms;
    it.reannounced = false;
    ++sent_total_;
  }
  return out;
}

int64_t AlarmCommands::NextDeadline() const {
  int64_t next = INT64_MAX;
  for (const auto& [k, it] : items_) next = std::min(next, DueAt(it));
  return next;
}

}  // namespace host
