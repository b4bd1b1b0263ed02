// %% [markdown]
// # 16 · FlashAttention: exact attention in O(n) memory
//
// Beyond the course, which predates it. Every lesson so far took lesson 01's verdict for granted: attention
// needs an n × n matrix, so twice the sequence costs four times the memory, and the way out is to approximate
// (low rank, kernels, hashing) or to look at fewer pairs (windows, strides, clusters). Half of that verdict was
// never true. The *time* of exact attention is O(n²·d), but its *memory* need not be O(n²): nothing forces us to
// hold all the scores of a row at once.
//
// Three papers, each building on the one before:
// - Milakov & Gimelshein 2018, "Online normalizer calculation for softmax": the softmax normaliser can be
//   computed in one streaming pass — keep a running maximum m and a running sum l, and rescale l by
//   e^(m_old − m_new) whenever the maximum grows.
// - Rabe & Staats 2021, "Self-attention Does Not Need O(n²) Memory": apply that to attention. Walk over the keys
//   in chunks, carrying m, l and an unnormalised output o per query; differentiate by recomputing the chunks.
//   Same result, O(√n) memory in their practical version (O(log n) in theory), time still O(n²).
// - Dao et al. 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness": tile both
//   queries and keys so that every tile fits in fast on-chip memory, fuse the whole attention into one kernel,
//   and in the backward recompute each tile's probabilities from a few numbers per row saved by the forward
//   (FlashAttention keeps two, the row maximum m and the sum ℓ; FlashAttention-2, Dao 2023, keeps one, the
//   log-sum-exp L = m + log ℓ, as this lesson does) instead of storing them. Exact attention in O(n·d) memory
//   — and, on GPUs, faster than the materialised version, because it moves fewer bytes.
//
// This lesson builds the online softmax by hand on one row, builds a tiled forward and backward from core ops,
// checks them and the library kernel `attention::flash_attention` against the dense reference, draws the tile
// schedule, and measures the memory of exact attention against the approximate schemes of the course.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size; a tile is br query rows × bc key rows.
// q, k, v are (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "attention/dense.h"
#include "attention/flash.h"
#include "attention/scheme.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::Tensor;
namespace img = plot;
using lesson::head;  // the (n, d) matrix of one head (lessons/lesson.h)
using lesson::leaf;  // a copy of a tensor that records gradients (lessons/lesson.h)

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// ---- the online softmax for one row -------------------------------------------------------------------------

// One query row while its keys stream past in chunks.
struct RowState {
  float m = kNegInf;     // running max of the scores seen so far
  float l = 0.0f;        // running sum of e^(s − m) over them
  std::vector<float> o;  // running Σ e^(s − m) v, not yet divided by l   (d)
  explicit RowState(int64_t d = 0) : o(static_cast<size_t>(d), 0.0f) {}
};

// Fold one chunk of `count` scores s and their value rows v (count × d, row-major) into the state.
void online_update(RowState& st, const float* s, const float* v, int64_t count, int64_t d) {
  float chunk_max = kNegInf;
  for (int64_t c = 0; c < count; ++c) chunk_max = std::max(chunk_max, s[c]);
  const float m_new = std::max(st.m, chunk_max);
  if (m_new == kNegInf) return;  // every score so far is masked: nothing to add yet
  const float alpha = std::exp(st.m - m_new);  // e^(m_old − m_new): old sums re-expressed under the new max
  st.l *= alpha;
  for (float& x : st.o) x *= alpha;
  for (int64_t c = 0; c < count; ++c) {
    const float p = std::exp(s[c] - m_new);  // <= 1: cannot overflow
    st.l += p;
    for (int64_t t = 0; t < d; ++t) st.o[static_cast<size_t>(t)] += p * v[c * d + t];
  }
  st.m = m_new;
}

// softmax(s) · V for one row, in double, the textbook way (three passes: max, sum, weighted sum).
std::vector<double> softmax_times_v(const std::vector<float>& s, const std::vector<float>& v, int64_t d) {
  double top = -std::numeric_limits<double>::infinity(), total = 0.0;
  for (float x : s) top = std::max(top, double(x));
  std::vector<double> out(static_cast<size_t>(d), 0.0);
  if (top == -std::numeric_limits<double>::infinity()) return out;
  for (float x : s) total += std::exp(double(x) - top);
  for (size_t j = 0; j < s.size(); ++j) {
    const double p = std::exp(double(s[j]) - top) / total;
    for (int64_t t = 0; t < d; ++t) out[static_cast<size_t>(t)] += p * v[j * size_t(d) + size_t(t)];
  }
  return out;
}

// The largest |a − b| / max(1, |b|) over the entries: relative for large values, absolute near 0.
double rel_error(const std::vector<float>& a, const std::vector<double>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < b.size(); ++i) {
    const double e = std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(b[i]));
    worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(worst, e);
  }
  return worst;
}

// log Σ_j e^(s_j) over count scores, in double, the safe way: the maximum first, then the sum of e^(s − max).
double log_sum_exp(const float* s, int64_t count) {
  double top = -1e30, total = 0.0;
  for (int64_t j = 0; j < count; ++j) top = std::max(top, double(s[j]));
  for (int64_t j = 0; j < count; ++j) total += std::exp(double(s[j]) - top);
  return top + std::log(total);
}

// count numbers with `digits` significant digits, separated by commas: a row of scores or of an output.
std::string numbers_str(const float* x, int64_t count, int digits = 3) {
  std::string s;
  for (int64_t i = 0; i < count; ++i) s += (i ? ", " : "") + lesson::sig(x[i], digits);
  return s;
}

// Of the rows of scores S (rows, n), streamed with their values v (n, d) through online_update in chunks of c,
// the row whose running sum l falls most often (a fall: the max grew, and the rescaling outweighed the new
// terms), and how often. The first such row wins a tie.
struct RowDrops {
  int row = 0, drops = -1;
};
RowDrops row_with_most_drops(const Tensor& S, const Tensor& v, int64_t c) {
  const int64_t rows = S.size(0), n = S.size(1), d = v.size(1);
  RowDrops best;
  for (int row = 0; row < rows; ++row) {
    RowState st(d);
    int drops = 0;
    for (int64_t c0 = 0; c0 < n; c0 += c) {
      const float l_old = st.l;
      online_update(st, S.data() + row * n + c0, v.data() + c0 * d, c, d);
      drops += c0 > 0 && st.l < l_old;
    }
    if (drops > best.drops) best.drops = drops, best.row = row;
  }
  return best;
}

// ---- tiled attention from core ops, one head --------------------------------------------------------------

// 1 where query i0 + r may not see key j0 + c (the future): (br, bc).
Tensor future_mask(int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  Tensor blocked = Tensor::zeros({i1 - i0, j1 - j0});
  for (int64_t r = 0; r < i1 - i0; ++r)
    for (int64_t c = 0; c < j1 - j0; ++c) blocked.at({r, c}) = j0 + c > i0 + r ? 1.0f : 0.0f;
  return blocked;
}

struct TiledForward {
  Tensor out;  // (n, d)
  Tensor lse;  // (n, 1): L = m + log l, the log of each row's softmax normaliser
};

