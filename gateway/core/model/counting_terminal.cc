// meal_terminal (meals_total) and checkin_terminal (checkins_total): cumulative
// counters of a terminal, counted into meals/served and checkins/count of the day of
// each sample. The two kinds differ only in their point and metric.
#include "core/model/sensor_kind.h"

namespace gateway::model {

namespace {

class CountingTerminal final : public SensorKindRules {
 public:
  CountingTerminal(const char* point, const char* metric) : point_(point), metric_(metric) {}

  void Configure(const SensorConfig&, FacilityState& f, SensorState&) const override {
    f.DeclareDaily(metric_, false);
  }

  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
    if (r.point != point_) return;
    auto v = AsCounter(r.value);
    if (!v) return LogWrongType(f, s, r);
    auto delta = CountStep(f, s, r, *v);
    if (delta) f.AddToDay(metric_, r.ts_ms, *delta, em);
  }

 private:
  std::string point_;
  std::string metric_;
};

}  // namespace

const SensorKindRules& MealTerminalRules() {
  static const CountingTerminal rules("meals_total", "meals/served");
  return rules;
}

const SensorKindRules& CheckinTerminalRules() {
  static const CountingTerminal rules("checkins_total", "checkins/count");
  return rules;
}

}  // namespace gateway::model
