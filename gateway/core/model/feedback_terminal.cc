// feedback_terminal: residents' satisfaction (居民满意度) from a terminal by the door
// with buttons of configured scores (four smileys by default). Two ways in, both of any
// driver:
//   button/{name}_total  a cumulative counter per button (Modbus registers, MQTT),
//                        differenced as door counters are (CountStep: wraps, resets);
//   press                one event per press: the button's name (String) or its score
//                        (an integer: a tablet posting a score).
// Repeated presses within repeat_interval_s count once, in event time: an event press
// closer than that to a counted press of the same terminal, before or after it by the
// presses' own timestamps, is a repeat (a batch is taken in time order; a late press is
// judged against the presses counted so far, never un-counting one). A counter cannot say when its
// presses happened, only between which samples: a step of n presses over d seconds
// counts at most ceil(d / interval) (at least 1), the most a person could have made.
// The facility's figures (satisfaction.h) are published with every counted press.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "core/model/sensor_kind.h"
#include "gateway/satisfaction.h"

namespace gateway::model {

namespace {

// Counted presses kept per terminal for the repeat rule: more than anyone presses
// within one interval, and few enough to save with every batch.
constexpr size_t kKeptPresses = 16;

std::string ButtonMetric(const FeedbackButton& b, const char* what) {
  std::string m = "feedback/";
  m.append(b.name).push_back('/');
  m.append(what);
  return m;
}

const char* kResponses = "feedback/responses";

std::optional<size_t> ButtonOf(const FacilityState& f, const Value& v) {
  const auto& buttons = f.feedback.buttons;
  if (const auto* name = std::get_if<std::string>(&v)) {
    for (size_t i = 0; i < buttons.size(); ++i) {
      if (buttons[i].name == *name) return i;
    }
    return std::nullopt;
  }
  auto score = AsInteger(v);
  if (!score) return std::nullopt;
  for (size_t i = 0; i < buttons.size(); ++i) {
    if (buttons[i].score == *score) return i;
  }
  return std::nullopt;
}

class FeedbackTerminal final : public SensorKindRules {
 public:
  void Configure(const SensorConfig& config, FacilityState& f, SensorState& s) const override {
    s.repeat_ms = int64_t(std::llround(config.repeat_interval_s * 1000.0));
    if (f.feedback.buttons.empty()) {
      f.feedback.buttons = config.buttons.empty() ? DefaultFeedbackButtons() : config.buttons;
    }
    f.DeclareDaily(kResponses, false);
    for (const auto& b : f.feedback.buttons) f.DeclareDaily(ButtonMetric(b, "responses"), false);
  }

  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
    if (r.point == "press") return Press(f, s, r, em);
    if (r.point.rfind("button/", 0) != 0 || r.point.size() < 13 || r.point.compare(r.point.size() - 6, 6, "_total")) {
      return;
    }
    const std::string name = r.point.substr(7, r.point.size() - 13);
    auto button = ButtonOf(f, Value(name));
    if (!button) return Unknown(f, s, r);
    auto v = AsCounter(r.value);
    if (!v) return LogWrongType(f, s, r);
    auto c = s.counters.find(r.point);
    const int64_t since = c == s.counters.end() ? kNever : c->second.ts;
    auto delta = CountStep(f, s, r, *v);
    if (!delta || *delta == 0) return;
    uint64_t n = *delta;
    if (s.repeat_ms > 0 && since != kNever) {
      const int64_t span = std::max<int64_t>(0, r.ts_ms - since);
      const uint64_t most = std::max<uint64_t>(1, uint64_t((span + s.repeat_ms - 1) / s.repeat_ms));
      if (n > most) {
        spdlog::debug("facility {}: {}/{}: {} presses in {} ms count as {} (repeat_interval_s)", f.id, s.id, r.point,
                      n, span, most);
        n = most;
      }
    }
    Count(f, *button, r.ts_ms, n, em);
  }

