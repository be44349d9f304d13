// Inline SVG charts for the sweep report (eval/report.h): line charts and a heatmap, as text
// to paste into an HTML page (no scripts, no external resources). Coordinates are SVG user
// units (pixels); all text is HTML-escaped.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ds2::eval::svg {

// Escapes & < > " ' for HTML text and attribute values.
std::string escape(const std::string& s);

// About `target` "nice" tick values (1, 2, 5 x 10^k steps) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// A short label for a number: up to 4 significant digits, no trailing zeros ("0.25", "1e+04").
std::string format_number(double v);

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite points are skipped
  bool line = true;                               // connect the points (else markers only)
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 560, height = 320;
  bool y_percent = false;  // y values are fractions shown as percent on the axis
  bool y_from_zero = false;
  bool x_integer = false;  // x values are counts (steps, epochs): whole-number ticks only
};

// A line chart of the series, each in its own colour, with axes, ticks and a legend. An empty
// chart (no finite points) says "no data".
std::string line_chart(const std::vector<Series>& series, const ChartOptions& o);

// A heatmap of values[row][col] (NaN = no value: a grey cell) with column labels `cols` along
// x and row labels `rows` along y, each cell coloured on a green (lowest) to red (highest)
// scale, its value printed in it (as percent when `percent`), and a colour legend with the
// extreme values.
std::string heatmap(const std::vector<std::vector<double>>& values,
                    const std::vector<std::string>& cols, const std::vector<std::string>& rows,
                    const ChartOptions& o, bool percent);

// The colour of t in [0, 1] on the heatmap scale, "#rrggbb".
std::string scale_colour(double t);

}  // namespace ds2::eval::svg
