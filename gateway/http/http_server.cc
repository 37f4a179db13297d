#include "http/http_server.h"

#include "gateway/net_address.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace gateway::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace detail {

// How long a refused client may go on sending before the connection is closed.
constexpr std::chrono::milliseconds kLingerTime{2000};
// The read buffer holds a header and what arrives with it, never a whole body: a body is
// moved into the request as it is read.
constexpr size_t kReadSlack = 16 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

struct RouteEntry {
  Verb method = Verb::get;
  Handler sync;
  AsyncHandler async;
  StreamHandler stream;
  RouteOptions opts;
};

struct ServerCore {
  explicit ServerCore(net::io_context& io_, ServerOptions o) : io(io_), options(std::move(o)), acceptor(io_) {}
  net::io_context& io;
  ServerOptions options;
  tcp::acceptor acceptor;
  bool running = false;
  uint16_t port = 0;
  // path -> routes for that path (one per method)
  std::map<std::string, std::vector<RouteEntry>, std::less<>> exact;
  std::map<std::string, std::vector<RouteEntry>, std::less<>> prefix;  // key without the "*"
  std::function<bool(const Request&)> authenticator;
  std::string challenge;
  // Stats are touched from connection strands; with one loop thread there is no race,
  // but the mutex keeps a multi-threaded io_context honest too.
  mutable std::mutex mu;
  ServerStats stats;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions;

  // Request bodies held in memory across all connections (reserved from the header's
  // Content-Length, or max_body_bytes when chunked, before a byte of body is read).
  size_t body_bytes_reserved = 0;

  bool ReserveBody(size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    if (body_bytes_reserved + n > options.max_total_body_bytes) return false;
    body_bytes_reserved += n;
    stats.body_bytes_reserved = body_bytes_reserved;
    return true;
  }
  void ReleaseBody(size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    body_bytes_reserved -= n;
    stats.body_bytes_reserved = body_bytes_reserved;
  }

  void Count(uint64_t ServerStats::*field) {
    std::lock_guard<std::mutex> lock(mu);
    ++(stats.*field);
  }
};

struct ResponderState {
  // Strong: the connection has no pending operation while its handler works, so the
  // responder is what keeps it open.
  std::shared_ptr<Session> session;
  net::any_io_executor executor;
  std::atomic<bool> sent{false};
  ~ResponderState();
};

