#include "uplink/mqtt_uplink.h"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

namespace gateway::uplink {

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void* ToContext(uint64_t id) { return reinterpret_cast<void*>(static_cast<uintptr_t>(id)); }
uint64_t FromContext(void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// Words for what went wrong, so a technician reading the log knows whether to check
// the password, the address or the certificates.
std::string TokenError(const mqtt::token& tok) {
  const int rc = tok.get_return_code();
  const int reason = static_cast<int>(tok.get_reason_code());
  const bool has_reason = reason != mqtt::ReasonCode::SUCCESS && reason != mqtt::MQTTPP_V3_CODE;
  std::string msg;
  if (has_reason) {
    const char* text = MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(reason));
    msg = text ? text : "reason code " + std::to_string(reason);
  } else if (rc > 0) {
    // MQTT 3.1.1 CONNACK return codes.
    static const char* const kConnack[] = {"", "unacceptable protocol version", "client identifier rejected",
                                           "server unavailable", "bad user name or password", "not authorised"};
    msg = rc <= 5 ? kConnack[rc] : "refused";
  } else if (rc == MQTTASYNC_FAILURE) {
    msg = "no connection (TCP connect or TLS handshake failed)";
  } else {
    const char* text = MQTTAsync_strerror(rc);
    msg = text ? text : "error";
  }
  msg += " (return code " + std::to_string(rc);
  if (has_reason) msg += ", reason code " + std::to_string(reason);
  return msg + ")";
}

}  // namespace

const char* UplinkStateName(UplinkState s) {
  switch (s) {
    case UplinkState::kStopped: return "stopped";
    case UplinkState::kConnecting: return "connecting";
    case UplinkState::kWaitingForHost: return "waiting for primary host";
    case UplinkState::kOnline: return "online";
    case UplinkState::kOffline: return "offline";
  }
  return "?";
}

// Paho's connection callbacks. They run on Paho C's threads: post and return.
class MqttUplink::Callbacks final : public mqtt::callback {
 public:
  explicit Callbacks(MqttUplink& up) : up_(up) {}
  void connection_lost(const std::string& cause) override {
    up_.Post([&up = up_, cause] { up.OnConnectionLost(cause); });
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    if (!msg) return;
    // Commands are small; anything large is not ours and is refused before the copy.
    if (msg->get_payload_ref().size() > (1u << 20)) return;
    up_.Post([&up = up_, topic = msg->get_topic(), payload = msg->get_payload_str()] {
      up.OnMessage(topic, payload);
    });
  }

 private:
  MqttUplink& up_;
};

// An action listener whose two outcomes post a function of (user context, ok, why).
class MqttUplink::Listener final : public mqtt::iaction_listener {
 public:
  using Fn = std::function<void(uint64_t ctx, bool ok, std::string why)>;
  Listener(MqttUplink& up, Fn fn) : up_(up), fn_(std::move(fn)) {}
  void on_success(const mqtt::token& tok) override {
    up_.Post([fn = fn_, ctx = FromContext(tok.get_user_context())] { fn(ctx, true, {}); });
  }
  void on_failure(const mqtt::token& tok) override {
    up_.Post([fn = fn_, ctx = FromContext(tok.get_user_context()), why = TokenError(tok)] {
      fn(ctx, false, why);
    });
  }

 private:
  MqttUplink& up_;
  Fn fn_;
};

template <typename F>
void MqttUplink::Post(F&& f) {
  // Paho may call back while the uplink is being destroyed; posted work checks that it
  // is still alive before touching it.
  std::weak_ptr<int> alive = life_;
  boost::asio::post(io_, [alive, f = std::forward<F>(f)]() mutable {
    if (alive.lock()) f();
  });
}

