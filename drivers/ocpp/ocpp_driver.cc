#include "ocpp/ocpp_driver.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "gateway/net_address.h"
#include "http/http_server.h"
#include "ocpp/id_tag.h"
#include "ocpp/ocpp_protocol.h"
#include "ocpp/ocpp_session.h"

namespace ocpp {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using gateway::Status;
using nlohmann::json;

namespace {

constexpr const char* kSubprotocol = "ocpp1.6";
constexpr int kMaxBadFrames = 10;         // malformed frames in a row before closing
constexpr size_t kMaxQueuedCalls = 8;     // CALLs waiting for the one in progress
constexpr size_t kMaxUpstreamQueue = 64;  // frames waiting for the upstream connection
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kUpstreamConnectWait = std::chrono::seconds(5);

std::string Short(std::string_view s, size_t n = 120) {
  std::string out(s.substr(0, n));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return s.size() > n ? out + "..." : out;
}

// What a log line or the status page may say of something a charge point sent. A
// frame can carry a card's idTag anywhere (a pile with a JSON bug, a key where a value
// belongs), so no part of it is logged: of a description, the quoted parts (property
// names and actions as sent, the only places where sent text is echoed) are elided; of
// an action, only a name from the OCPP 1.6 list is shown.
std::string LogSafe(std::string_view description) {
  std::string out;
  bool quoted = false;
  for (char c : description) {
    if (c == '\'') {
      out += quoted ? "...'" : "'";
      quoted = !quoted;
    } else if (!quoted) {
      out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  if (quoted) out += "...'";
  return out;
}

std::string LogSafeAction(std::string_view action) {
  if (SupportOf(action) != ActionSupport::kUnknown) return std::string(action);
  return "an unknown action (" + std::to_string(action.size()) + " bytes)";
}

// The "ocpp1.6" token of a Sec-WebSocket-Protocol list ("ocpp2.0, ocpp1.6").
bool OffersSubprotocol(std::string_view header) {
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view tok = header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
    if (tok == kSubprotocol) return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

struct UpstreamUrl {
  bool tls = false;
  std::string host, port, path;
};

std::optional<UpstreamUrl> ParseUpstream(const std::string& url, const std::string& cp_id) {
  UpstreamUrl u;
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    u.tls = true;
    rest = url.substr(6);
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  if (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  u.path += "/" + cp_id;
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  } else {
    u.host = hostport;
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty()) return std::nullopt;
  return u;
}

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

// --- connections -------------------------------------------------------------------

struct Upstream;

std::optional<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && out.size() < (16u << 20)) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

// One charge point's WebSocket (plain or TLS). The protocol logic is in Impl; this is
// only the transport: an ordered write queue and a read loop.
struct Conn : std::enable_shared_from_this<Conn> {
  virtual ~Conn() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close(websocket::close_code code, const std::string& reason) = 0;

  std::string cp_id;
  uint64_t serial = 0;
  bool open = false;     // the WebSocket handshake is done and the connection not closed
  bool current = false;  // the charge point's connection (not replaced)
  // Protocol state (Impl):
  double tokens = 0;
  std::chrono::steady_clock::time_point refill = std::chrono::steady_clock::now();
  int over_limit = 0;
  int bad_frames = 0;
  bool call_in_progress = false;
  std::deque<Frame> queued_calls;
  // Pass-through:
  Upstream* upstream = nullptr;  // owned by the shared_ptr below
  std::shared_ptr<Upstream> upstream_owner;
  enum class Up { kNone, kConnecting, kUp, kDown } up = Up::kNone;
  std::deque<std::string> up_queue;            // frames waiting for the upstream connection
  std::map<std::string, std::pair<uint64_t, Frame>> relayed_calls;  // CP CALLs sent upstream: id -> (order, CALL)
  uint64_t relay_seq = 0;
  int backoff_s = 1;
  std::unique_ptr<asio::steady_timer> retry_timer;
};

// The gateway's client connection to the operator's central system for one charge point.
struct Upstream : std::enable_shared_from_this<Upstream> {
  virtual ~Upstream() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
  std::weak_ptr<Conn> owner;
  bool open = false;
};

struct OcppDriver::Impl : std::enable_shared_from_this<Impl> {
  struct ChargePoint {
    const gateway::OcppChargePointConfig* config = nullptr;  // null: an unknown id (allow_unknown)
    std::unique_ptr<ChargePointModel> model;                 // null: no sensor
    std::weak_ptr<Conn> conn;
    std::string upstream, upstream_password;
  };

  Impl(asio::io_context& i, const gateway::Config& c, const gateway::Clock& k)
      : io(i),
        config(c),
        o(c.drivers.ocpp),
        clock(k),
        acceptor(i),
        server_tls(ssl::context::tls_server),
        client_tls(ssl::context::tls_client) {}

  asio::io_context& io;
  const gateway::Config& config;
  const gateway::OcppConfig& o;
  const gateway::Clock& clock;
  tcp::acceptor acceptor;
  ssl::context server_tls;
  ssl::context client_tls;
  bool tls = false;
  gateway::ReadingSink* sink = nullptr;
  bool stopped = false;
  std::optional<IdTagHasher> hasher;
  std::set<std::string> allowed_tag_hashes;
  TransactionBook book;
  std::string book_path;
  std::map<std::string, ChargePoint> charge_points;
  std::set<std::shared_ptr<Conn>> conns;  // every live connection, for Stop()
  uint64_t next_serial = 1;
  OcppStats stats;
  uint64_t errors = 0;
  std::string last_error;
  int log_budget = 50;

  // --- logging -------------------------------------------------------------------

  void Warn(const std::string& text) {
    ++errors;
    last_error = Short(text, 200);
    if (log_budget > 0) {
      --log_budget;
      spdlog::warn("ocpp: {}{}", text, log_budget == 0 ? " (further ones at debug level)" : "");
    } else {
      spdlog::debug("ocpp: {}", text);
    }
  }

  std::string Hash(const std::string& tag) const { return hasher->Hash(tag); }

  // --- start ---------------------------------------------------------------------

  Status Start() {
    auto h = IdTagHasher::Load(o.id_tag_salt, config.data_dir);
    if (!h.ok()) return h.status();
    hasher.emplace(h.value());
    for (const auto& t : o.id_tags) allowed_tag_hashes.insert(Hash(t));
    // The transaction book: ids must never repeat, even after a restart.
    book_path = config.data_dir + "/ocpp-transactions.json";
    if (auto text = ReadFile(book_path)) {
      if (auto b = TransactionBook::FromJson(*text)) {
        book = std::move(*b);
      } else {
        Warn(book_path + " is unreadable; starting a new book");
      }
    }
    if (book.next_id() == 1 && book.open().empty()) {
      const int64_t since_2024 = clock.NowMs() / 1000 - 1704067200;
      book = TransactionBook(int32_t(std::clamp<int64_t>(since_2024, 1, INT32_MAX / 2)));
    }
    for (const auto& cp : o.charge_points) {
      ChargePoint& e = charge_points[cp.id];
      e.config = &cp;
      e.upstream = cp.upstream.empty() ? o.upstream : cp.upstream;
      e.upstream_password = cp.upstream_password.empty() ? o.upstream_password : cp.upstream_password;
      for (const auto& f : config.facilities) {
        if (f.id != cp.facility) continue;
        for (const auto& s : f.sensors) {
          if (s.id != cp.sensor) continue;
          e.model = std::make_unique<ChargePointModel>(cp.id, f.id, s.id, int(s.connectors),
                                                       [this](const std::string& t) { return Hash(t); });
        }
      }
    }
    // Connectors that were charging when the gateway stopped: their transaction
    // continues (the charge point will stop it), so the model knows its id again.
    for (const auto& [id, t] : book.open()) {
      auto it = charge_points.find(t.charge_point);
      if (it != charge_points.end() && it->second.model) {
        json req = {{"connectorId", t.connector},
                    {"meterStart", int64_t(t.meter_start_kwh * 1000 + 0.5)},
                    {"idTag", ""},
                    {"timestamp", FormatDateTime(t.start_ms)}};
        TransactionBook scratch;
        it->second.model->OnCall("StartTransaction", req, json{{"transactionId", id}}, clock.NowMs(), scratch);
      }
    }
    if (!o.cert_file.empty()) {
      boost::system::error_code ec;
      server_tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      server_tls.use_certificate_chain_file(o.cert_file, ec);
      if (!ec) server_tls.use_private_key_file(o.key_file, ssl::context::pem, ec);
      if (ec) return Status::InvalidArgument("drivers.ocpp: TLS certificate/key: " + ec.message());
      tls = true;
    }
    client_tls.set_verify_mode(ssl::verify_peer);
    if (!o.upstream_ca_file.empty()) {
      boost::system::error_code ec;
      client_tls.load_verify_file(o.upstream_ca_file, ec);
      if (ec) return Status::InvalidArgument("drivers.ocpp.upstream_ca_file: " + ec.message());
    } else {
      client_tls.set_default_verify_paths();
    }
    boost::system::error_code ec;
    // The config check's notion of an address (gateway/net_address.h).
    auto listen = gateway::ParseListenAddress(o.listen);
    if (!listen.ok()) return Status::InvalidArgument("drivers.ocpp.listen: " + listen.status().message());
    auto addr = asio::ip::make_address(listen->ip, ec);
    if (ec) return Status::InvalidArgument("drivers.ocpp.listen: '" + o.listen + "' is not an IP address");
    tcp::endpoint ep(addr, uint16_t(o.port));
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("ocpp: cannot listen on " + o.listen + ":" + std::to_string(o.port) + ": " +
                                 ec.message());
    Accept();
    spdlog::info(
        "ocpp: OCPP 1.6J at {}://{}:{}/ocpp/{{chargePointId}} ({} charge points, {}{}), {} open transaction(s), "
        "next transaction id {}",
        tls ? "wss" : "ws", o.listen, acceptor.local_endpoint().port(), o.charge_points.size(),
        o.upstream.empty() ? "local central system" : "pass-through to the operator",
        o.allow_unknown ? ", unknown ids allowed" : "", book.open().size(), book.next_id());
    return Status::Ok();
  }

  void Accept();
  template <class Ws>
  void Handshake(std::shared_ptr<Ws> ws);

  // --- the HTTP upgrade ------------------------------------------------------------

  // The answer to a handshake: empty when the upgrade may go ahead.
  std::optional<bhttp::response<bhttp::string_body>> CheckUpgrade(const bhttp::request<bhttp::string_body>& req,
                                                                  std::string* cp_id) {
    auto refuse = [&](bhttp::status st, const std::string& why) {
      bhttp::response<bhttp::string_body> res{st, req.version()};
      res.set(bhttp::field::server, "community-gateway");
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = why + "\n";
      res.keep_alive(false);
      res.prepare_payload();
      ++stats.refused_handshakes;
      return res;
    };
    const std::string target(req.target());
    static const std::string kPrefix = "/ocpp/";
    if (!websocket::is_upgrade(req)) return refuse(bhttp::status::bad_request, "a WebSocket upgrade is required");
    if (target.rfind(kPrefix, 0) != 0 || target.size() == kPrefix.size() || target.size() > kPrefix.size() + 48 ||
        target.find_first_of("/?%", kPrefix.size()) != std::string::npos) {
      Warn("handshake refused: path '" + Short(target, 80) + "' is not /ocpp/{chargePointId}");
      return refuse(bhttp::status::not_found, "connect to /ocpp/{chargePointId}");
    }
    *cp_id = target.substr(kPrefix.size());
    auto it = charge_points.find(*cp_id);
    if ((it == charge_points.end() || !it->second.config) && !o.allow_unknown) {
      Warn("handshake refused: unknown charge point '" + Short(*cp_id, 48) + "'");
      return refuse(bhttp::status::not_found, "unknown charge point");
    }
    if (it != charge_points.end() && it->second.config && !it->second.config->password.empty() &&
        !gateway::http::CheckBasicAuth(req, *cp_id, it->second.config->password)) {
      Warn("handshake refused: charge point '" + *cp_id + "' without the right Basic auth password");
      auto res = refuse(bhttp::status::unauthorized, "authentication required");
      res.set(bhttp::field::www_authenticate, "Basic realm=\"OCPP\", charset=\"UTF-8\"");
      return res;
    }
    if (auto proto = req[bhttp::field::sec_websocket_protocol]; !OffersSubprotocol({proto.data(), proto.size()})) {
      Warn("handshake refused: charge point '" + *cp_id + "' did not offer the subprotocol ocpp1.6");
      return refuse(bhttp::status::bad_request, "the WebSocket subprotocol ocpp1.6 is required");
    }
    if (stats.connected >= o.max_connections) {
      Warn("handshake refused: max_connections reached");
      return refuse(bhttp::status::service_unavailable, "too many connections");
    }
    return std::nullopt;
  }

  // --- sessions --------------------------------------------------------------------

  void Opened(const std::shared_ptr<Conn>& c) {
    ++stats.connections;
    ++stats.connected;
    conns.insert(c);
    ChargePoint& e = charge_points[c->cp_id];
    if (!e.config) {  // an unknown id (allow_unknown): the driver's upstream, if any
      e.upstream = o.upstream;
      e.upstream_password = o.upstream_password;
    }
    if (auto old = e.conn.lock()) {
      spdlog::info("ocpp: {} connected again; the previous connection is closed", c->cp_id);
      old->current = false;
      DropUpstream(*old);
      old->Close(websocket::close_code::going_away, "replaced by a new connection");
    }
    e.conn = c;
    c->current = true;
    c->tokens = double(o.max_calls_per_minute) / 6 + 1;  // a burst of 10 s worth
    spdlog::info("ocpp: charge point {} connected{}", c->cp_id, e.config ? "" : " (unknown id: served, no readings)");
    if (e.model) Submit({e.model->Online(true, clock.NowMs())}, {});
    if (!e.upstream.empty()) ConnectUpstream(c);
  }

  void Closed(const std::shared_ptr<Conn>& c, const std::string& why) {
    if (!conns.erase(c)) return;
    --stats.connected;
    DropUpstream(*c);
    if (c->retry_timer) c->retry_timer->cancel();
    spdlog::info("ocpp: charge point {} disconnected ({})", c->cp_id, why);
    if (!c->current) return;
    c->current = false;
    auto it = charge_points.find(c->cp_id);
    if (it == charge_points.end()) return;
    if (it->second.model && !stopped) Submit({it->second.model->Online(false, clock.NowMs())}, {});
    if (!it->second.config) charge_points.erase(it);  // unknown ids are forgotten
  }

  void Submit(std::vector<gateway::Reading> batch, std::function<void(const Status&)> done) {
    if (batch.empty() || !sink) {
      if (done) done(Status::Ok());
      return;
    }
    const size_t n = batch.size();
    std::weak_ptr<Impl> weak = weak_from_this();
    sink->Submit(std::move(batch), [weak, n, done](const Status& s) {
      auto self = weak.lock();
      if (self) {
        if (s.ok()) {
          self->stats.readings += n;
        } else if (s.code() == Status::Code::kBusy) {
          ++self->stats.busy;
          self->Warn("the core is behind (buffer.max_pending_readings): " + std::to_string(n) + " readings refused");
        }
      }
      if (done) done(s);
    });
  }

  void SaveBook() {
    const std::string tmp = book_path + ".tmp";
    const std::string text = book.ToJson();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!ok || ::rename(tmp.c_str(), book_path.c_str()) != 0) Warn("cannot write " + book_path);
  }

  // --- frames from a charge point ----------------------------------------------------

  void SendError(Conn& c, const RpcError& e) {
    ++stats.call_errors;
    c.Send(SerializeCallError(e));
  }

  bool RateLimited(Conn& c) {
    auto now = std::chrono::steady_clock::now();
    const double per_s = double(o.max_calls_per_minute) / 60.0;
    const double cap = double(o.max_calls_per_minute) / 6 + 1;
    c.tokens = std::min(cap, c.tokens + per_s * std::chrono::duration<double>(now - c.refill).count());
    c.refill = now;
    if (c.tokens >= 1) {
      c.tokens -= 1;
      c.over_limit = 0;
      return false;
    }
    return true;
  }

  void OnText(const std::shared_ptr<Conn>& c, std::string text) {
    if (!c->current) return;
    auto parsed = ParseFrame(text);
    const bool pass_through = c->up != Conn::Up::kNone;
    if (auto* err = std::get_if<RpcError>(&parsed)) {
      if (pass_through && c->up != Conn::Up::kDown) {  // the operator judges its own protocol
        RelayUp(*c, std::move(text));
        return;
      }
      Warn(c->cp_id + ": malformed frame (" + err->code + ": " + LogSafe(err->description) + "), " +
           std::to_string(text.size()) + " bytes, not logged (it may hold idTags)");
      SendError(*c, *err);
      if (++c->bad_frames >= kMaxBadFrames) {
        ++stats.closed_for_abuse;
        c->Close(websocket::close_code::protocol_error, "too many malformed frames");
      }
      return;
    }
    c->bad_frames = 0;
    Frame f = std::move(std::get<Frame>(parsed));
    if (f.type != MessageType::kCall) {
      if (pass_through) {
        RelayUp(*c, std::move(text));
      } else {
        // Not the message id: it is the charge point's text too.
        spdlog::debug("ocpp: {}: a {} ignored (the gateway sends no calls)", c->cp_id,
                      f.type == MessageType::kCallResult ? "CALLRESULT" : "CALLERROR");
      }
      return;
    }
    ++stats.calls;
    if (RateLimited(*c)) {
      Warn(c->cp_id + ": more than " + std::to_string(o.max_calls_per_minute) + " calls per minute; " +
           LogSafeAction(f.action) + " refused");
      SendError(*c, {f.id, "GenericError",
                     "rate limit: at most " + std::to_string(o.max_calls_per_minute) + " calls per minute"});
      if (++c->over_limit >= 20) {
        ++stats.closed_for_abuse;
        c->Close(websocket::close_code::policy_error, "call flood");
      }
      return;
    }
    if (pass_through && c->up != Conn::Up::kDown) {
      // Readings from what passes; the answer comes from the operator.
      // Only valid CALLs are remembered (to read the answer, or to answer locally if the
      // upstream drops); a charge point has one call outstanding, so a few suffice.
      if (!ValidateCall(f.id, f.action, f.payload)) {
        if (f.action != "StartTransaction") Observe(*c, f.action, f.payload, json::object(), {});
        if (c->relayed_calls.size() >= 16) c->relayed_calls.erase(c->relayed_calls.begin());
        c->relayed_calls[f.id] = {c->relay_seq++, f};
      }
      RelayUp(*c, std::move(text));
      return;
    }
    if (c->call_in_progress) {
      if (c->queued_calls.size() >= kMaxQueuedCalls) {
        SendError(*c, {f.id, "GenericError", "send one call at a time and wait for its answer"});
        return;
      }
      c->queued_calls.push_back(std::move(f));
      return;
    }
    ServeLocally(c, std::move(f));
  }

  // The local central system: validate, answer, take readings.
  void ServeLocally(const std::shared_ptr<Conn>& c, Frame f) {
    if (auto bad = ValidateCall(f.id, f.action, f.payload)) {
      Warn(c->cp_id + ": " + LogSafeAction(f.action) + " refused: " + bad->code + ": " + LogSafe(bad->description));
      SendError(*c, *bad);
      NextCall(c);
      return;
    }
    json conf = Answer(*c, f.action, f.payload);
    c->call_in_progress = true;
    const std::string id = f.id;
    Observe(*c, f.action, f.payload, conf, [this, c, id, conf](const Status& s) {
      if (!c->open) return;
      if (s.ok()) {
        c->Send(SerializeCallResult(id, conf));
      } else {
        SendError(
            *c, {id, "GenericError", s.code() == Status::Code::kBusy ? "the gateway is busy; send again" : "stopping"});
      }
      c->call_in_progress = false;
      NextCall(c);
    });
  }

  void NextCall(const std::shared_ptr<Conn>& c) {
    if (c->call_in_progress || c->queued_calls.empty() || !c->open) return;
    Frame next = std::move(c->queued_calls.front());
    c->queued_calls.pop_front();
    asio::post(io, [this, self = shared_from_this(), c, next = std::move(next)]() mutable {
      if (c->open && !stopped) ServeLocally(c, std::move(next));
    });
  }

  // The answer of the local central system to a valid CALL.
  json Answer(Conn& c, const std::string& action, const json& req) {
    const std::string now = FormatDateTime(clock.NowMs());
    auto tag_info = [&](const std::string& tag) {
      const bool ok = o.authorize_any || allowed_tag_hashes.count(Hash(tag));
      return json{{"status", ok ? "Accepted" : "Invalid"}};
    };
    if (action == "BootNotification") {
      spdlog::info("ocpp: {} booted: {} {} (firmware {})", c.cp_id, Short(req.value("chargePointVendor", ""), 20),
                   Short(req.value("chargePointModel", ""), 20), Short(req.value("firmwareVersion", "?"), 50));
      return {{"status", "Accepted"}, {"currentTime", now}, {"interval", o.heartbeat_interval_s}};
    }
    if (action == "Heartbeat") return {{"currentTime", now}};
    if (action == "Authorize") {
      json info = tag_info(req["idTag"].get<std::string>());
      spdlog::info("ocpp: {}: idTag #{} {}", c.cp_id, Hash(req["idTag"].get<std::string>()),
                   info["status"].get<std::string>());
      return {{"idTagInfo", info}};
    }
    if (action == "StartTransaction") {
      const int32_t id = book.Allocate();
      return {{"idTagInfo", tag_info(req["idTag"].get<std::string>())}, {"transactionId", id}};
    }
    if (action == "StopTransaction") {
      if (req.contains("idTag")) return {{"idTagInfo", tag_info(req["idTag"].get<std::string>())}};
      return json::object();
    }
    if (action == "DataTransfer") {
      const std::string vendor = req["vendorId"].get<std::string>();
      bool known = std::find(o.data_transfer_vendors.begin(), o.data_transfer_vendors.end(), vendor) !=
                   o.data_transfer_vendors.end();
      return {{"status", known ? "Accepted" : "UnknownVendorId"}};
    }
    return json::object();  // StatusNotification, MeterValues, Diagnostics/FirmwareStatusNotification
  }

  // Readings of a CALL (with its answer); done runs once they are committed (or at once
  // when there are none).
  void Observe(Conn& c, const std::string& action, const json& req, const json& conf,
               std::function<void(const Status&)> done) {
    auto it = charge_points.find(c.cp_id);
    if (it == charge_points.end() || !it->second.model) {
      if (done) done(Status::Ok());
      return;
    }
    CallEffect effect;
    try {
      effect = it->second.model->OnCall(action, req, conf, clock.NowMs(), book);
    } catch (const std::exception& e) {  // a payload the validators let through and the model did not expect
      Warn(c.cp_id + ": " + LogSafeAction(action) + " not understood: " + LogSafe(e.what()));
    }
    if (effect.book_changed) SaveBook();
    if (!effect.note.empty()) spdlog::info("ocpp: {}: {}", c.cp_id, effect.note);
    Submit(std::move(effect.readings), std::move(done));
  }

  // --- pass-through ----------------------------------------------------------------

  void RelayUp(Conn& c, std::string text) {
    ++stats.relayed_frames;
    if (c.up == Conn::Up::kUp && c.upstream) {
      c.upstream->Send(std::move(text));
    } else if (c.up == Conn::Up::kConnecting) {
      if (c.up_queue.size() < kMaxUpstreamQueue) c.up_queue.push_back(std::move(text));
    }
  }

  void OnUpstreamText(const std::shared_ptr<Conn>& c, std::string text) {
    if (!c->open || !c->current) return;
    ++stats.relayed_frames;
    auto parsed = ParseFrame(text);
    if (auto* f = std::get_if<Frame>(&parsed)) {
      if (f->type != MessageType::kCall) {
        auto it = c->relayed_calls.find(f->id);
        if (it != c->relayed_calls.end()) {
          Frame req = std::move(it->second.second);
          c->relayed_calls.erase(it);
          if (f->type == MessageType::kCallResult && req.action == "StartTransaction") {
            Observe(*c, req.action, req.payload, f->payload, {});
          }
        }
      }
    }
    c->Send(std::move(text));
  }

  void ConnectUpstream(const std::shared_ptr<Conn>& c);

  void UpstreamOpened(const std::shared_ptr<Conn>& c) {
    if (!c->open) return;
    c->up = Conn::Up::kUp;
    c->backoff_s = 1;
    spdlog::info("ocpp: {}: relaying to the operator's central system", c->cp_id);
    while (!c->up_queue.empty()) {
      c->upstream->Send(std::move(c->up_queue.front()));
      c->up_queue.pop_front();
    }
  }

  // The upstream failed or closed: answer locally what waits, retry later.
  void UpstreamDown(const std::shared_ptr<Conn>& c, const std::string& why) {
    if (!c->open || c->up == Conn::Up::kDown || c->up == Conn::Up::kNone) return;
    const bool was_up = c->up == Conn::Up::kUp;
    c->up = Conn::Up::kDown;
    c->upstream = nullptr;
    c->upstream_owner.reset();
    Warn(c->cp_id + ": operator's central system " + (was_up ? "lost" : "unreachable") + " (" + why +
         "); answering locally, retry in " + std::to_string(c->backoff_s) + " s");
    std::deque<std::string> waiting = std::move(c->up_queue);
    c->up_queue.clear();
    // Valid CALLs relayed (or waiting to be) and never answered: answered now, in the
    // order they came, as the local central system (their readings were taken as they
    // passed, except StartTransaction's, which needed the answer).
    std::vector<std::pair<uint64_t, Frame>> pending;
    std::set<std::string> answered;
    for (auto& [id, entry] : c->relayed_calls) pending.push_back(std::move(entry));
    c->relayed_calls.clear();
    std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [seq, f] : pending) {
      ++stats.answered_locally;
      answered.insert(f.id);
      if (f.action == "StartTransaction") {
        ServeLocally(c, std::move(f));
      } else {
        c->Send(SerializeCallResult(f.id, Answer(*c, f.action, f.payload)));
      }
    }
    // The rest of what waited for the connection: malformed or invalid frames get their
    // CALLERROR now; the pile's answers to operator calls have nobody to go to.
    for (auto& text : waiting) {
      auto parsed = ParseFrame(text);
      if (auto* f = std::get_if<Frame>(&parsed)) {
        if (f->type != MessageType::kCall || answered.count(f->id)) continue;
      }
      OnText(c, std::move(text));
    }
    if (!c->retry_timer) c->retry_timer = std::make_unique<asio::steady_timer>(io);
    c->retry_timer->expires_after(std::chrono::seconds(c->backoff_s));
    c->backoff_s = std::min(60, c->backoff_s * 2);
    std::weak_ptr<Conn> weak = c;
    c->retry_timer->async_wait([this, self = shared_from_this(), weak](const boost::system::error_code& ec) {
      auto conn = weak.lock();
      if (ec || stopped || !conn || !conn->open || !conn->current) return;
      ConnectUpstream(conn);
    });
  }

  void DropUpstream(Conn& c) {
    if (c.upstream_owner) c.upstream_owner->Close();
    c.upstream = nullptr;
    c.upstream_owner.reset();
    c.up = c.up == Conn::Up::kNone ? Conn::Up::kNone : Conn::Up::kDown;
  }
};

// --- outgoing frames, both sides -------------------------------------------------

// Writes an owner's queued text frames one at a time, in order: Beast allows one
// outstanding async_write per stream. The owner (WsConn, WsUpstream) has ws, out, open
// and Fail(); *stopped says when no further write may start. Io thread only.
template <class Owner>
void WriteQueued(const std::shared_ptr<Owner>& self, bool Owner::*stopped) {
  self->ws->text(true);
  self->ws->async_write(asio::buffer(self->out.front()), [self, stopped](beast::error_code ec, size_t) {
    if (ec) return self->Fail("write: " + ec.message());
    self->out.pop_front();
    if (!self->out.empty() && !((*self).*stopped)) WriteQueued(self, stopped);
  });
}

// Queues text and starts writing when no write is under way.
template <class Owner>
void SendQueued(Owner& owner, bool Owner::*stopped, std::string text) {
  if (!owner.open || owner.*stopped) return;
  owner.out.push_back(std::move(text));
  if (owner.out.size() == 1) WriteQueued(std::static_pointer_cast<Owner>(owner.shared_from_this()), stopped);
}

// --- the charge point side: Beast WebSocket server ---------------------------------

template <class Ws>
struct WsConn final : Conn {
  WsConn(std::shared_ptr<OcppDriver::Impl> d, std::shared_ptr<Ws> s) : impl(std::move(d)), ws(std::move(s)) {}
  std::shared_ptr<OcppDriver::Impl> impl;
  std::shared_ptr<Ws> ws;
  beast::flat_buffer buffer;
  std::deque<std::string> out;
  bool closing = false;