struct StreamState {
  std::weak_ptr<Session> session;
  net::any_io_executor executor;
  std::atomic<bool> closed{false};
  std::mutex mu;
  std::function<void()> on_close;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerCore> core)
      : stream_(std::move(socket)), core_(std::move(core)),
        buffer_(core_->options.max_header_bytes + kReadSlack) {}

  ~Session() {
    if (body_reserved_ > 0) core_->ReleaseBody(body_reserved_);
    std::lock_guard<std::mutex> lock(core_->mu);
    --core_->stats.open_connections;
    if (streaming_) --core_->stats.open_streams;
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  void Refuse() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      Response res{HttpStatus::service_unavailable, 11};
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.set(bhttp::field::retry_after, "5");
      res.body() = "too many connections\n";
      res.keep_alive(false);
      res.prepare_payload();
      self->SendResponse(std::move(res), false);
    });
  }

  // Any thread.
  void PostClose() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }
  bool closed() const { return closed_; }

  void DeliverResponse(Response res) {
    if (closed_) return;
    const bool keep = res.keep_alive();
    SendResponse(std::move(res), keep);
  }

  void QueueStreamChunk(std::string chunk) {
    if (closed_ || !streaming_) return;
    queued_bytes_ += chunk.size();
    if (queued_bytes_ > core_->options.max_stream_queue_bytes) {
      spdlog::warn("{}: event stream client is not reading; closing it", core_->options.name);
      CloseNow();
      return;
    }
    queue_.push_back(std::move(chunk));
    if (!writing_) WriteNextChunk();
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    if (stream_state_) {
      stream_state_->closed = true;
      std::function<void()> cb;
      {
        std::lock_guard<std::mutex> lock(stream_state_->mu);
        cb = std::move(stream_state_->on_close);
        stream_state_->on_close = nullptr;
      }
      if (cb) cb();
    }
  }

 private:
  // A request is read in two steps: the header, on which everything that can refuse
  // it is decided (route, authentication, media type, the memory its body needs), and
  // only then the body. An unauthenticated neighbour thus never gets a body buffered.
  void DoRead() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_->options.max_header_bytes));
    parser_->body_limit(core_->options.max_body_bytes);
    stream_.expires_after(core_->options.request_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (closed_) return;
    if (ec) return on_read(ec);
    const Request& head = parser_->get();
    auto [path, query] = SplitTarget(head);
    std::string allow;
    const RouteEntry* route = Find(path, head.method(), &allow);
    if (route == nullptr) {
      if (!allow.empty()) {
        Response res = MakeResponse(head, HttpStatus::method_not_allowed, "method not allowed\n");
        res.set(bhttp::field::allow, allow);
        return RefuseEarly(std::move(res));
      }
      return RefuseEarly(MakeResponse(head, HttpStatus::not_found, "not found\n"));
    }
    if (core_->authenticator && !route->opts.is_public && !core_->authenticator(head)) {
      core_->Count(&ServerStats::unauthorized);
      Response res = MakeResponse(head, HttpStatus::unauthorized, "authentication required\n");
      res.set(bhttp::field::www_authenticate, core_->challenge);
      return RefuseEarly(std::move(res));
    }
    const bool has_body = !parser_->is_done();
    if (has_body && !route->opts.media_type.empty()) {
      auto ct = head.find(bhttp::field::content_type);
      if (ct != head.end() && !MediaTypeIs(View(ct->value()), route->opts.media_type)) {
        core_->Count(&ServerStats::bad_requests);
        return RefuseEarly(MakeResponse(head, HttpStatus::unsupported_media_type,
                                        "content-type: send " + route->opts.media_type + "\n"));
      }
    }
    bool continue_expected = false;
    if (auto ex = head.find(bhttp::field::expect); ex != head.end()) {
      if (!EqualsNoCase(Trim(View(ex->value())), "100-continue")) {
        core_->Count(&ServerStats::bad_requests);
        return RefuseEarly(
            MakeResponse(head, HttpStatus::expectation_failed, "only Expect: 100-continue is known\n"));
      }
      continue_expected = has_body;
    }
    if (has_body) {
      const auto length = parser_->content_length();
      const size_t want = length ? size_t(*length) : core_->options.max_body_bytes;
      if (want > 0) {
        if (!core_->ReserveBody(want)) {
          core_->Count(&ServerStats::busy);
          Response res = MakeResponse(head, HttpStatus::service_unavailable,
                                      "busy: too many request bodies in progress; send again\n");
          res.set(bhttp::field::retry_after, "1");
          return RefuseEarly(std::move(res));
        }
        body_reserved_ = want;
      }
    }
    if (!has_body) return on_read({});
    if (continue_expected) {
      // RFC 9110 10.1.1: the client waits for this before it sends the body.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue),
                              [self = shared_from_this()](beast::error_code wec, size_t) {
                                if (self->closed_) return;
                                if (wec) return self->CloseNow();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  // An answer decided from the header. Without a body to come the connection goes on
  // as the request asked; with one, it cannot be reused (the body is still on its way),
  // so it is closed after the answer, lingering (see Linger).
  void RefuseEarly(Response res) {
    if (parser_->is_done()) {
      core_->Count(&ServerStats::requests);
      return DeliverResponse(std::move(res));
    }
    res.keep_alive(false);
    linger_ = true;
    SendResponse(std::move(res), false);
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    if (ec == bhttp::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::eof) {
      CloseNow();
      return;
    }
    if (ec == beast::error::timeout) {
      // An idle keep-alive connection times out too: only a partial request counts.
      if (buffer_.size() > 0 || (parser_ && parser_->got_some())) {
        core_->Count(&ServerStats::timeouts);
        spdlog::debug("{}: request not complete within the deadline; closing", core_->options.name);
      }
      CloseNow();
      return;
    }
    if (ec == net::error::operation_aborted) return;
    if (ec == bhttp::error::body_limit) {
      core_->Count(&ServerStats::too_large);
      return Fail(HttpStatus::payload_too_large, "request body too large\n");
    }
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      core_->Count(&ServerStats::too_large);
      return Fail(HttpStatus::request_header_fields_too_large, "request header too large\n");
    }
    if (ec) {
      core_->Count(&ServerStats::bad_requests);
      return Fail(HttpStatus::bad_request, "bad request\n");
    }
    core_->Count(&ServerStats::requests);
    request_ = parser_->release();
    Dispatch();
  }

  void Fail(HttpStatus status, std::string body) {
    Response res{status, 11};
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    res.keep_alive(false);
    res.prepare_payload();
    linger_ = true;
    SendResponse(std::move(res), false);
  }

  // Closing a socket with unread bytes makes the kernel send a reset, which can reach
  // the client before it has read our answer (a 401 or 413 it never sees). So: stop
  // sending, then read and discard (into a fixed buffer: no memory grows) until the
  // client closes or a short deadline passes.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(core_->options.request_timeout, kLingerTime));
    LingerRead();
  }

  void LingerRead() {
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (self->closed_) return;
      if (ec) return self->CloseNow();
      self->LingerRead();
    });
  }

  const RouteEntry* Find(std::string_view path, Verb method, std::string* allow) {
    const std::vector<RouteEntry>* routes = nullptr;
    if (auto it = core_->exact.find(path); it != core_->exact.end()) {
      routes = &it->second;
    } else {
      size_t best = 0;
      for (const auto& [p, r] : core_->prefix) {
        if (path.substr(0, p.size()) == p && p.size() >= best) {
          best = p.size();
          routes = &r;
        }
      }
    }
    if (routes == nullptr) return nullptr;
    for (const auto& r : *routes) {
      if (r.method == method) return &r;
    }
    if (method == Verb::head) {
      for (const auto& r : *routes) {
        if (r.method == Verb::get && !r.stream) return &r;
      }
    }
    for (const auto& r : *routes) {
      if (!allow->empty()) *allow += ", ";
      *allow += std::string(bhttp::to_string(r.method));
    }
    return nullptr;
  }

  void Dispatch() {
    const Request& req = request_;
    auto [path, query] = SplitTarget(req);
    std::string allow;
    const RouteEntry* route = Find(path, req.method(), &allow);
    if (route == nullptr) {
      if (!allow.empty()) {
        Response res = MakeResponse(req, HttpStatus::method_not_allowed, "method not allowed\n");
        res.set(bhttp::field::allow, allow);
        return DeliverResponse(std::move(res));
      }
      return DeliverResponse(MakeResponse(req, HttpStatus::not_found, "not found\n"));
    }
    if (core_->authenticator && !route->opts.is_public && !core_->authenticator(req)) {
      core_->Count(&ServerStats::unauthorized);
      Response res = MakeResponse(req, HttpStatus::unauthorized, "authentication required\n");
      res.set(bhttp::field::www_authenticate, core_->challenge);
      return DeliverResponse(std::move(res));
    }
    try {
      if (route->sync) {
        Response res = route->sync(req);
        if (req.method() == Verb::head) {
          // HEAD carries the GET's Content-Length and no body.
          const auto len = res.body().size();
          res.body().clear();
          res.content_length(len);
          return SendResponse(std::move(res), req.keep_alive(), /*prepared=*/true);
        }
        return DeliverResponse(std::move(res));
      }
      if (route->async) {
        auto state = std::make_shared<ResponderState>();
        state->session = shared_from_this();
        state->executor = stream_.get_executor();
        route->async(req, Responder(std::move(state)));
        return;
      }
      if (route->stream) {
        return StartStream(*route);
      }
    } catch (const std::exception& e) {
      core_->Count(&ServerStats::handler_errors);
      spdlog::error("{}: handler for {} failed: {}", core_->options.name, std::string(path), e.what());
      return DeliverResponse(MakeResponse(req, HttpStatus::internal_server_error, "internal error\n"));
    } catch (...) {
      core_->Count(&ServerStats::handler_errors);
      spdlog::error("{}: handler for {} failed", core_->options.name, std::string(path));
      return DeliverResponse(MakeResponse(req, HttpStatus::internal_server_error, "internal error\n"));
    }
  }

  void StartStream(const RouteEntry& route) {
    streaming_ = true;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      ++core_->stats.open_streams;
    }
    stream_state_ = std::make_shared<StreamState>();
    stream_state_->session = weak_from_this();
    stream_state_->executor = stream_.get_executor();
    // No Content-Length and no chunking: the body is the event stream, ended by closing
    // the connection, which EventSource handles by reconnecting.
    queue_.push_back(
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n\r\n");
    queued_bytes_ = queue_.back().size();
    WriteNextChunk();
    // A read stays pending only to notice the client going away.
    stream_.expires_never();
    ReadUntilClosed();
    auto es = std::make_shared<EventStream>(stream_state_);
    route.stream(request_, es);
  }

  void ReadUntilClosed() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (self->closed_) return;
                              if (ec) return self->CloseNow();
                              self->ReadUntilClosed();
                            });
  }

  void WriteNextChunk() {
    if (closed_ || queue_.empty()) return;
    writing_ = true;
    // Only the socket: a stream's pending read must not be cancelled by a write deadline.
    stream_.socket().async_write_some(
        net::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->writing_ = false;
          if (self->closed_) return;
          if (ec) return self->CloseNow();
          self->queued_bytes_ -= n;
          if (n < self->queue_.front().size()) {
            self->queue_.front().erase(0, n);
          } else {
            self->queue_.pop_front();
          }
          self->WriteNextChunk();
        });
  }

  void SendResponse(Response res, bool keep_alive, bool prepared = false) {
    if (closed_) return;
    // The body has been handled once there is an answer: its memory goes back.
    if (body_reserved_ > 0) {
      core_->ReleaseBody(body_reserved_);
      body_reserved_ = 0;
      request_.body() = std::string();
    }
    res.keep_alive(keep_alive);
    if (!prepared) res.prepare_payload();
    res.set(bhttp::field::server, "community-gateway");
    auto sp = std::make_shared<Response>(std::move(res));
    stream_.expires_after(core_->options.write_timeout);
    bhttp::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, size_t) {
      if (self->closed_) return;
      if (ec) {
        if (ec == beast::error::timeout) self->core_->Count(&ServerStats::timeouts);
        return self->CloseNow();
      }
      if (!sp->keep_alive()) return self->linger_ ? self->Linger() : self->CloseNow();
      self->DoRead();
    });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerCore> core_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;
  std::atomic<bool> closed_{false};
  bool streaming_ = false;
  bool writing_ = false;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  std::shared_ptr<StreamState> stream_state_;
  size_t body_reserved_ = 0;  // of ServerCore's body budget, until the answer
  bool linger_ = false;
  char discard_[512];
};