MqttUplink::MqttUplink(boost::asio::io_context& io, const Config& config, store::Outbox& outbox,
                       const Clock& clock, std::string version)
    : io_(io),
      config_(config),
      outbox_(outbox),
      clock_(clock),
      version_(std::move(version)),
      session_(config.group_id, config.edge_node_id,
               config.uplink.encoding == UplinkEncoding::kTahu ? codec::Encoding::kTahu : codec::Encoding::kSpec),
      backoff_(config.uplink.reconnect_min_ms, config.uplink.reconnect_max_ms),
      reconnect_timer_(io),
      node_metrics_timer_(io),
      stop_timer_(io),
      ack_watchdog_timer_(io),
      reannounce_timer_(io),
      alarm_lane_(config),
      buffer_retry_timer_(io) {
  callbacks_ = std::make_unique<Callbacks>(*this);
  connect_listener_ = std::make_unique<Listener>(*this, [this](uint64_t gen, bool ok, std::string why) {
    if (ok) {
      OnConnected(gen);
    } else {
      OnConnectFailed(gen, why);
    }
  });
  publish_listener_ = std::make_unique<Listener>(*this, [this](uint64_t id, bool ok, std::string why) {
    OnPublishResult(id, ok, why);
  });
  disconnect_listener_ = std::make_unique<Listener>(*this, [this](uint64_t, bool, std::string) {
    if (stop_done_) {
      stop_timer_.cancel();
      auto done = std::move(stop_done_);
      stop_done_ = nullptr;
      state_ = UplinkState::kStopped;
      done();
    }
  });
}

MqttUplink::~MqttUplink() {
  life_.reset();
  // The client goes first: its destructor stops Paho's threads, which hold raw
  // pointers to the callbacks and listeners below.
  try {
    if (client_ && client_->is_connected()) client_->disconnect(0);
  } catch (const std::exception&) {
  }
  client_.reset();
  retired_client_.reset();
}

void MqttUplink::Start() {
  last_online_ms_ = SteadyMs();
  if (config_.uplink.brokers.empty()) {
    // An installed gateway not configured yet: nothing to forward to, and no made-up
    // destination either. Readings (if any) stay in the buffer.
    last_error_ = "no broker configured (uplink.brokers): nothing is forwarded";
    spdlog::warn("uplink: {}", last_error_);
    return;
  }
  StartConnect();
  ScheduleNodeMetrics();
  ScheduleAckWatchdog();
  if (alarms_enabled_) ScheduleReannounce();
}

void MqttUplink::set_alarms(AlarmSource source, const std::vector<Alarm>& unpublished) {
  alarms_ = std::move(source);
  alarms_enabled_ = true;
  for (const auto& a : unpublished) alarm_lane_.Enqueue(a, false);
}

void MqttUplink::OnAlarmChanged(const Alarm& alarm) {
  if (!alarms_enabled_) return;
  alarm_lane_.Enqueue(alarm, false);
  PublishAlarms();
}

// Ahead of the data window, in a window of its own: called before every drain, and
// whenever a change is committed or an alarm message settles.
void MqttUplink::PublishAlarms() {
  if (!alarms_enabled_ || !CanPublishData()) return;
  while (alarm_lane_.CanSend() && CanPublishData()) {
    AlarmLane::Item item = alarm_lane_.TakeNext();
    const std::string facility = item.alarm.facility_id;
    if (!alarm_lane_.KnowsFacility(facility)) {
      spdlog::warn("uplink: alarm {} of facility '{}', no longer configured, is not published", item.alarm.id,
                   facility);
      continue;
    }
    // A sensor's first alarm since the facility's DBIRTH (an alarm point of a sensor that
    // is not a call button) needs its metrics named first.
    if (!alarm_lane_.Birthed(facility, item.alarm.sensor_id)) {
      const uint64_t gen = gen_;
      if (!PublishDBirth(facility).ok() || gen != gen_) {
        alarm_lane_.Enqueue(item.alarm, item.reannounce);
        return;
      }
    }
    const int64_t now = clock_.NowMs();
    const auto open = static_cast<uint32_t>(alarms_.open_in(facility).size());
    auto metrics = alarm_lane_.ChangeMetrics(item, open, now, config_.uplink.aliases);
    const uint64_t id = kAlarmMsgBit | next_alarm_msg_id_++;
    alarm_lane_.Sent(id, std::move(item));
    const uint64_t gen = gen_;
    Status s = Publish(session_.DeviceTopic("DDATA", facility), session_.NextPayload(now, std::move(metrics)), id);
    if (!s.ok() || gen != gen_) return;  // the window was reset: the lane queued it again
    ++alarm_messages_published_;
  }
}

void MqttUplink::ScheduleReannounce() {
  reannounce_timer_.expires_after(std::chrono::milliseconds(int64_t(config_.alarms.reannounce_s * 1000)));
  reannounce_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock() || stopping_) return;
    for (const auto& a : alarms_.open()) alarm_lane_.Enqueue(a, true);
    PublishAlarms();
    ScheduleReannounce();
  });
}