  void Send(std::string text) override { SendQueued(*this, &WsConn::closing, std::move(text)); }

  void Close(websocket::close_code code, const std::string& reason) override {
    if (!open || closing) return;
    closing = true;
    auto self = std::static_pointer_cast<WsConn>(shared_from_this());
    ws->async_close(websocket::close_reason(code, reason), [self](beast::error_code) {
      // the read loop ends with the close
    });
  }

  void Read() {
    auto self = std::static_pointer_cast<WsConn>(shared_from_this());
    ws->async_read(buffer, [self](beast::error_code ec, size_t) {
      if (ec) {
        if (ec == websocket::error::message_too_big) {
          ++self->impl->stats.closed_for_abuse;
          self->impl->Warn(self->cp_id + ": a message over max_frame_bytes; closed with 1009");
        }
        return self->Fail(ec == websocket::error::closed ? "closed" : ec.message());
      }
      if (!self->ws->got_text()) {
        ++self->impl->stats.closed_for_abuse;
        self->impl->Warn(self->cp_id + ": a binary message; closed with 1003");
        self->buffer.consume(self->buffer.size());
        self->Close(websocket::close_code::unknown_data, "OCPP-J frames are text");
        self->Read();
        return;
      }
      std::string text = beast::buffers_to_string(self->buffer.data());
      self->buffer.consume(self->buffer.size());
      self->impl->OnText(self, std::move(text));
      self->Read();
    });
  }

