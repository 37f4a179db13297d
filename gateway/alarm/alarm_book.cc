#include "alarm/alarm_book.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace gateway {

AlarmBook::AlarmBook(const AlarmsConfig& config, int64_t keep_ms) : config_(config), keep_ms_(keep_ms) {}

void AlarmBook::Resume(std::vector<Alarm> stored) {
  for (auto& a : stored) {
    const Key sensor{a.facility_id, a.sensor_id};
    auto it = latest_.find(sensor);
    if (it == latest_.end() || alarms_.at({a.facility_id, it->second}).raised_ms < a.raised_ms) {
      latest_[sensor] = a.id;
    }
    alarms_[{a.facility_id, a.id}] = std::move(a);
  }
  size_t open = 0;
  for (const auto& [k, a] : alarms_) open += a.open() ? 1 : 0;
  if (open > 0) spdlog::warn("alarms: {} open alarms resumed from the buffer", open);
}

void AlarmBook::Change(Alarm& a) {
  ++a.version;
  changed_.insert({a.facility_id, a.id});
}

void AlarmBook::Apply(const std::vector<AlarmPress>& presses) {
  for (const auto& p : presses) ApplyOne(p);
}

void AlarmBook::ApplyOne(const AlarmPress& p) {
  if (p.phantom) {
    ++stats_.phantoms;
    // Wall time paces the log: a device replaying its state should not flood it.
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    if (now - last_phantom_log_ms_ >= 60000 || stats_.phantoms == 1) {
      spdlog::warn("alarms: phantom press of {}/{} (a replayed message) ignored ({} in all)", p.facility_id,
                   p.sensor_id, stats_.phantoms);
      last_phantom_log_ms_ = now;
    }
    return;
  }
  const std::string id = p.sensor_id + "-" + std::to_string(p.ts_ms);
  if (alarms_.count({p.facility_id, id})) {
    ++stats_.redelivered;
    return;
  }
  auto lit = latest_.find({p.facility_id, p.sensor_id});
  if (lit != latest_.end()) {
    Alarm& a = alarms_.at({p.facility_id, lit->second});
    if (p.ts_ms == a.last_press_ms) {
      ++stats_.redelivered;
      return;
    }
    const bool after_ack = !a.open() && p.ts_ms > a.acknowledged_ms;
    const bool within = p.ts_ms >= a.raised_ms &&
                        (a.open() || double(p.ts_ms - a.last_press_ms) <= config_.repeat_window_s * 1000);
    if (a.test == p.test && within && !after_ack) {
      ++a.presses;
      a.last_press_ms = std::max(a.last_press_ms, p.ts_ms);
      ++stats_.folded;
      Change(a);
      return;
    }
  }
  Alarm a;
  a.id = id;
  a.facility_id = p.facility_id;
  a.sensor_id = p.sensor_id;
  a.location = p.location;
  a.kind = p.kind;
  a.test = p.test;
  a.raised_ms = a.last_press_ms = p.ts_ms;
  a.version = 0;
  if (p.test) {
    ++stats_.tests;
  } else {
    ++stats_.raised;
  }
  spdlog::warn("alarms: {} {} raised by {}/{}{}", p.test ? "test alarm" : "ALARM", id, p.facility_id, p.sensor_id,
               p.location.empty() ? "" : " (" + p.location + ")");
  if (lit == latest_.end() || alarms_.at({p.facility_id, lit->second}).raised_ms < p.ts_ms) {
    latest_[{p.facility_id, p.sensor_id}] = id;
  }
  auto [it, fresh] = alarms_.emplace(Key{p.facility_id, id}, std::move(a));
  Change(it->second);
}

void AlarmBook::Escalate(int64_t now_ms) {
  const auto after = int64_t(config_.escalate_after_s * 1000);
  for (auto& [k, a] : alarms_) {
    if (a.state != AlarmState::kRaised || a.test || now_ms - a.raised_ms < after) continue;
    a.state = AlarmState::kEscalated;
    a.escalated_ms = now_ms;
    ++stats_.escalated;
    spdlog::error("alarms: ALARM {} of {}/{} not acknowledged after {} s: escalated", a.id, a.facility_id,
                  a.sensor_id, (now_ms - a.raised_ms) / 1000);
    Change(a);
  }
}

