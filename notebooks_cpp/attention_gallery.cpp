// %% [markdown]
// # Attention gallery: every scheme of the course, side by side
//
// Every efficient-attention scheme in this course is a different answer to one question: which n × n matrix A
// should multiply the values, out = A v, if we may not afford softmax(Q Kᵀ/√d) itself? This notebook asks every
// scheme in the registry (`attention::all_schemes()`, so a scheme added later shows up by itself) for the
// matrix it actually applies — its `effective_attention` — on the same random q, k, v, and draws them all in one
// figure: the top row with default settings, the row below with the scheme's key setting changed.
//
// It is a companion to the lessons: no new idea, one picture of all of them. Each scheme's lesson explains its
// pattern; here you compare them. Legend: B = batch, H = heads, n = sequence length, d = head size.
// %%
#include <algorithm>
#include <map>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "attention/figure.h"
#include "attention/scheme.h"
#include "lessons/lesson.h"

using core::Tensor;
namespace img = plot;
using lesson::head;  // the (n, n) matrix of one head (lessons/lesson.h)

// A grey box with a few words, where a panel could not be drawn.
img::Image note_panel(int width, int height, const std::string& title, const std::vector<std::string>& lines) {
  img::Image box(width, height, img::Color{245, 245, 245});
  box.draw_rect(0, 0, width, height, img::kGray);
  box.draw_text(10, 10, title, img::kBlack, 1);
  int y = 30;
  for (const std::string& line : lines) {
    box.draw_text(10, y, line, img::Color{90, 90, 90}, 1);
    y += 14;
  }
  return box;
}

// Words of at most `width` characters per line (figure text is small and ASCII).
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string line, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (!line.empty() && line.size() + 1 + word.size() > width) lines.push_back(line), line.clear();
    line += (line.empty() ? "" : " ") + word;
    word.clear();
  };
  for (char c : text) {
    if (c == ' ') {
      flush_word();
    } else {
      word += c;
    }
  }
  flush_word();
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// The values to try for a setting, best first: an integer doubles (0, often "auto", becomes 4; halving is the
// fallback when the double is refused), a number doubles, a boolean flips. Words (modes) get none: we cannot
// guess the other modes, so the next setting is tried.
std::vector<std::string> other_values(const std::string& value) {
  if (value == "true") return {"false"};
  if (value == "false") return {"true"};
  char* end = nullptr;
  const long long i = std::strtoll(value.c_str(), &end, 10);
  if (!value.empty() && *end == '\0') {
    if (i == 0) return {"4"};
    std::vector<std::string> out = {std::to_string(2 * i)};
    if (i / 2 >= 1) out.push_back(std::to_string(i / 2));
    return out;
  }
  const double x = std::strtod(value.c_str(), &end);
  if (!value.empty() && *end == '\0' && x != 0.0) return {lesson::sig(2 * x, 3), lesson::sig(x / 2, 3)};
  return {};
}

// What one scheme did with one setting.
struct Drawn {
  bool ok = false;
  std::string setting;  // "defaults" or "window=16"
  std::string problem;  // why it was not drawn
  Tensor A;             // (1, H, n, n)
  attention::SchemeFigure figure;  // A and the pattern drawn as every figure of a scheme is (attention/figure.h)
  float worst_av = 0.0f;  // max |kernel(q,k,v) - A v|, -1 if the kernel was not compared
};

