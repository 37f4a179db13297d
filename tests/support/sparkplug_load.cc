// sparkplug_load: a load generator playing many Sparkplug B edge nodes against a broker,
// for the town host's fault tests (tests/integration/test_town_host_faults.py) and its
// ingest benchmark (bench/host_ingest.py).
//
// One process, one thread, non-blocking sockets under poll(): `--connections` MQTT
// connections (0: one per edge node, each with its NDEATH as will), the edge nodes
// dealt round-robin over them. Each node publishes NBIRTH (bdSeq, Node Control/Rebirth)
// and one DBIRTH per device declaring every metric with an alias, then DDATA by alias
// alone, all at QoS 1, with seq numbered per node as the specification asks. A message
// counts as accepted only when the broker has acknowledged it (PUBACK), which is the
// moment a real gateway deletes a reading from its buffer.
//
// The content is a function of its coordinates, so that a test can compute every row it
// expects without reading anything back from this program: DDATA number j (0-based) of a
// node goes to device j % devices and carries all `metrics` metrics of that device with
// value j (by the metric's type, see MetricOf) and timestamp ts_base + j when --ts-base
// is given, else the wall clock at publishing (strictly increasing per node: the
// benchmark's lag is measured from it). Births carry their metrics with the timestamp
// ts_base - 1 and value 0 (with --ts-base), else the wall clock.
//
// The summary is one JSON object on stdout at the end; nothing is printed meanwhile
// except with --progress (stderr, once a second).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/sparkplug_codec.h"
#include "mqtt_subscriber/mqtt_codec.h"

namespace {

namespace mq = mqtt_subscriber;
using gateway::codec::Metric;
using gateway::codec::Payload;

struct Options {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string group = "huacao";
  std::string prefix = "edge-";
  int nodes = 10;
  int first_node = 0;
  int devices = 2;
  int metrics = 6;           // per device, all sent in each DDATA of that device
  long messages = 100;       // DDATA per node; 0: until --duration
  double duration_s = 0;     // 0: until --messages are sent
  double rate = 0;           // metrics/s over all nodes; 0: as fast as the broker acknowledges
  int connections = 1;       // 0: one per node (with its will)
  int window = 200;          // unacknowledged QoS 1 messages per connection
  long long ts_base = 0;     // 0: the wall clock
  int bdseq = 0;
  bool abort_at_end = false;  // close without DISCONNECT: the wills (NDEATH) are published
  bool progress = false;
  double ack_timeout_s = 60;
  std::string client_prefix = "load-";
};

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Metric k of a device: a realistic mix of what the gateways publish.
std::string MetricName(int k) {
  const std::string n = std::to_string(k);
  switch (k % 6) {
    case 0: return "sensors/door-" + n + "/entries_total";
    case 1: return "sensors/cam-" + n + "/occupancy";
    case 2: return "sensors/meter-" + n + "/power_kw";
    case 3: return "sensors/meter-" + n + "/energy_kwh";
    case 4: return "sensors/eq-" + n + "/in_use";
    default: return "connectors/" + n + "/status";
  }
}
gateway::Value MetricValue(int k, long j) {
  switch (k % 6) {
    case 0: return uint64_t(j);
    case 1: return uint32_t(j);
    case 2: return float(j) * 0.5f;
    case 3: return double(j) * 0.25;
    case 4: return j % 2 == 1;
    default: return std::string(j % 2 ? "Charging" : "Available");
  }
}
// Aliases are node-wide: device d's metric k is d * metrics + k + 2 (0 and 1 are the
// node's bdSeq and Node Control/Rebirth).
uint64_t AliasOf(const Options& o, int d, int k) { return uint64_t(d) * uint64_t(o.metrics) + uint64_t(k) + 2; }

struct Node {
  std::string id;
  int seq = 0;
  long next_j = 0;  // next DDATA number
  long long last_ts = 0;
  bool births_sent = false;
};


struct Conn {
  int fd = -1;
  std::vector<int> nodes;
  size_t rr = 0;
  std::string out;
  size_t out_off = 0;
  std::string in;
  bool connected = false;  // CONNACK seen
  bool failed = false;
  uint16_t next_id = 1;
  int inflight = 0;
  std::unordered_map<uint16_t, int> inflight_metrics;  // packet id -> metrics (0: a birth)
};

struct Totals {
  long long sent_messages = 0, sent_metrics = 0;
  long long acked_messages = 0, acked_metrics = 0, acked_births = 0;
};

void Usage() {
  std::fprintf(stderr,
               "sparkplug_load --port P [--host H] [--group G] [--prefix P] [--nodes N] [--first-node I]\n"
               "  [--devices D] [--metrics K] [--messages M] [--duration S] [--rate METRICS_PER_S]\n"
               "  [--connections C (0: one per node, with wills)] [--window W] [--ts-base MS] [--bdseq B]\n"
               "  [--abort] [--progress] [--ack-timeout S] [--client-prefix P]\n");
}

bool Parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: value missing\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") o->host = val();
    else if (a == "--port") o->port = std::atoi(val());
    else if (a == "--group") o->group = val();
    else if (a == "--prefix") o->prefix = val();
    else if (a == "--nodes") o->nodes = std::atoi(val());
    else if (a == "--first-node") o->first_node = std::atoi(val());
    else if (a == "--devices") o->devices = std::atoi(val());
    else if (a == "--metrics") o->metrics = std::atoi(val());
    else if (a == "--messages") o->messages = std::atol(val());
    else if (a == "--duration") o->duration_s = std::atof(val());
    else if (a == "--rate") o->rate = std::atof(val());
    else if (a == "--connections") o->connections = std::atoi(val());
    else if (a == "--window") o->window = std::atoi(val());
    else if (a == "--ts-base") o->ts_base = std::atoll(val());
    else if (a == "--bdseq") o->bdseq = std::atoi(val());
    else if (a == "--abort") o->abort_at_end = true;
    else if (a == "--progress") o->progress = true;
    else if (a == "--ack-timeout") o->ack_timeout_s = std::atof(val());
    else if (a == "--client-prefix") o->client_prefix = val();
    else {
      Usage();
      return false;
    }
  }
  if (o->nodes <= 0 || o->devices <= 0 || o->metrics <= 0 || o->window <= 0 || o->window > 60000 ||
      (o->messages <= 0 && o->duration_s <= 0)) {
    Usage();
    return false;
  }
  return true;
}

