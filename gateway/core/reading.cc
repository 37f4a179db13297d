#include "gateway/reading.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace gateway {

namespace {

constexpr DataType kByIndex[] = {DataType::kBoolean, DataType::kInt32,  DataType::kInt64,
                                 DataType::kUInt32,  DataType::kUInt64, DataType::kFloat,
                                 DataType::kDouble,  DataType::kString, DataType::kDataSet};

std::string ScalarToString(const Scalar& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_floating_point_v<T>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(x));
          return buf;
        } else {
          return std::to_string(x);
        }
      },
      v);
}

}  // namespace

DataType DataTypeOf(const Scalar& v) { return kByIndex[v.index()]; }
DataType DataTypeOf(const Value& v) { return kByIndex[v.index()]; }

const char* DataTypeName(DataType t) {
  switch (t) {
    case DataType::kBoolean: return "Boolean";
    case DataType::kInt32: return "Int32";
    case DataType::kInt64: return "Int64";
    case DataType::kUInt32: return "UInt32";
    case DataType::kUInt64: return "UInt64";
    case DataType::kFloat: return "Float";
    case DataType::kDouble: return "Double";
    case DataType::kString: return "String";
    case DataType::kDataSet: return "DataSet";
  }
  return "Unknown";
}

Value ToValue(const Scalar& s) {
  return std::visit([](const auto& x) -> Value { return Value(x); }, s);
}

std::string ValueToString(const Value& v) {
  if (const auto* d = std::get_if<DataSet>(&v)) {
    return "DataSet(" + std::to_string(d->columns.size()) + " columns, " + std::to_string(d->rows.size()) +
           " rows)";
  }
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, DataSet>) {
          return {};
        } else {
          return ScalarToString(Scalar(x));
        }
      },
      v);
}

// {"columns":[...],"types":[Sparkplug type numbers],"rows":[[...],...]}. A uint64 cell
// is written as a JSON number (nlohmann keeps 64-bit integers exact); the column type
// says how to read each cell back.
std::string DataSetToJson(const DataSet& d) {
  using Json = nlohmann::json;
  Json j;
  j["columns"] = d.columns;
  Json types = Json::array();
  for (DataType t : d.types) types.push_back(static_cast<uint32_t>(t));
  j["types"] = std::move(types);
  Json rows = Json::array();
  for (const auto& row : d.rows) {
    Json r = Json::array();
    for (const Scalar& c : row) {
      std::visit([&](const auto& x) { r.push_back(x); }, c);
    }
    rows.push_back(std::move(r));
  }
  j["rows"] = std::move(rows);
  return j.dump();
}

Result<DataSet> DataSetFromJson(const std::string& json) {
  using Json = nlohmann::json;
  try {
    Json j = Json::parse(json);
    DataSet d;
    d.columns = j.at("columns").get<std::vector<std::string>>();
    for (const auto& t : j.at("types")) d.types.push_back(static_cast<DataType>(t.get<uint32_t>()));
    if (d.types.size() != d.columns.size()) return Status::Corruption("DataSet: columns and types differ in number");
    for (const auto& jr : j.at("rows")) {
      if (jr.size() != d.columns.size()) return Status::Corruption("DataSet: a row has the wrong number of cells");
      std::vector<Scalar> row;
      row.reserve(jr.size());
      for (size_t i = 0; i < jr.size(); ++i) {
        const Json& c = jr[i];
        switch (d.types[i]) {
          case DataType::kBoolean: row.emplace_back(c.get<bool>()); break;
          case DataType::kInt32: row.emplace_back(c.get<int32_t>()); break;
          case DataType::kInt64: row.emplace_back(c.get<int64_t>()); break;
          case DataType::kUInt32: row.emplace_back(c.get<uint32_t>()); break;
          case DataType::kUInt64: row.emplace_back(c.get<uint64_t>()); break;
          case DataType::kFloat: row.emplace_back(c.get<float>()); break;
          case DataType::kDouble: row.emplace_back(c.get<double>()); break;
          case DataType::kString: row.emplace_back(c.get<std::string>()); break;
          case DataType::kDataSet: return Status::Corruption("DataSet: a cell cannot be a DataSet");
        }
      }
      d.rows.push_back(std::move(row));
    }
    return d;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("DataSet: ") + e.what());
  }
}

}  // namespace gateway
