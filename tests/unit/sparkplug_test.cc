#include <catch2/catch.hpp>

#include "codec/sparkplug_codec.h"
#include "uplink/backoff.h"
#include "uplink/sparkplug_session.h"

using namespace gateway;

TEST_CASE("the codec decodes what it encoded, for every value type", "[codec]") {
  codec::Payload p;
  p.timestamp_ms = 1700000000123;
  p.seq = 42;
  p.metrics = {
      {"b", Value(true), 1, false},
      {"i32", Value(int32_t(-7)), 2, true},
      {"i64", Value(int64_t(-9000000000)), 3, false},
      {"u32", Value(uint32_t(4000000000u)), 4, false},
      {"u64", Value(uint64_t(18000000000000000000ull)), 5, false},
      {"f", Value(0.5f), 6, false},
      {"d", Value(1234.5678), 7, false},
      {"s", Value(std::string("长者食堂 canteen")), 8, true},
  };
  auto bytes = codec::Encode(p);
  auto back = codec::Decode(bytes);
  REQUIRE(back.ok());
  CHECK(back->timestamp_ms == p.timestamp_ms);
  REQUIRE(back->seq.has_value());
  CHECK(*back->seq == 42);
  REQUIRE(back->metrics.size() == p.metrics.size());
  for (size_t i = 0; i < p.metrics.size(); ++i) {
    CHECK(back->metrics[i].name == p.metrics[i].name);
    CHECK(back->metrics[i].value == p.metrics[i].value);
    CHECK(back->metrics[i].timestamp_ms == p.metrics[i].timestamp_ms);
    CHECK(back->metrics[i].is_historical == p.metrics[i].is_historical);
  }
}

TEST_CASE("the codec refuses garbage and oversized input", "[codec]") {
  CHECK_FALSE(codec::Decode(std::string("\xff\xff\xff\xff\x0f", 5)).ok());
  std::string big(2000, 'a');
  CHECK_FALSE(codec::Decode(big, 1000).ok());
}

TEST_CASE("seq starts at 0 with NBIRTH and wraps after 255", "[session]") {
  uplink::SparkplugSession s("huacao", "gw1");
  s.BeginConnection(7);
  auto birth = codec::Decode(s.NBirthPayload(1000, {})).value();
  CHECK(*birth.seq == 0);
  REQUIRE(birth.metrics.size() >= 2);
  CHECK(birth.metrics[0].name == "bdSeq");
  CHECK(birth.metrics[0].value == Value(uint64_t(7)));
  CHECK(birth.metrics[1].name == "Node Control/Rebirth");
  CHECK(birth.metrics[1].value == Value(false));
  uint64_t last = 0;
  for (int i = 1; i <= 300; ++i) {
    auto p = codec::Decode(s.NextPayload(1000, {})).value();
    CHECK(*p.seq == static_cast<uint64_t>(i % 256));
    last = *p.seq;
  }
  CHECK(last == 300 % 256);
  // A rebirth starts over at 0 with the same bdSeq.
  auto again = codec::Decode(s.NBirthPayload(2000, {})).value();
  CHECK(*again.seq == 0);
  CHECK(again.metrics[0].value == Value(uint64_t(7)));
  auto death = codec::Decode(s.NDeathPayload(3000)).value();
  CHECK_FALSE(death.seq.has_value());
  CHECK(death.metrics.at(0).value == Value(uint64_t(7)));
}

TEST_CASE("topics follow the Sparkplug namespace", "[session]") {
  uplink::SparkplugSession s("huacao", "gw1");
  CHECK(s.NodeTopic("NBIRTH") == "spBv1.0/huacao/NBIRTH/gw1");
  CHECK(s.DeviceTopic("DDATA", "canteen-1") == "spBv1.0/huacao/DDATA/gw1/canteen-1");
  CHECK(uplink::SparkplugSession::StateTopic("host") == "spBv1.0/STATE/host");
}