  void Fail(const std::string& why) {
    if (!open) return;
    open = false;
    impl->Closed(shared_from_this(), why);
  }
};

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

void OcppDriver::Impl::Accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket sock) {
    if (self->stopped) return;
    if (!ec) {
      sock.set_option(tcp::no_delay(true), ec);
      if (self->tls) {
        auto ws = std::make_shared<TlsWs>(beast::tcp_stream(std::move(sock)), self->server_tls);
        beast::get_lowest_layer(*ws).expires_after(kHandshakeTimeout);
        ws->next_layer().async_handshake(ssl::stream_base::server, [self, ws](beast::error_code ec2) {
          if (ec2) {
            ++self->stats.refused_handshakes;
            spdlog::debug("ocpp: TLS handshake failed: {}", ec2.message());
            return;
          }
          self->Handshake(ws);
        });
      } else {
        auto ws = std::make_shared<PlainWs>(beast::tcp_stream(std::move(sock)));
        self->Handshake(ws);
      }
    }
    self->Accept();
  });
}

template <class Ws>
void OcppDriver::Impl::Handshake(std::shared_ptr<Ws> ws) {
  struct State {
    beast::flat_buffer buffer;
    bhttp::request_parser<bhttp::string_body> parser;
  };
  auto st = std::make_shared<State>();
  st->parser.header_limit(8192);
  st->parser.body_limit(0);
  beast::get_lowest_layer(*ws).expires_after(kHandshakeTimeout);
  auto self = shared_from_this();
  bhttp::async_read(ws->next_layer(), st->buffer, st->parser, [self, ws, st](beast::error_code ec, size_t) {
    if (ec || self->stopped) return;
    auto req = st->parser.release();
    std::string cp_id;
    if (auto refusal = self->CheckUpgrade(req, &cp_id)) {
      auto res = std::make_shared<bhttp::response<bhttp::string_body>>(std::move(*refusal));
      bhttp::async_write(ws->next_layer(), *res, [ws, res](beast::error_code, size_t) {
        beast::error_code ignored;
        beast::get_lowest_layer(*ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
      return;
    }
    beast::get_lowest_layer(*ws).expires_never();
    websocket::stream_base::timeout t;
    t.handshake_timeout = kHandshakeTimeout;
    t.idle_timeout = std::chrono::seconds(self->o.idle_timeout_s);
    t.keep_alive_pings = true;
    ws->set_option(t);
    ws->read_message_max(self->o.max_frame_bytes);
    ws->set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(bhttp::field::sec_websocket_protocol, kSubprotocol);
      res.set(bhttp::field::server, "community-gateway");
    }));
    auto conn = std::make_shared<WsConn<Ws>>(self, ws);
    conn->cp_id = cp_id;
    conn->serial = self->next_serial++;
    ws->async_accept(req, [self, conn](beast::error_code ec2) {
      if (ec2 || self->stopped) return;
      conn->open = true;
      self->Opened(conn);
      conn->Read();
    });
  });
}

