// TcpFrame: the Modbus TCP read requests (and the coil writes) the driver sends and the checks of their
// replies, byte by byte.
//
// Why the driver frames TCP requests itself: libmodbus (3.1.6 in Debian 12, and still
// 3.1.12) checks only the transaction and protocol ids of a TCP reply, not its unit id
// (MBAP byte 6), and offers no hook to see the reply a read function got.
// Behind a TCP-to-RS-485 gateway the unit id is what says which device answered: a
// gateway that mixes up its serial replies (a late answer of another device, a
// misrouted one) would have another device's registers published as this one's. So for
// TCP the driver sends the request built here on libmodbus's socket, reads the reply
// with modbus_receive_confirmation (libmodbus's framing and response timeout), and
// checks it here: transaction id, protocol id, MBAP length, unit id, function code,
// exception, byte count. modbus_send_raw_request is not used because in 3.1.6 it
// always sends transaction id 0, which would lose the transaction id check
// (modbus_send_raw_request_tid came in 3.1.11). RTU needs none of this: libmodbus
// checks the slave address of an RTU reply (EMBBADSLAVE).
//
// Errors are libmodbus's errno values, so that the driver treats both paths alike:
// EMBXILFUN..EMBXGTAR for an exception reply, EMBBADEXC for a malformed exception,
// EMBBADDATA for a reply that does not match the request, EMBBADSLAVE for a reply that
// carries another unit id.
//
// Pure functions, any thread; fuzzed by tests/fuzz/fuzz_modbus_decode.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace modbus {

constexpr size_t kTcpReadRequestSize = 12;  // MBAP (7) + function, address, count
constexpr size_t kTcpHeaderSize = 7;        // transaction, protocol, length, unit id

// A read request (function 1, 2, 3 or 4) of `count` registers or bits from `address`.
std::array<uint8_t, kTcpReadRequestSize> BuildTcpReadRequest(uint16_t transaction, uint8_t unit, uint8_t function,
                                                             uint16_t address, uint16_t count);

// Checks reply `rsp` (`n` bytes: the MBAP header and the PDU, as
// modbus_receive_confirmation returns them) against `req`, a request from
// BuildTcpReadRequest, and unpacks its values: for functions 3 and 4, `count` registers
// into `words` (host order); for 1 and 2, `count` bits into `bits` (0 or 1). Returns 0,
// or an errno value as above; on EMBBADSLAVE, rsp[6] is the unit id that answered.
int CheckTcpReadReply(const std::array<uint8_t, kTcpReadRequestSize>& req, const uint8_t* rsp, size_t n,
                      uint16_t* words, uint8_t* bits);

// A write of one coil (function 5, FC05): ON is 0xFF00, OFF 0x0000. Its normal reply
// echoes the request byte for byte.
std::array<uint8_t, kTcpReadRequestSize> BuildTcpWriteCoilRequest(uint16_t transaction, uint8_t unit,
                                                                  uint16_t address, bool on);
// Checks the reply to a BuildTcpWriteCoilRequest request: 0, or an errno value as above.
int CheckTcpWriteCoilReply(const std::array<uint8_t, kTcpReadRequestSize>& req, const uint8_t* rsp, size_t n);

}  // namespace modbus
