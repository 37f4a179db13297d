// MqttUplink: forwards the outbox to the city platform as a Sparkplug B edge node.
//
// Owns everything Paho: the async client, its options, its callbacks. Lives on the
// core's event-loop thread: every public method must be called there, and Paho's
// callbacks (which run on Paho C's threads) only post to the loop and return; they
// never block, wait on a token or throw.
//
// Delivery: rows are read oldest first past a cursor (so a row in flight is never
// read twice), packed into one DDATA per facility, and acknowledged to the outbox only
// when every message of their batch has its PUBACK (QoS 1) or has been written (QoS 0).
// When the connection drops, the window is reset: the cursor returns to the oldest row
// still in the outbox and everything unacknowledged is sent again after the births,
// flagged is_historical if it was taken before them.
//
// Connection: one broker URI per attempt, in turn; capped exponential backoff with
// jitter; the first connect is retried like any other; a client that has not
// connected for recreate_client_after_s is replaced by a fresh one (Paho was seen stuck
// in a reconnect loop after a broker crash). bdSeq is persisted in the outbox's meta
// table and increases with every connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "store/outbox.h"
#include "gateway/alarm.h"
#include "uplink/alarm_lane.h"
#include "uplink/backoff.h"
#include "uplink/sparkplug_session.h"

namespace mqtt {
class async_client;
class callback;
class iaction_listener;
}  // namespace mqtt

namespace gateway::uplink {

enum class UplinkState { kStopped, kConnecting, kWaitingForHost, kOnline, kOffline };
const char* UplinkStateName(UplinkState s);

struct UplinkStats {
  UplinkState state = UplinkState::kStopped;
  std::string broker;
  uint64_t bd_seq = 0;
  uint64_t reconnects = 0;
  uint64_t messages_published = 0;
  uint64_t readings_published = 0;  // acknowledged by the broker
  uint64_t publish_failures = 0;
  uint64_t births = 0;
  int in_flight = 0;
  std::string last_error;
};

// What the uplink asks of the core's AlarmBook (all on the loop thread).
struct AlarmSource {
  std::function<std::vector<Alarm>()> open;                               // re-announcements
  std::function<std::vector<Alarm>(const std::string& facility)> open_in;  // births, alarms/open
  std::function<std::vector<Alarm>(const std::string& facility)> latest_by_sensor;  // births
  // A host's DCMD alarms/acknowledge for a configured facility.
  std::function<void(const std::string& facility, const AlarmAcknowledge& ack)> acknowledge;
  // The broker acknowledged this version of the alarm.
  std::function<void(const Alarm& published)> published;
};

class MqttUplink final : public AlarmListener {
 public:
  MqttUplink(boost::asio::io_context& io, const Config& config, store::Outbox& outbox,
             const Clock& clock, std::string version);
  ~MqttUplink();
  MqttUplink(const MqttUplink&) = delete;
  MqttUplink& operator=(const MqttUplink&) = delete;

  void Start();
  // New rows were committed: drain if the window allows.
  void Notify();
  // Graceful stop: no new publishes, in-flight ones settle (bounded), NDEATH is
  // published when connected, then the client disconnects. `done` runs on the loop.
  void Stop(std::function<void()> done);

  UplinkStats stats() const;

  // Emergency calls (uplink/alarm_lane.h): before Start(). Changes the broker has not
  // acknowledged (after a restart) are queued at once.
  void set_alarms(AlarmSource source, const std::vector<Alarm>& unpublished);
  // A committed alarm change: published ahead of the backlog.
  void OnAlarmChanged(const Alarm& alarm) override;
  // Publishes an alarm's current row again (an acknowledgement repeated by the host).
  void RepublishAlarm(const Alarm& alarm) { OnAlarmChanged(alarm); }
  uint64_t alarm_messages_published() const { return alarm_messages_published_; }
  uint64_t alarm_commands_refused() const { return alarm_commands_refused_; }

  // Called after acknowledgements, so the owner of commits deletes acked rows soon
  // even when no new readings arrive.
  void set_on_acked(std::function<void()> f) { on_acked_ = std::move(f); }
  // For the metrics: seconds from handing a DDATA to Paho to its PUBACK (loop thread).
  void set_publish_latency_observer(std::function<void(double)> f) { latency_observer_ = std::move(f); }
  // For the benchmark: the timestamps of the readings of each acknowledged message.
  void set_ack_observer(std::function<void(const std::vector<int64_t>&)> f) {
    ack_observer_ = std::move(f);
  }