ResponderState::~ResponderState() {
  if (sent) return;
  // Every copy of the Responder is gone and nobody answered: a 500 beats a hung client.
  net::post(executor, [s = std::move(session)] {
    {
      spdlog::error("http: a handler dropped its request without answering");
      Response res{HttpStatus::internal_server_error, 11};
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = "internal error\n";
      res.keep_alive(false);
      s->DeliverResponse(std::move(res));
    }
  });
}

}  // namespace detail

// --- Responder / EventStream ---

void Responder::Send(Response res) const {
  if (!state_ || state_->sent.exchange(true)) return;
  net::post(state_->executor, [s = state_->session, res = std::move(res)]() mutable {
    s->DeliverResponse(std::move(res));
  });
}

bool Responder::connected() const { return state_ && !state_->session->closed(); }

void EventStream::Write(std::string chunk) {
  if (state_->closed) return;
  net::post(state_->executor, [weak = state_->session, chunk = std::move(chunk)]() mutable {
    if (auto s = weak.lock()) s->QueueStreamChunk(std::move(chunk));
  });
}

void EventStream::Send(std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(data.size() + event.size() + 32);
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += "\n";
  }
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    out += "data: ";
    out += data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    out += "\n";
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += "\n";
  Write(std::move(out));
}

void EventStream::SendComment(std::string_view text) { Write(": " + std::string(text) + "\n\n"); }

