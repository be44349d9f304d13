// Inline SVG charts (see sweep_svg.h). Layout: a fixed margin for the axes (left 64, right
// 16 + legend, top 28 for the title, bottom 44 for the x labels); data coordinates map
// linearly onto the plot area; ticks come from nice_ticks over the data range (padded when
// the range is a single value).
#include "eval/sweep_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ds2::eval::svg {

namespace {

// Distinguishable series colours (Tableau 10).
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string text(double x, double y, const std::string& s, const std::string& anchor = "middle",
                 int size = 11, const std::string& extra = "") {
  return fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="{}" text-anchor="{}"{}>{}</text>)",
                     x, y, size, anchor, extra, escape(s));
}

std::string open_svg(const ChartOptions& o) {
  return fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" )"
                     R"(viewBox="0 0 {0} {1}" font-family="sans-serif">)"
                     R"(<rect width="{0}" height="{1}" fill="#ffffff"/>)",
                     o.width, o.height) +
         text(o.width / 2.0, 18, o.title, "middle", 13, R"( font-weight="bold")");
}

}  // namespace

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  // From the multiple of step at or below lo to the first one at or above hi.
  std::vector<double> t;
  const double first = std::floor(lo / step + 1e-9);
  for (int i = 0; i < 1000; ++i) {
    // Rounded to 12 digits: 0.15, not 0.15000000000000002.
    const double v = (first + i) * step;
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : std::stod(fmt::format("{:.12g}", v)));
    if (v >= hi - step * 1e-9) break;
  }
  return t;
}

std::string format_number(double v) {
  if (!std::isfinite(v)) return "-";
  std::string s = fmt::format("{:.4g}", v);
  return s;
}

std::string scale_colour(double t) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0);
  // green (26,152,80) -> yellow (254,224,139) -> red (215,48,39)
  const double a[3] = {26, 152, 80}, m[3] = {254, 224, 139}, b[3] = {215, 48, 39};
  int rgb[3];
  for (int i = 0; i < 3; ++i) {
    const double v = t < 0.5 ? a[i] + (m[i] - a[i]) * t * 2 : m[i] + (b[i] - m[i]) * (t - 0.5) * 2;
    rgb[i] = static_cast<int>(std::lround(v));
  }
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  std::string out = open_svg(o);
  if (!std::isfinite(x0)) return out + text(o.width / 2.0, o.height / 2.0, "no data") + "</svg>";
  if (o.y_from_zero) y0 = std::min(y0, 0.0);
  std::vector<double> xt = nice_ticks(x0, x1, 6);
  const std::vector<double> yt = nice_ticks(y0, y1, 5);
  if (o.x_integer) {
    std::vector<double> whole;
    for (double v : xt)
      if (v == std::floor(v)) whole.push_back(v);
    xt = whole.size() >= 2 ? whole : std::vector<double>{std::floor(x0), std::ceil(x1)};
    if (xt.front() == xt.back()) xt.push_back(xt.front() + 1);
  }
  x0 = std::min(x0, xt.front());
  x1 = std::max(x1, xt.back());
  y0 = std::min(y0, yt.front());
  y1 = std::max(y1, yt.back());
  const double left = 64, right = o.width - 16.0, top = 28, bottom = o.height - 44.0;
  auto px = [&](double x) { return x1 > x0 ? left + (x - x0) / (x1 - x0) * (right - left) : left; };
  auto py = [&](double y) {
    return y1 > y0 ? bottom - (y - y0) / (y1 - y0) * (bottom - top) : bottom;
  };
  auto ylab = [&](double v) {
    return o.y_percent ? format_number(100 * v) + "%" : format_number(v);
  };
  for (double v : yt) {
    out +=
        fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e0e0e0"/>)",
                    left, py(v), right, py(v));
    out += text(left - 6, py(v) + 4, ylab(v), "end");
  }
  for (double v : xt) {
    out +=
        fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#333"/>)",
                    px(v), bottom, bottom + 4);
    out += text(px(v), bottom + 16, format_number(v));
  }
  out += fmt::format(R"(<path d="M{0:.1f},{1:.1f} V{2:.1f} H{3:.1f}" fill="none" stroke="#333"/>)",
                     left, top, bottom, right);
  out += text((left + right) / 2, o.height - 8.0, o.x_label);
  out += text(14, (top + bottom) / 2, o.y_label, "middle", 11,
              fmt::format(" transform=\"rotate(-90 14 {:.1f})\"", (top + bottom) / 2));
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const std::string colour = kPalette[i % (sizeof kPalette / sizeof *kPalette)];
    std::string d;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      d += fmt::format("{}{:.1f},{:.1f} ", d.empty() ? "M" : "L", px(x), py(y));
    }
    if (s.line && !d.empty())
      out += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="1.5"/>)", d, colour);
    if (!s.line || s.points.size() < 40)
      for (const auto& [x, y] : s.points)
        if (std::isfinite(x) && std::isfinite(y))
          out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"><title>{}: )"
                             R"(({}, {})</title></circle>)",
                             px(x), py(y), colour, escape(s.name), format_number(x), ylab(y));
    // legend, top right, one line per series
    const double ly = top + 6 + 14.0 * static_cast<double>(i);
    out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="10" height="10" fill="{}"/>)",
                       right - 150, ly - 8, colour);
    out += text(right - 136, ly + 1, s.name, "start", 10);
  }
  return out + "</svg>";
}

