// ConsoleView: the live terminal view of the demo (`run --live`): occupancy per
// facility against capacity, open or closed, sensors online, the buffer and the
// uplink state, redrawn every second.
//
// Owned by the App; its timer runs on the core's event-loop thread and it only reads
// the other components' stats there. Writes to stdout; logs stay on stderr.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>

#include "core/facility_model.h"
#include "core/pipeline.h"
#include "gateway/clock.h"
#include "store/outbox.h"
#include "uplink/mqtt_uplink.h"

namespace gateway {

class ConsoleView {
 public:
  ConsoleView(boost::asio::io_context& io, const Config& config, const FacilityModel& model,
              const Pipeline& pipeline, store::Outbox& outbox, const uplink::MqttUplink& uplink,
              const Clock& clock);
  void Start();
  void Stop();

 private:
  void Draw();
  void Schedule();

  const Config& config_;
  const FacilityModel& model_;
  const Pipeline& pipeline_;
  store::Outbox& outbox_;
  const uplink::MqttUplink& uplink_;
  const Clock& clock_;
  boost::asio::steady_timer timer_;
  bool tty_ = false;
};

}  // namespace gateway