void MqttUplink::OnDeviceCommand(const std::string& topic, const std::string& payload) {
  const std::string facility = topic.substr(session_.DeviceTopic("DCMD", "").size());
  if (!alarm_lane_.KnowsFacility(facility)) {
    ++alarm_commands_refused_;
    spdlog::warn("uplink: ignoring DCMD for unknown device '{}'", facility.substr(0, 100));
    return;
  }
  auto ack = ParseAlarmAcknowledge(payload);
  if (!ack.ok()) {
    ++alarm_commands_refused_;
    spdlog::warn("uplink: ignoring DCMD of {}: {}", facility, ack.status().ToString());
    return;
  }
  if (alarms_.acknowledge) alarms_.acknowledge(facility, ack.value());
}

void MqttUplink::ScheduleAckWatchdog() {
  ack_watchdog_timer_.expires_after(std::chrono::seconds(1));
  ack_watchdog_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock() || stopping_) return;
    if (in_flight_msgs_ > 0 && SteadyMs() - last_ack_progress_ms_ > int64_t(config_.uplink.ack_timeout_s) * 1000) {
      DropStalledConnection();
    }
    ScheduleAckWatchdog();
  });
}

void MqttUplink::DropStalledConnection() {
  // TCP is up and keep-alive may even be answered, yet nothing is acknowledged: a
  // broker out of resources, or a proxy that swallows publishes. Only a new connection
  // (to the next broker in the list) gets the data moving again; the client is built
  // afresh so that no late token of the old one can count.
  last_error_ = "no PUBACK from " + broker_ + " for " + std::to_string(config_.uplink.ack_timeout_s) + " s with " +
                std::to_string(in_flight_msgs_) + " publishes in flight";
  spdlog::warn("uplink: {}; dropping the connection", last_error_);
  try {
    if (client_ && client_->is_connected()) client_->disconnect(0);
  } catch (const std::exception& e) {
    spdlog::debug("uplink: disconnect of the stalled connection: {}", e.what());
  }
  CreateClient();
  state_ = UplinkState::kOffline;
  ResetWindow();
  ScheduleReconnect();
}

