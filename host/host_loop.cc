#include "host_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "codec/sparkplug_codec.h"

namespace host {

namespace {

std::string StateJson(bool online, int64_t ts_ms) {
  std::string s = "{\"online\":";
  s += online ? "true" : "false";
  s += ",\"timestamp\":";
  s += std::to_string(ts_ms);
  s += "}";
  return s;
}

}  // namespace

HostLoop::HostLoop(const HostConfig& config, HostMetrics* metrics)
    : config_(config),
      session_(config.groups, config.reorder_timeout_ms, config.rebirth_min_interval_ms, config.max_payload_bytes),
      store_(config.pg_conninfo, config.pg_password, config.host_id),
      link_(config.max_payload_bytes + 65536),
      metrics_(metrics) {
  state_topic_ = "spBv1.0/STATE/";
  state_topic_ += config.host_id;
}

uint16_t NextId(uint16_t& id) {
  uint16_t v = id++;
  if (id == 0) id = 1;
  return v;
}

bool HostLoop::PublishState(bool online, int64_t ts_ms) {
  auto s = link_.Send(mqtt_subscriber::EncodePublish(state_topic_, StateJson(online, ts_ms), 1, true,
                                                     NextId(next_packet_id_)));
  if (s.ok()) spdlog::info("STATE {} published ({})", online ? "online" : "offline", ts_ms);
  return s.ok();
}

bool HostLoop::ConnectBroker() {
  // The will and the birth carry one timestamp (Sparkplug 3.0, host STATE).
  state_ts_ms_ = NowMs();
  mqtt_subscriber::Will will{state_topic_, StateJson(false, state_ts_ms_), 1, true};
  bool session_present = false;
  auto s = link_.Connect(config_.mqtt_host, config_.mqtt_port,
                         mqtt_subscriber::EncodeConnect(config_.mqtt_client_id, /*clean_session=*/false,
                                                        config_.keep_alive_s, config_.mqtt_username,
                                                        config_.mqtt_password, will),
                         10000, &session_present);
  if (!s.ok()) {
    spdlog::warn("broker {}:{}: {}", config_.mqtt_host, config_.mqtt_port, s.message());
    return false;
  }
  ++stats_.broker_connects;
  // Uncommitted messages of the old connection come again: their packet ids are void.
  pending_ = SessionOutput{};
  pending_acks_.clear();
  pending_messages_ = 0;
  pending_alarms_ = AlarmParse{};
  alarms_extracted_ = false;
  std::vector<std::string> filters;
  for (const auto& g : config_.groups) {
    std::string f = "spBv1.0/";
    f += g;
    f += "/#";
    filters.push_back(std::move(f));
  }
  filters.push_back(state_topic_);
  if (!link_.Send(mqtt_subscriber::EncodeSubscribe(NextId(next_packet_id_), filters, 1)).ok()) return false;
  spdlog::info("connected to broker {}:{} as {} (session {})", config_.mqtt_host, config_.mqtt_port,
               config_.mqtt_client_id, session_present ? "resumed" : "new");
  if (db_ok_) return PublishState(true, state_ts_ms_);
  return PublishState(false, state_ts_ms_);
}

bool HostLoop::Drain() {
  for (;;) {
    if (pending_messages_ >= config_.max_batch_messages) return true;
    auto next = link_.Next();
    if (!next.ok()) {
      spdlog::warn("broker: {}", next.status().message());
      return false;
    }
    if (!next.value()) return true;
    const Packet& p = *next.value();
    if (p.type != mqtt_subscriber::kPublish) continue;  // SUBACK, PUBACK of our STATE, PINGRESP
    auto pub = mqtt_subscriber::ParsePublish(p.flags, p.body);
    if (!pub) {
      spdlog::warn("broker: malformed PUBLISH");
      return false;
    }
    if (pub->topic == state_topic_) {
      // Our own STATE: a stale offline (an old will, another instance's) while we are
      // online is corrected at once, as Sparkplug asks of a primary host.
      if (db_ok_ && pub->payload.find("\"online\":false") != std::string_view::npos) PublishState(true, state_ts_ms_);
    } else {
      session_.Handle(pub->topic, pub->payload, NowMs(), &pending_);
    }
    ++pending_messages_;
    if (pub->qos == 1) pending_acks_.push_back(pub->packet_id);
    if (pub->qos == 2) {
      spdlog::warn("{}: QoS 2 is not supported (subscribed at QoS 1)", pub->topic);
    }
  }
}

bool HostLoop::RestoreCatalog() {
  if (catalog_restored_) return true;
  if (SteadyMs() < next_db_retry_ms_) return false;
  auto c = store_.LoadCatalog(config_.groups);
  if (!c.ok()) {
    next_db_retry_ms_ = SteadyMs() + 1000;
    return false;
  }
  for (const auto& d : *c) session_.RestoreDeclaration(d.node, d.device, d.decl);
  catalog_restored_ = true;
  if (!c->empty()) spdlog::info("{} metric declarations of stored births restored", c->size());
  return true;
}

void HostLoop::SendRebirths(std::vector<NodeRef>& refs) {
  for (const auto& r : refs) {
    gateway::codec::Payload p;
    p.timestamp_ms = uint64_t(NowMs());
    p.metrics.push_back({"Node Control/Rebirth", gateway::Value(true), p.timestamp_ms, false, std::nullopt});
    std::string topic = "spBv1.0/";
    topic += r.group;
    topic += "/NCMD/";
    topic += r.edge_node;
    if (link_.Send(mqtt_subscriber::EncodePublish(topic, gateway::codec::Encode(p), 0, false, 0)).ok())
      spdlog::info("{}/{}: rebirth requested", r.group, r.edge_node);
  }
  refs.clear();
}

void HostLoop::SyncAckRequests() {
  auto r = store_.PendingAckRequests();
  if (!r.ok()) {
    spdlog::warn("acknowledge requests: {}", r.status().message());
    return;  // ack_sync_needed_ stays: tried again at the next turn
  }
  ack_sync_needed_ = false;
  alarm_cmds_.Sync(*r);
}

void HostLoop::SendAcknowledges() {
  if (alarm_cmds_.pending() == 0) return;
  // Sent only to a node online as the session last saw it (alarm_commands.h). A node
  // never born nor dead in this process (bdSeq unknown: just started, or only restored
  // declarations) is left unknown: it gets one try until its births come.
  // Only the nodes with a pending command are looked up: a town has thousands of nodes,
  // and this runs every turn of the loop while one acknowledge waits.
  for (const auto& [group, edge_node] : alarm_cmds_.PendingNodes()) {
    const auto n = session_.FindNode(NodeRef{group, edge_node});
    if (n && (n->online || n->bd_seq >= 0)) alarm_cmds_.OnNode(group, edge_node, n->online, n->bd_seq);
  }
  for (const auto& c : alarm_cmds_.Due(SteadyMs())) {
    gateway::codec::Payload p;
    p.timestamp_ms = uint64_t(NowMs());
    p.metrics.push_back({"alarms/acknowledge", gateway::Value(c.alarm_id), p.timestamp_ms, false, std::nullopt});
    p.metrics.push_back(
        {"alarms/acknowledged_by", gateway::Value(c.operator_name), p.timestamp_ms, false, std::nullopt});
    std::string topic = "spBv1.0/";
    topic += c.group;
    topic += "/DCMD/";
    topic += c.edge_node;
    topic += '/';
    topic += c.facility;
    // QoS 0 as the rebirth NCMD: what is lost is sent again until the gateway's DDATA
    // says acknowledged (alarm_commands.h).
    if (link_.Send(mqtt_subscriber::EncodePublish(topic, gateway::codec::Encode(p), 0, false, 0)).ok()) {
      ++stats_.alarm_dcmds;
      spdlog::info("{}/{}/{}: alarm {} acknowledge sent (by {}, {} of this round)", c.group, c.edge_node, c.facility,
                   c.alarm_id, c.operator_name, c.sends);
    }
  }
  for (const auto& c : alarm_cmds_.TakeAbandoned())
    spdlog::warn("{}/{}/{}: alarm {} acknowledge abandoned after {} DCMDs without an answer; the request is kept and"
                 " sent again at the node's next birth or a new acknowledge", c.group, c.edge_node, c.facility,
                 c.alarm_id, c.sends);
}

void HostLoop::Flush() {
  if (pending_messages_ == 0 && pending_.events.empty()) return;
  const int64_t now = NowMs();
  if (!db_ok_ && SteadyMs() < next_db_retry_ms_) return;
  // Refuse what no retention keeps or what comes from a clock far ahead: counted.
  const int64_t oldest = now - int64_t(config_.retention_days) * 86400000;
  const int64_t newest = now + int64_t(config_.future_tolerance_s) * 1000;
  auto& smp = pending_.samples;
  size_t before = smp.size();
  smp.erase(std::remove_if(smp.begin(), smp.end(),
                           [&](const SampleRow& s) { return s.ts_ms < oldest || s.ts_ms > newest; }),
            smp.end());
  stats_.refused += before - smp.size();
  if (smp.size() != before) spdlog::warn("{} samples refused: timestamp outside the retention or in the future", before - smp.size());

  if (!alarms_extracted_) {
    // Once per batch: a retried commit must not count its malformed rows again.
    pending_alarms_ = ExtractAlarmRows(pending_.samples);
    alarms_extracted_ = true;
    if (pending_alarms_.malformed > 0) {
      stats_.alarm_rows_malformed += pending_alarms_.malformed;
      spdlog::warn("{} alarms/events rows malformed, not stored (first: {})", pending_alarms_.malformed,
                   pending_alarms_.first_error);
    }
  }
  auto r = store_.Commit(pending_.samples, pending_.events, pending_alarms_.rows, now);
  if (!r.ok()) {
    ++stats_.db_failures;
    next_db_retry_ms_ = SteadyMs() + 1000;
    if (db_ok_) {
      spdlog::error("PostgreSQL cannot commit ({}): STATE offline until it can", r.status().message());
      db_ok_ = false;
      PublishState(false, NowMs());
    }
    return;
  }
  ++stats_.commits;
  stats_.samples_inserted += r->inserted;
  stats_.duplicates += r->duplicates;
  stats_.daily_reports += r->daily_reports;
  stats_.alarm_rows += r->alarm_rows;
  for (const auto& a : pending_alarms_.rows) alarm_cmds_.OnAlarmRow(a, SteadyMs());
  if (r->duplicates > 0)
    spdlog::debug("commit: {} of {} samples already stored (redelivered), first {}", r->duplicates,
                  pending_.samples.size(), pending_.samples.empty() ? "" : pending_.samples.front().metric);
  int64_t newest_live = 0;
  for (const auto& smp_row : pending_.samples)
    if (!smp_row.historical) newest_live = std::max(newest_live, smp_row.ts_ms);
  if (newest_live > 0) last_lag_s_ = double(NowMs() - newest_live) / 1000.0;
  for (uint16_t id : pending_acks_) {
    if (!link_.Send(mqtt_subscriber::EncodePubAck(id)).ok()) break;
    ++stats_.acks;
  }
  pending_ = SessionOutput{};
  pending_acks_.clear();
  pending_messages_ = 0;
  pending_alarms_ = AlarmParse{};
  alarms_extracted_ = false;
  if (!db_ok_) {
    spdlog::info("PostgreSQL commits again: reconnecting to publish STATE online");
    db_ok_ = true;
    reconnect_after_recovery_ = true;
  }
}

void HostLoop::LogStats() {
  const auto& s = session_.stats();
  spdlog::info("host: {} messages, {} samples stored, {} duplicates, {} commits, {} rebirths requested, {} seq gaps, "
               "{} bad payloads, {} unresolved aliases",
               s.messages, stats_.samples_inserted, stats_.duplicates, stats_.commits, s.rebirths_requested, s.seq_gaps,
               s.bad_payloads, s.unresolved_aliases);
}

std::string HostLoop::RenderMetrics() const {
  const auto& s = session_.stats();
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += "# HELP community_host_"; out += name; out += ' '; out += help; out += '\n';
    out += "# TYPE community_host_"; out += name; out += " counter\n";
    out += "community_host_"; out += name; out += ' '; out += std::to_string(v); out += '\n';
  };
  auto gauge = [&](const char* name, const char* help, const std::string& v) {
    out += "# HELP community_host_"; out += name; out += ' '; out += help; out += '\n';
    out += "# TYPE community_host_"; out += name; out += " gauge\n";
    out += "community_host_"; out += name; out += ' '; out += v; out += '\n';
  };
  counter("messages_total", "MQTT messages received from the groups served.", s.messages);
  counter("samples_stored_total", "Samples committed to PostgreSQL (new rows).", stats_.samples_inserted);
  counter("duplicates_dropped_total", "Samples already stored (redeliveries), absorbed by the natural key.",
          stats_.duplicates);
  counter("samples_refused_total", "Samples stamped outside the retention or too far ahead.", stats_.refused);
  counter("daily_reports_stored_total", "reports/daily rows written (a newer revision included).", stats_.daily_reports);
  counter("commits_total", "Transactions committed (each then acknowledged).", stats_.commits);
  counter("acks_total", "PUBACKs sent after a commit.", stats_.acks);
  counter("commit_failures_total", "Commits that failed (STATE offline while they do).", stats_.db_failures);
  counter("rebirths_requested_total", "NCMD Node Control/Rebirth sent.", s.rebirths_requested);
  counter("seq_gaps_total", "Sparkplug seq numbers found missing.", s.seq_gaps);
  counter("seq_reordered_total", "Missing seq numbers that came late.", s.reordered);
  counter("bad_payloads_total", "Messages that are not Sparkplug B or not on its topics.", s.bad_payloads);
  counter("unresolved_aliases_total", "Metrics by an alias no birth declared (not stored).", s.unresolved_aliases);
  counter("stale_deaths_total", "NDEATH with another bdSeq than the current birth's (ignored).", s.stale_deaths);
  counter("alarm_rows_stored_total", "alarms/events rows merged into the alarms table.", stats_.alarm_rows);
  counter("alarm_rows_malformed_total", "alarms/events rows refused: missing columns, wrong types, bad values.",
          stats_.alarm_rows_malformed);
  counter("alarm_acknowledge_dcmds_total", "DCMD alarms/acknowledge published (resends included).", stats_.alarm_dcmds);
  counter("alarm_acknowledges_abandoned_total",
          "Acknowledge commands given up after their round's sends without an answer (kept for the next birth).",
          alarm_cmds_.abandoned_total());
  gauge("alarm_acknowledges_pending", "Acknowledge requests not yet confirmed by their gateway.",
        std::to_string(alarm_cmds_.pending()));
  counter("broker_connects_total", "Connections made to the broker.", stats_.broker_connects);
  gauge("database_up", "1 while commits succeed.", db_ok_ ? "1" : "0");
  gauge("pending_messages", "Messages read and not yet committed.", std::to_string(pending_messages_));
  char lag[32];
  std::snprintf(lag, sizeof lag, "%.3f", last_lag_s_);
  gauge("ingest_lag_seconds", "Taken to committed, for the newest live sample of the last commit.", lag);
  out += "# HELP community_host_edge_node_online 1 while the edge node is born and not dead.\n";
  out += "# TYPE community_host_edge_node_online gauge\n";
  std::string heard = "# HELP community_host_edge_node_last_heard_seconds Since the host last heard the node.\n"
                      "# TYPE community_host_edge_node_last_heard_seconds gauge\n";
  const int64_t now = NowMs();
  for (const auto& n : session_.Nodes()) {
    std::string labels = "{group=\"";
    labels += PromLabel(n.ref.group);
    labels += "\",edge_node=\"";
    labels += PromLabel(n.ref.edge_node);
    labels += "\"}";
    out += "community_host_edge_node_online"; out += labels; out += n.online ? " 1\n" : " 0\n";
    heard += "community_host_edge_node_last_heard_seconds"; heard += labels; heard += ' ';
    heard += std::to_string((now - n.last_heard_ms) / 1000); heard += '\n';
  }
  out += heard;
  return out;
}