// softmax(q kᵀ/√d) v for one head, q, k, v (n, d), walking query tiles and, inside each, key tiles. The largest
// temporary is one tile of scores (tile × tile): the n × n matrix is never formed.
TiledForward tiled_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t tile, bool causal) {
  const int64_t n = q.size(0), d = q.size(1);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<Tensor> outs, lses;
  for (int64_t i0 = 0; i0 < n; i0 += tile) {
    const int64_t i1 = std::min(n, i0 + tile), br = i1 - i0;
    const Tensor Qi = core::slice(q, 0, i0, i1);  // (br, d)
    Tensor m = Tensor::full({br, 1}, kNegInf);    // running max      (br, 1)
    Tensor l = Tensor::zeros({br, 1});            // running sum      (br, 1)
    Tensor o = Tensor::zeros({br, d});            // running output   (br, d), unnormalised
    const int64_t j_end = causal ? i1 : n;        // causal: keys after the tile's last query are never needed
    for (int64_t j0 = 0; j0 < j_end; j0 += tile) {
      const int64_t j1 = std::min(j_end, j0 + tile);
      const Tensor Kj = core::slice(k, 0, j0, j1), Vj = core::slice(v, 0, j0, j1);  // (bc, d)
      Tensor S = core::matmul(Qi, Kj, false, true) * scale;                           // (br, bc)
      if (causal && j1 - 1 > i0) S = core::masked_fill(S, future_mask(i0, i1, j0, j1), kNegInf);
      const Tensor m_new = core::max(core::concat({m, core::max(S, 1, true)}, 1), 1, true);  // (br, 1)
      const Tensor alpha = core::exp(m - m_new);  // (br, 1): e^(m_old − m_new)
      const Tensor P = core::exp(S - m_new);      // (br, bc): every entry <= 1
      l = l * alpha + core::sum(P, 1, true);
      o = o * alpha + core::matmul(P, Vj);        // (br, bc) @ (bc, d)
      m = m_new;
    }
    outs.push_back(o / l);
    lses.push_back(m + core::log(l));
  }
  return {core::concat(outs, 0), core::concat(lses, 0)};
}

struct TiledGrads {
  Tensor dq, dk, dv;  // (n, d) each
};

// The backward of tiled_attention without its probabilities: only out and L were kept from the forward.
//   forward: P = e^(S − L), out = P v   =>  dV += Pᵀ dO,  dP = dO vᵀ
//   forward: P = softmax(S)             =>  dS = P ∘ (dP − D),   D_i = Σ_j P_ij dP_ij = Σ_c dO_ic out_ic
//   forward: S = Q Kᵀ/√d                =>  dQ += dS K/√d,  dK += dSᵀ Q/√d
// Key tiles outside, query tiles inside: each key tile's dK, dV are finished before the next one starts.
TiledGrads tiled_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const TiledForward& fwd,
                                    const Tensor& dout, int64_t tile, bool causal) {
  const int64_t n = q.size(0), d = q.size(1), tiles = (n + tile - 1) / tile;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const Tensor D = core::sum(dout * fwd.out, 1, true);  // (n, 1): one number per row instead of a row of P
  std::vector<Tensor> dq_tiles, dk_tiles, dv_tiles;
  for (int64_t t = 0; t < tiles; ++t) dq_tiles.push_back(Tensor::zeros({std::min(n, (t + 1) * tile) - t * tile, d}));
  for (int64_t j0 = 0; j0 < n; j0 += tile) {
    const int64_t j1 = std::min(n, j0 + tile);
    const Tensor Kj = core::slice(k, 0, j0, j1), Vj = core::slice(v, 0, j0, j1);  // (bc, d)
    Tensor dK = Tensor::zeros({j1 - j0, d}), dV = Tensor::zeros({j1 - j0, d});
    for (int64_t i0 = causal ? j0 : 0; i0 < n; i0 += tile) {  // causal: queries before j0 never see these keys
      const int64_t i1 = std::min(n, i0 + tile);
      const Tensor Qi = core::slice(q, 0, i0, i1), dOi = core::slice(dout, 0, i0, i1);  // (br, d)
      Tensor S = core::matmul(Qi, Kj, false, true) * scale;                              // (br, bc)
      if (causal && j1 - 1 > i0) S = core::masked_fill(S, future_mask(i0, i1, j0, j1), kNegInf);
      const Tensor P = core::exp(S - core::slice(fwd.lse, 0, i0, i1));  // recomputed, (br, bc)
      dV = dV + core::matmul(P, dOi, true, false);                      // Pᵀ dO      (bc, d)
      const Tensor dP = core::matmul(dOi, Vj, false, true);             // dO vᵀ      (br, bc)
      const Tensor dS = P * (dP - core::slice(D, 0, i0, i1));           // (br, bc)
      Tensor& dQi = dq_tiles[static_cast<size_t>(i0 / tile)];
      dQi = dQi + core::matmul(dS, Kj) * scale;                          // (br, d)
      dK = dK + core::matmul(dS, Qi, true, false) * scale;               // (bc, d)
    }
    dk_tiles.push_back(dK);
    dv_tiles.push_back(dV);
  }
  return {core::concat(dq_tiles, 0), core::concat(dk_tiles, 0), core::concat(dv_tiles, 0)};
}

// ---- the exercise's test rows ----------------------------------------------------------------------------------

struct TestRow {
  std::string name;
  std::vector<float> s;  // the row's scores (its length: n, or 1 for "one score")
};

// The rows step 6 streams through the learner's update, each aimed at one of step 1's ideas: random scores
// (n of them, drawn from rng), the same scores x 1000 (past float's exp range), the same with the first
// min(n − 1, 2·tile + 3) masked to -inf (more than two whole chunks of nothing), and a row of one score.
std::vector<TestRow> online_test_rows(int64_t n, int64_t tile, core::Rng& rng) {
  std::vector<TestRow> rows;
  const Tensor s = core::randn({n}, rng);
  rows.push_back({"random scores", s.to_vector()});
  std::vector<float> big = s.to_vector();
  for (size_t j = 0; j < big.size(); ++j) big[j] = 1000.0f * big[j];
  rows.push_back({"scores up to ~3000", big});
  std::vector<float> masked = s.to_vector();
  for (int64_t j = 0; j < std::min<int64_t>(n - 1, 2 * tile + 3); ++j) masked[size_t(j)] = kNegInf;
  rows.push_back({"leading scores masked (-inf)", masked});
  rows.push_back({"one score", {2.5f}});
  return rows;
}

// What an update that got the test row `name` wrong (its o / l `finite` or not) misses, as a hint for the learner.
std::string what_update_misses(const std::string& name, bool finite) {
  if (!finite && name.rfind("leading", 0) == 0)
    return "while every score so far is -inf, m_new is -inf and e^(m_old - m_new) = e^(-inf + inf) is NaN: "
           "return before touching l and o when m_new is -inf";
  if (!finite && name.rfind("scores up to", 0) == 0)
    return "e^s overflows above s = 88: exponentiate s - m_new, the scores minus the running maximum, never s alone";
  if (finite && name != "one score")
    return "when the maximum grows, what l and o summed so far is on the old scale: multiply both by "
           "e^(m_old - m_new) before adding the new chunk's e^(s - m_new) and e^(s - m_new)·v";
  return "fold each chunk in with step 1's three equations: m_new = max(m, max(chunk)), "
         "l = l·e^(m - m_new) + Σ e^(s - m_new), o = o·e^(m - m_new) + Σ e^(s - m_new)·v, then set m = m_new";
}

// ---- figures ------------------------------------------------------------------------------------------------

