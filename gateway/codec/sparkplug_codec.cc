#include "codec/sparkplug_codec.h"

#include "sparkplug_b.pb.h"

namespace gateway::codec {

namespace pb = org::eclipse::tahu::protobuf;

namespace {

void SetValue(pb::Payload_Metric& m, const Value& v) {
  m.set_datatype(static_cast<uint32_t>(DataTypeOf(v)));
  switch (v.index()) {
    case 0: m.set_boolean_value(std::get<bool>(v)); break;
    case 1: m.set_int_value(static_cast<uint32_t>(std::get<int32_t>(v))); break;
    case 2: m.set_long_value(static_cast<uint64_t>(std::get<int64_t>(v))); break;
    case 3: m.set_int_value(std::get<uint32_t>(v)); break;
    case 4: m.set_long_value(std::get<uint64_t>(v)); break;
    case 5: m.set_float_value(std::get<float>(v)); break;
    case 6: m.set_double_value(std::get<double>(v)); break;
    case 7: m.set_string_value(std::get<std::string>(v)); break;
  }
}

// The value of a received metric as the nearest gateway Value; nullopt for types the
// gateway never sends or receives.
std::optional<Value> GetValue(const pb::Payload_Metric& m) {
  switch (m.datatype()) {
    case pb::Boolean:
      return Value(m.boolean_value());
    case pb::Int8:
    case pb::Int16:
    case pb::Int32:
      return Value(static_cast<int32_t>(m.int_value()));
    case pb::UInt8:
    case pb::UInt16:
    case pb::UInt32:
      return Value(m.int_value());
    case pb::Int64:
      return Value(static_cast<int64_t>(m.long_value()));
    case pb::UInt64:
    case pb::DateTime:
      return Value(m.long_value());
    case pb::Float:
      return Value(m.float_value());
    case pb::Double:
      return Value(m.double_value());
    case pb::String:
    case pb::Text:
    case pb::UUID:
      return Value(m.string_value());
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string Encode(const Payload& payload) {
  pb::Payload p;
  p.set_timestamp(payload.timestamp_ms);
  if (payload.seq) p.set_seq(*payload.seq);
  auto* metrics = p.mutable_metrics();
  metrics->Reserve(static_cast<int>(payload.metrics.size()));
  for (const Metric& in : payload.metrics) {
    pb::Payload_Metric* m = metrics->Add();
    m->set_name(in.name);
    m->set_timestamp(in.timestamp_ms);
    if (in.is_historical) m->set_is_historical(true);
    SetValue(*m, in.value);
  }
  return p.SerializeAsString();
}

Result<Payload> Decode(std::string_view bytes, size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return Status::InvalidArgument("Sparkplug payload of " + std::to_string(bytes.size()) +
                                   " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  pb::Payload p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("not a Sparkplug B payload (Protobuf parse failed)");
  }
  Payload out;
  out.timestamp_ms = p.timestamp();
  if (p.has_seq()) out.seq = p.seq();
  for (const auto& m : p.metrics()) {
    auto v = GetValue(m);
    if (!v) continue;
    out.metrics.push_back(Metric{m.name(), std::move(*v), m.timestamp(), m.is_historical()});
  }
  return out;
}

}  // namespace gateway::codec
