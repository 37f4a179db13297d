// TownSatisfaction: the residents' satisfaction part of the town report. A day's figures
// are those its gateway reported in reports/daily (feedback_responses,
// satisfaction_index, answer_rate, feedback_{button}); sums over days and facilities are
// made from the per-button counts and the scores the facility's births state
// (feedback/{button}/score, feedback/min_responses), never by averaging indexes
// (docs/report-format.md "Residents' satisfaction"; docs/town-host.md).
//
// Pure data and functions; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace host {

// One day's satisfaction as the gateway reported it.
struct ReportedFeedback {
  int64_t responses = 0;
  std::optional<double> index;        // the reported index; nullopt: -1 (not significant, or none)
  std::optional<double> answer_rate;  // nullopt: -1 (no visits)
  std::vector<std::pair<std::string, int64_t>> buttons;  // feedback_{button}, in the gateway's order
  bool Significant() const { return index.has_value(); }
};

// What a facility's births state of its terminals; a gateway older than these metrics
// states nothing, and sums of its days then have counts but no index.
struct FeedbackScale {
  std::map<std::string, int> scores;    // button -> score
  std::optional<int64_t> min_responses;
};

// Responses summed over days (and facilities): the per-button counts, and each response's
// score placed on its facility's 0-100 scale, so that facilities with other buttons add up
// by the same definition (for one scale it is exactly the definition's index).
struct SatisfactionSum {
  int64_t responses = 0;
  std::vector<std::pair<std::string, int64_t>> buttons;  // summed by name, first seen first
  double scaled_sum = 0;         // sum of n_i * 100 * (s_i - s_min) / (s_max - s_min)
  bool scored = true;            // every counted button had a stated score
  int64_t min_responses = 0;     // the largest minimum of the facilities summed
  bool minimum_known = true;     // every facility stated its minimum
  int64_t visits = 0;            // of the days summed, where the facility counts visits
  bool with_visits = false;

  void Add(const ReportedFeedback& day, const FeedbackScale& scale, std::optional<int64_t> visits);
  void Add(const SatisfactionSum& other);
  std::optional<double> Index() const;       // nullopt: no responses, or a score unknown
  bool Significant() const;                  // responses >= the minimum (and the minimum known)
  std::optional<double> ShownIndex() const { return Significant() ? Index() : std::nullopt; }
  std::optional<double> AnswerRate() const;  // responses / visits
};

// The satisfaction of one stored reports/daily "day" row: nullopt without feedback
// columns (no feedback terminal). cells[i] is the row's number in columns[i] (nullopt:
// not a number).
std::optional<ReportedFeedback> FeedbackOfDay(const std::vector<std::string>& columns,
                                              const std::vector<std::optional<double>>& cells);

// "72.5 (n = 40)", "不显著 not significant (n = 5 < 20)", "— (n = 0)": as the gateway shows it.
std::string SumIndexText(const SatisfactionSum& s);

}  // namespace host
