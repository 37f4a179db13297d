#include "mqtt_subscriber/mqtt_codec.h"

namespace mqtt_subscriber {

namespace {

void PutU16(std::string& out, uint16_t v) {
  out.push_back(char(v >> 8));
  out.push_back(char(v & 0xff));
}

void PutString(std::string& out, const std::string& s) {
  PutU16(out, uint16_t(s.size()));
  out += s;
}

std::string Packet(uint8_t first, const std::string& body) {
  std::string out;
  out.push_back(char(first));
  uint32_t n = uint32_t(body.size());
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(char(b));
  } while (n > 0);
  out += body;
  return out;
}

}  // namespace

std::string EncodeConnect(const std::string& client_id, bool clean_session, uint16_t keep_alive_s,
                          const std::string& username, const std::string& password) {
  return EncodeConnect(client_id, clean_session, keep_alive_s, username, password, Will{});
}

std::string EncodeConnect(const std::string& client_id, bool clean_session, uint16_t keep_alive_s,
                          const std::string& username, const std::string& password, const Will& will) {
  std::string body;
  PutString(body, "MQTT");
  body.push_back(4);  // protocol level 3.1.1
  uint8_t flags = clean_session ? 0x02 : 0x00;
  if (!username.empty()) flags |= 0x80;
  if (!password.empty()) flags |= 0x40;
  if (!will.topic.empty()) {
    flags |= 0x04 | uint8_t((will.qos & 0x03) << 3);
    if (will.retain) flags |= 0x20;
  }
  body.push_back(char(flags));
  PutU16(body, keep_alive_s);
  PutString(body, client_id);
  if (!will.topic.empty()) {
    PutString(body, will.topic);
    PutString(body, will.payload);
  }
  if (!username.empty()) PutString(body, username);
  if (!password.empty()) PutString(body, password);
  return Packet(kConnect << 4, body);
}

std::string EncodeSubscribe(uint16_t packet_id, const std::vector<std::string>& filters, uint8_t qos) {
  std::string body;
  PutU16(body, packet_id);
  for (const auto& f : filters) {
    PutString(body, f);
    body.push_back(char(qos));
  }
  return Packet((kSubscribe << 4) | 0x02, body);
}

std::string EncodePublish(const std::string& topic, std::string_view payload, uint8_t qos, bool retain,
                          uint16_t packet_id) {
  std::string body;
  PutString(body, topic);
  if (qos > 0) PutU16(body, packet_id);
  body.append(payload);
  uint8_t first = uint8_t(kPublish << 4) | uint8_t((qos & 0x03) << 1);
  if (retain) first |= 0x01;
  return Packet(first, body);
}

std::string EncodePubAck(uint16_t packet_id) {
  std::string body;
  PutU16(body, packet_id);
  return Packet(kPubAck << 4, body);
}

std::string EncodePingReq() { return Packet(kPingReq << 4, ""); }
std::string EncodeDisconnect() { return Packet(kDisconnect << 4, ""); }

std::optional<FixedHeader> ParseFixedHeader(std::string_view buf, bool* malformed) {
  *malformed = false;
  if (buf.size() < 2) return std::nullopt;
  FixedHeader h;
  h.type = uint8_t(buf[0]) >> 4;
  h.flags = uint8_t(buf[0]) & 0x0f;
  uint32_t mult = 1;
  size_t i = 1;
  for (;; ++i) {
    if (i > 4) {
      *malformed = true;
      return std::nullopt;
    }
    if (i >= buf.size()) return std::nullopt;
    uint8_t b = uint8_t(buf[i]);
    h.remaining += uint32_t(b & 0x7f) * mult;
    mult *= 128;
    if ((b & 0x80) == 0) break;
  }
  h.header_size = i + 1;
  return h;
}

std::optional<Publish> ParsePublishHead(uint8_t flags, std::string_view body) {
  Publish p;
  p.qos = (flags >> 1) & 0x03;
  p.dup = (flags & 0x08) != 0;
  p.retain = (flags & 0x01) != 0;
  if (p.qos > 2 || body.size() < 2) return std::nullopt;
  size_t len = (size_t(uint8_t(body[0])) << 8) | uint8_t(body[1]);
  size_t pos = 2 + len;
  if (body.size() < pos) return std::nullopt;
  p.topic.assign(body.substr(2, len));
  if (p.qos > 0) {
    if (body.size() < pos + 2) return std::nullopt;
    p.packet_id = uint16_t((uint16_t(uint8_t(body[pos])) << 8) | uint8_t(body[pos + 1]));
    pos += 2;
  }
  p.payload = body.substr(pos);
  return p;
}

std::optional<Publish> ParsePublish(uint8_t flags, std::string_view body) { return ParsePublishHead(flags, body); }

bool TopicMatches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && (filter.empty() || filter[0] != '$')) return false;
  size_t f = 0, t = 0;
  for (;;) {
    size_t fe = filter.find('/', f);
    std::string_view fl = filter.substr(f, fe == std::string_view::npos ? std::string_view::npos : fe - f);
    if (fl == "#") return true;
    if (t > topic.size()) return false;
    size_t te = topic.find('/', t);
    std::string_view tl = topic.substr(t, te == std::string_view::npos ? std::string_view::npos : te - t);
    if (fl != "+" && fl != tl) return false;
    const bool f_end = fe == std::string_view::npos, t_end = te == std::string_view::npos;
    if (f_end || t_end) {
      if (f_end && t_end) return true;
      // "a/#" matches "a" as well.
      return t_end && !f_end && filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

}  // namespace mqtt_subscriber
