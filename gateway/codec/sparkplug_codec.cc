#include "codec/sparkplug_codec.h"

#include "sparkplug_b.pb.h"

namespace gateway::codec {

namespace pb = org::eclipse::tahu::protobuf;

namespace {

void SetCell(pb::Payload_DataSet_DataSetValue& c, const Scalar& v) {
  switch (v.index()) {
    case 0: c.set_boolean_value(std::get<bool>(v)); break;
    case 1: c.set_int_value(static_cast<uint32_t>(std::get<int32_t>(v))); break;
    case 2: c.set_long_value(static_cast<uint64_t>(std::get<int64_t>(v))); break;
    case 3: c.set_int_value(std::get<uint32_t>(v)); break;
    case 4: c.set_long_value(std::get<uint64_t>(v)); break;
    case 5: c.set_float_value(std::get<float>(v)); break;
    case 6: c.set_double_value(std::get<double>(v)); break;
    case 7: c.set_string_value(std::get<std::string>(v)); break;
  }
}

// Tahu JS reads DataSet cells only of the types UInt32 (from long_value), Int64, Float,
// Double, Boolean and String, throws on any other column type, and hands an Int64 cell
// back unsigned (a -1 would read 18446744073709551615). So UInt64 columns go as Int64,
// whose bits are the same, and the signed ones (Int32, Int64: sentinels such as -1,
// transaction ids) as Double, which holds every value of theirs the gateway makes
// (|v| < 2^53) exactly.
DataType TahuColumnType(DataType t) {
  switch (t) {
    case DataType::kUInt64: return DataType::kInt64;
    case DataType::kInt32:
    case DataType::kInt64: return DataType::kDouble;
    default: return t;
  }
}

void SetTahuCell(pb::Payload_DataSet_DataSetValue& c, const Scalar& v) {
  switch (v.index()) {
    case 1: c.set_double_value(static_cast<double>(std::get<int32_t>(v))); break;
    case 2: c.set_double_value(static_cast<double>(std::get<int64_t>(v))); break;
    case 3: c.set_long_value(std::get<uint32_t>(v)); break;
    default: SetCell(c, v); break;
  }
}

// DataSet columns carry their type; a cell is read as its column says. Cells whose
// column type the gateway does not use make the whole metric unreadable (nullopt).
std::optional<Scalar> GetCell(const pb::Payload_DataSet_DataSetValue& c, uint32_t type) {
  switch (type) {
    case pb::Boolean: return Scalar(c.boolean_value());
    case pb::Int8:
    case pb::Int16:
    case pb::Int32: return Scalar(static_cast<int32_t>(c.int_value()));
    case pb::UInt8:
    case pb::UInt16:
    case pb::UInt32:
      if (c.value_case() == pb::Payload_DataSet_DataSetValue::kLongValue) {
        return Scalar(static_cast<uint32_t>(c.long_value()));
      }
      return Scalar(c.int_value());
    case pb::Int64: return Scalar(static_cast<int64_t>(c.long_value()));
    case pb::UInt64:
    case pb::DateTime: return Scalar(c.long_value());
    case pb::Float: return Scalar(c.float_value());
    case pb::Double: return Scalar(c.double_value());
    case pb::String:
    case pb::Text:
    case pb::UUID: return Scalar(c.string_value());
    default: return std::nullopt;
  }
}

void SetDataSet(pb::Payload_DataSet& out, const DataSet& d, Encoding enc) {
  out.set_num_of_columns(d.columns.size());
  for (const auto& c : d.columns) out.add_columns(c);
  for (DataType t : d.types) {
    out.add_types(static_cast<uint32_t>(enc == Encoding::kTahu ? TahuColumnType(t) : t));
  }
  for (const auto& row : d.rows) {
    auto* r = out.add_rows();
    for (const Scalar& cell : row) {
      if (enc == Encoding::kTahu) {
        SetTahuCell(*r->add_elements(), cell);
      } else {
        SetCell(*r->add_elements(), cell);
      }
    }
  }
}

std::optional<DataSet> GetDataSet(const pb::Payload_DataSet& in) {
  DataSet d;
  if (in.columns_size() != in.types_size()) return std::nullopt;
  for (const auto& c : in.columns()) d.columns.push_back(c);
  for (uint32_t t : in.types()) d.types.push_back(static_cast<DataType>(t));
  for (const auto& r : in.rows()) {
    if (r.elements_size() != in.types_size()) return std::nullopt;
    std::vector<Scalar> row;
    for (int i = 0; i < r.elements_size(); ++i) {
      auto cell = GetCell(r.elements(i), in.types(i));
      if (!cell) return std::nullopt;
      row.push_back(std::move(*cell));
    }
    d.rows.push_back(std::move(row));
  }
  return d;
}

void SetValue(pb::Payload_Metric& m, const Value& v, Encoding enc) {
  m.set_datatype(static_cast<uint32_t>(DataTypeOf(v)));
  switch (v.index()) {
    case 0: m.set_boolean_value(std::get<bool>(v)); break;
    case 1: m.set_int_value(static_cast<uint32_t>(std::get<int32_t>(v))); break;
    case 2: m.set_long_value(static_cast<uint64_t>(std::get<int64_t>(v))); break;
    case 3:
      if (enc == Encoding::kTahu) {
        m.set_long_value(std::get<uint32_t>(v));
      } else {
        m.set_int_value(std::get<uint32_t>(v));
      }
      break;
    case 4: m.set_long_value(std::get<uint64_t>(v)); break;
    case 5: m.set_float_value(std::get<float>(v)); break;
    case 6: m.set_double_value(std::get<double>(v)); break;
    case 7: m.set_string_value(std::get<std::string>(v)); break;
    case 8: SetDataSet(*m.mutable_dataset_value(), std::get<DataSet>(v), enc); break;
  }
}

// The value of a received metric as the nearest gateway Value; nullopt for types the
// gateway never sends or receives.
std::optional<Value> GetValue(const pb::Payload_Metric& m, uint32_t datatype) {
  switch (datatype) {
    case pb::Boolean:
      return Value(m.boolean_value());
    case pb::Int8:
    case pb::Int16:
    case pb::Int32:
      return Value(static_cast<int32_t>(m.int_value()));
    case pb::UInt8:
    case pb::UInt16:
    case pb::UInt32:
      if (m.value_case() == pb::Payload_Metric::kLongValue) return Value(static_cast<uint32_t>(m.long_value()));
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
    case pb::DataSet: {
      auto d = GetDataSet(m.dataset_value());
      if (!d) return std::nullopt;
      return Value(std::move(*d));
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string Encode(const Payload& payload, Encoding encoding) {
  pb::Payload p;
  p.set_timestamp(payload.timestamp_ms);
  if (payload.seq) p.set_seq(*payload.seq);
  auto* metrics = p.mutable_metrics();
  metrics->Reserve(static_cast<int>(payload.metrics.size()));
  for (const Metric& in : payload.metrics) {
    pb::Payload_Metric* m = metrics->Add();
    if (!in.name.empty()) m->set_name(in.name);
    if (in.alias) m->set_alias(*in.alias);
    m->set_timestamp(in.timestamp_ms);
    if (in.is_historical) m->set_is_historical(true);
    SetValue(*m, in.value, encoding);
  }
  return p.SerializeAsString();
}

Result<Payload> Decode(std::string_view bytes, size_t max_bytes) { return Decode(bytes, max_bytes, nullptr, nullptr); }

Result<Payload> Decode(std::string_view bytes, size_t max_bytes, DatatypeLookup lookup, const void* ctx) {
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
    std::optional<uint64_t> alias;
    if (m.has_alias()) alias = m.alias();
    uint32_t datatype = m.datatype();
    if (datatype == 0 && lookup != nullptr) datatype = lookup(ctx, alias, m.name());
    auto v = GetValue(m, datatype);
    if (!v) continue;
    out.metrics.push_back(Metric{m.name(), std::move(*v), m.timestamp(), m.is_historical(), alias});
  }
  return out;
}

}  // namespace gateway::codec
