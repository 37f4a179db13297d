#include "gateway/satisfaction.h"

#include <algorithm>
#include <cstdio>

namespace gateway {

std::string IndexText(uint64_t responses, std::optional<double> index, bool significant, uint32_t min_responses) {
  std::string n = " (n = ";
  n.append(std::to_string(responses));
  if (responses == 0 || !index) return "—" + n + ")";
  if (!significant) {
    std::string t = "不显著 not significant";
    t.append(n).append(" < ").append(std::to_string(min_responses)).append(")");
    return t;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", *index);
  std::string t = buf;
  t.append(n).append(")");
  return t;
}

Satisfaction ComputeSatisfaction(const std::vector<FeedbackButton>& buttons, const std::vector<uint64_t>& counts,
                                 uint64_t min_responses) {
  Satisfaction s;
  s.shares.assign(buttons.size(), 0.0);
  if (buttons.empty()) return s;
  double score_sum = 0;
  int lo = buttons[0].score, hi = buttons[0].score;
  for (size_t i = 0; i < buttons.size(); ++i) {
    const uint64_t n = i < counts.size() ? counts[i] : 0;
    s.responses += n;
    score_sum += double(n) * double(buttons[i].score);
    lo = std::min(lo, buttons[i].score);
    hi = std::max(hi, buttons[i].score);
  }
  s.significant = s.responses >= std::max<uint64_t>(1, min_responses);
  if (s.responses == 0) return s;
  for (size_t i = 0; i < buttons.size(); ++i) {
    s.shares[i] = double(i < counts.size() ? counts[i] : 0) / double(s.responses);
  }
  const double mean = score_sum / double(s.responses);
  // Distinct scores (the validation) make hi > lo for two buttons or more.
  s.index = hi > lo ? 100.0 * (mean - lo) / double(hi - lo) : 100.0;
  return s;
}

}  // namespace gateway
