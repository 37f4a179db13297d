#include "modbus/tcp_frame.h"

#include <modbus.h>

namespace modbus {

std::array<uint8_t, kTcpReadRequestSize> BuildTcpReadRequest(uint16_t transaction, uint8_t unit, uint8_t function,
                                                             uint16_t address, uint16_t count) {
  return {uint8_t(transaction >> 8), uint8_t(transaction), 0, 0,  // transaction id, protocol id 0
          0, 6,                                                   // length: unit id + 5 bytes of PDU
          unit, function, uint8_t(address >> 8), uint8_t(address), uint8_t(count >> 8), uint8_t(count)};
}

int CheckTcpReadReply(const std::array<uint8_t, kTcpReadRequestSize>& req, const uint8_t* rsp, size_t n,
                      uint16_t* words, uint8_t* bits) {
  // MBAP header and the function code, without which nothing else can be read.
  if (n < kTcpHeaderSize + 2) return EMBBADDATA;
  if (rsp[0] != req[0] || rsp[1] != req[1]) return EMBBADDATA;  // an answer to another request
  if (rsp[2] != 0 || rsp[3] != 0) return EMBBADDATA;            // not Modbus
  // The length field counts the unit id and the PDU: a reply whose length disagrees
  // with what was read leaves the stream out of step.
  if ((size_t(rsp[4]) << 8 | rsp[5]) != n - 6) return EMBBADDATA;
  // Another device's answer (see the header): refused before anything of it is used,
  // exception replies included.
  if (rsp[6] != req[6]) return EMBBADSLAVE;
  const uint8_t function = req[7];
  const uint8_t got = rsp[7];
  if (got == (function | 0x80)) {
    if (n != kTcpHeaderSize + 2) return EMBBADEXC;
    const uint8_t code = rsp[8];
    if (code == 0 || code >= MODBUS_EXCEPTION_MAX) return EMBBADEXC;
    return MODBUS_ENOBASE + code;  // EMBXILFUN ... EMBXGTAR
  }
  if (got != function) return EMBBADDATA;
  const size_t count = size_t(req[10]) << 8 | req[11];
  const bool registers = function == MODBUS_FC_READ_HOLDING_REGISTERS || function == MODBUS_FC_READ_INPUT_REGISTERS;
  const size_t bytes = registers ? 2 * count : (count + 7) / 8;
  if (rsp[8] != bytes || n != kTcpHeaderSize + 2 + bytes) return EMBBADDATA;
  const uint8_t* data = rsp + kTcpHeaderSize + 2;
  if (registers) {
    for (size_t i = 0; i < count; ++i) words[i] = uint16_t(data[2 * i] << 8 | data[2 * i + 1]);
  } else {
    for (size_t i = 0; i < count; ++i) bits[i] = (data[i / 8] >> (i % 8)) & 1;
  }
  return 0;
}

std::array<uint8_t, kTcpReadRequestSize> BuildTcpWriteCoilRequest(uint16_t transaction, uint8_t unit,
                                                                  uint16_t address, bool on) {
  return {uint8_t(transaction >> 8), uint8_t(transaction), 0, 0, 0, 6, unit, MODBUS_FC_WRITE_SINGLE_COIL,
          uint8_t(address >> 8), uint8_t(address), uint8_t(on ? 0xFF : 0x00), 0x00};
}

int CheckTcpWriteCoilReply(const std::array<uint8_t, kTcpReadRequestSize>& req, const uint8_t* rsp, size_t n) {
  if (n < kTcpHeaderSize + 2) return EMBBADDATA;
  if (rsp[0] != req[0] || rsp[1] != req[1]) return EMBBADDATA;
  if (rsp[2] != 0 || rsp[3] != 0) return EMBBADDATA;
  if ((size_t(rsp[4]) << 8 | rsp[5]) != n - 6) return EMBBADDATA;
  if (rsp[6] != req[6]) return EMBBADSLAVE;
  if (rsp[7] == (MODBUS_FC_WRITE_SINGLE_COIL | 0x80)) {
    if (n != kTcpHeaderSize + 2) return EMBBADEXC;
    const uint8_t code = rsp[8];
    if (code == 0 || code >= MODBUS_EXCEPTION_MAX) return EMBBADEXC;
    return MODBUS_ENOBASE + code;
  }
  // The echo: same function, address and value. A device that answers with another
  // value did not switch the coil as asked.
  if (n != req.size()) return EMBBADDATA;
  for (size_t i = kTcpHeaderSize; i < req.size(); ++i) {
    if (rsp[i] != req[i]) return EMBBADDATA;
  }
  return 0;
}

}  // namespace modbus