void MqttUplink::CreateClient() {
  const auto& up = config_.uplink;
  // No Paho persistence and no Paho offline buffer: the outbox is the one store, and
  // publishes are only made while connected.
  mqtt::create_options opts(up.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
  if (client_) {
    client_->set_callback(*callbacks_);  // keep the old one from calling us twice
    retired_client_ = std::move(client_);
  }
  client_ = std::make_unique<mqtt::async_client>(up.brokers.front(), up.client_id, opts, nullptr);
  client_->set_callback(*callbacks_);
}

void MqttUplink::StartConnect() {
  if (stopping_) return;
  const auto& up = config_.uplink;
  try {
    if (!client_) CreateClient();
    broker_ = up.brokers[broker_index_ % up.brokers.size()];
    ++broker_index_;

    // bdSeq of this connection: persisted before it is used, so that a crash after the
    // broker registered the will can never reuse the number with another NBIRTH.
    uint64_t bd = 0;
    if (auto stored = outbox_.GetMeta("next_bd_seq"); stored.ok()) bd = std::stoull(stored.value());
    Status s = outbox_.SetMeta("next_bd_seq", std::to_string((bd + 1) % 256));
    if (!s.ok()) spdlog::warn("uplink: cannot persist bdSeq: {}", s.ToString());
    session_.BeginConnection(bd);

    // Options are built anew for every attempt rather than copied: Paho 1.2 loses the
    // CA path when ssl_options are copied (#337).
    mqtt::connect_options opts;
    opts.set_mqtt_version(up.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    if (up.mqtt_version == 5) {
      opts.set_clean_start(true);
    } else {
      opts.set_clean_session(true);
    }
    opts.set_keep_alive_interval(std::chrono::seconds(up.keep_alive_s));
    opts.set_connect_timeout(std::chrono::seconds(up.connect_timeout_s));
    opts.set_automatic_reconnect(false);  // we own reconnects: backoff, bdSeq, recreate
    opts.set_max_inflight(up.max_inflight + 16);
    opts.set_servers(std::make_shared<mqtt::string_collection>(broker_));
    if (!up.username.empty()) opts.set_user_name(up.username);
    if (!up.password.empty()) opts.set_password(up.password);
    mqtt::will_options will(session_.NodeTopic("NDEATH"), session_.NDeathPayload(clock_.NowMs()), 1, false);
    opts.set_will(std::move(will));
    if (up.tls.enabled) {
      mqtt::ssl_options ssl;
      if (!up.tls.ca_file.empty()) ssl.set_trust_store(up.tls.ca_file);
      if (!up.tls.cert_file.empty()) ssl.set_key_store(up.tls.cert_file);
      if (!up.tls.key_file.empty()) ssl.set_private_key(up.tls.key_file);
      if (!up.tls.key_password.empty()) ssl.set_private_key_password(up.tls.key_password);
      ssl.set_enable_server_cert_auth(up.tls.verify);
      ssl.set_verify(up.tls.verify);
      opts.set_ssl(std::move(ssl));
    }
    state_ = UplinkState::kConnecting;
    ++gen_;
    spdlog::info("uplink: connecting to {} (bdSeq {})", broker_, bd);
    client_->connect(opts, ToContext(gen_), *connect_listener_);
  } catch (const std::exception& e) {
    OnConnectFailed(gen_, e.what());
  }
}

void MqttUplink::OnConnected(uint64_t gen) {
  // Paho 1.2 may report the success of one connect more than once; only the first
  // counts.
  if (gen != gen_ || stopping_ || state_ != UplinkState::kConnecting) return;
  if (ever_connected_) ++reconnects_;
  ever_connected_ = true;
  backoff_.Reset();
  last_online_ms_ = SteadyMs();
  last_error_.clear();
  spdlog::info("uplink: connected to {}", broker_);
  births_done_ = false;
  try {
    client_->subscribe(session_.NodeTopic("NCMD"), 1);
    if (alarms_enabled_) client_->subscribe(session_.DeviceTopic("DCMD", "+"), 1);
    if (!config_.uplink.primary_host_id.empty()) {
      state_ = UplinkState::kWaitingForHost;
      host_online_ = false;
      client_->subscribe(SparkplugSession::StateTopic(config_.uplink.primary_host_id), 1);
      return;  // births follow the host's STATE
    }
  } catch (const std::exception& e) {
    spdlog::warn("uplink: subscribe failed: {}", e.what());
  }
  state_ = UplinkState::kOnline;
  PublishBirths();
  Drain();
}

void MqttUplink::OnConnectFailed(uint64_t gen, const std::string& why) {
  if (gen != gen_) return;
  last_error_ = "connect to " + broker_ + " failed: " + why;
  spdlog::warn("uplink: {}", last_error_);
  state_ = UplinkState::kOffline;
  ScheduleReconnect();
}

void MqttUplink::OnConnectionLost(const std::string& cause) {
  if (state_ == UplinkState::kConnecting || state_ == UplinkState::kStopped) return;
  last_error_ = "connection to " + broker_ + " lost" + (cause.empty() ? "" : ": " + cause);
  spdlog::warn("uplink: {}; buffering until it is back", last_error_);
  state_ = UplinkState::kOffline;
  ResetWindow();
  if (stopping_) {
    FinishStop();
    return;
  }
  ScheduleReconnect();
}

void MqttUplink::ScheduleReconnect() {
  if (stopping_) return;
  ++gen_;  // a late outcome of the failed attempt must not count
  int delay = backoff_.NextDelayMs();
  if (SteadyMs() - last_online_ms_ > int64_t(config_.uplink.recreate_client_after_s) * 1000) {
    spdlog::warn("uplink: no connection for {} s; recreating the MQTT client",
                 config_.uplink.recreate_client_after_s);
    CreateClient();
    last_online_ms_ = SteadyMs();
  }
  reconnect_timer_.expires_after(std::chrono::milliseconds(delay));
  reconnect_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    StartConnect();
  });
}