// The (query tile, key tile) pairs a loop visits, numbered in visit order; grey = never computed. With
// `diagonal_masked`, the upper-right half of each diagonal tile is faded: those pairs are masked inside the tile.
img::Image schedule_map(const std::vector<std::pair<int, int>>& visits, int tiles, const std::string& title,
                        const std::string& subtitle, bool diagonal_masked) {
  Tensor order = Tensor::full({tiles, tiles}, -1.0f);
  for (size_t t = 0; t < visits.size(); ++t) order.at({visits[t].first, visits[t].second}) = static_cast<float>(t);
  img::HeatmapOptions o;
  o.title = title;
  o.subtitle = subtitle;
  o.xlabel = "key tile j";
  o.ylabel = "query tile i";
  o.value_label = "visit order";
  o.vmin = 0.0f;
  o.vmax = static_cast<float>(visits.size() - 1);
  o.target_px = 360;
  img::HeatmapLayout lay;
  img::Image im = img::heatmap(order, o, &lay);
  const img::Color skipped{225, 225, 225};
  for (int i = 0; i < tiles; ++i)
    for (int j = 0; j < tiles; ++j) {
      const int x0 = lay.plot_x + j * lay.cell_w, y0 = lay.plot_y + i * lay.cell_h;
      const float value = order.at({i, j});
      if (value < 0.0f) {
        im.fill_rect(x0, y0, lay.cell_w, lay.cell_h, skipped);
        continue;
      }
      if (diagonal_masked && i == j)
        for (int y = 0; y < lay.cell_h; ++y)
          for (int x = y + 1; x < lay.cell_w; ++x)
            im.set(x0 + x, y0 + y, img::blend(im.get(x0 + x, y0 + y), img::kWhite, 0.6f));
      const std::string label = std::to_string(static_cast<int>(value));
      const float t = value / std::max(1.0f, static_cast<float>(visits.size() - 1));
      const img::Color ink = t > 0.6f ? img::kBlack : img::kWhite;
      int tx = x0 + (lay.cell_w - img::text_width(label, 2)) / 2, ty = y0 + (lay.cell_h - 14) / 2;
      if (diagonal_masked && i == j) tx = x0 + 3, ty = y0 + lay.cell_h - 17;  // in the visible lower-left half
      im.draw_text(tx, ty, label, ink, 2);
    }
  return im;
}