// --- the operator side: Beast WebSocket client -------------------------------------

template <class Ws>
struct WsUpstream final : Upstream {
  WsUpstream(std::shared_ptr<OcppDriver::Impl> d, std::shared_ptr<Ws> s) : impl(std::move(d)), ws(std::move(s)) {}
  std::shared_ptr<OcppDriver::Impl> impl;
  std::shared_ptr<Ws> ws;
  beast::flat_buffer buffer;
  std::deque<std::string> out;
  bool closed = false;

  void Send(std::string text) override { SendQueued(*this, &WsUpstream::closed, std::move(text)); }
  void Close() override {
    if (closed) return;
    closed = true;
    if (!open) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws).socket().close(ignored);
      return;
    }
    ws->async_close(websocket::close_code::going_away, [ws = ws](beast::error_code) {});
  }
  void Read() {
    auto self = std::static_pointer_cast<WsUpstream>(shared_from_this());
    ws->async_read(buffer, [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec.message());
      std::string text = beast::buffers_to_string(self->buffer.data());
      self->buffer.consume(self->buffer.size());
      if (self->closed) return;
      if (auto c = self->owner.lock()) self->impl->OnUpstreamText(c, std::move(text));
      self->Read();
    });
  }
  void Fail(const std::string& why) {
    if (closed) return;
    closed = true;
    if (auto c = owner.lock()) {
      if (c->upstream == this) impl->UpstreamDown(c, why);
    }
  }

  void Start(const UpstreamUrl& url, const std::string& cp_id, const std::string& password) {
    auto self = std::static_pointer_cast<WsUpstream>(shared_from_this());
    auto resolver = std::make_shared<tcp::resolver>(impl->io);
    beast::get_lowest_layer(*ws).expires_after(kUpstreamConnectWait);
    resolver->async_resolve(
        url.host, url.port,
        [self, resolver, url, cp_id, password](beast::error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->Fail("resolve " + url.host + ": " + ec.message());
          if (self->closed) return;
          beast::get_lowest_layer(*self->ws).async_connect(r, [self, url, cp_id, password](beast::error_code ec2,
                                                                                           const tcp::endpoint&) {
            if (ec2) return self->Fail("connect: " + ec2.message());
            if (self->closed) return;
            auto upgrade = [self, url, cp_id, password]() {
              beast::get_lowest_layer(*self->ws).expires_never();
              websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::client);
              t.handshake_timeout = kUpstreamConnectWait;
              self->ws->set_option(t);
              self->ws->read_message_max(self->impl->o.max_frame_bytes * 4);
              self->ws->set_option(websocket::stream_base::decorator([cp_id, password](websocket::request_type& req) {
                req.set(bhttp::field::sec_websocket_protocol, kSubprotocol);
                req.set(bhttp::field::user_agent, "community-gateway");
                if (!password.empty()) req.set(bhttp::field::authorization, "Basic " + Base64(cp_id + ":" + password));
              }));
              auto res = std::make_shared<websocket::response_type>();
              self->ws->async_handshake(*res, url.host + ":" + url.port, url.path, [self, res](beast::error_code ec3) {
                if (ec3) return self->Fail("handshake: " + ec3.message());
                if (self->closed) return;
                if ((*res)[bhttp::field::sec_websocket_protocol] != kSubprotocol) {
                  return self->Fail("the central system did not accept the subprotocol ocpp1.6");
                }
                self->open = true;
                if (auto c = self->owner.lock()) {
                  if (c->upstream == self.get()) self->impl->UpstreamOpened(c);
                }
                self->Read();
              });
            };
            if constexpr (std::is_same_v<Ws, TlsWs>) {
              if (!SSL_set_tlsext_host_name(self->ws->next_layer().native_handle(), url.host.c_str())) {
                return self->Fail("SNI");
              }
              self->ws->next_layer().set_verify_callback(ssl::host_name_verification(url.host));
              self->ws->next_layer().async_handshake(ssl::stream_base::client, [self, upgrade](beast::error_code ec3) {
                if (ec3) return self->Fail("TLS: " + ec3.message());
                upgrade();
              });
            } else {
              upgrade();
            }
          });
        });
  }
};