void MqttUplink::ResetWindow() {
  ++gen_;
  births_done_ = false;
  in_flight_msgs_ = 0;
  in_flight_.clear();
  batches_.clear();
  alarm_lane_.ResetInFlight();
  // Acknowledged deletes are committed before re-reading, or the re-read would send
  // rows the broker already has.
  if (outbox_.HasPendingAcks()) {
    Status s = outbox_.Commit({}, nullptr);
    if (!s.ok()) spdlog::error("uplink: committing acknowledged deletes failed: {}", s.ToString());
  }
  cursor_ = 0;
  outbox_.set_in_flight_up_to(0);
}

bool MqttUplink::CanPublishData() const {
  return state_ == UplinkState::kOnline && births_done_ && !stopping_;
}

std::vector<codec::Metric> MqttUplink::NodeMetrics(uint64_t now_ms) const {
  std::vector<codec::Metric> metrics = {
      codec::Metric{"gateway/version", Value(version_), now_ms, false},
      codec::Metric{"buffer/depth", Value(static_cast<uint64_t>(outbox_.depth())), now_ms, false},
      codec::Metric{"buffer/dropped", Value(static_cast<uint64_t>(outbox_.dropped_total())), now_ms, false},
      codec::Metric{"uplink/reconnects", Value(static_cast<uint64_t>(reconnects_)), now_ms, false},
  };
  if (config_.uplink.aliases) {
    for (auto& m : metrics) m.alias = SparkplugSession::NodeAlias(m.name);
  }
  return metrics;
}

void MqttUplink::PublishBirths() {
  int64_t now = clock_.NowMs();
  // Everything taken before this moment reaches the platform after the births: it is
  // history, and says so.
  online_since_ms_ = now;
  birthed_.clear();
  Status s = Publish(session_.NodeTopic("NBIRTH"), session_.NBirthPayload(now, NodeMetrics(now)), 0);
  if (!s.ok()) return;
  ++births_;
  std::set<std::string> facilities;
  for (const auto& f : config_.facilities) {
    facilities.insert(f.id);
    if (Status ds = PublishDBirth(f.id); !ds.ok()) {
      if (ds.code() != Status::Code::kUnavailable) {
        spdlog::error("uplink: DBIRTH of {} not published: {}", f.id, ds.ToString());
        RetryAfterBufferError();
      }
      return;
    }
  }
  births_done_ = true;
  buffer_retry_delay_ = std::chrono::milliseconds(500);
  spdlog::info("uplink: NBIRTH (bdSeq {}) and {} DBIRTHs published", session_.bd_seq(),
               config_.facilities.size());
}

Status MqttUplink::PublishDBirth(const std::string& facility) {
  auto latest = outbox_.Latest(facility);
  if (!latest.ok()) return latest.status();
  std::vector<codec::Metric> metrics;
  auto& names = birthed_[facility];
  names.clear();
  for (auto& lv : latest.value()) {
    names.insert(lv.name);
    codec::Metric m{lv.name, std::move(lv.value), static_cast<uint64_t>(lv.ts_ms), false};
    if (config_.uplink.aliases) m.alias = SparkplugSession::FacilityAlias(lv.metric_id);
    metrics.push_back(std::move(m));
  }
  if (alarms_enabled_) {
    for (auto& m : alarm_lane_.BirthMetrics(facility, alarms_.latest_by_sensor(facility), alarms_.open_in(facility),
                                            clock_.NowMs(), config_.uplink.aliases)) {
      metrics.push_back(std::move(m));
    }
  }
  return Publish(session_.DeviceTopic("DBIRTH", facility),
                 session_.NextPayload(clock_.NowMs(), std::move(metrics)), 0);
}

Status MqttUplink::Publish(const std::string& topic, std::string payload, uint64_t msg_id) {
  const int qos = config_.uplink.qos;
  try {
    auto msg = mqtt::make_message(topic, std::move(payload), qos, false);
    client_->publish(msg, ToContext(msg_id), *publish_listener_);
    ++messages_published_;
    return Status::Ok();
  } catch (const std::exception& e) {
    // The client refused (not connected, too many in flight): treat like a lost
    // connection so that the window is re-read after the next births.
    ++publish_failures_;
    last_error_ = std::string("publish failed: ") + e.what();
    spdlog::warn("uplink: {}", last_error_);
    ResetWindow();
    return Status::Unavailable(e.what());
  }
}

void MqttUplink::Notify() { Drain(); }