Drawn draw_one(const attention::Scheme& s, const std::vector<std::string>& set, uint64_t seed, const Tensor& q,
               const Tensor& k, const Tensor& v) {
  Drawn d;
  d.setting = set.empty() ? "defaults" : set[0];
  d.worst_av = -1.0f;
  try {
    core::NoGradGuard no_grad;
    const attention::Config cfg = s.configure(set, false, seed);
    attention::FigureOptions small;  // head 0 only, small panels: the gallery has two per scheme
    small.max_heads = 1;
    small.extra = false;
    small.subtitle = d.setting + ", lecture " + std::to_string(s.lecture());
    small.xlabel = "key j";
    small.ylabel = "query i";
    small.target_px = 192;
    small.text_scale = 1;
    d.figure = attention::draw_scheme(s, cfg, q, k, v, small);  // throws if A is not (1, H, n, n)
    d.A = d.figure.A;                                           // (1, H, n, n)
    {
      const Tensor out = s.kernel(q, k, v, cfg);  // (1, H, n, d)
      d.worst_av = lesson::max_abs_diff(out, core::matmul(d.A, v)) / std::max(1.0f, [&] {
                     float m = 0.0f;
                     for (int64_t i = 0; i < out.numel(); ++i) m = std::max(m, std::fabs(out.data()[i]));
                     return m;
                   }());
    }
    d.ok = true;
  } catch (const std::exception& e) {
    d.problem = e.what();
  }
  return d;
}

// The second row of the gallery for scheme s: drawn with its key setting, the one its file declares
// (SchemeInfo::gallery_settings), or else with its first numeric setting changed (other_values: doubled, or halved
// where the double is refused). When nothing could be drawn, `problem` says why.
Drawn draw_varied(const attention::Scheme& s, uint64_t seed, const Tensor& q, const Tensor& k, const Tensor& v) {
  const std::vector<std::string>& key = s.info().gallery_settings;
  if (!key.empty()) return draw_one(s, key, seed, q, k, v);
  Drawn varied;
  varied.problem = "no numeric setting to vary";
  for (const attention::HyperParam& p : s.hyperparams()) {
    const std::vector<std::string> values = other_values(p.default_value);
    if (values.empty()) continue;
    for (const std::string& value : values) {
      varied = draw_one(s, {p.key + "=" + value}, seed, q, k, v);
      if (varied.ok) break;
    }
    break;  // only the first numeric setting is varied
  }
  return varied;
}

// Share of entries with |A| > 1e-6, and the smallest and largest row sum, of head 0.
struct MatrixStats {
  double density = 0.0, min_row = 0.0, max_row = 0.0;
  bool finite = true;
};
MatrixStats stats_of(const Tensor& A) {
  const Tensor M = head(A, 0);
  const int64_t n = M.size(0), m = M.size(1);
  MatrixStats st;
  st.min_row = 1e30;
  st.max_row = -1e30;
  int64_t nonzero = 0;
  for (int64_t i = 0; i < n; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < m; ++j) {
      const float a = M.data()[i * m + j];
      if (!std::isfinite(a)) st.finite = false;
      nonzero += std::fabs(a) > 1e-6f;
      row += a;
    }
    st.min_row = std::min(st.min_row, row);
    st.max_row = std::max(st.max_row, row);
  }
  st.density = double(nonzero) / double(n * m);
  return st;
}