std::string Topic(const Options& o, const char* type, const Node& n, int device) {
  std::string t = "spBv1.0/";
  t += o.group;
  t += '/';
  t += type;
  t += '/';
  t += n.id;
  if (device >= 0) {
    t += "/dev-";
    t += std::to_string(device);
  }
  return t;
}

std::string DeathPayload(const Options& o) {
  Payload p;
  p.timestamp_ms = uint64_t(NowMs());
  p.metrics.push_back({"bdSeq", uint64_t(o.bdseq), p.timestamp_ms, false, std::nullopt});
  return gateway::codec::Encode(p);
}

class Load {
 public:
  explicit Load(Options o) : o_(std::move(o)) {}

  int Run() {
    for (int i = 0; i < o_.nodes; ++i) {
      Node n;
      n.id = o_.prefix + std::to_string(o_.first_node + i);
      nodes_.push_back(std::move(n));
    }
    const int nconn = o_.connections <= 0 ? o_.nodes : std::min(o_.connections, o_.nodes);
    conns_.resize(size_t(nconn));
    for (int i = 0; i < o_.nodes; ++i) conns_[size_t(i % nconn)].nodes.push_back(i);
    t0_ = Seconds();
    for (size_t c = 0; c < conns_.size(); ++c)
      if (!Open(c)) return 1;
    double last_progress = t0_;
    bool done_sending = false;
    double done_at = 0;
    std::vector<pollfd> fds(conns_.size());
    for (;;) {
      const double now = Seconds();
      if (!done_sending) {
        bool all = true;
        for (size_t c = 0; c < conns_.size(); ++c) {
          Feed(c, now);
          if (!ConnDone(c)) all = false;
        }
        if (o_.duration_s > 0 && now - t0_ >= o_.duration_s) all = true;
        if (all) {
          done_sending = true;
          done_at = now;
          send_seconds_ = now - t0_;
        }
      }
      int unacked = 0;
      for (auto& c : conns_) unacked += c.failed ? 0 : c.inflight;
      if (done_sending && (unacked == 0 || now - done_at > o_.ack_timeout_s)) break;
      for (size_t c = 0; c < conns_.size(); ++c) {
        fds[c].fd = conns_[c].failed ? -1 : conns_[c].fd;
        fds[c].events = short(POLLIN | (conns_[c].out.size() > conns_[c].out_off ? POLLOUT : 0));
        fds[c].revents = 0;
      }
      // With a rate, wake up often enough to keep it even.
      ::poll(fds.data(), fds.size(), o_.rate > 0 ? 2 : 50);
      for (size_t c = 0; c < conns_.size(); ++c) {
        if (conns_[c].failed) continue;
        if (fds[c].revents & (POLLIN | POLLHUP | POLLERR)) ReadFrom(c);
        if (!conns_[c].failed && conns_[c].out.size() > conns_[c].out_off) WriteTo(c);
      }
      if (o_.progress && now - last_progress >= 1.0) {
        last_progress = now;
        std::fprintf(stderr, "[%.0f s] acked %lld messages, %lld metrics\n", now - t0_, totals_.acked_messages,
                     totals_.acked_metrics);
      }
    }
    const double total = Seconds() - t0_;
    int failed = 0;
    for (auto& c : conns_) {
      if (c.failed) {
        ++failed;
        continue;
      }
      if (!o_.abort_at_end) {
        std::string d = mq::EncodeDisconnect();
        (void)!::write(c.fd, d.data(), d.size());
      }
      ::close(c.fd);
    }
    long long unacked = 0;
    for (auto& c : conns_) unacked += c.inflight;
    std::printf("{\"nodes\": %d, \"connections\": %zu, \"failed_connections\": %d, \"sent_messages\": %lld, "
                "\"sent_metrics\": %lld, \"acked_messages\": %lld, \"acked_metrics\": %lld, \"acked_births\": %lld, "
                "\"unacked\": %lld, \"send_seconds\": %.3f, \"seconds\": %.3f, \"metrics_per_s\": %.1f, "
                "\"complete\": %s}\n",
                o_.nodes, conns_.size(), failed, totals_.sent_messages, totals_.sent_metrics, totals_.acked_messages,
                totals_.acked_metrics, totals_.acked_births, unacked, send_seconds_, total,
                send_seconds_ > 0 ? double(totals_.acked_metrics) / send_seconds_ : 0.0,
                (failed == 0 && unacked == 0) ? "true" : "false");
    return failed == 0 && unacked == 0 ? 0 : 3;
  }

