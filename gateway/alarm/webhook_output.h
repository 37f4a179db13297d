// WebhookOutput: the LAN webhook of alarm escalation (alarms.escalation.webhook.url): a
// JSON POST to the duty phone's app when an alarm escalates, and another when a host
// acknowledges an alarm that had escalated (the phone may stop ringing).
//
// What it sends (docs/wire-format.md, "Local escalation"):
//   {"event":"escalated"|"acknowledged",
//    "alarm":{"id","facility","facility_name"?,"sensor","location","kind","test",
//             "raised_ms","presses","escalated_ms","acknowledged_ms","acknowledged_by"}}
// with `Authorization: Bearer <webhook.token>` when a token is set. The token is never
// logged, and neither is the URL's query (it may carry a key); a URL with user info is
// refused at Start().
//
// Delivery: http:// or https:// (OpenSSL, the system's trust store or SSL_CERT_FILE,
// peer and host name verified), each attempt bounded by webhook.timeout_ms; a failed
// attempt (no connection, timeout, a status other than 2xx) is retried webhook.retries
// times, 1 s after the first failure and doubling. A 4xx other than 408 and 429 is not
// retried: the receiver refused the request itself (a wrong token), and asking again
// would only delay the next alarm's POST.
//
// Threads: OnAlarmChanged runs on the core's loop (AlarmListener) and only enqueues into a
// bounded queue (kMaxQueued; beyond it the event is dropped and counted); the POSTs run
// on the output's own thread with its own io_context, so a dead receiver never holds
// up the loop. Start() and Stop() on the loop thread; the counters from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/alarm.h"
#include "gateway/config.h"
#include "gateway/status.h"

namespace gateway::alarm {

struct WebhookStats {
  std::atomic<uint64_t> sent{0};      // events the receiver answered 2xx
  std::atomic<uint64_t> failed{0};    // events given up after every attempt
  std::atomic<uint64_t> attempts{0};  // POSTs tried (first ones and retries)
  std::atomic<uint64_t> dropped{0};   // events not queued: the queue was full
};

// The parts of an http(s) URL a client needs. Exposed for tests.
struct WebhookUrl {
  bool tls = false;
  std::string host;
  std::string port;    // "80"/"443" unless given
  std::string target;  // path and query, "/" at least
  std::string ForLog() const;  // scheme://host:port/path, without the query
};
Result<WebhookUrl> ParseWebhookUrl(const std::string& url);

// The POST body of one event (`event`: "escalated" or "acknowledged"). Exposed for tests.
std::string WebhookBody(const char* event, const Alarm& alarm, const std::string& facility_name);

class WebhookOutput final : public AlarmListener {
 public:
  static constexpr size_t kMaxQueued = 256;

  explicit WebhookOutput(const Config& config);
  ~WebhookOutput() override;
  WebhookOutput(const WebhookOutput&) = delete;
  WebhookOutput& operator=(const WebhookOutput&) = delete;

  // Checks the URL and starts the sending thread. No webhook.url: nothing to do.
  // `open`: the alarms resumed from disk. Each escalated one is announced again: its
  // POST may have been queued or in flight when the gateway died (a power cut), and
  // nobody has acknowledged it since. At least once, then: the receiver knows an
  // event by its alarm id and state.
  Status Start(const std::vector<Alarm>& open = {});
  // Stops at once: an attempt in flight is cut off (its io_context stopped), what is
  // still queued is counted as failed and logged.
  void Stop();

  void OnAlarmChanged(const Alarm& alarm) override;

  const WebhookStats& stats() const { return stats_; }
  size_t queued() const;

 private:
  struct Event {
    const char* name = nullptr;
    Alarm alarm;
  };
  void Run();
  bool Deliver(const Event& e);
  // One POST; true on 2xx. *retry: whether another attempt may help.
  bool Attempt(const std::string& body, std::string* error, bool* retry);

  const Config& config_;
  const AlarmEscalationConfig& cfg_;
  WebhookUrl url_;
  bool enabled_ = false;
  // Loop thread only: the last state each open alarm was seen in, so that an alarm is
  // announced once per escalation, however often it changes while escalated.
  std::map<std::string, AlarmState> seen_;
  std::deque<std::string> recent_acks_;  // loop thread: acknowledgements announced lately
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;  // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  boost::asio::io_context* current_io_ = nullptr;  // guarded by mu_: the attempt in flight, for Stop()
  std::thread thread_;
  WebhookStats stats_;
};

}  // namespace gateway::alarm
