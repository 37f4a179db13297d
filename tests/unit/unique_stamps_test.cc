#include <catch2/catch.hpp>

#include "core/unique_stamps.h"

using gateway::Reading;

namespace {
Reading R(std::string sensor, std::string point, int64_t ts) {
  Reading r;
  r.facility_id = "canteen-1";
  r.sensor_id = std::move(sensor);
  r.point = std::move(point);
  r.value = uint64_t(1);
  r.ts_ms = ts;
  return r;
}
}  // namespace

TEST_CASE("UniqueStamps: readings of one metric and one instant get distinct stamps, in order") {
  gateway::UniqueStamps u;
  std::vector<Reading> b = {R("cam-1", "occupancy", 1000), R("cam-1", "occupancy", 1000), R("cam-1", "occupancy", 1000),
                            R("meal-1", "meals_total", 1000)};
  CHECK(u.Apply(b) == 2);
  CHECK(b[0].ts_ms == 1000);
  CHECK(b[1].ts_ms == 1001);
  CHECK(b[2].ts_ms == 1002);
  CHECK(b[3].ts_ms == 1000);  // another metric keeps its stamp
  // A later batch at the same arrival instant continues past the ones taken.
  std::vector<Reading> c = {R("cam-1", "occupancy", 1001), R("cam-1", "occupancy", 2000)};
  CHECK(u.Apply(c) == 1);
  CHECK(c[0].ts_ms == 1003);
  CHECK(c[1].ts_ms == 2000);
}

TEST_CASE("UniqueStamps: distinct and out-of-order stamps are left alone; a backlog is not compared") {
  gateway::UniqueStamps u;
  std::vector<Reading> b = {R("cam-1", "occupancy", 50000), R("cam-1", "occupancy", 49000),
                            R("cam-1", "occupancy", 51000), R("cam-1", "occupancy", 1000), R("cam-1", "occupancy", 1000)};
  CHECK(u.Apply(b) == 0);
  CHECK(b[1].ts_ms == 49000);
  CHECK(b[3].ts_ms == 1000);
  CHECK(b[4].ts_ms == 1000);  // older than the window: not compared (a backlog)
}

TEST_CASE("UniqueStamps: a batch that was not stored keeps its stamps when it is offered again") {
  gateway::UniqueStamps u;
  std::vector<Reading> first = {R("cam-1", "occupancy", 1000), R("cam-1", "occupancy", 1000)};
  CHECK(u.Apply(first) == 1);
  // The commit failed (disk full, EIO): the driver offers the same readings again.
  u.Forget(first);
  std::vector<Reading> again = {R("cam-1", "occupancy", 1000), R("cam-1", "occupancy", 1000)};
  CHECK(u.Apply(again) == 1);
  CHECK(again[0].ts_ms == 1000);
  CHECK(again[1].ts_ms == 1001);
}
