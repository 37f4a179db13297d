// FeedbackReport: the residents' satisfaction part of the `report` command's CSV, JSON
// and HTML (writers.cc calls these), kept apart so that each writer stays one reading.
// How a not significant index shows (docs/report-format.md, "Residents' satisfaction"):
// CSV "不显著 not significant", JSON null with "significant": false, HTML
// "不显著 not significant (n = N < M)"; never a number.
//
// Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report/figures.h"

namespace gateway::report {

// CSV: the headings of the feedback columns, and a period's cells (empty without terminals).
std::vector<std::string> FeedbackCsvHeadings();
std::vector<std::string> FeedbackCsvCells(const FacilityConfig& facility, const Figures& f);

// JSON: the "satisfaction" object of a period; null without terminals.
nlohmann::ordered_json FeedbackJson(const FacilityConfig& facility, const Figures& f);

// HTML: a KPI box (empty without terminals), and the facility's section: a chart of the
// period's share per button, and the daily responses, index and answer rate.
std::string FeedbackKpiHtml(const FacilityConfig& facility, const Figures& total);
std::string FeedbackSectionHtml(const FacilityFigures& ff);

// The small chart of that section: horizontal bars, each button's share of the responses
// (s.shares in the order of buttons). The town host draws its facilities' with it.
std::string FeedbackSharesSvg(const std::vector<FeedbackButton>& buttons, const Satisfaction& s);

}  // namespace gateway::report
