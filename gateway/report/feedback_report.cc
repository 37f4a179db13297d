#include "report/feedback_report.h"

#include <cstdio>
#include <sstream>

#include "report/report_text.h"

namespace gateway::report {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kNotSignificant = "不显著 not significant";

// The formatting every report writer shares (report_text.h).
std::string Fixed(double v, int decimals) { return FixedDecimals(v, decimals); }
std::string Esc(const std::string& s) { return HtmlEscape(s); }

double Rounded(double v, int decimals) {
  double p = 1;
  for (int i = 0; i < decimals; ++i) p *= 10;
  return double(int64_t(v * p + (v >= 0 ? 0.5 : -0.5))) / p;
}

}  // namespace

std::string FeedbackSharesSvg(const std::vector<FeedbackButton>& buttons, const Satisfaction& s) {
  const int W = 640, row = 18, L = 120, R = 90, T = 6;
  const int H = T * 2 + row * int(buttons.size());
  std::ostringstream o;
  o << "<svg class=\"chart feedback\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << W << " " << H
    << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\" aria-label=\"share per button, n = "
    << s.responses << "\">";
  for (size_t i = 0; i < buttons.size(); ++i) {
    const double share = s.shares[i];
    const int y = T + row * int(i);
    const double w = (W - L - R) * share;
    o << "<text x=\"" << L - 4 << "\" y=\"" << y + 12 << "\" font-size=\"10\" text-anchor=\"end\">"
      << Esc(buttons[i].name) << " (" << buttons[i].score << ")</text>";
    o << "<rect x=\"" << L << "\" y=\"" << y + 2 << "\" width=\"" << Fixed(w, 1) << "\" height=\"" << row - 4
      << "\" fill=\"#805ad5\"><title>" << Esc(buttons[i].name) << ": " << Fixed(share * 100, 1) << " %</title></rect>";
    o << "<text x=\"" << Fixed(L + w + 4, 1) << "\" y=\"" << y + 12 << "\" font-size=\"10\">"
      << Fixed(share * 100, 1) << " %</text>";
  }
  o << "</svg>";
  return o.str();
}

std::vector<std::string> FeedbackCsvHeadings() {
  return {"反馈次数 Feedback responses", "满意度指数(0-100) Satisfaction index (0-100)",
          "回答率(%) Answer rate (% of visits)", "各按钮次数 Responses per button"};
}

std::vector<std::string> FeedbackCsvCells(const FacilityConfig& facility, const Figures& f) {
  const auto sat = SatisfactionOf(facility, f);
  if (!sat) return {"", "", "", ""};
  const auto& buttons = *FeedbackButtonsOf(facility);
  std::string index = sat->responses == 0 ? "" : sat->significant ? Fixed(*sat->index, 1) : kNotSignificant;
  auto rate = AnswerRate(f, *sat);
  std::string per;
  for (size_t i = 0; i < buttons.size(); ++i) {
    auto it = f.sum.feedback.find(buttons[i].name);
    if (!per.empty()) per += "; ";
    per.append(buttons[i].name).append(" ").append(std::to_string(it == f.sum.feedback.end() ? 0 : it->second));
  }
  return {std::to_string(sat->responses), index, rate ? Fixed(*rate * 100, 1) : "", per};
}

Json FeedbackJson(const FacilityConfig& facility, const Figures& f) {
  const auto sat = SatisfactionOf(facility, f);
  if (!sat) return nullptr;
  const auto& buttons = *FeedbackButtonsOf(facility);
  Json jb = Json::array();
  for (size_t i = 0; i < buttons.size(); ++i) {
    auto it = f.sum.feedback.find(buttons[i].name);
    jb.push_back(Json{{"name", buttons[i].name},
                      {"score", buttons[i].score},
                      {"responses", it == f.sum.feedback.end() ? 0 : it->second},
                      {"share", sat->responses ? Json(Rounded(sat->shares[i], 4)) : Json(nullptr)}});
  }
  auto rate = AnswerRate(f, *sat);
  return Json{{"responses", sat->responses},
              {"index", sat->ShownIndex() ? Json(Rounded(*sat->ShownIndex(), 2)) : Json(nullptr)},
              {"significant", sat->significant},
              {"min_responses", facility.feedback_min_responses},
              {"answer_rate", rate ? Json(Rounded(*rate, 4)) : Json(nullptr)},
              {"buttons", std::move(jb)}};
}

std::string FeedbackKpiHtml(const FacilityConfig& facility, const Figures& total) {
  const auto sat = SatisfactionOf(facility, total);
  if (!sat) return "";
  return "<div class=\"kpi satisfaction\">满意度指数 <span class=\"en\">Satisfaction index</span><b>" +
         Esc(IndexText(*sat, facility.feedback_min_responses)) + "</b></div>";
}

std::string FeedbackSectionHtml(const FacilityFigures& ff) {
  const FacilityConfig& fc = *ff.config;
  const auto total = SatisfactionOf(fc, ff.total);
  if (!total) return "";
  const auto& buttons = *FeedbackButtonsOf(fc);
  std::ostringstream o;
  o << "<div class=\"feedback\" id=\"feedback-" << Esc(fc.id) << "\"><h3>居民满意度 <span class=\"en\">Residents' "
    << "satisfaction: " << Esc(IndexText(*total, fc.feedback_min_responses)) << "</span></h3>"
    << FeedbackSharesSvg(buttons, *total) << "<table><tr><th class=\"l\">日期<br><span class=\"en\">Date</span></th>"
    << "<th>反馈次数<br><span class=\"en\">Responses</span></th><th>到访<br><span class=\"en\">Visits</span></th>"
    << "<th>回答率<br><span class=\"en\">Answer rate</span></th><th>满意度指数<br><span class=\"en\">Index"
    << "</span></th></tr>";
  auto row = [&](const std::string& label, const Figures& d, bool is_total) {
    const auto sat = SatisfactionOf(fc, d);
    auto rate = AnswerRate(d, *sat);
    o << "<tr" << (is_total ? " class=\"total\"" : "") << "><td class=\"l\">" << Esc(label) << "</td><td>"
      << sat->responses << "</td><td>" << d.sum.entries << "</td><td>"
      << (rate ? Fixed(*rate * 100, 1) + " %" : "—") << "</td><td>" << Esc(IndexText(*sat, fc.feedback_min_responses))
      << "</td></tr>";
  };
  for (const auto& d : ff.days) row(FormatDayNumber(d.day_from), d, false);
  row("合计 Total", ff.total, true);
  o << "</table><p class=\"en\">指数 = 100 × (平均分 − 最低分) / (最高分 − 最低分)；少于 " << fc.feedback_min_responses
    << " 次反馈不显著。 Index = 100 × (mean score − lowest score) / (highest − lowest score); fewer than "
    << fc.feedback_min_responses << " responses: not significant.</p></div>";
  return o.str();
}

}  // namespace gateway::report