TEST_CASE("backoff grows, stays within bounds, and resets", "[backoff]") {
  uplink::Backoff b(100, 5000, 1);
  int prev_cap = 0;
  for (int i = 0; i < 20; ++i) {
    int cap = std::min(5000, 100 << std::min(i, 20));
    int d = b.NextDelayMs();
    CHECK(d >= cap / 2);
    CHECK(d <= cap);
    CHECK(cap >= prev_cap);
    prev_cap = cap;
  }
  b.Reset();
  int d = b.NextDelayMs();
  CHECK(d >= 50);
  CHECK(d <= 100);
  // Jitter: two gateways with different seeds do not retry in lock-step.
  uplink::Backoff x(1000, 60000, 1), y(1000, 60000, 2);
  int same = 0;
  for (int i = 0; i < 10; ++i) same += x.NextDelayMs() == y.NextDelayMs();
  CHECK(same < 10);
}

TEST_CASE("a DataSet metric (reports/daily) is encoded as a Sparkplug DataSet and decoded back", "[codec]") {
  DataSet ds;
  ds.columns = {"date", "period", "visits", "peak_occupancy", "mean_occupancy", "capacity", "ratio", "ok", "i32"};
  ds.types = {DataType::kString, DataType::kString, DataType::kUInt64, DataType::kInt64, DataType::kDouble,
              DataType::kUInt32, DataType::kFloat, DataType::kBoolean, DataType::kInt32};
  ds.rows.push_back({Scalar(std::string("2026-03-02")), Scalar(std::string("day")), Scalar(uint64_t(23)),
                     Scalar(int64_t(-1)), Scalar(6.28125), Scalar(uint32_t(10)), Scalar(0.5f), Scalar(true),
                     Scalar(int32_t(-5))});
  ds.rows.push_back({Scalar(std::string("2026-03-02")), Scalar(std::string("10")), Scalar(uint64_t(13)),
                     Scalar(int64_t(12)), Scalar(7.25), Scalar(uint32_t(10)), Scalar(0.25f), Scalar(false),
                     Scalar(int32_t(7))});
  codec::Payload p;
  p.timestamp_ms = 1;
  p.seq = 3;
  p.metrics = {{"reports/daily", Value(ds), 1772467200000, true}, {"visits/entries", Value(uint64_t(0)), 1772467200000, false}};
  auto bytes = codec::Encode(p);
  auto back = codec::Decode(bytes);
  REQUIRE(back.ok());
  REQUIRE(back->metrics.size() == 2);
  CHECK(back->metrics[0].name == "reports/daily");
  CHECK(back->metrics[0].is_historical);
  REQUIRE(std::holds_alternative<DataSet>(back->metrics[0].value));
  CHECK(std::get<DataSet>(back->metrics[0].value) == ds);
  CHECK(back->metrics[1].value == Value(uint64_t(0)));
}

TEST_CASE("an NCMD asks for a rebirth only with Node Control/Rebirth = true", "[session]") {
  using uplink::SparkplugSession;
  auto ncmd = [](std::vector<codec::Metric> metrics) {
    codec::Payload p;
    p.timestamp_ms = 1700000000000;
    p.metrics = std::move(metrics);
    return codec::Encode(p);
  };
  auto yes = SparkplugSession::ParseNodeCommand(ncmd({{"Node Control/Rebirth", Value(true), 0, false}}));
  REQUIRE(yes.ok());
  CHECK(yes->rebirth);
  auto no = SparkplugSession::ParseNodeCommand(ncmd({{"Node Control/Rebirth", Value(false), 0, false},
                                                    {"Node Control/Next Server", Value(true), 0, false}}));
  REQUIRE(no.ok());
  CHECK_FALSE(no->rebirth);
  // The right name with the wrong type is not a command.
  auto wrong = SparkplugSession::ParseNodeCommand(ncmd({{"Node Control/Rebirth", Value(int32_t(1)), 0, false}}));
  REQUIRE(wrong.ok());
  CHECK_FALSE(wrong->rebirth);
  CHECK_FALSE(SparkplugSession::ParseNodeCommand(std::string("\xff\xff\xff\xff\x0f", 5)).ok());
  CHECK_FALSE(SparkplugSession::ParseNodeCommand(std::string(65 * 1024, '\x08')).ok());
}
