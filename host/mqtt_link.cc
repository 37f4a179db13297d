#include "mqtt_link.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace host {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void MqttLink::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
}

gateway::Status MqttLink::Connect(const std::string& host, uint16_t port, const std::string& connect_packet,
                                  int timeout_ms, bool* session_present) {
  Close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port_s = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); rc != 0)
    return gateway::Status::Unavailable("broker " + host + ": " + gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  if (fd_ < 0) return gateway::Status::Unavailable("broker " + host + ":" + port_s + ": " + why);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (auto s = Send(connect_packet); !s.ok()) return s;
  const int64_t deadline = SteadyMs() + timeout_ms;
  for (;;) {
    auto p = Next();
    if (!p.ok()) return p.status();
    if (p.value()) {
      const Packet& k = *p.value();
      if (k.type != mqtt_subscriber::kConnAck || k.body.size() != 2) {
        Close();
        return gateway::Status::Unavailable("broker answered CONNECT with something other than CONNACK");
      }
      if (k.body[1] != 0) {
        const int rc = uint8_t(k.body[1]);
        Close();
        return gateway::Status::Unavailable("broker refused the connection (CONNACK code " + std::to_string(rc) +
                                            (rc == 4 || rc == 5 ? ": not authorised)" : ")"));
      }
      *session_present = (k.body[0] & 1) != 0;
      return gateway::Status::Ok();
    }
    const int64_t left = deadline - SteadyMs();
    if (left <= 0) {
      Close();
      return gateway::Status::Unavailable("no CONNACK from the broker");
    }
    if (auto s = Read(int(left)); !s.ok()) return s;
  }
}

gateway::Status MqttLink::Send(const std::string& bytes) {
  if (fd_ < 0) return gateway::Status::Unavailable("not connected");
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = std::strerror(errno);
      Close();
      return gateway::Status::Unavailable("broker connection: " + why);
    }
    off += size_t(n);
  }
  last_send_ms_ = SteadyMs();
  return gateway::Status::Ok();
}

gateway::Status MqttLink::Read(int timeout_ms, int extra_fd) {
  if (fd_ < 0) return gateway::Status::Unavailable("not connected");
  pollfd p[2] = {{fd_, POLLIN, 0}, {extra_fd, POLLIN, 0}};
  int rc = ::poll(p, extra_fd >= 0 ? 2 : 1, timeout_ms < 0 ? 0 : timeout_ms);
  if (rc < 0) return errno == EINTR ? gateway::Status::Ok() : gateway::Status::IoError(std::strerror(errno));
  if (rc == 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR))) return gateway::Status::Ok();
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n == 0) {
    Close();
    return gateway::Status::Unavailable("broker closed the connection");
  }
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return gateway::Status::Ok();
    std::string why = std::strerror(errno);
    Close();
    return gateway::Status::Unavailable("broker connection: " + why);
  }
  in_.append(buf, size_t(n));
  last_receive_ms_ = SteadyMs();
  return gateway::Status::Ok();
}

gateway::Result<std::optional<Packet>> MqttLink::Next() {
  bool malformed = false;
  auto h = mqtt_subscriber::ParseFixedHeader(in_, &malformed);
  if (malformed || (h && h->remaining > max_packet_bytes_)) {
    Close();
    return gateway::Status::InvalidArgument(malformed ? "malformed MQTT packet from the broker"
                                                      : "MQTT packet larger than mqtt.max_payload_bytes");
  }
  if (!h || in_.size() < h->header_size + h->remaining) return std::optional<Packet>{};
  Packet p;
  p.type = h->type;
  p.flags = h->flags;
  p.body = in_.substr(h->header_size, h->remaining);
  in_.erase(0, h->header_size + h->remaining);
  return std::optional<Packet>(std::move(p));
}

}  // namespace host
