// attention/figure.cpp — a scheme's effective attention, pattern and extra figure as one picture
// (attention/figure.h).
#include "attention/figure.h"

#include <algorithm>
#include <cmath>

#include "core/core.h"

namespace attention {

using core::Shape;
using core::Tensor;

namespace {

// One (n, m) matrix of a (1, H, n, m) tensor, for a heatmap.
Tensor head_matrix(const Tensor& t, int64_t h) { return core::reshape(core::slice(t, 1, h, h + 1), {t.size(2), t.size(3)}); }

plot::HeatmapOptions panel_options(const FigureOptions& o, const std::string& title, const std::string& subtitle,
                                   const std::string& value_label) {
  plot::HeatmapOptions h;
  h.title = title;
  h.subtitle = subtitle;
  h.xlabel = o.xlabel;
  h.ylabel = o.ylabel;
  h.value_label = value_label;
  h.target_px = o.target_px;
  h.text_scale = o.text_scale;
  return h;
}

}  // namespace

SchemeFigure draw_scheme(const Scheme& scheme, const Config& cfg, const Tensor& q, const Tensor& k, const Tensor& v,
                         const FigureOptions& options) {
  const std::string& name = scheme.name();
  AZ_CHECK(q.dim() == 4 && q.size(0) == 1, name, ": draw_scheme needs q of shape (1, H, n, d), got ", q.shape());
  const int64_t H = q.size(1), n = q.size(2), m = k.size(2);
  SchemeFigure f;
  core::NoGradGuard no_grad;
  f.A = scheme.effective_attention(q, k, v, cfg);  // (1, H, n, m)
  AZ_CHECK(f.A.shape() == Shape({1, H, n, m}), name, ": effective_attention returned shape ", f.A.shape(),
           ", expected ", Shape({1, H, n, m}));

  // One colour scale for all heads, starting at 0; signed weights get blue-white-red.
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < f.A.numel(); ++i) {
    const float a = f.A.data()[i];
    if (std::isfinite(a)) lo = std::min(lo, a), hi = std::max(hi, a);
    else f.finite = false;
  }
  const std::string shape_note = "n=" + std::to_string(n) + (cfg.causal ? " causal" : "");
  const int64_t heads_drawn = std::min(H, options.max_heads);
  for (int64_t h = 0; h < heads_drawn; ++h) {
    plot::HeatmapOptions o = panel_options(options, name + " - head " + std::to_string(h) + " - " + shape_note,
                                           options.subtitle, "weight A[i,j]");
    o.diverging = lo < 0.0f;
    if (hi > lo) o.vmin = lo, o.vmax = hi;
    f.panels.push_back(plot::heatmap(head_matrix(f.A, h), o));
  }
  f.attention = f.panels.front();

  if (options.pattern && scheme.has_pattern()) {
    f.P = scheme.data_pattern(q, k, cfg);  // (1, H, n, m), 1 = may attend
    AZ_CHECK(f.P.shape() == f.A.shape(), name, ": pattern returned shape ", f.P.shape(), ", expected ", f.A.shape());
    // one panel when every head has the same pattern (the common case), else one per head drawn
    const int64_t per_head = n * m;
    bool all_heads_equal = true;
    for (int64_t h = 1; h < H && all_heads_equal; ++h)
      all_heads_equal = std::equal(f.P.data(), f.P.data() + per_head, f.P.data() + h * per_head);
    for (int64_t h = 0; h < (all_heads_equal ? 1 : heads_drawn); ++h) {
      plot::HeatmapOptions o = panel_options(
          options, name + " - pattern - " + (all_heads_equal ? std::string("all heads") : "head " + std::to_string(h)),
          shape_note + (options.subtitle.empty() ? "" : " " + options.subtitle), "1 = may attend");
      o.vmin = 0.0f;
      o.vmax = 1.0f;
      f.panels.push_back(plot::heatmap(head_matrix(f.P, h), o));
      if (h == 0) f.pattern = f.panels.back();
    }
  }
  if (options.extra) {
    const Scheme::Figure extra = scheme.extra_figure(n, cfg);
    if (extra.matrix.defined()) {
      plot::HeatmapOptions o = panel_options(options, extra.title, shape_note, extra.value_label);
      o.xlabel = extra.xlabel;
      o.ylabel = extra.ylabel;
      f.panels.push_back(plot::heatmap(extra.matrix, o));
    }
  }
  const int cols = static_cast<int>(std::min<size_t>(f.panels.size(), std::max(1, options.columns)));
  f.image = plot::with_title(plot::grid(f.panels, cols),
                             options.title.empty()
                                 ? name + ": effective attention A (out = A @ v) for random q, k, v ~ N(0,1)"
                                 : options.title);
  return f;
}

}  // namespace attention
