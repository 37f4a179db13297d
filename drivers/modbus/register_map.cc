#include "modbus/register_map.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/point_value.h"

namespace modbus {

using gateway::ModbusRegisterConfig;
using gateway::PointType;
using gateway::Result;
using gateway::Status;
using gateway::Value;

namespace {
constexpr uint32_t kMaxRegistersPerRead = 125;  // Modbus: 0x7D for function 3 and 4
constexpr uint32_t kMaxBitsPerRead = 2000;       // 0x7D0 for function 1 and 2

bool IsBits(ModbusRegisterConfig::Table t) {
  return t == ModbusRegisterConfig::Table::kCoil || t == ModbusRegisterConfig::Table::kDiscreteInput;
}
}  // namespace

uint32_t WidthOf(ModbusRegisterConfig::Type t) {
  switch (t) {
    case ModbusRegisterConfig::Type::kInt32:
    case ModbusRegisterConfig::Type::kUInt32:
    case ModbusRegisterConfig::Type::kFloat32:
      return 2;
    default:
      return 1;
  }
}

std::vector<ReadBlock> PlanReads(const std::vector<ModbusRegisterConfig>& registers) {
  std::vector<size_t> order(registers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (registers[a].table != registers[b].table) return registers[a].table < registers[b].table;
    return registers[a].address < registers[b].address;
  });
  std::vector<ReadBlock> blocks;
  for (size_t i : order) {
    const auto& r = registers[i];
    const uint32_t width = IsBits(r.table) ? 1 : WidthOf(r.type);
    const uint32_t limit = IsBits(r.table) ? kMaxBitsPerRead : kMaxRegistersPerRead;
    if (!blocks.empty()) {
      ReadBlock& b = blocks.back();
      const uint32_t end = std::max(b.address + b.count, r.address + width);
      if (b.table == r.table && r.address <= b.address + b.count && end - b.address <= limit) {
        b.count = end - b.address;
        b.entries.push_back(i);
        continue;
      }
    }
    ReadBlock b;
    b.table = r.table;
    b.address = r.address;
    b.count = width;
    b.entries.push_back(i);
    blocks.push_back(std::move(b));
  }
  return blocks;
}

Result<Value> DecodeRegisters(const uint16_t* words, size_t n, const ModbusRegisterConfig& e) {
  const uint32_t width = WidthOf(e.type);
  if (n < width) return Status::InvalidArgument("short reply: " + std::to_string(n) + " of " + std::to_string(width) + " registers");
  uint16_t w[2] = {words[0], width == 2 ? words[1] : uint16_t(0)};
  if (e.byte_swap) {
    for (auto& x : w) x = uint16_t((x >> 8) | (x << 8));
  }
  // Modbus sends the high word first unless the device says otherwise.
  const uint32_t u32 = e.word_swap ? (uint32_t(w[1]) << 16) | w[0] : (uint32_t(w[0]) << 16) | w[1];
  drivers::Source raw;
  PointType natural = PointType::kAuto;
  switch (e.type) {
    case ModbusRegisterConfig::Type::kInt16:
      raw = int64_t(int16_t(w[0]));
      natural = PointType::kInt32;
      break;
    case ModbusRegisterConfig::Type::kUInt16:
      raw = int64_t(w[0]);
      natural = PointType::kUInt32;
      break;
    case ModbusRegisterConfig::Type::kInt32:
      raw = int64_t(int32_t(u32));
      natural = PointType::kInt32;
      break;
    case ModbusRegisterConfig::Type::kUInt32:
      raw = int64_t(u32);
      natural = PointType::kUInt32;
      break;
    case ModbusRegisterConfig::Type::kFloat32: {
      float f = 0;
      std::memcpy(&f, &u32, sizeof f);
      if (!std::isfinite(f)) return Status::InvalidArgument("float32 register is NaN or infinite");
      raw = double(f);
      natural = PointType::kFloat;
      break;
    }
    case ModbusRegisterConfig::Type::kBool:
      raw = w[0] != 0;
      natural = PointType::kBool;
      break;
  }
  if (e.scale != 1.0 || e.offset != 0.0) {
    double d = 0;
    if (const auto* i = std::get_if<int64_t>(&raw)) d = double(*i);
    if (const auto* f = std::get_if<double>(&raw)) d = *f;
    if (const auto* b = std::get_if<bool>(&raw)) d = *b ? 1 : 0;
    d = d * e.scale + e.offset;
    if (!std::isfinite(d)) return Status::InvalidArgument("scaled value is not finite");
    raw = d;
    // Scaled (or offset) values are Double whatever the register, float32 included
    // (docs/wire-format.md, config/example.yaml): raw * scale is computed in double,
    // and a Float would round it again to 24 bits. A point of the wire contract
    // (entries_total ...) still gets its own type through `as: auto` below.
    natural = PointType::kDouble;
  }
  return drivers::Convert(raw, e.as, e.point, natural);
}

Result<Value> DecodeBit(uint8_t bit, const ModbusRegisterConfig& e) {
  return drivers::Convert(drivers::Source(bit != 0), e.as, e.point, PointType::kBool);
}

}  // namespace modbus
