#include "mqtt_subscriber/mqtt_subscriber.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <random>

#include "mqtt_subscriber/json_mapping.h"
#include "mqtt_subscriber/mqtt_codec.h"

namespace mqtt_subscriber {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using gateway::Reading;
using gateway::Status;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr auto kBusyRetry = milliseconds(100);
constexpr auto kConnectTimeout = std::chrono::seconds(10);
// Beyond the payload cap, room for the topic and packet id of a PUBLISH.
constexpr uint32_t kHeadRoom = 65536 + 4;
}  // namespace

struct MqttSubscriberDriver::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, const gateway::Config& c, const gateway::Clock& k)
      : io(i), config(c), m(c.drivers.mqtt), clock(k), mapping(c), socket(i), resolver(i), reconnect_timer(i),
        keepalive_timer(i), connect_timer(i) {}

  struct Pending {
    uint16_t id = 0;
    bool ready = false;
  };

  asio::io_context& io;
  const gateway::Config& config;
  const gateway::MqttSubscriberConfig& m;
  const gateway::Clock& clock;
  JsonMapping mapping;
  gateway::ReadingSink* sink = nullptr;
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer reconnect_timer;
  asio::steady_timer keepalive_timer;
  asio::steady_timer connect_timer;
  std::mt19937 rng{std::random_device{}()};

  bool stopped = false;
  bool connected = false;  // CONNACK accepted
  bool reading = false;
  bool paused = false;     // not reading: max_unacked messages wait for their commit
  uint64_t gen = 0;        // connection generation: late callbacks of an old one are ignored
  int64_t backoff_ms = 0;
  std::string rbuf;
  std::array<char, 16384> chunk{};
  std::deque<std::string> wqueue;
  bool writing = false;
  std::deque<Pending> pending;
  SteadyClock::time_point last_rx{}, last_tx{};
  // Discarding an oversized PUBLISH as it streams in.
  uint64_t skip_left = 0;
  std::string skip_head;
  uint8_t skip_flags = 0;
  bool skip_head_done = false;
  MqttSubscriberStats stats;
  uint64_t log_budget = 20;  // bad-payload warnings before they go to debug
  bool busy_logged = false;
  std::string last_error;  // for Stats()

  std::string Host() const {
    std::string rest = m.broker.substr(m.broker.find("://") + 3);
    return rest.substr(0, rest.rfind(':'));
  }
  std::string Port() const { return m.broker.substr(m.broker.rfind(':') + 1); }

  void Connect() {
    if (stopped) return;
    auto self = shared_from_this();
    const uint64_t g = ++gen;
    connect_timer.expires_after(kConnectTimeout);
    connect_timer.async_wait([this, self, g](error_code ec) {
      if (!ec && g == gen && !connected) Close("connect timed out");
    });
    resolver.async_resolve(Host(), Port(), [this, self, g](error_code ec, tcp::resolver::results_type results) {
      if (g != gen || stopped) return;
      if (ec) return Close("cannot resolve " + Host() + ": " + ec.message());
      asio::async_connect(socket, results, [this, self, g](error_code ec2, const tcp::endpoint&) { on_connect(g, ec2); });
    });
  }

  void on_connect(uint64_t g, error_code ec) {
    if (g != gen || stopped) return;
    if (ec) return Close("cannot connect to " + m.broker + ": " + ec.message());
    rbuf.clear();
    skip_left = 0;
    last_rx = SteadyClock::now();
    Send(EncodeConnect(m.client_id, /*clean_session=*/false, uint16_t(m.keep_alive_s), m.username, m.password));
    reading = false;
    Read();
  }

  void Read() {
    if (reading || stopped || !socket.is_open()) return;
    if (paused) {
      // What the broker sent while we held back (PINGRESP included) is in the socket.
      paused = false;
      last_rx = SteadyClock::now();
    }
    reading = true;
    auto self = shared_from_this();
    const uint64_t g = gen;
    socket.async_read_some(asio::buffer(chunk), [this, self, g](error_code ec, size_t n) { on_read(g, ec, n); });
  }

  void on_read(uint64_t g, error_code ec, size_t n) {
    if (g != gen || stopped) return;
    reading = false;
    if (ec) return Close(ec == asio::error::eof ? "broker closed the connection" : ec.message());
    last_rx = SteadyClock::now();
    rbuf.append(chunk.data(), n);
    if (!Process()) return;
    // Back-pressure: with max_unacked messages waiting for their commit, the rest stays
    // with the broker (TCP flow control) until PUBACKs go out.
    if (pending.size() < size_t(m.max_unacked)) {
      Read();
    } else {
      paused = true;
    }
  }

  // Consumes whole packets from rbuf. False when the connection was closed.
  bool Process() {
    size_t pos = 0;
    const uint32_t limit = m.max_payload_bytes + kHeadRoom;
    while (pos < rbuf.size()) {
      std::string_view rest(rbuf.data() + pos, rbuf.size() - pos);
      if (skip_left > 0) {
        size_t take = size_t(std::min<uint64_t>(skip_left, rest.size()));
        if (!skip_head_done) {
          skip_head.append(rest.substr(0, std::min<size_t>(take, kHeadRoom - skip_head.size())));
          if (auto head = ParsePublishHead(skip_flags, skip_head)) {
            skip_head_done = true;
            ++stats.oversize;
            spdlog::warn("mqtt: message on '{}' is larger than max_payload_bytes ({}); discarded", head->topic,
                         m.max_payload_bytes);
            if (head->qos > 0) pending.push_back({head->packet_id, true});
          }
        }
        skip_left -= take;
        pos += take;
        if (skip_left == 0) FlushAcks();
        continue;
      }
      bool malformed = false;
      auto h = ParseFixedHeader(rest, &malformed);
      if (malformed) {
        rbuf.clear();
        Close("malformed packet from the broker");
        return false;
      }
      if (!h) break;
      if (h->type == kPublish && h->remaining > limit) {
        pos += h->header_size;
        skip_left = h->remaining;
        skip_head.clear();
        skip_flags = h->flags;
        skip_head_done = false;
        continue;
      }
      if (rest.size() < h->header_size + h->remaining) break;
      std::string_view body = rest.substr(h->header_size, h->remaining);
      if (!Handle(*h, body)) return false;
      pos += h->header_size + h->remaining;
    }
    rbuf.erase(0, pos);
    return true;
  }

  bool Handle(const FixedHeader& h, std::string_view body) {
    switch (h.type) {
      case kConnAck: {
        uint8_t rc = body.size() >= 2 ? uint8_t(body[1]) : 255;
        if (rc != 0) {
          static const char* kWhy[] = {"", "unacceptable protocol version", "client id rejected", "server unavailable",
                                       "bad user name or password", "not authorised"};
          Close(std::string("broker refused the connection: ") + (rc <= 5 ? kWhy[rc] : "malformed CONNACK"));
          return false;
        }
        connected = true;
        connect_timer.cancel();
        backoff_ms = 0;
        ++stats.connects;
        const bool session = body.size() >= 1 && (uint8_t(body[0]) & 1);
        spdlog::info("mqtt: connected to {} as {} (session {})", m.broker, m.client_id,
                     session ? "resumed" : "new");
        Send(EncodeSubscribe(1, mapping.Filters(), 1));
        KeepAlive();
        return true;
      }
      case kSubAck: {
        size_t granted = 0;
        for (size_t i = 2; i < body.size(); ++i) {
          if (uint8_t(body[i]) == 0x80) {
            last_error = "the broker refused a subscription";
            spdlog::error("mqtt: the broker refused subscription {} ('{}')", i - 2,
                          i - 2 < mapping.Filters().size() ? mapping.Filters()[i - 2] : "?");
          } else {
            ++granted;
          }
        }
        spdlog::info("mqtt: subscribed to {} of {} filters", granted, mapping.Filters().size());
        return true;
      }
      case kPublish: {
        auto p = ParsePublish(h.flags, body);
        if (!p) {
          Close("malformed PUBLISH from the broker");
          return false;
        }
        OnPublish(*p);
        return true;
      }
      default:
        return true;  // PINGRESP and anything else: last_rx is enough
    }
  }

  void Warn(const std::string& text) {
    last_error = text.size() > 200 ? text.substr(0, 200) + "..." : text;
    if (log_budget > 0) {
      --log_budget;
      spdlog::warn("mqtt: {}{}", text, log_budget == 0 ? " (further ones at debug level)" : "");
    } else {
      spdlog::debug("mqtt: {}", text);
    }
  }

  void OnPublish(const Publish& p) {
    ++stats.messages;
    const bool ack = p.qos > 0;
    if (ack) pending.push_back({p.packet_id, false});
    const size_t slot = pending.size() - 1;  // valid while this connection lives
    MapOutcome out;
    if (p.payload.size() > m.max_payload_bytes) {
      ++stats.oversize;
      Warn("message on '" + p.topic + "' is larger than max_payload_bytes; discarded");
    } else {
      out = mapping.Map(p.topic, p.payload, clock.NowMs(), p.retain);
      if (!out.matched) ++stats.unmatched;
      if (!out.errors.empty()) {
        ++stats.bad_payloads;
        std::string all;
        for (const auto& e : out.errors) all += (all.empty() ? "" : "; ") + e;
        Warn("message on '" + p.topic + "': " + all);
      }
    }
    if (out.readings.empty()) {
      if (ack) MarkReady(gen, slot, p.packet_id);
      return;
    }
    Submit(std::move(out.readings), gen, ack, p.packet_id);
  }

  void Submit(std::vector<Reading> batch, uint64_t g, bool ack, uint16_t id) {
    auto self = shared_from_this();
    auto copy = std::make_shared<std::vector<Reading>>(batch);
    sink->Submit(std::move(batch), [this, self, copy, g, ack, id](const Status& s) {
      if (s.ok()) {
        stats.readings += copy->size();
        busy_logged = false;
        if (ack) MarkReady(g, 0, id);
        return;
      }
      if (s.code() == Status::Code::kBusy && !stopped && g == gen) {
        // The PUBACK waits with the batch; the broker keeps the message meanwhile.
        ++stats.busy_retries;
        if (!busy_logged) {
          busy_logged = true;
          spdlog::info("mqtt: the core is behind; messages wait unacknowledged until their readings are committed");
        }
        auto t = std::make_shared<asio::steady_timer>(io, kBusyRetry);
        t->async_wait([this, self, t, copy, g, ack, id](error_code ec) {
          if (ec || stopped || g != gen) return;
          Submit(*copy, g, ack, id);
        });
      }
      // kShutdown, or a connection that is gone: no PUBACK; the broker delivers again.
    });
  }

  void MarkReady(uint64_t g, size_t, uint16_t id) {
    if (g != gen) return;
    for (auto& p : pending) {
      if (p.id == id && !p.ready) {
        p.ready = true;
        break;
      }
    }
    FlushAcks();
  }

  void FlushAcks() {
    while (!pending.empty() && pending.front().ready) {
      Send(EncodePubAck(pending.front().id));
      ++stats.acked;
      pending.pop_front();
    }
    if (connected && pending.size() < size_t(m.max_unacked)) Read();
  }

  void Send(std::string bytes) {
    wqueue.push_back(std::move(bytes));
    if (!writing) WriteNext();
  }

  void WriteNext() {
    if (wqueue.empty() || !socket.is_open()) return;
    writing = true;
    last_tx = SteadyClock::now();
    auto self = shared_from_this();
    const uint64_t g = gen;
    asio::async_write(socket, asio::buffer(wqueue.front()), [this, self, g](error_code ec, size_t) {
      if (g != gen) return;
      writing = false;
      if (ec) return Close("write failed: " + ec.message());
      wqueue.pop_front();
      WriteNext();
    });
  }

  void KeepAlive() {
    if (m.keep_alive_s <= 0) return;
    auto self = shared_from_this();
    const uint64_t g = gen;
    keepalive_timer.expires_after(std::chrono::seconds(1));
    keepalive_timer.async_wait([this, self, g](error_code ec) {
      if (ec || g != gen || stopped) return;
      const auto now = SteadyClock::now();
      const auto ka = std::chrono::seconds(m.keep_alive_s);
      // While reading is paused for back-pressure, silence is ours, not the broker's.
      if (!paused && now - last_rx > ka + ka / 2) return Close("no answer from the broker within 1.5 keep-alives");
      if (now - last_tx >= ka || now - last_rx >= ka) Send(EncodePingReq());
      KeepAlive();
    });
  }

  void Close(const std::string& why) {
    const bool was = connected;
    ++gen;
    connected = false;
    reading = false;
    paused = false;
    writing = false;
    wqueue.clear();
    pending.clear();  // unacknowledged messages come again with the next session
    skip_left = 0;
    error_code ignored;
    socket.close(ignored);
    keepalive_timer.cancel();
    connect_timer.cancel();
    if (stopped) return;
    if (was) {
      ++stats.connection_losses;
      last_error = why;
    }
    // The first failure of an outage is a warning; the retries that follow are not news.
    const bool first = backoff_ms == 0;
    backoff_ms = first ? m.reconnect_min_ms : std::min<int64_t>(backoff_ms * 2, m.reconnect_max_ms);
    const int64_t delay = backoff_ms / 2 + int64_t(rng() % uint64_t(backoff_ms / 2 + 1));
    if (first) {
      last_error = why;
      spdlog::warn("mqtt: {} ({}); retrying with backoff up to {} ms (further failures at debug level)", why,
                   m.broker, m.reconnect_max_ms);
    } else {
      spdlog::debug("mqtt: {}; retrying in {} ms", why, delay);
    }
    auto self = shared_from_this();
    reconnect_timer.expires_after(milliseconds(delay));
    reconnect_timer.async_wait([this, self](error_code ec) {
      if (!ec) Connect();
    });
  }
};

