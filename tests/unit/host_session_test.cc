#include <catch2/catch.hpp>

#include "codec/sparkplug_codec.h"
#include "sparkplug_host_session.h"

using gateway::Value;
using gateway::codec::Metric;
using gateway::codec::Payload;
using host::SessionOutput;
using host::SparkplugHostSession;

namespace {

std::string P(std::optional<uint64_t> seq, std::vector<Metric> metrics, uint64_t ts = 1000) {
  Payload p;
  p.timestamp_ms = ts;
  p.seq = seq;
  p.metrics = std::move(metrics);
  return gateway::codec::Encode(p);
}

Metric M(std::string name, Value v, uint64_t ts = 1000, std::optional<uint64_t> alias = std::nullopt) {
  Metric m;
  m.name = std::move(name);
  m.value = std::move(v);
  m.timestamp_ms = ts;
  m.alias = alias;
  return m;
}

const std::string kN = "spBv1.0/huacao/";

void Born(SparkplugHostSession& s, uint64_t bd, SessionOutput* out) {
  s.Handle(kN + "NBIRTH/gw-1", P(0, {M("bdSeq", Value(bd))}), 0, out);
  s.Handle(kN + "DBIRTH/gw-1/canteen-1", P(1, {M("occupancy/current", Value(uint32_t(3)), 1000, 7)}), 0, out);
}

}  // namespace

TEST_CASE("HostSession: data by alias alone is named from the birth") {
  SparkplugHostSession s({"huacao"}, 1000, 0, 1 << 20);
  SessionOutput out;
  Born(s, 5, &out);
  REQUIRE(out.events.size() == 2);
  CHECK(out.events[1].metrics.at(0).alias == 7);
  out = {};
  s.Handle(kN + "DDATA/gw-1/canteen-1", P(2, {M("", Value(uint32_t(4)), 2000, 7), M("", Value(uint32_t(9)), 2000, 8)}),
           0, &out);
  REQUIRE(out.samples.size() == 1);
  CHECK(out.samples[0].metric == "occupancy/current");
  CHECK(out.samples[0].ts_ms == 2000);
  CHECK(s.stats().unresolved_aliases == 1);
  CHECK(out.rebirths.size() == 1);  // the unknown alias 8
}

TEST_CASE("HostSession: a seq gap asks for a rebirth only after the reorder timeout; a late message closes it") {
  SparkplugHostSession s({"huacao"}, 1000, 0, 1 << 20);
  SessionOutput out;
  Born(s, 5, &out);
  s.Handle(kN + "NDATA/gw-1", P(3, {}), 100, &out);  // seq 2 missing
  s.Tick(1099, &out);
  CHECK(out.rebirths.empty());
  CHECK(s.NextDeadline() == 1100);
  s.Tick(1100, &out);
  REQUIRE(out.rebirths.size() == 1);
  CHECK(out.rebirths[0].edge_node == "gw-1");

  out = {};
  s.Handle(kN + "NDATA/gw-1", P(5, {}), 2000, &out);  // 4 missing
  s.Handle(kN + "NDATA/gw-1", P(4, {}), 2100, &out);  // ... came late
  s.Tick(5000, &out);
  CHECK(out.rebirths.empty());
  CHECK(s.stats().reordered == 1);
  // Wrapping 255 -> 0 is no gap.
  for (int q = 6; q <= 255; ++q) s.Handle(kN + "NDATA/gw-1", P(uint64_t(q), {}), 6000, &out);
  s.Handle(kN + "NDATA/gw-1", P(0, {}), 6000, &out);
  s.Tick(99000, &out);
  CHECK(out.rebirths.empty());
}

TEST_CASE("HostSession: NDEATH counts only with the birth's bdSeq; data without a birth asks for one") {
  SparkplugHostSession s({"huacao"}, 1000, 0, 1 << 20);
  SessionOutput out;
  s.Handle(kN + "DDATA/gw-1/canteen-1", P(4, {M("occupancy/current", Value(uint32_t(4)), 2000)}), 0, &out);
  CHECK(out.samples.size() == 1);  // named: stored
  CHECK(out.rebirths.size() == 1);
  out = {};
  Born(s, 5, &out);
  out = {};
  s.Handle(kN + "NDEATH/gw-1", P(std::nullopt, {M("bdSeq", Value(uint64_t(4)))}), 0, &out);
  CHECK(out.events.empty());
  CHECK(s.stats().stale_deaths == 1);
  s.Handle(kN + "NDEATH/gw-1", P(std::nullopt, {M("bdSeq", Value(uint64_t(5)))}), 0, &out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].kind == host::LifecycleEvent::kNodeDeath);
  CHECK_FALSE(s.Nodes().at(0).online);
  // Another group's messages are not ours.
  out = {};
  s.Handle("spBv1.0/other/NBIRTH/gw-9", P(0, {M("bdSeq", Value(uint64_t(1)))}), 0, &out);
  CHECK(out.events.empty());
}
