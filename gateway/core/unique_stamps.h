// UniqueStamps: makes the wire's de-duplication key unique per reading.
//
// A platform de-duplicates on (edge node, device, metric, timestamp) (shared
// wire-contract.md), so two real readings of one metric must never share a timestamp:
// today they do when an HTTP batch without `ts` stamps all its readings with one
// arrival time, and when a device's clock has whole seconds. Before a reading enters
// the buffer, a timestamp already taken by an earlier reading of the same facility,
// sensor and point within the last few seconds moves forward by 1 ms until it is free
// (T, T, T become T, T+1, T+2: the order kept, at most a millisecond per reading).
// Readings in the buffer and on the wire then never collide; a redelivery keeps its
// stamp, since it is the same row. Across a restart the memory is empty: the first
// reading after it can meet the last one before it only if both are of one millisecond.
//
// Owned by the Pipeline; its thread (the core's io_context) only.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gateway/reading.h"

namespace gateway {

class UniqueStamps {
 public:
  // Moves colliding timestamps forward in place; returns how many it moved.
  size_t Apply(std::vector<Reading>& batch);
  // Readings that were not stored after all (a commit that failed): their stamps are
  // free again, so that the same readings offered again keep their own timestamps.
  void Forget(const std::vector<Reading>& readings);

 private:
  struct Recent {
    int64_t newest = INT64_MIN;
    std::set<int64_t> stamps;  // those within kWindowMs of newest
  };
  static constexpr int64_t kWindowMs = 5000;
  static constexpr size_t kMaxKeys = 200000;  // a bound on memory; cleared past it
  std::map<std::string, Recent> recent_;
};

}  // namespace gateway
