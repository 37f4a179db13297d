// RegisterMap: what one Modbus device is asked for and how its answers become readings.
//
// Plans the requests (adjacent entries of one table are read together, up to the
// protocol's limits) and decodes register words into typed point values: int16,
// uint16, int32, uint32, float32 with byte and word order, then scale and offset,
// then the point's type (`as`; by default a known point's wire type, else the
// register's own: Int32, UInt32 or Float, and Double when scaled or offset). Pure and allocation-light so that it can be fuzzed.
// Any thread; an instance is immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/reading.h"
#include "gateway/status.h"

namespace modbus {

// One request: `count` registers (or bits) of `table` from `address`, feeding entries.
struct ReadBlock {
  gateway::ModbusRegisterConfig::Table table = gateway::ModbusRegisterConfig::Table::kHolding;
  uint32_t address = 0;
  uint32_t count = 0;
  std::vector<size_t> entries;  // indexes into the device's registers
};

// Registers (words) an entry of this type spans.
uint32_t WidthOf(gateway::ModbusRegisterConfig::Type t);

// Groups entries into requests: one table, contiguous or overlapping addresses, at most
// 125 registers or 2000 bits. Gaps are not bridged: many devices answer a read that
// touches an unmapped address with an exception.
std::vector<ReadBlock> PlanReads(const std::vector<gateway::ModbusRegisterConfig>& registers);

// Decodes one register entry from `words` (its WidthOf() registers, as libmodbus
// returns them: host-order 16-bit values). Fails on NaN/Inf, a value out of range for
// the point's type, or too few words.
gateway::Result<gateway::Value> DecodeRegisters(const uint16_t* words, size_t n,
                                                const gateway::ModbusRegisterConfig& entry);

// A coil or discrete input.
gateway::Result<gateway::Value> DecodeBit(uint8_t bit, const gateway::ModbusRegisterConfig& entry);

}  // namespace modbus
