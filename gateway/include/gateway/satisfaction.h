// Satisfaction: the residents' satisfaction figures of a day (or any span) from the
// presses counted per button of a facility's feedback terminals. One definition, used by
// the facility model (the wire, the status page) and by the reports, so that they agree
// (docs/report-format.md, "Residents' satisfaction").
//
//   responses  N = sum of the presses counted per button
//   share_i    n_i / N
//   mean       sum(n_i * score_i) / N
//   index      100 * (mean - min score) / (max score - min score), 0..100
//   significant  N >= the facility's feedback_min_responses
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config.h"

namespace gateway {

struct Satisfaction {
  uint64_t responses = 0;
  std::vector<double> shares;   // per button, in config order; 0 when no responses
  std::optional<double> index;  // absent when there are no responses
  bool significant = false;     // responses >= the minimum
  // The index to show: absent when not significant.
  std::optional<double> ShownIndex() const { return significant ? index : std::nullopt; }
};

// How the index is shown to people, always with its response count: "72.5 (n = 40)",
// "不显著 not significant (n = 5 < 20)", or "— (n = 0)".
std::string IndexText(uint64_t responses, std::optional<double> index, bool significant, uint32_t min_responses);
inline std::string IndexText(const Satisfaction& s, uint32_t min_responses) {
  return IndexText(s.responses, s.index, s.significant, min_responses);
}

// counts[i] = presses of buttons[i] (missing entries count 0).
Satisfaction ComputeSatisfaction(const std::vector<FeedbackButton>& buttons, const std::vector<uint64_t>& counts,
                                 uint64_t min_responses);

}  // namespace gateway