void OcppDriver::Impl::ConnectUpstream(const std::shared_ptr<Conn>& c) {
  auto it = charge_points.find(c->cp_id);
  if (it == charge_points.end()) return;
  auto url = ParseUpstream(it->second.upstream, c->cp_id);
  if (!url) {
    Warn(c->cp_id + ": upstream '" + it->second.upstream + "' is not ws:// or wss://");
    return;
  }
  c->up = Conn::Up::kConnecting;
  std::shared_ptr<Upstream> up;
  if (url->tls) {
    auto ws = std::make_shared<TlsWs>(beast::tcp_stream(io), client_tls);
    auto u = std::make_shared<WsUpstream<TlsWs>>(shared_from_this(), ws);
    up = u;
    c->upstream_owner = up;
    c->upstream = up.get();
    up->owner = c;
    u->Start(*url, c->cp_id, it->second.upstream_password);
  } else {
    auto ws = std::make_shared<PlainWs>(beast::tcp_stream(io));
    auto u = std::make_shared<WsUpstream<PlainWs>>(shared_from_this(), ws);
    up = u;
    c->upstream_owner = up;
    c->upstream = up.get();
    up->owner = c;
    u->Start(*url, c->cp_id, it->second.upstream_password);
  }
}

// --- the driver ----------------------------------------------------------------------