 private:
  bool Open(size_t ci) {
    Conn& c = conns_[ci];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(o_.port));
    if (::inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr) != 1) {
      std::fprintf(stderr, "--host: an IPv4 address is needed\n");
      return false;
    }
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::fprintf(stderr, "connect %s:%d: %s\n", o_.host.c_str(), o_.port, std::strerror(errno));
      return false;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    // Unique per group and node prefix: two generators on one broker must not take over
    // each other's connections.
    std::string id = o_.client_prefix + o_.group + "-" + o_.prefix + std::to_string(o_.first_node) + "-" +
                     std::to_string(ci);
    if (c.nodes.size() == 1) {
      // An edge node of its own: its NDEATH is the connection's will, as a gateway's is.
      mq::Will will{Topic(o_, "NDEATH", nodes_[size_t(c.nodes[0])], -1), DeathPayload(o_), 1, false};
      c.out += mq::EncodeConnect(id, true, 60, "", "", will);
    } else {
      c.out += mq::EncodeConnect(id, true, 60, "", "");
    }
    return true;
  }

  bool ConnDone(size_t ci) const {
    const Conn& c = conns_[ci];
    if (c.failed) return true;
    if (!c.connected) return false;
    if (o_.messages <= 0) return false;
    for (int ni : c.nodes)
      if (nodes_[size_t(ni)].next_j < o_.messages || !nodes_[size_t(ni)].births_sent) return false;
    return true;
  }

  uint16_t Enqueue(Conn& c, const std::string& topic, const Payload& p, int metrics) {
    uint16_t id = c.next_id;
    while (id == 0 || c.inflight_metrics.count(id)) id = uint16_t(id + 1);
    c.next_id = uint16_t(id + 1);
    c.inflight_metrics[id] = metrics;
    ++c.inflight;
    c.out += mq::EncodePublish(topic, gateway::codec::Encode(p), 1, false, id);
    ++totals_.sent_messages;
    totals_.sent_metrics += metrics;
    return id;
  }

  long long NextTs(Node& n) {
    long long ts = NowMs();
    if (ts <= n.last_ts) ts = n.last_ts + 1;
    n.last_ts = ts;
    return ts;
  }

  void SendBirths(Conn& c, Node& n) {
    Payload nb;
    nb.timestamp_ms = uint64_t(NowMs());
    nb.seq = 0;
    n.seq = 0;
    nb.metrics.push_back({"bdSeq", uint64_t(o_.bdseq), nb.timestamp_ms, false, 0});
    nb.metrics.push_back({"Node Control/Rebirth", false, nb.timestamp_ms, false, 1});
    Enqueue(c, Topic(o_, "NBIRTH", n, -1), nb, 0);
    for (int d = 0; d < o_.devices; ++d) {
      Payload db;
      const long long ts = o_.ts_base ? o_.ts_base - 1 : NextTs(n);
      db.timestamp_ms = uint64_t(ts);
      n.seq = (n.seq + 1) % 256;
      db.seq = uint64_t(n.seq);
      for (int k = 0; k < o_.metrics; ++k)
        db.metrics.push_back({MetricName(k), MetricValue(k, 0), uint64_t(ts), false, AliasOf(o_, d, k)});
      Enqueue(c, Topic(o_, "DBIRTH", n, d), db, 0);
    }
    n.births_sent = true;
  }

  void SendData(Conn& c, Node& n) {
    const long j = n.next_j++;
    const int d = int(j % o_.devices);
    Payload p;
    const long long ts = o_.ts_base ? o_.ts_base + j : NextTs(n);
    p.timestamp_ms = uint64_t(ts);
    n.seq = (n.seq + 1) % 256;
    p.seq = uint64_t(n.seq);
    for (int k = 0; k < o_.metrics; ++k) p.metrics.push_back({"", MetricValue(k, j), uint64_t(ts), false, AliasOf(o_, d, k)});
    Enqueue(c, Topic(o_, "DDATA", n, d), p, o_.metrics);
  }

  void Feed(size_t ci, double now) {
    Conn& c = conns_[ci];
    if (c.failed || !c.connected) return;
    while (c.inflight < o_.window && c.out.size() - c.out_off < (1u << 20)) {
      // The births of every node of the connection first.
      bool births = false;
      for (int ni : c.nodes) {
        Node& n = nodes_[size_t(ni)];
        if (!n.births_sent) {
          SendBirths(c, n);
          births = true;
          break;
        }
      }
      if (births) continue;
      if (o_.duration_s > 0 && now - t0_ >= o_.duration_s) return;
      if (o_.rate > 0 && double(totals_.sent_metrics + o_.metrics) > o_.rate * (now - t0_) + o_.metrics) return;
      // Round-robin over the connection's nodes that still have data to send.
      bool any = false;
      for (size_t tries = 0; tries < c.nodes.size(); ++tries) {
        Node& n = nodes_[size_t(c.nodes[c.rr])];
        c.rr = (c.rr + 1) % c.nodes.size();
        if (o_.messages > 0 && n.next_j >= o_.messages) continue;
        SendData(c, n);
        any = true;
        break;
      }
      if (!any) return;
    }
  }

  void Fail(size_t ci, const char* why) {
    Conn& c = conns_[ci];
    if (c.failed) return;
    std::fprintf(stderr, "connection %zu: %s\n", ci, why);
    c.failed = true;
    ::close(c.fd);
  }

  void WriteTo(size_t ci) {
    Conn& c = conns_[ci];
    while (c.out_off < c.out.size()) {
      ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        Fail(ci, std::strerror(errno));
        return;
      }
      c.out_off += size_t(w);
    }
    if (c.out_off == c.out.size() || c.out_off > (1u << 20)) {
      c.out.erase(0, c.out_off);
      c.out_off = 0;
    }
  }

  void ReadFrom(size_t ci) {
    Conn& c = conns_[ci];
    char buf[65536];
    for (;;) {
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r == 0) {
        Fail(ci, "closed by the broker");
        return;
      }
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        Fail(ci, std::strerror(errno));
        return;
      }
      c.in.append(buf, size_t(r));
    }
    size_t off = 0;
    for (;;) {
      bool bad = false;
      auto h = mq::ParseFixedHeader(std::string_view(c.in).substr(off), &bad);
      if (bad) {
        Fail(ci, "malformed packet");
        return;
      }
      if (!h || c.in.size() - off < h->header_size + h->remaining) break;
      std::string_view body(c.in.data() + off + h->header_size, h->remaining);
      if (h->type == mq::kConnAck) {
        if (body.size() < 2 || body[1] != 0) {
          Fail(ci, "CONNACK refused");
          return;
        }
        c.connected = true;
      } else if (h->type == mq::kPubAck && body.size() >= 2) {
        uint16_t id = uint16_t((uint8_t(body[0]) << 8) | uint8_t(body[1]));
        auto it = c.inflight_metrics.find(id);
        if (it != c.inflight_metrics.end()) {
          if (it->second == 0) {
            ++totals_.acked_births;
          } else {
            ++totals_.acked_messages;
            totals_.acked_metrics += it->second;
          }
          c.inflight_metrics.erase(it);
          --c.inflight;
        }
      }
      off += h->header_size + h->remaining;
    }
    c.in.erase(0, off);
  }

  Options o_;
  std::vector<Node> nodes_;
  std::vector<Conn> conns_;
  Totals totals_;
  double t0_ = 0, send_seconds_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, &o)) return 2;
  return Load(std::move(o)).Run();
}