MqttSubscriberDriver::MqttSubscriberDriver(asio::io_context& io, const gateway::Config& config,
                                           const gateway::Clock& clock)
    : impl_(std::make_shared<Impl>(io, config, clock)) {}

MqttSubscriberDriver::~MqttSubscriberDriver() = default;

const MqttSubscriberStats& MqttSubscriberDriver::stats() const { return impl_->stats; }

gateway::DriverStats MqttSubscriberDriver::Stats() const {
  const auto& s = impl_->stats;
  gateway::DriverStats out;
  out.readings = s.readings;
  out.errors = s.bad_payloads + s.oversize + s.connection_losses;
  out.last_error = impl_->last_error;
  return out;
}

Status MqttSubscriberDriver::Start(gateway::ReadingSink& sink) {
  impl_->sink = &sink;
  spdlog::info("mqtt: subscribing to {} filters on {}", impl_->mapping.Filters().size(), impl_->m.broker);
  impl_->Connect();
  return Status::Ok();
}

void MqttSubscriberDriver::Stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  // No DISCONNECT wait: what is not acknowledged yet stays with the broker for next time.
  if (d.connected && d.socket.is_open()) {
    error_code ignored;
    std::string bye = EncodeDisconnect();
    asio::write(d.socket, asio::buffer(bye), ignored);
  }
  d.stopped = true;
  d.Close("stopping");
  d.reconnect_timer.cancel();
  d.resolver.cancel();
  const auto& s = d.stats;
  spdlog::info("mqtt: {} messages, {} readings, {} acknowledged, {} bad payloads, {} unmatched, {} oversize, {} "
               "connection losses",
               s.messages, s.readings, s.acked, s.bad_payloads, s.unmatched, s.oversize, s.connection_losses);
}

}  // namespace mqtt_subscriber
