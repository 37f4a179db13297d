#include "town_satisfaction.h"

#include <algorithm>

#include "gateway/satisfaction.h"

namespace host {

namespace {

int64_t& CountOf(std::vector<std::pair<std::string, int64_t>>& buttons, const std::string& name) {
  for (auto& [n, c] : buttons)
    if (n == name) return c;
  buttons.emplace_back(name, 0);
  return buttons.back().second;
}

}  // namespace

void SatisfactionSum::Add(const ReportedFeedback& day, const FeedbackScale& scale, std::optional<int64_t> day_visits) {
  responses += day.responses;
  if (scale.min_responses) {
    min_responses = std::max(min_responses, *scale.min_responses);
  } else {
    minimum_known = false;
  }
  if (day_visits) {
    visits += *day_visits;
    with_visits = true;
  }
  // The facility's own scale: its lowest and highest stated scores.
  std::optional<int> lo, hi;
  for (const auto& [name, score] : scale.scores) {
    lo = std::min(lo.value_or(score), score);
    hi = std::max(hi.value_or(score), score);
  }
  for (const auto& [name, n] : day.buttons) {
    CountOf(buttons, name) += n;
    if (n == 0) continue;
    auto it = scale.scores.find(name);
    if (it == scale.scores.end() || !lo || *hi == *lo) {
      scored = false;
      continue;
    }
    scaled_sum += double(n) * 100.0 * double(it->second - *lo) / double(*hi - *lo);
  }
}

void SatisfactionSum::Add(const SatisfactionSum& o) {
  responses += o.responses;
  for (const auto& [name, n] : o.buttons) CountOf(buttons, name) += n;
  scaled_sum += o.scaled_sum;
  scored = scored && o.scored;
  min_responses = std::max(min_responses, o.min_responses);
  minimum_known = minimum_known && o.minimum_known;
  visits += o.visits;
  with_visits = with_visits || o.with_visits;
}

std::optional<double> SatisfactionSum::Index() const {
  if (responses <= 0 || !scored) return std::nullopt;
  return scaled_sum / double(responses);
}

bool SatisfactionSum::Significant() const {
  return minimum_known && responses > 0 && responses >= std::max<int64_t>(1, min_responses);
}

std::optional<double> SatisfactionSum::AnswerRate() const {
  if (!with_visits || visits <= 0) return std::nullopt;
  return double(responses) / double(visits);
}

std::optional<ReportedFeedback> FeedbackOfDay(const std::vector<std::string>& columns,
                                              const std::vector<std::optional<double>>& cells) {
  ReportedFeedback f;
  bool any_button = false;
  for (size_t i = 0; i < columns.size() && i < cells.size(); ++i) {
    const std::string& c = columns[i];
    const std::optional<double>& v = cells[i];
    if (c == "feedback_responses") {
      f.responses = v ? int64_t(*v) : 0;
    } else if (c == "satisfaction_index") {
      if (v && *v >= 0) f.index = *v;
    } else if (c == "answer_rate") {
      if (v && *v >= 0) f.answer_rate = *v;
    } else if (c.rfind("feedback_", 0) == 0) {
      // Only facilities with terminals have per-button columns (docs/wire-format.md).
      f.buttons.emplace_back(c.substr(9), v ? int64_t(*v) : 0);
      any_button = true;
    }
  }
  if (!any_button) return std::nullopt;
  return f;
}

std::string SumIndexText(const SatisfactionSum& s) {
  const bool unscored = !s.Index() && s.responses > 0;  // a button without a stated score
  if (unscored) {
    std::string t = "— (n = ";
    return t.append(std::to_string(s.responses)).append(")");
  }
  return gateway::IndexText(uint64_t(std::max<int64_t>(0, s.responses)), s.Index(), s.Significant(),
                            uint32_t(s.min_responses));
}

}  // namespace host