std::string heatmap(const std::vector<std::vector<double>>& values,
                    const std::vector<std::string>& cols, const std::vector<std::string>& rows,
                    const ChartOptions& o, bool percent) {
  std::string out = open_svg(o);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& r : values)
    for (double v : r)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (!std::isfinite(lo) || cols.empty() || rows.empty())
    return out + text(o.width / 2.0, o.height / 2.0, "no data") + "</svg>";
  auto label = [&](double v) {
    return std::isfinite(v) ? (percent ? fmt::format("{:.1f}%", 100 * v) : format_number(v))
                            : std::string("-");
  };
  const double left = 64, top = 28, legend_w = 70;
  const double cw = (o.width - left - 16 - legend_w) / static_cast<double>(cols.size());
  const double ch = (o.height - top - 44) / static_cast<double>(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const double y = top + ch * static_cast<double>(r);
    out += text(left - 6, y + ch / 2 + 4, rows[r], "end");
    for (size_t c = 0; c < cols.size(); ++c) {
      const double v = r < values.size() && c < values[r].size()
                           ? values[r][c]
                           : std::numeric_limits<double>::quiet_NaN();
      const double x = left + cw * static_cast<double>(c);
      const std::string fill =
          std::isfinite(v) ? scale_colour(hi > lo ? (v - lo) / (hi - lo) : 0.0) : "#cccccc";
      out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" )"
                         R"(fill="{}" stroke="#ffffff"/>)",
                         x, y, cw, ch, fill);
      out += text(x + cw / 2, y + ch / 2 + 4, label(v), "middle", 11);
    }
  }
  for (size_t c = 0; c < cols.size(); ++c)
    out += text(left + cw * (static_cast<double>(c) + 0.5), o.height - 28.0, cols[c]);
  out += text(left + cw * static_cast<double>(cols.size()) / 2, o.height - 8.0, o.x_label);
  const double mid = top + ch * static_cast<double>(rows.size()) / 2;
  out += text(14, mid, o.y_label, "middle", 11,
              fmt::format(" transform=\"rotate(-90 14 {:.1f})\"", mid));
  // Legend: a vertical gradient from the lowest (top) to the highest value (bottom).
  const double lx = o.width - 16 - legend_w + 16, lh = o.height - top - 44;
  out += R"(<defs><linearGradient id="ds2scale" x1="0" y1="0" x2="0" y2="1">)";
  for (int i = 0; i <= 4; ++i)
    out += fmt::format(R"(<stop offset="{}%" stop-color="{}"/>)", i * 25, scale_colour(i / 4.0));
  out += "</linearGradient></defs>";
  out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="14" height="{:.1f}" )"
                     "fill=\"url(#ds2scale)\" stroke=\"#333\"/>",
                     lx, top, lh);
  out += text(lx + 18, top + 10, label(lo), "start", 10);
  out += text(lx + 18, top + lh, label(hi), "start", 10);
  return out + "</svg>";
}

}  // namespace ds2::eval::svg