  void Describe(const FacilityState& f, const SensorState&, int64_t day, FacilitySnapshot& out) const override {
    if (out.feedback.present) return;  // the facility's, whichever terminal comes first
    const Satisfaction sat = Compute(f, day);
    out.feedback.present = true;
    out.feedback.responses = sat.responses;
    out.feedback.index = sat.index;
    out.feedback.significant = sat.significant;
    out.feedback.min_responses = f.feedback.min_responses;
    for (size_t i = 0; i < f.feedback.buttons.size(); ++i) {
      const auto& b = f.feedback.buttons[i];
      out.feedback.buttons.push_back({b.name, b.score, f.DayCount(day, ButtonMetric(b, "responses")), sat.shares[i]});
    }
  }

 private:
  void Press(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const {
    auto button = ButtonOf(f, r.value);
    if (!button) return Unknown(f, s, r);
    const int64_t t = r.ts_ms;
    for (int64_t p : s.presses) {
      if (s.repeat_ms > 0 && std::llabs(t - p) < s.repeat_ms) {
        spdlog::debug("facility {}: {} press at {} repeats the one at {}; counted once", f.id, s.id, t, p);
        return;
      }
    }
    s.presses.insert(std::upper_bound(s.presses.begin(), s.presses.end(), t), t);
    if (s.presses.size() > kKeptPresses) s.presses.erase(s.presses.begin());
    Count(f, *button, t, 1, em);
  }

  static void Unknown(const FacilityState& f, SensorState& s, const Reading& r) {
    // The raw reading is still stored and forwarded; it is only not an answer.
    if (!s.reset_logged) {
      spdlog::warn("facility {}: {}/{} = {} is none of the configured buttons; not counted (further ones are "
                   "logged at debug)",
                   f.id, s.id, r.point, ValueToString(r.value));
      s.reset_logged = true;
    } else {
      spdlog::debug("facility {}: {}/{} = {} is not a configured button", f.id, s.id, r.point, ValueToString(r.value));
    }
  }

  static void Count(FacilityState& f, size_t button, int64_t ts, uint64_t n, Emitter& em) {
    f.AddToDay(ButtonMetric(f.feedback.buttons[button], "responses"), ts, n, em);
    f.AddToDay(kResponses, ts, n, em);
    EmitFeedbackFigures(f, f.DayOf(ts), ts, em);
  }

 public:
  static Satisfaction Compute(const FacilityState& f, int64_t day) {
    std::vector<uint64_t> counts;
    for (const auto& b : f.feedback.buttons) counts.push_back(f.DayCount(day, ButtonMetric(b, "responses")));
    return ComputeSatisfaction(f.feedback.buttons, counts, f.feedback.min_responses);
  }
};

}  // namespace

void EmitFeedbackFigures(const FacilityState& f, int64_t day, int64_t ts, Emitter& em) {
  const Satisfaction sat = FeedbackTerminal::Compute(f, day);
  // Every button's count and share with each change, so that a platform sees the
  // whole split at one instant (the Emitter keeps one value per metric and instant).
  for (size_t i = 0; i < f.feedback.buttons.size(); ++i) {
    const FeedbackButton& b = f.feedback.buttons[i];
    em.Emit(f.id, ButtonMetric(b, "responses"),
            uint32_t(std::min<uint64_t>(f.DayCount(day, ButtonMetric(b, "responses")), UINT32_MAX)), ts);
    em.Emit(f.id, ButtonMetric(b, "share"), float(sat.shares[i]), ts);
  }
  // Not significant (fewer answers than the minimum, or none): -1, as the reports' unknowns.
  em.Emit(f.id, "feedback/index", float(sat.ShownIndex().value_or(-1.0)), ts);
}

const SensorKindRules& FeedbackTerminalRules() {
  static const FeedbackTerminal rules;
  return rules;
}

}  // namespace gateway::model
