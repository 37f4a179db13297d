#include "alarm/coil_output.h"

#include <spdlog/spdlog.h>

namespace gateway::alarm {

CoilOutput::CoilOutput(const AlarmEscalationConfig& config, CoilWriter writer)
    : cfg_(config), writer_(std::move(writer)) {}

Status CoilOutput::Start(const std::vector<Alarm>& open) {
  if (!enabled()) return Status::Ok();
  for (const auto& a : open) {
    if (a.state == AlarmState::kEscalated && !a.test) escalated_.insert(a.id);
  }
  started_ = true;
  spdlog::info("alarm coil: {} coil {} switches with escalated alarms", cfg_.coil_device, cfg_.coil_address);
  Apply(/*force=*/true);
  return have_written_ ? Status::Ok() : Status::NotFound("alarms.escalation.coil.device: no Modbus device '" +
                                                         cfg_.coil_device + "'");
}

void CoilOutput::OnAlarmChanged(const Alarm& alarm) {
  if (!enabled()) return;
  if (alarm.state == AlarmState::kEscalated && !alarm.test) {
    escalated_.insert(alarm.id);
  } else {
    escalated_.erase(alarm.id);
  }
  if (started_) Apply(/*force=*/false);
}

void CoilOutput::Apply(bool force) {
  const bool want = on();
  if (!force && have_written_ && want == written_) return;
  Status s = writer_(cfg_.coil_device, cfg_.coil_address, want);
  if (!s.ok()) {
    spdlog::error("alarm coil: cannot switch {} coil {} {}: {}", cfg_.coil_device, cfg_.coil_address,
                  want ? "on" : "off", s.message());
    return;
  }
  if (have_written_ && want != written_) ++switches_;
  written_ = want;
  have_written_ = true;
  spdlog::info("alarm coil: {} coil {} wanted {} ({} escalated alarms)", cfg_.coil_device, cfg_.coil_address,
               want ? "ON" : "OFF", escalated_.size());
}

}  // namespace gateway::alarm