OcppDriver::OcppDriver(asio::io_context& io, const gateway::Config& config, const gateway::Clock& clock)
    : impl_(std::make_shared<Impl>(io, config, clock)) {}

OcppDriver::~OcppDriver() = default;

uint16_t OcppDriver::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

const OcppStats& OcppDriver::stats() const { return impl_->stats; }

gateway::DriverStats OcppDriver::Stats() const {
  gateway::DriverStats out;
  out.readings = impl_->stats.readings;
  out.errors = impl_->errors;
  out.last_error = impl_->last_error;
  return out;
}

Status OcppDriver::Start(gateway::ReadingSink& sink) {
  impl_->sink = &sink;
  return impl_->Start();
}

void OcppDriver::Stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  boost::system::error_code ec;
  d.acceptor.close(ec);
  auto conns = d.conns;
  for (const auto& c : conns) {
    d.DropUpstream(*c);
    if (c->retry_timer) c->retry_timer->cancel();
    c->Close(websocket::close_code::going_away, "gateway stopping");
  }
  const auto& s = d.stats;
  spdlog::info(
      "ocpp: {} connections, {} calls, {} CALLERRORs, {} handshakes refused, {} closed for abuse, {} frames "
      "relayed, {} answered locally, {} readings",
      s.connections, s.calls, s.call_errors, s.refused_handshakes, s.closed_for_abuse, s.relayed_frames,
      s.answered_locally, s.readings);
}

}  // namespace ocpp
