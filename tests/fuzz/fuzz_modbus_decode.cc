// libFuzzer target: Modbus register decoding and read planning, with the map entry and
// the register words both taken from the input; the input as a Modbus TCP reply.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "modbus/register_map.h"
#include "modbus/tcp_frame.h"
#include "mqtt_subscriber/mqtt_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using E = gateway::ModbusRegisterConfig;
  static const char* kPoints[] = {"entries_total", "occupancy", "occupied", "power", "connector/1/status",
                                  "connector/2/energy_kwh", "meals_total", "x"};
  if (size < 8) return 0;
  std::vector<E> entries;
  size_t pos = 0;
  // Entries: 6 bytes each, up to 16.
  while (pos + 6 <= size && entries.size() < 16 && data[pos] != 0xff) {
    E e;
    e.table = E::Table(data[pos] % 4);
    e.type = E::Type(data[pos + 1] % 6);
    e.byte_swap = data[pos + 1] & 0x40;
    e.word_swap = data[pos + 1] & 0x80;
    e.address = uint32_t(data[pos + 2]) << 8 | data[pos + 3];
    e.point = kPoints[data[pos + 4] % 8];
    e.as = gateway::PointType(data[pos + 5] % 9);
    if (data[pos + 5] & 0x10) e.scale = 0.1;
    if (data[pos + 5] & 0x20) e.offset = -40;
    if (data[pos + 5] & 0x40) e.scale = 1e30;
    entries.push_back(e);
    pos += 6;
  }
  auto blocks = modbus::PlanReads(entries);
  size_t covered = 0;
  for (const auto& b : blocks) {
    if (b.count == 0 || b.count > 2000) __builtin_trap();
    covered += b.entries.size();
  }
  if (covered != entries.size()) __builtin_trap();
  // The rest: register words.
  std::vector<uint16_t> words;
  for (size_t i = pos; i + 1 < size; i += 2) words.push_back(uint16_t(data[i] << 8 | data[i + 1]));
  for (const auto& e : entries) {
    if (e.table == E::Table::kCoil || e.table == E::Table::kDiscreteInput) {
      (void)modbus::DecodeBit(words.empty() ? 0 : uint8_t(words[0]), e);
    } else {
      (void)modbus::DecodeRegisters(words.data(), words.size(), e);
    }
  }
  // The same bytes as a Modbus TCP reply to a read (registers or bits) from unit data[6]:
  // whatever it holds, a reply from another unit is never accepted.
  if (size >= 12) {
    const uint8_t function = uint8_t(1 + data[7] % 4);
    const bool registers = function >= 3;
    const uint16_t count = registers ? uint16_t(1 + data[8] % 125) : uint16_t(1 + (data[8] << 3 | data[9]) % 2000);
    const uint8_t unit = (data[10] & 1) ? uint8_t(data[6] ^ 1) : data[6];
    const auto req = modbus::BuildTcpReadRequest(uint16_t(data[0] << 8 | data[1]), unit, function, 0, count);
    uint16_t reg_out[125];
    uint8_t bit_out[2000];
    const int err = modbus::CheckTcpReadReply(req, data, size, reg_out, bit_out);
    if (err == 0 && data[6] != unit) __builtin_trap();
  }
  // The MQTT packet parser sees the same bytes as a broker's stream.
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  bool malformed = false;
  if (auto h = mqtt_subscriber::ParseFixedHeader(stream, &malformed)) {
    if (h->header_size + h->remaining <= stream.size()) {
      (void)mqtt_subscriber::ParsePublish(h->flags, stream.substr(h->header_size, h->remaining));
    }
  }
  (void)mqtt_subscriber::TopicMatches(stream.substr(0, size / 2), stream.substr(size / 2));
  return 0;
}