void EventStream::Close() {
  net::post(state_->executor, [weak = state_->session] {
    if (auto s = weak.lock()) s->CloseNow();
  });
}

bool EventStream::closed() const { return state_->closed || state_->session.expired(); }

void EventStream::set_on_close(std::function<void()> f) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->on_close = std::move(f);
}

// --- HttpServer ---

HttpServer::HttpServer(net::io_context& io, ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>(io, std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

namespace {
void AddRoute(detail::ServerCore& core, std::string path, detail::RouteEntry entry) {
  if (path.size() >= 2 && path.substr(path.size() - 2) == "/*") {
    path.pop_back();
    core.prefix[path].push_back(std::move(entry));
  } else {
    core.exact[path].push_back(std::move(entry));
  }
}
}  // namespace

void HttpServer::Route(Verb method, std::string path, Handler handler, RouteOptions opts) {
  detail::RouteEntry e;
  e.method = method;
  e.sync = std::move(handler);
  e.opts = opts;
  AddRoute(*core_, std::move(path), std::move(e));
}

void HttpServer::RouteAsync(Verb method, std::string path, AsyncHandler handler, RouteOptions opts) {
  detail::RouteEntry e;
  e.method = method;
  e.async = std::move(handler);
  e.opts = opts;
  AddRoute(*core_, std::move(path), std::move(e));
}

void HttpServer::RouteStream(std::string path, StreamHandler handler, RouteOptions opts) {
  detail::RouteEntry e;
  e.method = Verb::get;
  e.stream = std::move(handler);
  e.opts = opts;
  AddRoute(*core_, std::move(path), std::move(e));
}

void HttpServer::set_authenticator(std::function<bool(const Request&)> check, std::string challenge) {
  core_->authenticator = std::move(check);
  core_->challenge = std::move(challenge);
}

Status HttpServer::Start() {
  auto& o = core_->options;
  beast::error_code ec;
  // The config check's notion of an address, so that what it accepts binds here.
  auto listen = ParseListenAddress(o.address);
  if (!listen.ok()) return Status::InvalidArgument(o.name + ": listen address " + listen.status().message());
  o.address = listen->ip;  // what is bound, for the log and address()
  auto addr = net::ip::make_address(listen->ip, ec);
  if (ec) return Status::InvalidArgument(o.name + ": bad listen address '" + o.address + "': " + ec.message());
  tcp::endpoint ep(addr, o.port);
  core_->acceptor.open(ep.protocol(), ec);
  if (!ec) core_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) core_->acceptor.bind(ep, ec);
  if (!ec) core_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    core_->acceptor.close(ignored);
    return Status::IoError(o.name + ": cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                           ec.message());
  }
  core_->port = core_->acceptor.local_endpoint().port();
  core_->running = true;
  const bool v6 = addr.is_v6();
  spdlog::info("{}: listening on http://{}{}{}:{}/", o.name, v6 ? "[" : "", o.address, v6 ? "]" : "",
               core_->port);
  DoAccept();
  return Status::Ok();
}

namespace detail {
void AcceptLoop(const std::shared_ptr<ServerCore>& core_) {
  std::weak_ptr<detail::ServerCore> weak = core_;
  core_->acceptor.async_accept(net::make_strand(core_->io), [weak](beast::error_code ec, tcp::socket socket) {
    auto core = weak.lock();
    if (!core || !core->running) return;
    if (!ec) {
      auto session = std::make_shared<detail::Session>(std::move(socket), core);
      bool refuse = false;
      {
        std::lock_guard<std::mutex> lock(core->mu);
        for (auto it = core->sessions.begin(); it != core->sessions.end();) {
          it = it->expired() ? core->sessions.erase(it) : std::next(it);
        }
        ++core->stats.open_connections;
        refuse = core->stats.open_connections > core->options.max_connections;
        if (refuse) {
          ++core->stats.connections_refused;
        } else {
          ++core->stats.connections_accepted;
          core->sessions.insert(session);
        }
      }
      if (refuse) {
        spdlog::warn("{}: {} connections open; refusing one", core->options.name, core->options.max_connections);
        session->Refuse();
      } else {
        session->Start();
      }
    } else if (ec != net::error::operation_aborted) {
      spdlog::warn("{}: accept failed: {}", core->options.name, ec.message());
    }
    // Keep accepting: a failed accept (EMFILE) must not end the server.
    AcceptLoop(core);
  });
}
}  // namespace detail

void HttpServer::DoAccept() { detail::AcceptLoop(core_); }

void HttpServer::Stop() {
  if (!core_->running) return;
  core_->running = false;
  beast::error_code ec;
  core_->acceptor.close(ec);
  std::vector<std::shared_ptr<detail::Session>> open;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    for (auto& w : core_->sessions) {
      if (auto s = w.lock()) open.push_back(std::move(s));
    }
    core_->sessions.clear();
  }
  for (auto& s : open) s->PostClose();
}

