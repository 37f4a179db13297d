#include "core/unique_stamps.h"

namespace gateway {

namespace {

void KeyOf(const Reading& r, std::string& key) {
  key.clear();
  key += r.facility_id;
  key += '\n';
  key += r.sensor_id;
  key += '\n';
  key += r.point;
}

}  // namespace

void UniqueStamps::Forget(const std::vector<Reading>& readings) {
  std::string key;
  for (const Reading& r : readings) {
    KeyOf(r, key);
    auto it = recent_.find(key);
    if (it != recent_.end()) it->second.stamps.erase(r.ts_ms);
  }
}

size_t UniqueStamps::Apply(std::vector<Reading>& batch) {
  size_t moved = 0;
  std::string key;
  for (Reading& r : batch) {
    KeyOf(r, key);
    if (recent_.size() >= kMaxKeys && recent_.find(key) == recent_.end()) recent_.clear();
    Recent& rec = recent_[key];
    // A timestamp older than the window is never compared: such a reading comes from
    // a backlog, not from the same instant as one just seen.
    if (rec.newest != INT64_MIN && r.ts_ms >= rec.newest - kWindowMs) {
      bool bumped = false;
      while (rec.stamps.count(r.ts_ms)) {
        ++r.ts_ms;
        bumped = true;
      }
      if (bumped) ++moved;
    }
    rec.stamps.insert(r.ts_ms);
    if (r.ts_ms > rec.newest) {
      rec.newest = r.ts_ms;
      rec.stamps.erase(rec.stamps.begin(), rec.stamps.lower_bound(rec.newest - kWindowMs));
    }
  }
  return moved;
}

}  // namespace gateway