 private:
  struct InFlight {
    uint64_t batch = 0;
    size_t readings = 0;
    std::vector<int64_t> ts;  // only with an ack observer
    std::chrono::steady_clock::time_point sent;  // publish latency, real time even when simulated
  };
  struct Batch {
    int64_t lo = 0, hi = 0;
    int pending = 0;
    bool failed = false;
  };
  class Callbacks;
  class Listener;

  void CreateClient();
  void StartConnect();
  void OnConnected(uint64_t gen);
  void OnConnectFailed(uint64_t gen, const std::string& why);
  void OnConnectionLost(const std::string& cause);
  void OnMessage(const std::string& topic, const std::string& payload);
  void OnPublishResult(uint64_t msg_id, bool ok, const std::string& why);
  void ScheduleReconnect();
  void ResetWindow();
  bool CanPublishData() const;
  void PublishBirths();
  Status PublishDBirth(const std::string& facility);
  void Drain();
  // Reads one batch of the backlog and publishes it: false when there is nothing (more)
  // to send now or the window was reset.
  bool DrainBatch();
  void PublishNodeMetrics();
  void ScheduleNodeMetrics();
  void PublishAlarms();
  void ScheduleReannounce();
  void OnDeviceCommand(const std::string& topic, const std::string& payload);
  Status Publish(const std::string& topic, std::string payload, uint64_t msg_id);
  void FinishStop();
  void WatchDisconnect(int64_t deadline_ms);
  void ScheduleAckWatchdog();
  void DropStalledConnection();
  std::vector<codec::Metric> NodeMetrics(uint64_t now_ms) const;
  template <typename F>
  void Post(F&& f);

  boost::asio::io_context& io_;
  const Config& config_;
  store::Outbox& outbox_;
  const Clock& clock_;
  std::string version_;
  SparkplugSession session_;
  Backoff backoff_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer node_metrics_timer_;
  boost::asio::steady_timer stop_timer_;
  boost::asio::steady_timer ack_watchdog_timer_;
  boost::asio::steady_timer reannounce_timer_;
  AlarmLane alarm_lane_;
  AlarmSource alarms_;
  bool alarms_enabled_ = false;
  // Alarm messages' ids are apart from the data window's: this bit is set in theirs.
  static constexpr uint64_t kAlarmMsgBit = 1ull << 62;
  uint64_t next_alarm_msg_id_ = 1;
  uint64_t alarm_messages_published_ = 0;
  uint64_t alarm_commands_refused_ = 0;
  // The buffer failed a read (an I/O error of its medium): births or the drain are
  // tried again after buffer_retry_delay_ (doubling to 10 s), since no commit or ack
  // may come to wake them.
  boost::asio::steady_timer buffer_retry_timer_;
  bool buffer_retry_scheduled_ = false;
  bool drain_posted_ = false;  // Drain's continuation is waiting on the loop
  std::chrono::milliseconds buffer_retry_delay_{500};
  void RetryAfterBufferError();
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // posted work checks it is alive

  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<Listener> connect_listener_;
  std::unique_ptr<Listener> publish_listener_;
  std::unique_ptr<Listener> disconnect_listener_;
  std::unique_ptr<mqtt::async_client> client_;
  std::unique_ptr<mqtt::async_client> retired_client_;

  UplinkState state_ = UplinkState::kStopped;
  uint64_t gen_ = 0;           // bumps on every connection change; stale callbacks are ignored
  size_t broker_index_ = 0;
  int64_t last_ack_progress_ms_ = 0;  // steady: last PUBACK, or when the window started filling
  int64_t last_online_ms_ = 0;  // steady: when a connection last succeeded (or start)
  bool ever_connected_ = false;
  bool births_done_ = false;
  bool host_online_ = false;
  int64_t host_state_ts_ = -1;
  int64_t online_since_ms_ = 0;  // readings older than this are historical
  bool stopping_ = false;
  std::function<void()> stop_done_;

  int64_t cursor_ = 0;
  uint64_t next_msg_id_ = 1;
  uint64_t next_batch_ = 1;
  int in_flight_msgs_ = 0;
  std::map<uint64_t, InFlight> in_flight_;
  std::map<uint64_t, Batch> batches_;
  std::map<std::string, std::set<std::string>> birthed_;  // facility -> metric names in its DBIRTH

  std::string broker_;
  uint64_t reconnects_ = 0;
  uint64_t messages_published_ = 0;
  uint64_t readings_published_ = 0;
  uint64_t publish_failures_ = 0;
  uint64_t births_ = 0;
  std::string last_error_;

  std::function<void()> on_acked_;
  std::function<void(const std::vector<int64_t>&)> ack_observer_;
  std::function<void(double)> latency_observer_;
};

}  // namespace gateway::uplink