void MqttUplink::RetryAfterBufferError() {
  if (buffer_retry_scheduled_ || stopping_) return;
  buffer_retry_scheduled_ = true;
  buffer_retry_timer_.expires_after(buffer_retry_delay_);
  buffer_retry_delay_ = std::min<std::chrono::milliseconds>(buffer_retry_delay_ * 2, std::chrono::seconds(10));
  buffer_retry_timer_.async_wait([this, gen = gen_, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    buffer_retry_scheduled_ = false;
    if (stopping_ || state_ != UplinkState::kOnline) return;
    if (!births_done_) {
      // A rebirth from the start: the DBIRTHs already sent are sent again, complete.
      if (gen == gen_) PublishBirths();
      return;
    }
    Drain();
  });
}

void MqttUplink::Drain() {
  PublishAlarms();  // an emergency call never waits behind the backlog
  if (drain_posted_ || !CanPublishData() || in_flight_msgs_ >= config_.uplink.max_inflight) return;
  // The backlog's batches are read and encoded by work posted behind what already
  // waits on the core's loop, one batch per turn and one such turn waiting at a time,
  // however many PUBACKs (or commits) asked for it: a press that has just arrived (its
  // HTTP request, its MQTT message, its commit) then waits behind one batch at most,
  // not behind a batch per acknowledged payload (tens of milliseconds at a drain's
  // pace).
  drain_posted_ = true;
  Post([this] {
    drain_posted_ = false;
    if (!CanPublishData() || in_flight_msgs_ >= config_.uplink.max_inflight) return;
    if (DrainBatch()) Drain();
  });
}

bool MqttUplink::DrainBatch() {
  const auto& up = config_.uplink;
  const size_t per_payload = static_cast<size_t>(up.max_metrics_per_payload);
  auto rows = outbox_.ReadAfter(cursor_, per_payload * 4);
  if (!rows.ok()) {
    spdlog::error("uplink: reading the buffer failed: {}", rows.status().ToString());
    RetryAfterBufferError();
    return false;
  }
  buffer_retry_delay_ = std::chrono::milliseconds(500);
  if (rows->empty()) return false;
  // Group by facility, keeping each facility's rows in their order of acceptance.
  std::vector<std::pair<std::string, std::vector<const store::StoredReading*>>> groups;
  for (const auto& r : rows.value()) {
    const std::string& facility = outbox_.metric(r.metric_id).facility;
    auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == facility; });
    if (it == groups.end()) {
      groups.emplace_back(facility, std::vector<const store::StoredReading*>{});
      it = std::prev(groups.end());
    }
    it->second.push_back(&r);
  }
  const uint64_t batch_id = next_batch_++;
  Batch& batch = batches_[batch_id];
  batch.lo = rows->front().seq;
  batch.hi = rows->back().seq;
  cursor_ = batch.hi;
  outbox_.set_in_flight_up_to(cursor_);
  const uint64_t gen = gen_;
  for (auto& [facility, group] : groups) {
    // A metric that was not in this facility's DBIRTH (a new sensor point) needs a
    // new DBIRTH first, or a platform would not know its type.
    auto& names = birthed_[facility];
    for (const auto* r : group) {
      if (!names.count(outbox_.metric(r->metric_id).name)) {
        if (!PublishDBirth(facility).ok()) return false;
        break;
      }
    }
    for (size_t start = 0; start < group.size(); start += per_payload) {
      size_t end = std::min(group.size(), start + per_payload);
      std::vector<codec::Metric> metrics;
      metrics.reserve(end - start);
      InFlight flight;
      flight.batch = batch_id;
      flight.readings = end - start;
      flight.sent = std::chrono::steady_clock::now();
      for (size_t i = start; i < end; ++i) {
        const auto* r = group[i];
        const bool historical = r->ts_ms < online_since_ms_;
        if (up.aliases) {
          // The DBIRTH named it; the data carries the alias alone.
          metrics.push_back(codec::Metric{std::string(), r->value, static_cast<uint64_t>(r->ts_ms), historical,
                                          SparkplugSession::FacilityAlias(r->metric_id)});
        } else {
          metrics.push_back(codec::Metric{outbox_.metric(r->metric_id).name, r->value,
                                          static_cast<uint64_t>(r->ts_ms), historical});
        }
        if (ack_observer_) flight.ts.push_back(r->ts_ms);
      }
      const uint64_t id = next_msg_id_++;
      if (in_flight_msgs_ == 0) last_ack_progress_ms_ = SteadyMs();
      in_flight_[id] = std::move(flight);
      ++batch.pending;
      ++in_flight_msgs_;
      Status s = Publish(session_.DeviceTopic("DDATA", facility),
                         session_.NextPayload(clock_.NowMs(), std::move(metrics)), id);
      if (!s.ok() || gen != gen_) return false;  // the window was reset
    }
  }
  return true;
}