uint16_t HttpServer::port() const { return core_->port; }
const std::string& HttpServer::address() const { return core_->options.address; }

ServerStats HttpServer::stats() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->stats;
}

// --- helpers ---

Response MakeResponse(const Request& req, HttpStatus status, std::string body, std::string_view content_type) {
  Response res{status, req.version()};
  res.set(bhttp::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::optional<std::string> Base64Decode(std::string_view in) {
  while (!in.empty() && (in.back() == ' ' || in.back() == '\t')) in.remove_suffix(1);
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '=') {
      if (i < in.size() - 2) return std::nullopt;
      ++pad;
      continue;
    }
    if (pad > 0) return std::nullopt;
    const char* p = std::char_traits<char>::find(kB64, 64, c);
    if (p == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}
}  // namespace

bool MediaTypeIs(std::string_view content_type, std::string_view want) {
  // RFC 9110 8.3.1: type "/" subtype *( OWS ";" OWS parameter ), names case-insensitive.
  size_t semi = content_type.find(';');
  if (!detail::EqualsNoCase(detail::Trim(content_type.substr(0, semi)), want)) return false;
  while (semi != std::string_view::npos) {
    content_type.remove_prefix(semi + 1);
    semi = content_type.find(';');
    std::string_view param = detail::Trim(content_type.substr(0, semi));
    if (param.empty()) continue;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view name = detail::Trim(param.substr(0, eq));
    std::string_view value = detail::Trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    // The one parameter a JSON or text body may carry, and only as UTF-8.
    if (!detail::EqualsNoCase(name, "charset") || !detail::EqualsNoCase(value, "utf-8")) return false;
  }
  return true;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key = UrlDecode(pair.substr(0, eq));
    if (key == name) return eq == std::string_view::npos ? std::string() : UrlDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walks the longer input whatever the contents; volatile keeps the compiler from
  // turning the loop back into an early-exit comparison.
  const size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::optional<std::pair<std::string, std::string>> ParseBasicAuth(std::string_view value) {
  if (!StartsWithNoCase(value, "basic ")) return std::nullopt;
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  auto decoded = Base64Decode(value);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

bool CheckBasicAuth(const Request& req, std::string_view user, std::string_view password) {
  auto it = req.find(bhttp::field::authorization);
  if (it == req.end()) return false;
  auto creds = ParseBasicAuth(std::string_view(it->value().data(), it->value().size()));
  if (!creds) return false;
  // Both compared, always, so the time does not tell which one was wrong.
  const bool u = ConstantTimeEquals(creds->first, user);
  const bool p = ConstantTimeEquals(creds->second, password);
  return u & p;
}

bool CheckBearerToken(const Request& req, std::string_view token) {
  auto it = req.find(bhttp::field::authorization);
  if (it == req.end()) return false;
  std::string_view v(it->value().data(), it->value().size());
  if (!StartsWithNoCase(v, "bearer ")) return false;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return ConstantTimeEquals(v, token);
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace gateway::http