void HostLoop::Run(const std::atomic<bool>& stop) {
  int backoff_ms = 500;
  // Check the database before going online: a host that cannot commit must not be
  // the primary host the gateways follow.
  if (auto s = store_.Ensure(); !s.ok()) {
    spdlog::error("{}", s.message());
    db_ok_ = false;
  }
  while (!stop.load()) {
    if (!link_.open()) {
      if (!ConnectBroker()) {
        link_.Close();
        for (int waited = 0; waited < backoff_ms && !stop.load(); waited += 100)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        backoff_ms = std::min(backoff_ms * 2, 30000);
        continue;
      }
      backoff_ms = 500;
    }
    const int64_t steady = SteadyMs();
    int timeout = 1000;
    if (pending_messages_ > 0) timeout = db_ok_ ? 0 : int(std::max<int64_t>(0, next_db_retry_ms_ - steady));
    const int64_t deadline = session_.NextDeadline();
    if (deadline != INT64_MAX) timeout = int(std::clamp<int64_t>(deadline - NowMs(), 0, timeout));
    const int64_t ack_deadline = alarm_cmds_.NextDeadline();
    if (ack_deadline != INT64_MAX) timeout = int(std::clamp<int64_t>(ack_deadline - steady, 0, timeout));
    // Reading stops while a batch waits for the database: the broker holds the rest.
    // Nothing is read before the stored births' aliases are known: a redelivered
    // message by alias would otherwise be unresolvable, and acknowledged unstored.
    const bool read = (db_ok_ || pending_messages_ < config_.max_batch_messages) && RestoreCatalog();
    if (read && pending_messages_ < config_.max_batch_messages) {
      if (!link_.Read(timeout, store_.socket()).ok() || !Drain()) {
        link_.Close();
        continue;
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max(timeout, 10)));
    }
    session_.Tick(NowMs(), &pending_);
    if (!pending_.rebirths.empty()) SendRebirths(pending_.rebirths);
    // Commit once the socket has nothing more ready (or the batch is full).
    Flush();
    // The board's acknowledge requests: at a NOTIFY, at start, and every 30 s (a NOTIFY
    // is lost while the connection is down).
    // Consumed whatever the database's state, so that a readable socket never keeps
    // the poll from sleeping.
    if (store_.TakeAckNotification()) ack_sync_needed_ = true;
    if (db_ok_) {
      if (SteadyMs() >= next_ack_sync_ms_) ack_sync_needed_ = true;
      if (ack_sync_needed_) {
        next_ack_sync_ms_ = SteadyMs() + 30000;
        SyncAckRequests();
      }
      if (link_.open()) SendAcknowledges();
    }
    if (reconnect_after_recovery_) {
      reconnect_after_recovery_ = false;
      link_.Send(mqtt_subscriber::EncodeDisconnect());  // a clean DISCONNECT drops the old will
      link_.Close();
      continue;
    }
    const int64_t now_steady = SteadyMs();
    if (link_.open() && now_steady - link_.last_send_ms() >= int64_t(config_.keep_alive_s) * 500)
      link_.Send(mqtt_subscriber::EncodePingReq());
    if (link_.open() && catalog_restored_ &&
        now_steady - link_.last_receive_ms() >= int64_t(config_.keep_alive_s) * 1500) {
      spdlog::warn("broker silent for 1.5 keep-alive periods: reconnecting");
      link_.Close();
    }
    if (db_ok_ && now_steady >= next_retention_ms_) {
      next_retention_ms_ = now_steady + 3600 * 1000;
      auto d = store_.DropExpired(NowMs(), config_.retention_days);
      if (!d.ok()) spdlog::warn("retention: {}", d.status().message());
    }
    if (metrics_ && now_steady >= next_metrics_ms_) {
      next_metrics_ms_ = now_steady + 1000;
      metrics_->Publish(RenderMetrics());
    }
    if (now_steady >= next_stats_ms_) {
      next_stats_ms_ = now_steady + 60000;
      LogStats();
    }
  }
  if (link_.open()) {
    Flush();
    PublishState(false, state_ts_ms_);
    link_.Send(mqtt_subscriber::EncodeDisconnect());
    link_.Close();
  }
  LogStats();
}

}  // namespace host
