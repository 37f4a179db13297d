#include <catch2/catch.hpp>

#include <set>

#include "codec/sparkplug_codec.h"
#include "sparkplug_b.pb.h"
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

namespace {
namespace pb = org::eclipse::tahu::protobuf;

DataSet EveryColumnType() {
  DataSet ds;
  ds.columns = {"b", "i32", "i64", "u32", "u64", "f", "d", "s"};
  ds.types = {DataType::kBoolean, DataType::kInt32, DataType::kInt64, DataType::kUInt32,
              DataType::kUInt64,  DataType::kFloat, DataType::kDouble, DataType::kString};
  ds.rows.push_back({Scalar(true), Scalar(int32_t(-5)), Scalar(int64_t(-9000000000)), Scalar(uint32_t(4000000000u)),
                     Scalar(uint64_t(1772467200000)), Scalar(0.5f), Scalar(2.25), Scalar(std::string("day"))});
  return ds;
}
}  // namespace

TEST_CASE("the tahu encoding puts UInt32 in long_value and gives DataSets only Tahu's column types", "[codec]") {
  codec::Payload p;
  p.timestamp_ms = 1;
  p.seq = 1;
  p.metrics = {{"u32", Value(uint32_t(4000000000u)), 2, false},
               {"i32", Value(int32_t(-7)), 2, false},
               {"ds", Value(EveryColumnType()), 3, false}};
  pb::Payload spec, tahu;
  REQUIRE(spec.ParseFromString(codec::Encode(p, codec::Encoding::kSpec)));
  REQUIRE(tahu.ParseFromString(codec::Encode(p, codec::Encoding::kTahu)));
  CHECK(spec.metrics(0).value_case() == pb::Payload_Metric::kIntValue);
  CHECK(tahu.metrics(0).value_case() == pb::Payload_Metric::kLongValue);
  CHECK(tahu.metrics(0).long_value() == 4000000000u);
  CHECK(tahu.metrics(0).datatype() == pb::UInt32);  // the type stays; only the field moves
  CHECK(tahu.metrics(1).value_case() == pb::Payload_Metric::kIntValue);

  // Tahu JS reads cells of types UInt32 (long_value), Int64, Float, Double, Boolean and
  // String only: every other column type must have become one of these.
  const auto& tds = tahu.metrics(2).dataset_value();
  const std::set<uint32_t> readable = {pb::UInt32, pb::Int64, pb::Float, pb::Double, pb::Boolean, pb::String};
  for (int i = 0; i < tds.types_size(); ++i) {
    CHECK(readable.count(tds.types(i)) == 1);
    if (tds.types(i) == pb::UInt32 || tds.types(i) == pb::Int64) {
      CHECK(tds.rows(0).elements(i).value_case() == pb::Payload_DataSet_DataSetValue::kLongValue);
    }
  }
  // Signed columns (Tahu JS reads an Int64 cell unsigned) as Double, exact.
  CHECK(tds.types(1) == pb::Double);
  CHECK(tds.rows(0).elements(1).double_value() == -5.0);
  CHECK(tds.types(2) == pb::Double);
  CHECK(tds.rows(0).elements(2).double_value() == -9000000000.0);
  CHECK(tds.types(3) == pb::UInt32);
  CHECK(tds.types(4) == pb::Int64);
  CHECK(tds.rows(0).elements(4).long_value() == 1772467200000u);
  const auto& sds = spec.metrics(2).dataset_value();
  CHECK(sds.types(1) == pb::Int32);
  CHECK(sds.types(4) == pb::UInt64);
  CHECK(sds.rows(0).elements(3).value_case() == pb::Payload_DataSet_DataSetValue::kIntValue);

  // The gateway's own decoder reads both encodings to the same values.
  auto back = codec::Decode(codec::Encode(p, codec::Encoding::kTahu));
  REQUIRE(back.ok());
  CHECK(back->metrics[0].value == Value(uint32_t(4000000000u)));
  CHECK(back->metrics[1].value == Value(int32_t(-7)));
  const auto& d = std::get<DataSet>(back->metrics[2].value);
  CHECK(d.rows[0][1] == Scalar(-5.0));
  CHECK(d.rows[0][2] == Scalar(-9000000000.0));
  CHECK(d.rows[0][3] == Scalar(uint32_t(4000000000u)));
  CHECK(d.rows[0][4] == Scalar(int64_t(1772467200000)));
  auto spec_back = codec::Decode(codec::Encode(p, codec::Encoding::kSpec));
  REQUIRE(spec_back.ok());
  CHECK(std::get<DataSet>(spec_back->metrics[2].value) == EveryColumnType());
}

TEST_CASE("a metric sent by alias carries no name, and the alias decodes", "[codec]") {
  codec::Payload p;
  p.timestamp_ms = 1;
  p.seq = 5;
  p.metrics = {{"", Value(uint64_t(7)), 2, false, 17}, {"named", Value(true), 2, false, 18}};
  pb::Payload raw;
  REQUIRE(raw.ParseFromString(codec::Encode(p)));
  CHECK_FALSE(raw.metrics(0).has_name());
  CHECK(raw.metrics(0).alias() == 17);
  CHECK(raw.metrics(1).name() == "named");
  CHECK(raw.metrics(1).alias() == 18);
  auto back = codec::Decode(codec::Encode(p));
  REQUIRE(back.ok());
  REQUIRE(back->metrics[0].alias.has_value());
  CHECK(*back->metrics[0].alias == 17);
  CHECK(back->metrics[0].name.empty());
  CHECK(back->metrics[0].value == Value(uint64_t(7)));
}

TEST_CASE("aliases are unique across the edge node: node metrics below the facilities' first", "[session]") {
  using uplink::SparkplugSession;
  std::set<uint64_t> node;
  for (const char* n : {"gateway/version", "buffer/depth", "buffer/dropped", "uplink/reconnects"}) {
    auto a = SparkplugSession::NodeAlias(n);
    REQUIRE(a.has_value());
    CHECK(*a >= 1);
    CHECK(*a < SparkplugSession::kFirstFacilityAlias);
    node.insert(*a);
  }
  CHECK(node.size() == 4);
  CHECK_FALSE(SparkplugSession::NodeAlias("bdSeq").has_value());
  CHECK_FALSE(SparkplugSession::NodeAlias("Node Control/Rebirth").has_value());
  CHECK(SparkplugSession::FacilityAlias(0) == SparkplugSession::kFirstFacilityAlias);
  CHECK(SparkplugSession::FacilityAlias(1) != SparkplugSession::FacilityAlias(2));
}
