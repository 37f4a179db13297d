// The town report's satisfaction sums (host/town_satisfaction.h): expected figures from
// docs/report-format.md's definition, worked by hand here.
#include <catch2/catch.hpp>

#include "town_satisfaction.h"

using host::FeedbackOfDay;
using host::FeedbackScale;
using host::ReportedFeedback;
using host::SatisfactionSum;

namespace {

FeedbackScale FourButtons(int64_t min) {
  return FeedbackScale{{{"very_unhappy", 1}, {"unhappy", 2}, {"happy", 3}, {"very_happy", 4}}, min};
}

ReportedFeedback Day(std::vector<std::pair<std::string, int64_t>> buttons) {
  ReportedFeedback d;
  for (const auto& [name, n] : buttons) d.responses += n;
  d.buttons = std::move(buttons);
  return d;
}

}  // namespace

TEST_CASE("town satisfaction: days sum by their per-button counts, not by their indexes") {
  // Day 1: 2 x very_happy, 1 x happy, 1 x unhappy: index 75 (the worked example);
  // day 2: 4 x very_unhappy: 0; day 3: 1 x very_happy: 100. The mean of the indexes
  // would be 58.3; the summed counts give mean (13 + 4 + 4) / 9 = 21/9, index
  // 100 (21/9 - 1) / 3 = 44.4.
  SatisfactionSum s;
  const auto scale = FourButtons(5);
  s.Add(Day({{"very_unhappy", 0}, {"unhappy", 1}, {"happy", 1}, {"very_happy", 2}}), scale, int64_t(40));
  s.Add(Day({{"very_unhappy", 4}, {"unhappy", 0}, {"happy", 0}, {"very_happy", 0}}), scale, int64_t(10));
  s.Add(Day({{"very_unhappy", 0}, {"unhappy", 0}, {"happy", 0}, {"very_happy", 1}}), scale, std::nullopt);
  CHECK(s.responses == 9);
  REQUIRE(s.Index());
  CHECK(*s.Index() == Approx(100.0 * (21.0 / 9.0 - 1.0) / 3.0));
  CHECK(s.Significant());  // 9 >= 5
  CHECK(*s.AnswerRate() == Approx(9.0 / 50.0));
  REQUIRE(s.buttons.size() == 4);
  CHECK(s.buttons[0] == std::pair<std::string, int64_t>("very_unhappy", 4));
  CHECK(s.buttons[3] == std::pair<std::string, int64_t>("very_happy", 3));
}

TEST_CASE("town satisfaction: facilities with other scales, the largest minimum, unknown scores") {
  SatisfactionSum a, b, town;
  a.Add(Day({{"very_unhappy", 1}, {"very_happy", 3}}), FourButtons(4), std::nullopt);  // 0 and 3 x 100
  // A tablet of three buttons 0, 5, 10: a 5 is half way, 50 on the 0-100 scale.
  b.Add(Day({{"low", 0}, {"mid", 2}, {"high", 0}}), FeedbackScale{{{"low", 0}, {"mid", 5}, {"high", 10}}, 20},
        std::nullopt);
  town.Add(a);
  town.Add(b);
  CHECK(town.responses == 6);
  CHECK(*town.Index() == Approx((0 + 300 + 2 * 50) / 6.0));
  CHECK(town.min_responses == 20);
  CHECK_FALSE(town.Significant());  // 6 < 20: one of its facilities would not show its own
  CHECK_FALSE(town.ShownIndex());
  CHECK(a.Significant());

  SatisfactionSum unscored;
  unscored.Add(Day({{"happy", 3}}), FeedbackScale{{}, std::nullopt}, std::nullopt);
  CHECK(unscored.responses == 3);
  CHECK_FALSE(unscored.Index());
  CHECK_FALSE(unscored.Significant());
}

TEST_CASE("town satisfaction: a reports/daily day row's feedback columns") {
  const std::vector<std::string> cols{"date", "visits", "feedback_responses", "satisfaction_index", "answer_rate",
                                      "feedback_unhappy", "feedback_happy"};
  auto d = FeedbackOfDay(cols, {std::nullopt, 30.0, 6.0, -1.0, 0.2, 2.0, 4.0});
  REQUIRE(d);
  CHECK(d->responses == 6);
  CHECK_FALSE(d->Significant());
  CHECK(*d->answer_rate == Approx(0.2));
  CHECK(d->buttons == std::vector<std::pair<std::string, int64_t>>{{"unhappy", 2}, {"happy", 4}});
  // Without per-button columns (no terminal): nothing.
  CHECK_FALSE(FeedbackOfDay({"date", "feedback_responses", "satisfaction_index"}, {std::nullopt, 0.0, -1.0}));
}
