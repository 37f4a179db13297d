// AlarmBook: the gateway's emergency calls (一键通), from the press that raises one to the
// host's acknowledgement. The core owns it; it lives on the core's event-loop thread
// and nothing else may call it.
//
// What it decides (docs/wire-format.md, "Alarms"): a press (AlarmPress, recognised by
// the facility model's call-button and alarm-point rules) either raises a new alarm or
// is folded into the sensor's latest one (a repeat within alarms.repeat_window_s, or
// any press while that alarm is open; a real press never folds into a test alarm, and a
// press after an acknowledgement is a new call); the same press delivered twice
// (same sensor, same timestamp, as after a refused commit or a redelivered MQTT
// message) changes nothing; a phantom is counted and logged. An open real alarm not
// acknowledged within alarms.escalate_after_s escalates.
//
// Nothing is "changed" until it is on disk: every change waits in Unwritten() until the
// Pipeline has committed it (in the same transaction as the readings that caused it)
// and calls Committed(); only then do the listeners (the uplink, the escalation
// outputs) hear of it. A commit that fails leaves the changes waiting for the next.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/alarm.h"
#include "gateway/config.h"

namespace gateway {

struct AlarmStats {
  uint64_t raised = 0;        // real calls raised
  uint64_t tests = 0;         // test alarms raised
  uint64_t folded = 0;        // presses folded into an existing alarm (device repeats)
  uint64_t redelivered = 0;   // the same press delivered again: nothing changed
  uint64_t phantoms = 0;      // presses the device never made: never an alarm
  uint64_t escalated = 0;
  uint64_t acknowledged = 0;
  uint64_t acks_repeated = 0;  // acknowledgements of an alarm already acknowledged
  uint64_t acks_unknown = 0;   // acknowledgements naming no alarm of this gateway
};

class AlarmBook {
 public:
  // keep_ms: how long closed alarms stay in memory, so that a press delivered again
  // that late is still recognised (the pipeline refuses readings older than
  // history.late_days + 1 days).
  AlarmBook(const AlarmsConfig& config, int64_t keep_ms);

  // At start-up, before anything else: the stored alarms (store/alarm_store.h).
  void Resume(std::vector<Alarm> stored);

  void Apply(const std::vector<AlarmPress>& presses);
  // Escalates the open real alarms raised escalate_after_s or more before now_ms.
  void Escalate(int64_t now_ms);

  enum class AckResult { kAcknowledged, kAlready, kUnknown };
  // A host's acknowledgement. kAcknowledged: a change, to commit; kAlready: nothing to
  // commit, the caller publishes *out again; kUnknown: logged, counted.
  AckResult Acknowledge(const std::string& facility, const std::string& id, const std::string& by,
                        int64_t now_ms, Alarm* out);
  // The broker acknowledged this version of the alarm: written with the next commit
  // (no commit of its own: a restart before it re-publishes, a duplicate).
  void MarkPublished(const std::string& facility, const std::string& id, uint32_t version);

  bool HasChanges() const { return !changed_.empty(); }
  bool HasUnwritten() const { return !changed_.empty() || !published_.empty(); }
  std::vector<Alarm> Unwritten() const;
  // The commit that wrote Unwritten() succeeded: the listeners hear of each change.
  void Committed(int64_t now_ms);

  std::vector<Alarm> Open() const;
  std::vector<Alarm> Open(const std::string& facility) const;
  // Changes the broker has not acknowledged (after a restart: published first).
  std::vector<Alarm> Unpublished() const;
  // The newest alarm of each sensor of a facility that has one (births).
  std::vector<Alarm> LatestBySensor(const std::string& facility) const;

  void AddListener(AlarmListener* l) { listeners_.push_back(l); }
  const AlarmStats& stats() const { return stats_; }

 private:
  using Key = std::pair<std::string, std::string>;  // (facility, alarm id) or (facility, sensor)
  void ApplyOne(const AlarmPress& p);
  void Change(Alarm& a);
  void Prune(int64_t now_ms);

  AlarmsConfig config_;
  int64_t keep_ms_;
  std::map<Key, Alarm> alarms_;          // by (facility, id)
  std::map<Key, std::string> latest_;    // (facility, sensor) -> id of its newest alarm
  std::set<Key> changed_;                // changes waiting for a commit
  std::set<Key> published_;              // published versions waiting for a commit
  std::vector<AlarmListener*> listeners_;
  AlarmStats stats_;
  int64_t last_phantom_log_ms_ = 0;
};

}  // namespace gateway