// %%
// Step 6's exercise: the online-softmax update of one row, and the tile size. Your version is the EXERCISE block
// in main; the reference solution and a known-wrong answer are in lessons/solutions/16_flash_attention.h.
//   update(st, s, v, count, d): fold `count` scores s and their value rows v (count x d, row-major) into st
using RowUpdate = std::function<void(RowState& st, const float* s, const float* v, int64_t count, int64_t d)>;
struct MyOnlineSoftmax {
  RowUpdate update;
  int64_t tile = 0;  // scores per chunk of a row; rows and keys per tile of the attention checks
};
#include "lessons/solutions/16_flash_attention.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "16_flash_attention");

  // %% [markdown]
  // ## Step 1 · the online softmax, one row, chunk by chunk
  // The usual "safe" softmax of a row of scores s makes three passes: find the maximum m, sum e^(s − m) into l,
  // then divide. Subtracting m keeps every exponent <= 0, so nothing overflows. Online, one pass: after a chunk
  // of scores arrives,
  //
  //     m_new = max(m, max(chunk))
  //     l     = l · e^(m − m_new) + Σ_chunk e^(s − m_new)
  //     o     = o · e^(m − m_new) + Σ_chunk e^(s − m_new) · v
  //
  // and at the end softmax(s) · V = o / l. The factor e^(m − m_new) re-expresses everything summed so far
  // relative to the new maximum; when the maximum does not change it is 1. Here: 12 scores in 3 chunks of 4,
  // values v_j = (j, (j mod 3) − 1), so the first output column is the average position the row attends to.
  // %%
  L.step("Step 1 · the online softmax, one row, chunk by chunk");
  const int64_t row_n = 12, row_d = 2, chunk = 4;
  const std::vector<float> row_scores = {1.0f, 3.0f, 0.5f, 2.0f, 6.0f, 1.5f, 4.0f, 0.0f, 2.5f, 7.0f, 3.5f, 1.0f};
  std::vector<float> row_values;  // (12, 2)
  for (int64_t j = 0; j < row_n; ++j) row_values.insert(row_values.end(), {float(j), float(j % 3) - 1.0f});
  L.say("scores s = [", numbers_str(row_scores.data(), row_n), "]");
  L.say("values v_j = (j, (j mod 3) - 1), j = 0..11;  chunks of ", chunk, " scores");
  {
    RowState st(row_d);
    lesson::Table t({"chunk", "scores", "chunk max", "m_old -> m_new", "e^(m_old - m_new)", "l", "o", "o / l so far"}, 6);
    for (int64_t c0 = 0; c0 < row_n; c0 += chunk) {
      const float m_old = st.m;
      const float* s = row_scores.data() + c0;
      online_update(st, s, row_values.data() + c0 * row_d, chunk, row_d);
      const float cmax = *std::max_element(s, s + chunk);
      t.row({std::to_string(c0 / chunk), numbers_str(s, chunk), lesson::sig(cmax, 3),
             lesson::sig(m_old, 3) + " -> " + lesson::sig(st.m, 3), lesson::sig(std::exp(m_old - st.m), 4),
             lesson::sig(st.l, 5), "(" + numbers_str(st.o.data(), row_d, 5) + ")",
             "(" + lesson::fixed(st.o[0] / st.l, 4) + ", " + lesson::fixed(st.o[1] / st.l, 4) + ")"});
    }
    const std::vector<float> online = {st.o[0] / st.l, st.o[1] / st.l};
    const std::vector<double> exact = softmax_times_v(row_scores, row_values, row_d);
    L.say("softmax(s) · V computed the ordinary way (double): (", lesson::fixed(exact[0], 6), ", ",
          lesson::fixed(exact[1], 6), ")");
    L.check("online softmax after the last chunk equals softmax(s) · V", rel_error(online, exact) < 1e-6,
            "max rel. error " + lesson::sig(rel_error(online, exact), 2));
    L.say("The first chunk's factor is e^(-inf) = 0 (there was nothing to rescale); the maximum grew in every chunk");
    L.say("(3 -> 6 -> 7), so l and o were rescaled twice, by e^-3 and e^-1.");
  }

  // %% [markdown]
  // ### Why the factor e^(m_old − m_new) is needed
  // Multiply the same scores by 30 (logits of 100 and more are common without the 1/√d scaling, or in a
  // trained model with large weights). float's exp overflows above about 88.7: e^90 is already infinite.
  // (a) Summing e^s without any maximum overflows to inf, and o / l becomes inf / inf = NaN.
  // (b) Subtracting each chunk's own maximum keeps the numbers finite, but then the chunks are summed on
  //     different scales: chunk 0's terms count as if 90 were the largest score, chunk 2's as if 210 were.
  //     Finite — and wrong.
  // (c) The online update: the old sums are multiplied by e^(m_old − m_new) (here e^-90, then e^-30), which is
  //     exactly what makes them comparable with the new chunk.
  // %%
  {
    std::vector<float> big = row_scores;
    for (float& x : big) x *= 30.0f;
    L.say("scores x 30 = [", numbers_str(big.data(), row_n), "]");
    float l_a = 0.0f, l_b = 0.0f;
    std::vector<float> o_a(row_d, 0.0f), o_b(row_d, 0.0f);
    RowState st(row_d);
    lesson::Table t({"chunk", "(a) l = sum e^s", "(b) l, own max per chunk", "(c) m", "(c) e^(m_old - m_new)", "(c) l"}, 8);
    for (int64_t c0 = 0; c0 < row_n; c0 += chunk) {
      const float* s = big.data() + c0;
      const float* v = row_values.data() + c0 * row_d;
      const float own_max = *std::max_element(s, s + chunk);
      for (int64_t c = 0; c < chunk; ++c) {
        const float pa = std::exp(s[c]), pb = std::exp(s[c] - own_max);
        l_a += pa;
        l_b += pb;
        for (int64_t u = 0; u < row_d; ++u) o_a[u] += pa * v[c * row_d + u], o_b[u] += pb * v[c * row_d + u];
      }
      const float m_old = st.m;
      online_update(st, s, v, chunk, row_d);
      t.row({std::to_string(c0 / chunk), lesson::sig(l_a, 4), lesson::sig(l_b, 5), lesson::sig(st.m, 4),
             lesson::sig(std::exp(m_old - st.m), 3), lesson::sig(st.l, 6)});
    }
    const std::vector<double> exact = softmax_times_v(big, row_values, row_d);
    const std::vector<float> out_a = {o_a[0] / l_a, o_a[1] / l_a}, out_b = {o_b[0] / l_b, o_b[1] / l_b},
                             out_c = {st.o[0] / st.l, st.o[1] / st.l};
    L.say("exact softmax(30 s) · V: (", lesson::fixed(exact[0], 4), ", ", lesson::fixed(exact[1], 4),
          ")  — nearly all weight on position 9, the largest score");
    L.say("(a) no max:          (", lesson::sig(out_a[0], 4), ", ", lesson::sig(out_a[1], 4), ")");
    L.say("(b) no rescaling:    (", lesson::fixed(out_b[0], 4), ", ", lesson::fixed(out_b[1], 4),
          ")  — positions 1, 4 and 9 (each chunk's winner) weighted about equally");
    L.say("(c) online softmax:  (", lesson::fixed(out_c[0], 4), ", ", lesson::fixed(out_c[1], 4), ")");
    L.check("(a) without a running max the sum overflows and the output is not finite",
            !std::isfinite(l_a) && !std::isfinite(out_a[0]), "l = " + lesson::sig(l_a, 3));
    L.check("(b) without e^(m_old - m_new) the output is finite but wrong",
            std::isfinite(out_b[0]) && rel_error(out_b, exact) > 0.1,
            "rel. error " + lesson::sig(rel_error(out_b, exact), 3));
    L.check("(c) with it the output is exact", rel_error(out_c, exact) < 1e-6,
            "rel. error " + lesson::sig(rel_error(out_c, exact), 2));
  }

  // %% [markdown]
  // ## Step 2 · tiling: many rows at once, and the backward without P
  // A row at a time would be slow: the products q kᵀ and P v are where the time goes, and they want to be
  // matrix products. So take a tile of br query rows and walk over tiles of bc keys; m and l become columns
  // (br, 1), o becomes (br, d), and each step is two small matmuls plus the rescaling. `tiled_attention` (top of
  // the file) is that loop from core ops for one head; the largest thing it ever holds is one br × bc tile of
  // scores. With a causal mask, key tiles entirely in a query tile's future are skipped, and only the diagonal
  // tile needs masking. We compare it and the library's `attention::flash_attention` (the same algorithm through
  // sgemm on slices; its forward runs (batch, head, query tile) tasks in parallel, its backward (batch, head)
  // tasks) with `attention::dense_attention`. One layout detail there: the forward stores its tile by key,
  // Sᵀ = K Qᵀ (bc, br), so that the running max and sum of every query row advance together along contiguous
  // memory — vector instructions instead of one reduction per row; the numbers are the same.
  // n = 200 is not a multiple of the tile (64): the last tiles have 8 rows.
  // %%
  L.step("Step 2 · tiling: a tiled forward from core ops, and flash_attention");
  const int64_t n2 = 200, d2 = 16, tile2 = 64;
  core::Rng rng = L.rng(0);
  const Tensor q2 = core::randn({1, 2, n2, d2}, rng), k2 = core::randn({1, 2, n2, d2}, rng),
               v2 = core::randn({1, 2, n2, d2}, rng), g2 = core::randn({1, 2, n2, d2}, rng);
  L.say("q, k, v: ", q2.shape(), " (two heads); the tiled loop runs on head 0: ", head(q2, 0).shape(), ", tile = ",
        tile2, " -> ", (n2 + tile2 - 1) / tile2, " query tiles x ", (n2 + tile2 - 1) / tile2, " key tiles");
  L.say("largest temporary of the tiled loop: one tile of scores, ", tile2, " x ", tile2, " = ", tile2 * tile2,
        " floats; the dense scores are ", n2, " x ", n2, " = ", n2 * n2, " floats per head");
  for (const bool causal : {false, true}) {
    const std::string what = causal ? "causal" : "full";
    const TiledForward mine = tiled_attention(head(q2, 0), head(k2, 0), head(v2, 0), tile2, causal);
    const Tensor dense = attention::dense_attention(q2, k2, v2, {causal, Tensor()});
    const Tensor flash = attention::flash_attention(q2, k2, v2, {causal, Tensor(), tile2, tile2});
    L.check_close(what + ": our tiled loop equals dense_attention (head 0)", mine.out, head(dense, 0), 1e-5f);
    L.check_close(what + ": flash_attention equals dense_attention (both heads)", flash, dense, 1e-5f);
  }

  // %% [markdown]
  // ### The backward, without the n × n probabilities
  // Dense attention's autograd keeps P (n × n) for the backward. The tiled backward keeps out (n × d) and one
  // number per row, the log-sum-exp L = m + log l (as FlashAttention-2 does; FlashAttention-1 keeps m and l
  // separately) — because then the probabilities of any tile come back as
  //
  //     P = e^(S − L)         (S = q kᵀ/√d of that tile, recomputed: one more matmul)
  //
  // The softmax backward needs one more row term, D_i = Σ_j P_ij dP_ij, which looks like it needs a whole row
  // of P; but Σ_j P_ij (dO_i · v_j) = dO_i · (Σ_j P_ij v_j) = dO_i · out_i, so D = rowsum(dO ∘ out): n numbers,
  // from tensors we have. Then, tile by tile:
  //
  //     dV += Pᵀ dO,   dP = dO vᵀ,   dS = P ∘ (dP − D),   dQ += dS K/√d,   dK += dSᵀ Q/√d
  //
  // It recomputes the forward's products: about 2.5x the matmul work of the forward instead of the dense
  // backward's 2x, traded for memory. `tiled_attention_backward` (top of the file) is this loop from core ops;
  // flash_attention's hand-written backward is the same loop through sgemm. Both are compared with autograd
  // through dense_attention.
  // %%
  for (const bool causal : {false, true}) {
    const std::string what = causal ? "causal" : "full";
    const lesson::KernelVsReference c = lesson::kernel_vs_reference(
        [&](const std::vector<Tensor>& x) {
          return attention::flash_attention(x[0], x[1], x[2], {causal, Tensor(), tile2, tile2});
        },
        [&](const std::vector<Tensor>& x) { return attention::dense_attention(x[0], x[1], x[2], {causal, Tensor()}); },
        {q2, k2, v2}, g2);
    const TiledForward fwd = tiled_attention(head(q2, 0), head(k2, 0), head(v2, 0), tile2, causal);
    if (!causal) {
      // the recomputed probabilities of one tile (query tile 1, key tile 0) against dense softmax
      const Tensor S =
          core::matmul(core::slice(head(q2, 0), 0, 64, 128), core::slice(head(k2, 0), 0, 0, 64), false, true) *
          (1.0f / std::sqrt(float(d2)));
      const Tensor P = core::exp(S - core::slice(fwd.lse, 0, 64, 128));  // (64, 64)
      const Tensor A = head(attention::dense_probabilities(q2, k2), 0);  // (n, n)
      const Tensor P_dense = core::slice(core::slice(A, 0, 64, 128), 1, 0, 64);
      L.say("saved by the forward: out ", fwd.out.shape(), " and L ", fwd.lse.shape(), "; D = rowsum(dO * out) ",
            core::sum(head(g2, 0) * fwd.out, 1, true).shape());
      L.check_close("P = e^(S - L) recomputed for one tile equals dense softmax's tile", P, P_dense, 1e-6f);
    }
    const TiledGrads mine =
        tiled_attention_backward(head(q2, 0), head(k2, 0), head(v2, 0), fwd, head(g2, 0), tile2, causal);
    const char* names[] = {"dq", "dk", "dv"};
    const Tensor mine_grads[] = {mine.dq, mine.dk, mine.dv};
    for (int a = 0; a < 3; ++a)
      L.check_close(what + ": our tiled backward's " + names[a] + " equals dense autograd's (head 0)", mine_grads[a],
                    head(c.ref_grads[a], 0), 1e-4f);
    for (int a = 0; a < 3; ++a)
      L.check_close(what + ": flash_attention's " + names[a] + " equals dense_attention's", c.grads[a], c.ref_grads[a],
                    1e-4f);
  }

  // %% [markdown]
  // ## Step 3 · pictures: the tile schedule, and one row's running max and sum
  // Left: the forward's loops at n = 512 with 64 × 64 tiles — query tile i outside, key tile j inside, each
  // square numbered by when it is computed (flash_attention gives the rows of this picture to different
  // threads; inside a row the order is as drawn). Middle: causal — tiles above the diagonal are never computed
  // (grey): half the work, without any special kernel. Only the diagonal tiles are masked inside (their faded
  // upper-right half). Right: the causal backward, key tile outside and query tile inside, which walks the same
  // tiles column by column. A block-sparse pattern (Longformer's band, BigBird's blocks) is the same picture with
  // more grey squares.
  // %%
  L.step("Step 3 · the tile schedule, and the running max and sum of one row");
  {
    const int tiles = 8;
    std::vector<std::pair<int, int>> full_fwd, causal_fwd, causal_bwd;
    for (int i = 0; i < tiles; ++i)
      for (int j = 0; j < tiles; ++j) {
        full_fwd.push_back({i, j});
        if (j <= i) causal_fwd.push_back({i, j});
      }
    for (int j = 0; j < tiles; ++j)
      for (int i = j; i < tiles; ++i) causal_bwd.push_back({i, j});
    L.say("tiles computed: full ", full_fwd.size(), " of ", tiles * tiles, ", causal ", causal_fwd.size(), " of ",
          tiles * tiles, " (", tiles, " of them on the diagonal, masked inside)");
    L.show(img::hstack({schedule_map(full_fwd, tiles, "forward, full attention",
                                     "n = 512, 64 x 64 tiles: all 64 computed", false),
                        schedule_map(causal_fwd, tiles, "forward, causal", "36 of 64 tiles; grey = skipped", true),
                        schedule_map(causal_bwd, tiles, "backward, causal", "key tile outside, query tile inside", true)}),
           "tile_schedule.png",
           "which (query tile, key tile) pairs are computed, numbered and coloured by visit order — full attention "
           "visits all 64 row by row; causal skips the 28 grey tiles above the diagonal and masks only inside the "
           "8 diagonal tiles (faded half); the backward walks the same 36 tiles column by column");
  }

  // %% [markdown]
  // **One row's running max and sum.** Now the online softmax of step 1 on a longer row: one query against
  // 1024 keys in 16 chunks of 64. After every chunk we record the chunk's own maximum, the running max m, the
  // running sum l and m + log l, which should end at the row's exact log-sum-exp L, the number the forward
  // saves for the backward. Watch l: it grows with every chunk, except where m steps up and rescales it.
  // %%
  {
    // One query against 1024 keys in 16 chunks of 64 (d = 64, queries scaled by 2 so that the scores spread over
    // a few units, as in a trained model): of 16 random rows we draw the one whose l is rescaled downwards most often.
    const int64_t n = 1024, d = 64, c = 64, chunks = n / c, rows = 16;
    core::Rng r = L.rng(1);
    const Tensor q = core::randn({rows, d}, r) * 2.0f, k = core::randn({n, d}, r), v = core::randn({n, d}, r);
    const Tensor S = core::matmul(q, k, false, true) * (1.0f / std::sqrt(float(d)));  // (16, 1024)
    const auto [best_row, best_drops] = row_with_most_drops(S, v, c);
    std::vector<double> xs, chunk_max, run_max, run_sum, run_lse, final_lse;
    RowState st(d);
    for (int64_t c0 = 0; c0 < n; c0 += c) {
      const float* s = S.data() + best_row * n + c0;
      online_update(st, s, v.data() + c0 * d, c, d);
      xs.push_back(double(c0 / c));
      chunk_max.push_back(*std::max_element(s, s + c));
      run_max.push_back(st.m);
      run_sum.push_back(st.l);
      run_lse.push_back(st.m + std::log(st.l));
    }
    const double L_exact = log_sum_exp(S.data() + best_row * n, n);  // the whole row at once, in double
    final_lse.assign(xs.size(), L_exact);
    int jumps = 0;
    for (size_t i = 1; i < run_max.size(); ++i) jumps += run_max[i] > run_max[i - 1];
    L.say("query row ", best_row, ": the running max grows in ", jumps, " of the ", chunks - 1,
          " chunks after the first; l falls in ", best_drops,
          " of them (rescaled by e^(m_old - m_new) before the new terms)");
    L.say("final m + log l = ", lesson::fixed(run_lse.back(), 6), ", log Σ e^s over the whole row = ",
          lesson::fixed(L_exact, 6));
    L.check("the running log-sum-exp m + log l ends at the row's exact log-sum-exp",
            std::fabs(run_lse.back() - L_exact) < 1e-4, "|diff| = " + lesson::sig(std::fabs(run_lse.back() - L_exact), 2));
    img::PlotOptions po;
    po.title = "running max m";
    po.xlabel = "chunk (64 keys each)";
    po.ylabel = "score";
    po.width = 520;
    img::PlotOptions lo = po;
    lo.title = "running log-sum-exp m + log l";
    lo.ylabel = "log-sum-exp";
    img::PlotOptions so = po;
    so.title = "running sum l = sum e^(s - m)";
    so.ylabel = "l";
    L.show(img::hstack({img::line_plot({{"max of this chunk", xs, chunk_max}, {"running max m", xs, run_max}}, po),
                        img::line_plot({{"m + log l", xs, run_lse}, {"exact L of the row", xs, final_lse}}, lo),
                        img::line_plot({{"running sum l", xs, run_sum}}, so)}),
           "running_max_sum.png",
           "one query row streamed over 16 chunks of 64 keys — left: each chunk's max (jagged) and the running max m, "
           "a staircase that steps up when a chunk beats it; middle: m + log l climbs to the row's exact "
           "log-sum-exp L (flat line) and reaches it at the last chunk; right: l grows with every chunk but drops "
           "where m steps up, because everything summed so far is rescaled by e^(m_old - m_new)");
  }

  // %% [markdown]
  // ## Step 4 · the memory table
  // Forward + backward of each kernel on q, k, v of shape (1, 1, n, 64), the gradients of q, k and v included
  // (they are dropped after each run). Memory is the peak of bytes in tensors above what was alive before
  // (core::memory::PeakScope, through the course benchmark: lesson::cost_step): exact and the same on every
  // machine. Time is the fastest of a few runs in separate rounds, with their spread: measured on this machine, so
  // it varies (a row whose runs disagree is marked noisy). Schemes come from the registry with their default
  // hyperparameters: flash, full and every scheme that declares a linear time (SchemeInfo::time_growth == "n"),
  // each checked against the memory exponent its file declares. At full size (n up to 16K) dense attention stops
  // at n = 8K (at 16K it would need about 3 GiB); with --quick every scheme runs n = 512 … 2048.
  // %%
  L.step("Step 4 · peak memory and time of forward + backward vs n");
  const int64_t d = 64;
  const std::vector<int64_t> ns = L.quick() ? std::vector<int64_t>{512, 1024, 2048}
                                            : std::vector<int64_t>{1024, 2048, 4096, 8192, 16384};
  std::vector<attention::Scaling> curves;
  lesson::CostResult cost;  // the same curves, with every run of every point (for the narration of step 5)
  {
    // From the registry: the exact schemes (flash, and full as the baseline) and every scheme whose time grows
    // linearly in n (SchemeInfo::time_growth, declared in its file) — the ones flash is measured against. Each is
    // expected to grow as its file declares: memory as SchemeInfo::memory_exponent, time as n (or n² when exact).
    std::vector<lesson::Curve> lines = {lesson::Curve("flash").expect(1.0, 2.0),
                                        lesson::Curve("full").up_to(8192).expect(2.0, 2.0)};
    for (const attention::Scheme* s : attention::all_schemes())
      if (s->info().exactness != attention::Exactness::exact && s->info().time_growth == "n")
        lines.push_back(lesson::Curve(s->name()).expect(s->info().memory_exponent, 1.0));
    std::string names;
    for (const auto& c : lines) names += (names.empty() ? "" : ", ") + c.run().scheme;
    L.say("schemes: ", names);
    // No figure from cost_step: this lesson draws memory and time apart, memory with the bytes of q beside it.
    cost = lesson::cost_step(L, lines,
                             lesson::CostOptions().sizes(ns).reference("flash").title("flash vs the rest").figure(""));
    curves = cost.curves;
    const attention::Scaling& full_fit = cost.fit("full");
    if (!full_fit.n.empty() && full_fit.n.back() < double(ns.back()))
      L.say("Dense attention stops at n = ", int64_t(full_fit.n.back()), ": at ", ns.back(),
            " its three n x n matrices would take about ", lesson::fixed(3.0 * double(ns.back()) * double(ns.back()) * 4.0 / (1 << 30), 0), " GiB.");
    L.say("Flash's peak is a handful of n x d tensors: out, dq, dk, dv, the copies of k and v transposed that the");
    L.say("backward's tile products read, and the copy autograd makes when a gradient lands in its leaf; the saved L");
    L.say("is n floats, 1/64 of q. No n x n buffer at any point.");
  }
  auto curve = [&](const std::string& name) -> const attention::Scaling* {
    for (const attention::Scaling& c : curves)
      if (c.scheme == name) return &c;
    return nullptr;
  };
  const attention::Scaling* flash = curve("flash");
  const attention::Scaling* full = curve("full");
  AZ_CHECK(flash && full && !flash->n.empty() && !full->n.empty(),
           "16_flash_attention: the schemes 'flash' and 'full' must be registered and measured");
  if (!L.quick()) {
    const double q_mib = lesson::mib(static_cast<std::size_t>(flash->n.back() * d * 4.0));
    L.check("flash at n = 16K: peak within 12x the bytes of q",
            flash->n.back() == 16384 && flash->mib.back() <= 12.0 * q_mib,
            lesson::fixed(flash->mib.back(), 1) + " MiB = " + lesson::fixed(flash->mib.back() / q_mib, 1) + "x of q's " +
                lesson::fixed(q_mib, 1) + " MiB");
  }

  // %% [markdown]
  // **Memory and time, drawn apart.** The same runs on two log-log plots, where a curve's slope is its exponent
  // (each legend gives the fitted one). Memory has the bytes of q beside it, a line of slope 1: flash should run
  // parallel to it, a constant factor above, among the approximate schemes, while full attention climbs with
  // slope 2. Time is the other story: flash's line should be as steep as full's, since exact attention does all
  // n² of the work however it is scheduled; the approximate schemes should climb with slope about 1.
  // %%
  {
    img::PlotOptions mo;
    mo.title = "peak memory, forward + backward";
    mo.xlabel = "sequence length n";
    mo.ylabel = "peak activation memory (MiB)";
    mo.log_x = mo.log_y = true;
    mo.width = 980;
    mo.height = 560;
    // The legends carry each curve's fitted exponent (its slope on these axes); the captions quote them for the
    // curves the lesson is about, beside the exponents expected, measured in this run rather than asserted.
    auto fitted = [](double e) { return lesson::fixed(e, 2); };
    double approx_lo = 1e300, approx_hi = -1e300;  // the approximate schemes' fitted time exponents: their range
    for (const attention::Scaling& c : curves)
      if (c.scheme != "flash" && c.scheme != "full" && !std::isnan(c.time_exponent))
        approx_lo = std::min(approx_lo, c.time_exponent), approx_hi = std::max(approx_hi, c.time_exponent);
    const std::string approx_range =
        approx_lo > approx_hi ? std::string("not measured")
                              : fitted(approx_lo) + (approx_hi > approx_lo ? " to " + fitted(approx_hi) : std::string());
    std::vector<img::Series> mem = attention::cost_series(curves, true, true);
    for (img::Series& se : mem) se.emphasis = se.name.rfind("flash ", 0) == 0;  // the lesson's subject: drawn on top
    img::Series q_size{"bytes of q (n^1)", {}, {}};
    for (int64_t n : ns) q_size.x.push_back(double(n)), q_size.y.push_back(lesson::mib(static_cast<std::size_t>(n * d * 4)));
    mem.push_back(q_size);
    L.show(img::line_plot(mem, mo), "memory.png",
           "peak memory vs n on log-log axes (B = 1, H = 1, d = 64), fitted exponents (slopes) in the legend — full "
           "attention's slope is " + fitted(full->memory_exponent) + " (expected 2)" +
               (full->n.back() < flash->n.back() ? " and it stops at n = " + std::to_string(int64_t(full->n.back()))
                                                 : std::string()) +
               "; flash's is " + fitted(flash->memory_exponent) +
               " (expected 1), parallel to the bytes-of-q line, a constant factor above it, among the approximate "
               "schemes",
           // Not byte-identical between runs: with 2 OpenMP threads flash's peak moves by a few % with how its
           // threads' tiles overlap in time (with OMP_NUM_THREADS=1 it does not move).
           lesson::Figure::timing);
    img::PlotOptions to = mo;
    to.title = "time, forward + backward (measured on this machine)";
    to.ylabel = "time (ms)";
    std::vector<img::Series> times = attention::cost_series(curves, false, true);
    for (img::Series& se : times) se.emphasis = se.name.rfind("flash ", 0) == 0;
    L.show(img::line_plot(times, to), "time.png",
           "time vs n on log-log axes, fitted exponents (slopes) in the legend — measured in this run: full " +
               fitted(full->time_exponent) + ", flash " + fitted(flash->time_exponent) +
               " (expected ~2 for both: exact attention is O(n^2) work however it is scheduled); the approximate "
               "schemes " + approx_range + " (expected ~1: each declares linear time) — step 4's verdicts say which "
               "fits the runs support",
           lesson::Figure::timing);
  }

  // %% [markdown]
  // ## Step 5 · what this means for the schemes of the course
  // Read the table above. Three things follow, and one does not.
  // - The memory argument is gone. Lesson 01 measured exact attention's memory growing 4x per doubling; that
  //   was the cost of *materialising* P, not of exact attention. Flash's memory grows 2x per doubling, like the
  //   linear-time schemes', and is a small multiple of the inputs. A scheme whose main selling point was "it
  //   fits in memory at 16K" (Linformer's projections, Reformer's chunked LSH) now competes with exact
  //   attention that fits too. (Reformer's reversible layers save a different memory — activations across
  //   layers — and that saving still stands.)
  // - Time is still quadratic. Tiling changes where the n² scores live, not how many there are: flash's time
  //   should grow ~4x per doubling (below: what it did in this run), and its backward even does more arithmetic
  //   than dense's (it recomputes S). The approximate schemes should still win on time at long n — the
  //   "flash / scheme (time)" column below measures by how much.
  // - The sparse schemes are tilings too. Causal flash skips the tiles above the diagonal (step 3); Longformer,
  //   BigBird and the Sparse Transformer skip more tiles. Dao et al. pair FlashAttention with block-sparse masks
  //   exactly so: the IO-aware kernel and the sparsity pattern multiply.
  // - It did not make long sequences free. Dao et al. report the first Transformer better than chance on
  //   Long Range Arena's Path-X (n = 16K, 61.4 %), the task every model of the course failed — with exact
  //   attention, because memory had stopped being the limit; the compute bill for 16K tokens was paid in full.
  // %%
  L.step("Step 5 · what this means for the schemes of the course");
  const size_t fm = full->n.size() - 1;  // index of the largest n where full ran
  size_t fi = 0;                         // index of the same n in flash's curve
  while (flash->n[fi] != full->n[fm]) ++fi;
  const size_t last = flash->n.size() - 1;  // index of the largest n flash ran at
  const std::vector<lesson::Runs>& flash_runs = cost.runs_of("flash");  // every run of every point, for the spread
  const std::vector<lesson::Runs>& full_runs = cost.runs_of("full");
  {
    const double n_full = full->n[fm];
    L.say("At n = ", int64_t(n_full), " (the largest n full attention ran at): full needs ",
          lesson::fixed(full->mib[fm], 1), " MiB, flash ", lesson::fixed(flash->mib[fi], 1), " MiB — ",
          lesson::fixed(full->mib[fm] / flash->mib[fi], 0), "x less, for the same numbers (step 2).");
    L.say("  Time at that n: full ", lesson::fixed(full->ms[fm], 0), " ms, flash ", lesson::fixed(flash->ms[fi], 0),
          " ms (flash / full = ", lesson::fixed(flash->ms[fi] / full->ms[fm], 2), ").");
    // Quadratic work predicts x4 per doubling; the sentence is the one flash's measured ratio supports.
    if (last >= 1)
      L.say("Flash's last doubling: ", lesson::doubling_verdict(*flash, flash_runs, last, 4.0, cost.other_load), " (exact attention's n² "
            "work predicts 4); memory x", lesson::fixed(flash->mib[last] / flash->mib[last - 1], 2), ".");
    L.say("At n = ", int64_t(flash->n[last]), ", flash takes ", lesson::fixed(flash->ms[last], 0), " ms and ",
          lesson::fixed(flash->mib[last], 1), " MiB; the approximate schemes:");
    lesson::Table t({"scheme", "time (ms)", "flash / scheme (time)", "memory (MiB)", "memory / flash's"}, 8);
    for (const attention::Scaling& c : curves) {
      if (c.scheme == "flash" || c.scheme == "full" || c.n.empty() || c.n.back() != flash->n[last]) continue;
      t.add({c.scheme, lesson::fixed(c.ms.back(), 1), lesson::fixed(flash->ms[last] / c.ms.back(), 1) + "x",
             lesson::fixed(c.mib.back(), 1), lesson::fixed(c.mib.back() / flash->mib[last], 2)});
    }
    t.print();
    {
      // How many approximate schemes are faster than flash at the largest n, and for how many the factor grew
      // from the smallest n to the largest (O(n²) against O(n) says it should): counted, not asserted.
      int approximate = 0, ahead = 0, growing = 0;
      for (size_t k = 0; k < curves.size(); ++k) {
        const attention::Scaling& c = curves[k];
        if (c.scheme == "flash" || c.scheme == "full" || c.n.size() < 2 || c.n.back() != flash->n[last]) continue;
        ++approximate;
        ahead += flash->ms[last] / c.ms.back() > 1.0;
        growing += flash->ms[last] / c.ms.back() > flash->ms[0] / c.ms[0];
      }
      L.say("Memory: exact attention now sits among the O(n) schemes. Time: ", ahead, " of ", approximate,
            " approximate schemes are faster than flash at n = ", int64_t(flash->n[last]), ", and for ", growing, " of ",
            approximate, " the factor");
      L.say("grew from n = ", int64_t(flash->n[0]), " to n = ", int64_t(flash->n[last]),
            growing == approximate ? " (O(n²) against O(n): it should, and it did)."
                                   : " (O(n²) against O(n) says it should; where it did not, the table's spread column "
                                     "says whether those times can be trusted).");
      L.say("The price they charge — an approximate or restricted attention matrix, measured in their own lessons — is");
      L.say("now paid for speed alone.");
    }
  }

  // %% [markdown]
  // **Flash against dense attention, in time.** The memory verdict is exact; the time verdict is a measurement.
  // Below: flash's time over full's at every n where both ran (below 1: flash faster), and the one sentence those
  // ratios support. If some runs disagreed, the sentence says so instead of naming a cause.
  // %%
  {
    std::string speed;
    double lo = 1e300, hi = 0;
    bool noisy = cost.busy();  // a steadily busy machine: every ratio is suspect
    for (size_t i = 0; i < full->n.size(); ++i) {
      const double r = flash->ms[i] / full->ms[i];
      lo = std::min(lo, r), hi = std::max(hi, r);
      noisy = noisy || (i < flash_runs.size() && flash_runs[i].noisy()) || (i < full_runs.size() && full_runs[i].noisy());
      speed += (speed.empty() ? "" : ", ") + lesson::fixed(r, 2) + " at n = " + std::to_string(int64_t(full->n[i]));
    }
    L.say("Flash / full time, measured: ", speed, ".");
    L.say("On a GPU FlashAttention is also faster than dense attention, because it reads and writes far fewer bytes of");
    L.say("slow memory (Dao et al. 2022). On this CPU, in this run:");
    // The sentence the measured ratios support (below 1: flash faster), with the factor read from them.
    const std::string range = lesson::fixed(lo, 2) + (hi > lo ? " to " + lesson::fixed(hi, 2) : std::string());
    auto times_range = [&](double a, double b) {  // "3.2x" or "4.8x to 7.1x": how many times as long
      return lesson::fixed(a, 1) + "x" + (b > a * 1.0001 ? " to " + lesson::fixed(b, 1) + "x" : std::string());
    };
    if (hi < 1.0)
      L.say("  flash is faster at every n: it takes ", range, " of full's time, so full takes ",
            times_range(1.0 / hi, 1.0 / lo), " as long",
            noisy ? "." : " (flash never writes the n x n matrices to memory and reads them back, as dense does).");
    else if (lo > 1.0)
      L.say("  flash is slower at every n: it takes ", times_range(lo, hi), " full's time",
            noisy ? "." : " (its backward recomputes S, and here that costs more than dense's memory traffic).");
    else
      L.say("  flash is faster at some n and slower at others (flash / full from ", range,
            lo >= 0.5 && hi <= 2.0 ? ", within a factor of two either way" : "", ")",
            // The mechanism is named only when the ratios are steady and ordered so.
            !noisy && flash->ms[0] / full->ms[0] > 1.0 && flash->ms[fi] / full->ms[fm] < 1.0
                ? ": dense wins at small n, where its n x n matrices stay in the cache, flash at large n, where they do not."
                : ".");
    if (noisy)
      L.say("  Some of these times are noisy (their runs disagreed: see the spread column, or the machine was busy),"
            " so these ratios move from run to run.");
    L.say("What flash changes for sure is the memory column — exactly, on every machine.");
  }

  // %% [markdown]
  // ## Step 6 · your turn: the update, and the tile size
  // The EXERCISE block holds the online-softmax update as a lambda (a copy of step 1's `online_update`) and the
  // tile size used below. The self-check streams several rows through your update in chunks of `tile` —
  // random scores, scores up to 3000 (far past float's exp range), a row whose first chunks are all masked
  // (-inf), and a row of one score — compares with softmax · V computed in double, and when a row is wrong says
  // which of step 1's ideas the update misses. Then it runs the tiled loop of step 2 and flash_attention with
  // your tile size against dense attention. The reference solution and a known-wrong answer are in
  // lessons/solutions/16_flash_attention.h.
  // %%
  L.step("Step 6 · your turn: the online update and the tile size");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // update folds `count` scores s (and their value rows v, count x d) into the row state st. Try:
  //   - delete its body and write it again from the three equations of step 1;
  //   - replace alpha by 1.0f (no rescaling): which rows of the table go wrong, and which do not? (The
  //     attention checks after the table still pass: they do not use your update.)
  //   - drop the `if (m_new == kNegInf) return;` line: which row breaks? (exp(-inf - (-inf)) is NaN)
  // tile is the chunk size of the rows and the tile size of the attention checks: try 1, 7, 100, 1000.
  // The answers do not change — only the number of rescalings (and, for flash, the speed).
  MyOnlineSoftmax mine;
  mine.tile = 16;
  mine.update = [](RowState& st, const float* s, const float* v, int64_t count, int64_t d) {
    float chunk_max = kNegInf;
    for (int64_t c = 0; c < count; ++c) chunk_max = std::max(chunk_max, s[c]);
    const float m_new = std::max(st.m, chunk_max);
    if (m_new == kNegInf) return;
    const float alpha = std::exp(st.m - m_new);
    st.l *= alpha;
    for (float& x : st.o) x *= alpha;
    for (int64_t c = 0; c < count; ++c) {
      const float p = std::exp(s[c] - m_new);
      st.l += p;
      for (int64_t t = 0; t < d; ++t) st.o[static_cast<size_t>(t)] += p * v[c * d + t];
    }
    st.m = m_new;
  };
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyOnlineSoftmax answer = L.exercise(mine, solution::online_softmax(), solution::wrong_online_softmax());
  const int64_t my_tile = answer.tile;

  // %% [markdown]
  // **Checking your update.** Each test row is streamed through your update in chunks of your tile, as step 1
  // streamed its row, and o / l is compared with softmax · V computed in double. If a row comes out wrong, the
  // check below the table names the idea of step 1 that the update misses. Then the tiled loop of step 2 and
  // flash_attention run with your tile against dense attention, outputs and gradients.
  // %%
  if (!L.exercise_check("your tile size is one the loops can use", my_tile >= 1, "tile " + std::to_string(my_tile),
                        "the tile counts the scores of one chunk (and the rows and keys of one tile): at least 1")) {
    L.say("(the row and attention checks are skipped: they walk the keys in chunks of your tile)");
  } else {
    const int64_t n = 100, d = 8;
    core::Rng r = L.rng(2);
    const std::vector<TestRow> rows = online_test_rows(n, my_tile, r);
    const std::vector<float> v = core::randn({n, d}, r).to_vector();
    lesson::Table t({"row", "chunks of your tile", "your o / l vs exact (max rel. error)"}, 10);
    std::string wrong_rows, why;  // the rows your update gets wrong, and what the first of them says it misses
    for (const TestRow& row : rows) {
      const int64_t len = static_cast<int64_t>(row.s.size());
      RowState st(d);
      for (int64_t c0 = 0; c0 < len; c0 += my_tile)
        answer.update(st, row.s.data() + c0, v.data() + c0 * d, std::min(my_tile, len - c0), d);
      std::vector<float> out(static_cast<size_t>(d));
      bool finite = std::isfinite(st.l) && st.o.size() == static_cast<size_t>(d);
      for (int64_t u = 0; u < d && finite; ++u) out[size_t(u)] = st.o[size_t(u)] / st.l, finite = std::isfinite(out[size_t(u)]);
      const double err = finite ? rel_error(out, softmax_times_v(row.s, std::vector<float>(v.begin(), v.begin() + len * d), d))
                                : std::numeric_limits<double>::infinity();
      t.add({row.name, std::to_string((len + my_tile - 1) / my_tile), finite ? lesson::sig(err, 2) : "not finite"});
      if (err < 1e-5) continue;
      wrong_rows += (wrong_rows.empty() ? "" : ", ") + row.name;
      if (why.empty()) why = what_update_misses(row.name, finite);
    }
    t.print();
    L.exercise_check("your update: every test row equals softmax · V (rel. error < 1e-5)", wrong_rows.empty(),
                     "tile " + std::to_string(my_tile) + (wrong_rows.empty() ? "" : "; wrong: " + wrong_rows), why);
    const Tensor q = core::randn({1, 2, n, d}, r), k = core::randn({1, 2, n, d}, r), vv = core::randn({1, 2, n, d}, r),
                 g = core::randn({1, 2, n, d}, r);
    for (const bool causal : {false, true}) {
      const std::string what = causal ? "causal" : "full";
      const lesson::KernelVsReference c = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) {
            return attention::flash_attention(x[0], x[1], x[2], {causal, Tensor(), my_tile, my_tile});
          },
          [&](const std::vector<Tensor>& x) {
            return attention::dense_attention(x[0], x[1], x[2], {causal, Tensor()});
          },
          {q, k, vv}, g);
      L.check_close(what + ", tile " + std::to_string(my_tile) + ": the tiled loop of step 2 equals dense attention",
                    tiled_attention(head(q, 0), head(k, 0), head(vv, 0), my_tile, causal).out, head(c.ref_out, 0),
                    1e-5f);
      const float worst = c.max_abs_diff();
      L.check(what + ", tile " + std::to_string(my_tile) + ": flash_attention's output and dq, dk, dv equal dense's",
              worst <= 1e-4f, "max |diff| = " + lesson::sig(worst, 2) + ", tolerance 1e-4");
    }
  }

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, set the tile to 1: the online softmax becomes one score at a time, Milakov &
  //    Gimelshein's original setting. Then 1000 (one chunk holds the whole row): the ordinary safe softmax.
  // 2. Process the chunks of a row in reverse order (or any order). Why is the result still exact? What does
  //    that say about splitting the keys between two threads and merging their (m, l, o) afterwards?
  // 3. From the table: how much memory would full attention need at n = 65536 with 16 heads? And flash?
  // 4. Count the matmul FLOPs of flash's forward and backward (each n × n × d product is 2·n²·d) and compare
  //    the backward with dense attention's. Where does the extra work come from, and what does it buy?
  // 5. Write the merge of two row states (m1, l1, o1) and (m2, l2, o2) — the rule that lets the keys be split
  //    across threads ("split-K", as FlashDecoding does for long caches).
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