AlarmBook::AckResult AlarmBook::Acknowledge(const std::string& facility, const std::string& id,
                                            const std::string& by, int64_t now_ms, Alarm* out) {
  auto it = alarms_.find({facility, id});
  if (it == alarms_.end()) {
    ++stats_.acks_unknown;
    spdlog::warn("alarms: acknowledgement of unknown alarm '{}' of facility '{}' ignored", id.substr(0, 200),
                 facility);
    return AckResult::kUnknown;
  }
  Alarm& a = it->second;
  if (!a.open()) {
    ++stats_.acks_repeated;
    if (out) *out = a;
    return AckResult::kAlready;
  }
  a.state = AlarmState::kAcknowledged;
  a.acknowledged_ms = now_ms;
  a.acknowledged_by = by;
  ++stats_.acknowledged;
  spdlog::info("alarms: {} of {}/{} acknowledged{} after {} s", a.id, facility, a.sensor_id,
               by.empty() ? "" : " by " + by, (now_ms - a.raised_ms) / 1000);
  Change(a);
  if (out) *out = a;
  return AckResult::kAcknowledged;
}

void AlarmBook::MarkPublished(const std::string& facility, const std::string& id, uint32_t version) {
  auto it = alarms_.find({facility, id});
  if (it == alarms_.end() || version <= it->second.published_version) return;
  it->second.published_version = std::min(version, it->second.version);
  published_.insert({facility, id});
}

std::vector<Alarm> AlarmBook::Unwritten() const {
  std::set<Key> keys = changed_;
  keys.insert(published_.begin(), published_.end());
  std::vector<Alarm> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.push_back(alarms_.at(k));
  return out;
}

void AlarmBook::Committed(int64_t now_ms) {
  std::vector<Alarm> changes;
  for (const auto& k : changed_) changes.push_back(alarms_.at(k));
  changed_.clear();
  published_.clear();
  // In the order things happened, so that an output sees a raise before its escalation.
  std::sort(changes.begin(), changes.end(), [](const Alarm& a, const Alarm& b) { return a.raised_ms < b.raised_ms; });
  for (const auto& a : changes) {
    for (auto* l : listeners_) l->OnAlarmChanged(a);
  }
  Prune(now_ms);
}

void AlarmBook::Prune(int64_t now_ms) {
  for (auto it = alarms_.begin(); it != alarms_.end();) {
    const Alarm& a = it->second;
    auto lit = latest_.find({a.facility_id, a.sensor_id});
    const bool latest = lit != latest_.end() && lit->second == a.id;
    if (!a.open() && a.version == a.published_version && !latest && now_ms - a.raised_ms > keep_ms_ &&
        !changed_.count(it->first)) {
      it = alarms_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<Alarm> AlarmBook::Open() const {
  std::vector<Alarm> out;
  for (const auto& [k, a] : alarms_) {
    if (a.open()) out.push_back(a);
  }
  std::sort(out.begin(), out.end(), [](const Alarm& a, const Alarm& b) { return a.raised_ms < b.raised_ms; });
  return out;
}

std::vector<Alarm> AlarmBook::Open(const std::string& facility) const {
  std::vector<Alarm> out;
  for (auto& a : Open()) {
    if (a.facility_id == facility) out.push_back(std::move(a));
  }
  return out;
}

std::vector<Alarm> AlarmBook::Unpublished() const {
  std::vector<Alarm> out;
  for (const auto& [k, a] : alarms_) {
    if (a.version != a.published_version && !changed_.count(k)) out.push_back(a);
  }
  return out;
}

std::vector<Alarm> AlarmBook::LatestBySensor(const std::string& facility) const {
  std::vector<Alarm> out;
  for (auto it = latest_.lower_bound({facility, ""}); it != latest_.end() && it->first.first == facility; ++it) {
    out.push_back(alarms_.at({facility, it->second}));
  }
  return out;
}

}  // namespace gateway