void MqttUplink::OnPublishResult(uint64_t msg_id, bool ok, const std::string& why) {
  if (msg_id == 0) {  // births, node data: nothing to acknowledge in the outbox
    if (!ok) ++publish_failures_;
    return;
  }
  if (msg_id & kAlarmMsgBit) {
    if (!alarm_lane_.InFlight(msg_id)) return;  // from a window that was reset
    auto item = alarm_lane_.Settled(msg_id, ok);
    if (item && alarms_.published) alarms_.published(item->alarm);
    if (!ok) {
      ++publish_failures_;
      spdlog::warn("uplink: alarm message not acknowledged ({}); sending it again", why);
    }
    if (!stopping_) PublishAlarms();
    return;
  }
  auto it = in_flight_.find(msg_id);
  if (it == in_flight_.end()) return;  // from a window that was reset
  last_ack_progress_ms_ = SteadyMs();
  InFlight flight = std::move(it->second);
  in_flight_.erase(it);
  --in_flight_msgs_;
  auto b = batches_.find(flight.batch);
  if (b == batches_.end()) return;
  --b->second.pending;
  if (!ok) {
    ++publish_failures_;
    b->second.failed = true;
    last_error_ = "publish not acknowledged: " + why;
    spdlog::warn("uplink: {}", last_error_);
  } else {
    readings_published_ += flight.readings;
    if (ack_observer_) ack_observer_(flight.ts);
    if (latency_observer_) {
      latency_observer_(std::chrono::duration<double>(std::chrono::steady_clock::now() - flight.sent).count());
    }
  }
  if (b->second.pending == 0) {
    bool failed = b->second.failed;
    if (!failed) outbox_.Ack(b->second.lo, b->second.hi);
    batches_.erase(b);
    if (failed) {
      // Resend from the oldest unacknowledged row; a duplicate is allowed, a gap is not.
      ResetWindow();
      if (state_ == UplinkState::kOnline) PublishBirths();
    } else if (on_acked_) {
      on_acked_();
    }
  }
  if (stopping_) {
    if (in_flight_msgs_ == 0) FinishStop();
    return;
  }
  Drain();
}

void MqttUplink::OnMessage(const std::string& topic, const std::string& payload) {
  if (alarms_enabled_ && topic.rfind(session_.DeviceTopic("DCMD", ""), 0) == 0) {
    OnDeviceCommand(topic, payload);
    return;
  }
  if (topic == session_.NodeTopic("NCMD")) {
    auto cmd = SparkplugSession::ParseNodeCommand(payload);
    if (!cmd.ok()) {
      spdlog::warn("uplink: ignoring NCMD: {}", cmd.status().ToString());
      return;
    }
    if (cmd->rebirth) {
      spdlog::info("uplink: rebirth requested by NCMD");
      if (state_ == UplinkState::kOnline) {
        PublishBirths();
        Drain();
      }
    }
    return;
  }
  if (!config_.uplink.primary_host_id.empty() &&
      topic == SparkplugSession::StateTopic(config_.uplink.primary_host_id)) {
    auto json = nlohmann::json::parse(payload, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("online") ||
        !json["online"].is_boolean()) {
      spdlog::warn("uplink: ignoring malformed STATE message from the primary host");
      return;
    }
    int64_t ts = json.value("timestamp", int64_t(0));
    // Sparkplug 3.0: a STATE older than the last one seen is stale and ignored.
    if (ts < host_state_ts_) return;
    host_state_ts_ = ts;
    bool online = json["online"].get<bool>();
    if (online == host_online_) return;
    host_online_ = online;
    if (state_ != UplinkState::kOnline && state_ != UplinkState::kWaitingForHost) return;
    if (online) {
      spdlog::info("uplink: primary host {} is online", config_.uplink.primary_host_id);
      state_ = UplinkState::kOnline;
      PublishBirths();
      Drain();
    } else {
      spdlog::warn("uplink: primary host {} is offline; buffering", config_.uplink.primary_host_id);
      state_ = UplinkState::kWaitingForHost;
      // What is in flight may still arrive; the rest waits in the outbox.
      ResetWindow();
    }
  }
}

