#include "gateway/reading.h"

#include <cstdio>
#include <type_traits>

namespace gateway {

DataType DataTypeOf(const Value& v) {
  static constexpr DataType kByIndex[] = {DataType::kBoolean, DataType::kInt32,  DataType::kInt64,
                                          DataType::kUInt32,  DataType::kUInt64, DataType::kFloat,
                                          DataType::kDouble,  DataType::kString};
  return kByIndex[v.index()];
}

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
  }
  return "Unknown";
}

std::string ValueToString(const Value& v) {
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

}  // namespace gateway