// %%
int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "attention_gallery");

  // %% [markdown]
  // ## Step 1 · the registry
  // Every scheme registers itself by name (`attention/scheme.h`); `attention::all_schemes()` lists them in
  // course order. Each one documents its settings (`key=value`, with defaults). The second row of the gallery
  // changes each scheme's key setting — the one its lecture is about, declared in the scheme's own file
  // (`SchemeInfo::gallery_settings`); a scheme that declares none gets its first numeric setting doubled.
  // %%
  L.step("Step 1 · the registry");
  const std::vector<const attention::Scheme*> schemes = attention::all_schemes();
  L.say(schemes.size(), " registered schemes:");
  lesson::Table registry({"scheme", "lecture", "causal", "pattern", "settings (defaults)"});
  for (const attention::Scheme* s : schemes) {
    std::string settings;
    for (const attention::HyperParam& p : s->hyperparams())
      settings += (settings.empty() ? "" : " ") + p.key + "=" + p.default_value;
    registry.add({s->name(), std::to_string(s->lecture()), s->supports_causal() ? "yes" : "no",
                  s->has_pattern() ? "yes" : "no", settings.empty() ? "-" : settings});
  }
  registry.print();

  // %% [markdown]
  // ## Step 2 · one input for every scheme
  // The same random q, k, v ~ N(0, 1) of shape (B, H, n, d) = (1, 1, 128, 16) go into every scheme, with the
  // same seed for schemes with random parts (features, hashes, projections). n = 128 is a multiple of every
  // block size in the course, long enough for block schemes to show their blocks (BigBird's 16-token blocks
  // would cover all of a 64-token sequence), and small enough that an n × n picture shows single cells.
  // %%
  L.step("Step 2 · one input for every scheme");
  const int64_t n = 128, d = 16, H = 1;
  core::Rng rng = L.rng(0);
  const Tensor q = core::randn({1, H, n, d}, rng), k = core::randn({1, H, n, d}, rng), v = core::randn({1, H, n, d}, rng);
  L.say("q, k, v: ", q.shape(), "   (B, H, n, d)");

  // %% [markdown]
  // ## Step 3 · the matrix each scheme applies, with defaults and with its key setting changed
  // For every scheme: A = effective_attention(q, k, v), the (n, n) matrix with kernel(q, k, v) = A v. We check
  // that identity (where the scheme's kernel runs on given q, k, v), and measure how much of A is nonzero and
  // whether its rows sum to 1 (softmax rows do; some approximations only roughly). Then the key setting is
  // changed and A is drawn again.
  // %%
  L.step("Step 3 · every scheme's effective attention");
  struct Column {
    const attention::Scheme* scheme;
    Drawn base, varied;
  };
  std::vector<Column> columns;
  lesson::Table table({"scheme", "setting", "nonzero (%)", "row sums", "|kernel - A v|", "varied", "nonzero (%)"});
  int drawn = 0, compared = 0, identity_ok = 0, well_formed = 0;
  std::string identity_failures;  // "sinkhorn (defaults)" ...
  for (const attention::Scheme* s : schemes) {
    Column c{s, draw_one(*s, {}, L.seed(), q, k, v), draw_varied(*s, L.seed(), q, k, v)};  // defaults, key setting
    std::string row_sums = "-", density = "-", identity = "-", varied_density = "-";
    for (Drawn* dr : {&c.base, &c.varied}) {
      if (!dr->ok) continue;
      ++drawn;
      const MatrixStats st = stats_of(dr->A);
      well_formed += st.finite;
      if (dr->worst_av >= 0.0f) {
        ++compared;
        identity_ok += dr->worst_av <= 1e-3f;
        if (dr->worst_av > 1e-3f) identity_failures += " " + s->name() + " (" + dr->setting + ")";
      }
      if (dr == &c.base) {
        density = lesson::fixed(100.0 * st.density, 1);
        row_sums = lesson::fixed(st.min_row, 3) + ".." + lesson::fixed(st.max_row, 3);
        identity = dr->worst_av < 0.0f ? "not run" : lesson::sig(dr->worst_av, 2);
      } else {
        varied_density = lesson::fixed(100.0 * st.density, 1);
      }
    }
    table.add({s->name(), c.base.ok ? "defaults" : "failed", density, row_sums, identity,
               c.varied.ok ? c.varied.setting : "-", varied_density});
    if (!c.base.ok) L.say("note: ", s->name(), " could not be drawn: ", c.base.problem);
    columns.push_back(c);
  }
  table.print();

  // %% [markdown]
  // **What the checks say.** A scheme whose second row could not be drawn (no setting to vary, or a value it
  // refuses at this n) is named with its reason rather than hidden. Then three checks on the matrices drawn: at
  // least two schemes drew one, every entry is finite, and kernel(q, k, v) equals A v within 1e-3 relative to the
  // largest |output| (absolute when that is below 1) — the identity that makes A the matrix the scheme really
  // applies, not a picture of what it should apply.
  // %%
  for (const Column& c : columns)
    if (c.base.ok && !c.varied.ok) L.say("note: ", c.scheme->name(), ", second row: ", c.varied.problem);
  L.check("at least two schemes drew their effective attention at n = 128", [&] {
    int ok = 0;
    for (const Column& c : columns) ok += c.base.ok;
    return ok >= 2;
  }(), std::to_string(drawn) + " matrices drawn");
  L.check("every drawn matrix is finite", well_formed == drawn, std::to_string(well_formed) + " of " + std::to_string(drawn));
  L.check("kernel(q, k, v) == A v for every scheme whose kernel runs (relative error <= 1e-3)",
          compared > 0 && identity_ok == compared,
          std::to_string(identity_ok) + " of " + std::to_string(compared) +
              (identity_failures.empty() ? "" : "; not:" + identity_failures));

  // %%
  {
    std::vector<img::Image> blocks;
    for (const Column& c : columns) {
      const std::string title = c.scheme->name() + " (lecture " + std::to_string(c.scheme->lecture()) + ")";
      const img::Image top = c.base.ok ? c.base.figure.attention
                                       : note_panel(280, 280, title, wrap("not drawn: " + c.base.problem, 40));
      const img::Image bottom = c.varied.ok ? c.varied.figure.attention
                                            : note_panel(top.width, top.height, c.scheme->name(),
                                                         wrap("second row: " + c.varied.problem, 40));
      blocks.push_back(img::vstack({top, bottom}, 8));
    }
    const int per_row = static_cast<int>(std::min<size_t>(blocks.size(), 6));
    L.show(img::with_title(img::grid(blocks, per_row, 24),
                           "effective attention A (out = A v) of every scheme, n = 128, same q, k, v"),
           "gallery.png",
           "each scheme in a column: on top its effective attention A with default settings, below it with its "
           "first numeric setting changed (named under the panel) — look for the exact softmax of full, the "
           "band of longformer widening with its window, the blocks of sparse, the buckets of reformer, and the "
           "smooth, everywhere-nonzero matrices of the kernel approximations (linear, performer)");
  }

  // %% [markdown]
  // ## Step 4 · the sparsity patterns
  // Schemes that skip pairs (query i never looks at key j) also say which pairs, as a 0/1 `pattern`. The
  // effective attention above is zero outside it; here are the patterns alone, with default settings.
  // %%
  L.step("Step 4 · the sparsity patterns");
  std::vector<img::Image> patterns;
  int pattern_ok = 0, pattern_checked = 0;
  for (const Column& c : columns) {
    if (!c.scheme->has_pattern() || !c.base.ok) continue;
    try {
      const Tensor M = head(c.base.figure.P, 0), A = head(c.base.A, 0);  // P: (1, H, n, n), with defaults
      int64_t allowed = 0;
      bool inside = true;  // A is zero wherever the pattern says 0
      for (int64_t i = 0; i < M.numel(); ++i) {
        allowed += M.data()[i] != 0.0f;
        if (M.data()[i] == 0.0f && A.data()[i] != 0.0f) inside = false;
      }
      ++pattern_checked;
      pattern_ok += inside;
      L.say(c.scheme->name(), ": ", allowed, " of ", M.numel(), " pairs allowed (",
            lesson::fixed(100.0 * allowed / double(M.numel()), 1), " %)", inside ? "" : "  — A is nonzero outside it!");
      patterns.push_back(c.base.figure.pattern);
    } catch (const std::exception& e) {
      L.say("note: ", c.scheme->name(), ": pattern failed: ", e.what());
    }
  }
  if (!patterns.empty()) {
    L.check("every scheme's effective attention is zero outside its pattern", pattern_ok == pattern_checked,
            std::to_string(pattern_ok) + " of " + std::to_string(pattern_checked));
    L.show(img::with_title(img::hstack(patterns, 24), "sparsity patterns at n = 128 (defaults)"), "patterns.png",
           "the 0/1 patterns of the schemes that have one — yellow pairs may attend, purple pairs are never "
           "computed; compare how much of the square each one keeps");
  }

  // %% [markdown]
  // ## Exercises
  // 1. Which schemes' rows do not sum exactly to 1, and why is that not a bug? (Look at the table.)
  // 2. Change n to 256 in Step 2. Which pictures change character, and which only get finer? Then try 64: why
  //    does BigBird's picture turn into full attention?
  // 3. Run `build/attnzoo show longformer --n 64 --set window=4 --set global=0` and compare with the gallery.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