void MqttUplink::ScheduleNodeMetrics() {
  node_metrics_timer_.expires_after(std::chrono::seconds(config_.uplink.node_metrics_interval_s));
  node_metrics_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    PublishNodeMetrics();
    ScheduleNodeMetrics();
  });
}

void MqttUplink::PublishNodeMetrics() {
  if (state_ != UplinkState::kOnline || !births_done_ || stopping_) return;
  int64_t now = clock_.NowMs();
  auto metrics = NodeMetrics(static_cast<uint64_t>(now));
  metrics.erase(metrics.begin());  // the version does not change within a birth
  if (config_.uplink.aliases) {
    for (auto& m : metrics) m.name.clear();  // NBIRTH named them
  }
  Publish(session_.NodeTopic("NDATA"), session_.NextPayload(now, std::move(metrics)), 0);
}

UplinkStats MqttUplink::stats() const {
  UplinkStats s;
  s.state = state_;
  s.broker = broker_;
  s.bd_seq = session_.bd_seq();
  s.reconnects = reconnects_;
  s.messages_published = messages_published_;
  s.readings_published = readings_published_;
  s.publish_failures = publish_failures_;
  s.births = births_;
  s.in_flight = in_flight_msgs_;
  s.last_error = last_error_;
  return s;
}

void MqttUplink::Stop(std::function<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  reconnect_timer_.cancel();
  node_metrics_timer_.cancel();
  ack_watchdog_timer_.cancel();
  buffer_retry_timer_.cancel();
  reannounce_timer_.cancel();
  if (state_ == UplinkState::kOnline || state_ == UplinkState::kWaitingForHost) {
    if (in_flight_msgs_ == 0) {
      FinishStop();
      return;
    }
    // In-flight publishes get a bounded time to settle.
    stop_timer_.expires_after(std::chrono::seconds(5));
    stop_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
      if (ec || !alive.lock()) return;
      spdlog::warn("uplink: {} publishes still unacknowledged at shutdown; they stay buffered",
                   in_flight_msgs_);
      FinishStop();
    });
    return;
  }
  FinishStop();
}

void MqttUplink::FinishStop() {
  if (!stop_done_) return;
  stop_timer_.cancel();
  bool connected = false;
  try {
    connected = client_ && client_->is_connected();
  } catch (const std::exception&) {
  }
  if (!connected) {
    auto done = std::move(stop_done_);
    stop_done_ = nullptr;
    state_ = UplinkState::kStopped;
    done();
    return;
  }
  try {
    // Sparkplug: an edge node that leaves on purpose says so itself; the broker will
    // only fires when it goes without a word.
    auto msg = mqtt::make_message(session_.NodeTopic("NDEATH"),
                                  session_.NDeathPayload(clock_.NowMs()), 1, false);
    client_->publish(msg);
    client_->disconnect(2000, nullptr, *disconnect_listener_);
  } catch (const std::exception& e) {
    spdlog::warn("uplink: disconnect failed: {}", e.what());
    auto done = std::move(stop_done_);
    stop_done_ = nullptr;
    done();
    return;
  }
  // Paho 1.2 with MQTT 5 was seen not to complete the disconnect token, so the
  // client's own connected flag is watched as well; 3 s is the outer bound.
  WatchDisconnect(SteadyMs() + 3000);
}

void MqttUplink::WatchDisconnect(int64_t deadline_ms) {
  stop_timer_.expires_after(std::chrono::milliseconds(20));
  stop_timer_.async_wait([this, deadline_ms, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock() || !stop_done_) return;
    bool connected = false;
    try {
      connected = client_ && client_->is_connected();
    } catch (const std::exception&) {
    }
    if (connected && SteadyMs() < deadline_ms) {
      WatchDisconnect(deadline_ms);
      return;
    }
    if (connected) spdlog::warn("uplink: the broker did not confirm the disconnect within 3 s");
    auto done = std::move(stop_done_);
    stop_done_ = nullptr;
    state_ = UplinkState::kStopped;
    done();
  });
}

}  // namespace gateway::uplink
