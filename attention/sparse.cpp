// attention/sparse.cpp — Sparse Transformer patterns (strided, fixed), their key lists, the kernel through
// sparse_pattern_attention, the dense-mask version, and the registered scheme "sparse".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, l = stride, c = summary width, K = keys per
// query.
#include "attention/sparse.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/decode.h"
#include "attention/kernels/block_sparse.h"
#include "attention/kernels/small_gemm.h"
#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/parallel.h"
#include "core/row_sums.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"

namespace attention {

using namespace core;
using core::detail::parallel_rows;

// ---- options ----------------------------------------------------------------------------------------------
const ParamTable<SparseOptions>& sparse_params() {
  using O = SparseOptions;
  static const auto table =
      ParamTable<O>("sparse")
          .choice("mode", &O::mode, {{"strided", SparseMode::strided}, {"fixed", SparseMode::fixed}},
                  "strided (A1 = last l positions, A2 = every l-th) or fixed (A1 = own block, A2 = last c cells of "
                  "every block)")
          .integer_or_auto("stride", &O::stride, 1, kNoLimit,
                           "l, the block/stride length; auto = ceil(sqrt(n)) (at least summary), for O(n sqrt n)")
          .integer("summary", &O::summary, 1, kNoLimit, "c, summary cells per block in fixed mode (c <= l)")
          .choice("heads", &O::heads, {{"merged", SparseHeads::merged}, {"split", SparseHeads::split}},
                  "merged: every head attends to A1 ∪ A2 (the paper's merged head); split: even heads A1, odd heads A2")
          .rule([](const std::string& scheme, const O& o) {
            AZ_CHECK(o.mode != SparseMode::fixed || o.stride == 0 || o.summary <= o.stride, scheme,
                     ": summary (c = ", o.summary, ") must be <= stride (l = ", o.stride, ")");
          });
  return table;
}

SparseOptions sparse_options(const Config& cfg) {
  SparseOptions o = sparse_params().read(cfg.settings);
  o.causal = cfg.causal;
  return o;
}

int64_t sparse_stride(const SparseOptions& o, int64_t n) {
  AZ_CHECK(n >= 1, "sparse: sequence length must be >= 1, got ", n);
  if (o.stride > 0) {
    AZ_CHECK(o.mode != SparseMode::fixed || o.summary <= o.stride, "sparse: summary (c = ", o.summary,
             ") must be <= stride (l = ", o.stride, ")");
    // A stride past the sequence changes nothing more (strided: l >= n already puts every key in A1 and only i
    // in A2; fixed: l >= n + c leaves one block and no summary cell inside it), so it is cut there: the loops
    // and the index then follow n, not the setting.
    if (o.mode == SparseMode::strided) return std::min(o.stride, n);
    return o.summary < std::numeric_limits<int64_t>::max() - n ? std::min(o.stride, n + o.summary) : o.stride;
  }
  int64_t l = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  while (l > 1 && (l - 1) * (l - 1) >= n) --l;  // exact ceil(sqrt(n)) despite rounding
  while (l * l < n) ++l;
  return o.mode == SparseMode::fixed ? std::max(l, o.summary) : l;
}

int sparse_head_parts(const SparseOptions& o, int64_t h) {
  if (o.heads == SparseHeads::merged) return kSparseBoth;
  return h % 2 == 0 ? kSparseA1 : kSparseA2;
}

// ---- membership, straight from the equations --------------------------------------------------------------
bool sparse_in_a1(const SparseOptions& o, int64_t l, int64_t i, int64_t j) {
  if (o.causal && j > i) return false;
  if (o.mode == SparseMode::strided) return std::abs(i - j) < l;  // causal: i-l < j <= i
  return j / l == i / l;                                          // same block
}

bool sparse_in_a2(const SparseOptions& o, int64_t l, int64_t i, int64_t j) {
  if (o.causal && j > i) return false;
  if (o.mode == SparseMode::strided) return std::abs(i - j) % l == 0;
  return j % l >= l - o.summary;  // a summary cell of its block
}

// ---- key lists --------------------------------------------------------------------------------------------
void sparse_row_keys(const SparseOptions& o, int64_t l, int64_t n, int parts, int64_t i, std::vector<int64_t>& out) {
  out.clear();
  const int64_t last = o.causal ? i : n - 1;  // the largest key i may see
  std::vector<int64_t> a1, a2;
  if (parts & kSparseA1) {
    int64_t lo, hi;
    if (o.mode == SparseMode::strided) {
      lo = std::max<int64_t>(0, i - l + 1);
      hi = std::min(last, i + l - 1);
    } else {
      lo = (i / l) * l;
      hi = std::min(last, lo + l - 1);
    }
    for (int64_t j = lo; j <= hi; ++j) a1.push_back(j);
  }
  if (parts & kSparseA2) {
    if (o.mode == SparseMode::strided) {
      for (int64_t j = i % l; j <= last; j += l) a2.push_back(j);
    } else {
      for (int64_t block = 0; block * l <= last; ++block)
        for (int64_t j = block * l + l - o.summary; j < block * l + l && j <= last; ++j) a2.push_back(j);
    }
  }
  std::set_union(a1.begin(), a1.end(), a2.begin(), a2.end(), std::back_inserter(out));  // sorted, each key once
}

IntTensor sparse_index(const SparseOptions& o, int64_t n, int64_t H, int parts) {
  const int64_t l = sparse_stride(o, n);
  // One index per head only when heads differ (split); otherwise one shared by all heads.
  const int64_t Hi = (parts == 0 && o.heads == SparseHeads::split) ? H : 1;
  std::vector<int64_t> keys;
  int64_t K = 0;
  for (int64_t h = 0; h < Hi; ++h)
    for (int64_t i = 0; i < n; ++i) {
      sparse_row_keys(o, l, n, parts ? parts : sparse_head_parts(o, h), i, keys);
      K = std::max<int64_t>(K, static_cast<int64_t>(keys.size()));
    }
  IntTensor index({1, Hi, n, std::max<int64_t>(K, 1)}, -1);  // (1, Hi, n, K)
  K = index.shape[3];
  for (int64_t h = 0; h < Hi; ++h)
    for (int64_t i = 0; i < n; ++i) {
      sparse_row_keys(o, l, n, parts ? parts : sparse_head_parts(o, h), i, keys);
      std::copy(keys.begin(), keys.end(), index.data.begin() + (h * n + i) * K);
    }
  return index;
}

Tensor sparse_pattern(const SparseOptions& o, int64_t n, int64_t H, int parts) {
  const int64_t l = sparse_stride(o, n);
  Tensor P = Tensor::zeros({1, H, n, n});  // (1, H, n, n)
  float* p = P.data();
  for (int64_t h = 0; h < H; ++h) {
    const int use = parts ? parts : sparse_head_parts(o, h);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const bool yes = ((use & kSparseA1) && sparse_in_a1(o, l, i, j)) || ((use & kSparseA2) && sparse_in_a2(o, l, i, j));
        p[(h * n + i) * n + j] = yes ? 1.0f : 0.0f;
      }
  }
  return P;
}

// ---- kernels ----------------------------------------------------------------------------------------------
namespace {
void check_self_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  Scheme::check_qkv(q, k, v, "sparse");
  AZ_CHECK(k.size(2) == q.size(2), "sparse: the pattern is self-attention, so k and v need as many positions as q: ",
           "q ", q.shape(), ", k ", k.shape());
}
}  // namespace

// ---- the strided pattern in dense blocks (the paper's own layout) --------------------------------------------
// The strided pattern lists keys l apart, so the rows of a 64 × 64 tile list different keys and the tiled kernel
// ran 4× slower on it than the per-pair kernel — which in turn spends its time fetching scattered rows (6 % of the
// roofline at 4K). The pattern has two dense parts, though:
//   band    A1: query tile [i0, i0 + T) against the contiguous keys it reaches, masked to |i - j| < l (causal:
//           0 <= i - j < l);
//   stride  A2 without the diagonal (j = i is already in the band): residue class r = {r, r + l, r + 2l, ...} is
//           a dense block, every query of the class against every key of it (causal: earlier ones).
// A query's softmax runs over both parts: each gives a partial (max, Σ e^(s - max), Σ e^(s - max) v), merged by
// log-sum-exp as flash merges tiles. The backward recomputes P = e^(s - L) per block (nothing n × K is stored):
// dq by query tiles, dk and dv by key tiles of the band (the transposed block, same score bits: q·k and k·q sum the
// same products in the same order) and by class for the stride part, each into its own buffer, added in a fixed
// order. Every row has one writer: bit-identical results for any number of threads.
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kBandTile = 32;  // query (or key) rows per band tile (16, 32, 64 measured at 4K: 32 fastest)

// One (batch, head) slice: its sizes, and which keys a query sees in each of the two parts.
struct StridedShape {
  int64_t n, d, l;
  bool causal;
  float scale;
  const float* pad;  // (n) of this batch row: 0 = padding key; nullptr = none
  // Whether query i sees key j in the band part / in the stride part (the class is implied by the block).
  bool band(int64_t i, int64_t j) const {
    const int64_t gap = i - j;
    return (causal ? gap >= 0 && gap < l : gap > -l && gap < l) && !(pad && pad[j] == 0.0f);
  }
  bool stride(int64_t i, int64_t j) const { return (causal ? j < i : j != i) && !(pad && pad[j] == 0.0f); }
};

// The positions of band tile t as queries, and the keys they reach (a contiguous range).
void band_tile(const StridedShape& s, int64_t t, std::vector<int64_t>& rows, std::vector<int64_t>& reach,
               bool rows_are_keys) {
  const int64_t r0 = t * kBandTile, r1 = std::min(s.n, r0 + kBandTile);
  rows.clear();
  for (int64_t i = r0; i < r1; ++i) rows.push_back(i);
  // queries reach keys [r0 - l + 1, r1 - 1 + l - 1] (causal: up to r1 - 1); keys are reached by the mirror range
  int64_t lo = r0 - s.l + 1, hi = r1 - 1 + s.l - 1;
  if (s.causal) (rows_are_keys ? lo : hi) = rows_are_keys ? r0 : r1 - 1;
  lo = std::max<int64_t>(lo, 0), hi = std::min(hi, s.n - 1);
  reach.clear();
  for (int64_t j = lo; j <= hi; ++j) reach.push_back(j);
}

// The positions of residue class r: r, r + l, r + 2l, ... < n.
void stride_class(const StridedShape& s, int64_t r, std::vector<int64_t>& pos) {
  pos.clear();
  for (int64_t i = r; i < s.n; i += s.l) pos.push_back(i);
}

// A block's products, scaled, masked with -inf: S (rows, ld) = a_rows b_colsᵀ·scale where visible(row, col),
// ld = padded(cols). For scores a = q, b = k; for the backward's do·v, a = do, b = v; with rows and cols swapped
// the entries are the same bits (each is Σ_t a[t]·b[t] in t order, and a·b = b·a exactly).
// bt, when given, is b transposed once for the whole sequence, (d, ldt) with ldt >= n + 16 and zeros past n: the
// band's columns are a contiguous range, read in place instead of gathered again by every tile that reaches them.
template <class Mask>
void block_scores(const StridedShape& s, float scale, const float* a, const std::vector<int64_t>& rows, const float* b,
                  const std::vector<int64_t>& cols, Mask visible, std::vector<float>& A, std::vector<float>& Bt,
                  std::vector<float>& S, const float* bt = nullptr, int64_t ldt = 0) {
  const int64_t nr = static_cast<int64_t>(rows.size()), nc = static_cast<int64_t>(cols.size());
  const int64_t ld = blocks::padded(nc);
  blocks::gather_rows(a, rows.data(), nr, s.d, A);
  S.resize(static_cast<size_t>(nr * ld));
  if (bt) {
    blocks::small_gemm(A.data(), s.d, 1, bt + cols[0], ldt, nr, ld, s.d, S.data(), ld);
  } else {
    blocks::gather_columns(b, cols.data(), nc, s.d, Bt);
    blocks::scores(A.data(), Bt.data(), nr, ld, s.d, S.data());
  }
  // A visible entry that is not finite (q·k overflowed float32) becomes NaN, never -inf: -inf would read as
  // "masked", and a row whose every score overflowed downwards would return 0 instead of being refused.
  for (int64_t x = 0; x < nr; ++x)
    for (int64_t y = 0; y < nc; ++y) {
      float& e = S[x * ld + y];
      e = visible(rows[x], cols[y]) ? (std::isfinite(e * scale) ? e * scale : kNaN) : kNegInf;
    }
}

// Forward partial of a block: for each query row, m = max s, z = Σ e^(s - m), o = Σ e^(s - m) v (unnormalised),
// written at the query's position into m, z (n) and o (n, d).
template <class Mask>
void forward_block(const StridedShape& s, const float* q, const float* k, const float* v,
                   const std::vector<int64_t>& rows, const std::vector<int64_t>& cols, Mask visible, float* m,
                   double* z, float* o, const float* kt = nullptr, int64_t ldt = 0) {
  thread_local std::vector<float> A, Bt, S, V, O;
  block_scores(s, s.scale, q, rows, k, cols, visible, A, Bt, S, kt, ldt);
  const int64_t nr = static_cast<int64_t>(rows.size()), nc = static_cast<int64_t>(cols.size());
  const int64_t ld = blocks::padded(nc), d = s.d;
  for (int64_t x = 0; x < nr; ++x) {
    float* e = S.data() + x * ld;
    float mx = detail::row_max(e, nc);
    bool overflow = false;
    for (int64_t y = 0; y < nc; ++y) overflow = overflow || std::isnan(e[y]);
    double total = 0.0;
    if (overflow) {  // the whole row becomes NaN: the caller refuses the input
      mx = kNaN;
      for (int64_t y = 0; y < nc; ++y) e[y] = kNaN;
    } else if (mx == kNegInf) {
      for (int64_t y = 0; y < nc; ++y) e[y] = 0.0f;
    } else {
      for (int64_t y = 0; y < nc; ++y) e[y] = core::fast_exp(e[y] - mx);
      total = detail::lane_sum(nc, [e](int64_t y) { return static_cast<double>(e[y]); });
    }
    m[rows[x]] = mx;
    z[rows[x]] = total;
  }
  blocks::gather_rows(v, cols.data(), nc, d, V);
  O.resize(static_cast<size_t>(nr * d));
  blocks::weighted_rows(S.data(), ld, V.data(), nr, nc, d, O.data());
  for (int64_t x = 0; x < nr; ++x) blocks::copy_row(o + rows[x] * d, O.data() + x * d, d);
}

// Backward of a block for its rows' gradients. rows_are_queries: dq_rows = Σ_cols ds k; else (rows are keys):
// dk_rows = Σ_cols ds q and dv_rows = Σ_cols p do. ds = p (do·v - D) scale, p = e^(s - L_query).
// With the whole sequence transposed (Xt: qt, kt, vt, gt, (d, ldt)) the band's columns are read in place.
struct Transposed {
  const float *qt = nullptr, *kt = nullptr, *vt = nullptr, *gt = nullptr;
  int64_t ldt = 0;
};

template <class Mask>
void backward_block(const StridedShape& s, bool rows_are_queries, const float* q, const float* k, const float* v,
                    const float* g, const float* L, const float* D, const std::vector<int64_t>& rows,
                    const std::vector<int64_t>& cols, Mask visible, float* dq, float* dk, float* dv,
                    const Transposed& t = {}) {
  thread_local std::vector<float> A, Bt, S, A2, Bt2, dP, X, Out;
  const auto all = [](int64_t, int64_t) { return true; };
  const int64_t nr = static_cast<int64_t>(rows.size()), nc = static_cast<int64_t>(cols.size());
  const int64_t ld = blocks::padded(nc), d = s.d;
  if (rows_are_queries) {
    block_scores(s, s.scale, q, rows, k, cols, visible, A, Bt, S, t.kt, t.ldt);  // s_ij: rows i, cols j
    block_scores(s, 1.0f, g, rows, v, cols, all, A2, Bt2, dP, t.vt, t.ldt);        // do_i·v_j
  } else {
    const auto seen = [&](int64_t j, int64_t i) { return visible(i, j); };
    block_scores(s, s.scale, k, rows, q, cols, seen, A, Bt, S, t.qt, t.ldt);
    block_scores(s, 1.0f, v, rows, g, cols, all, A2, Bt2, dP, t.gt, t.ldt);
  }
  // S becomes p = e^(s - L_i), dP becomes ds = p (do·v - D_i) scale
  for (int64_t x = 0; x < nr; ++x)
    for (int64_t y = 0; y < nc; ++y) {
      const int64_t i = rows_are_queries ? rows[x] : cols[y];
      float& p = S[x * ld + y];
      p = p == kNegInf || L[i] == kNegInf ? 0.0f : core::fast_exp(p - L[i]);
      float& ds = dP[x * ld + y];
      ds = p * (ds - D[i]) * s.scale;
    }
  if (rows_are_queries) {
    blocks::gather_rows(k, cols.data(), nc, d, X);
    Out.resize(static_cast<size_t>(nr * d));
    blocks::weighted_rows(dP.data(), ld, X.data(), nr, nc, d, Out.data());
    for (int64_t x = 0; x < nr; ++x) blocks::copy_row(dq + rows[x] * d, Out.data() + x * d, d);
  } else {
    blocks::gather_rows(q, cols.data(), nc, d, X);
    Out.resize(static_cast<size_t>(nr * d));
    blocks::weighted_rows(dP.data(), ld, X.data(), nr, nc, d, Out.data());
    for (int64_t x = 0; x < nr; ++x) blocks::copy_row(dk + rows[x] * d, Out.data() + x * d, d);
    blocks::gather_rows(g, cols.data(), nc, d, X);
    blocks::weighted_rows(S.data(), ld, X.data(), nr, nc, d, Out.data());
    for (int64_t x = 0; x < nr; ++x) blocks::copy_row(dv + rows[x] * d, Out.data() + x * d, d);
  }
}

// x (n, d) transposed into xt (d, ldt), ldt = n + 16, zeros past n (small_gemm may read up to 15 columns past a
// range's end).
void transpose_all(const float* x, int64_t n, int64_t d, std::vector<float>& xt) {
  const int64_t ldt = n + 16;
  xt.assign(static_cast<size_t>(d * ldt), 0.0f);
  parallel_rows(d, n, [&](int64_t t) {
    float* row = xt.data() + t * ldt;
    for (int64_t j = 0; j < n; ++j) row[j] = x[j * d + t];
  });
}

// Everything of one call: shapes, the per-(b, h) row context, and how a task loops over its blocks.
struct StridedCall {
  int64_t B, H, n, d, l, tiles, classes;
  bool causal;
  float scale;
  const float* pad;  // (B, n) or nullptr
  StridedShape shape(int64_t bh) const {
    return {n, d, l, causal, scale, pad ? pad + (bh / H) * n : nullptr};
  }
};

StridedCall strided_call(const Tensor& q, int64_t l, bool causal, const Tensor& pad) {
  StridedCall c;
  c.B = q.size(0), c.H = q.size(1), c.n = q.size(2), c.d = q.size(3), c.l = l;
  c.tiles = (c.n + kBandTile - 1) / kBandTile;
  c.classes = std::min(l, c.n);
  c.causal = causal;
  c.scale = 1.0f / std::sqrt(static_cast<float>(c.d));
  c.pad = pad.defined() ? pad.data() : nullptr;
  return c;
}

// Forward: out (B, H, n, d) and the log-sum-exp L (B, H, n) of every query over A1 ∪ A2 (-inf: no usable key).
void strided_forward(const StridedCall& c, const float* q, const float* k, const float* v, float* out, float* L) {
  const int64_t n = c.n, d = c.d;
  std::vector<float> mb(n), ms(n), ob(n * d), os(n * d);
  std::vector<double> zb(n), zs(n);
  std::vector<float> kt;
  for (int64_t bh = 0; bh < c.B * c.H; ++bh) {
    const StridedShape s = c.shape(bh);
    const float *qb = q + bh * n * d, *kb = k + bh * n * d, *vb = v + bh * n * d;
    const auto band = [&s](int64_t i, int64_t j) { return s.band(i, j); };
    const auto stride = [&s](int64_t i, int64_t j) { return s.stride(i, j); };
    transpose_all(kb, n, d, kt);
    parallel_rows(c.tiles, kBandTile * (kBandTile + 2 * c.l) * d, [&](int64_t t) {
      thread_local std::vector<int64_t> rows, reach;
      band_tile(s, t, rows, reach, false);
      forward_block(s, qb, kb, vb, rows, reach, band, mb.data(), zb.data(), ob.data(), kt.data(), n + 16);
    });
    parallel_rows(c.classes, (n / c.l + 1) * (n / c.l + 1) * d, [&](int64_t r) {
      thread_local std::vector<int64_t> pos;
      stride_class(s, r, pos);
      forward_block(s, qb, kb, vb, pos, pos, stride, ms.data(), zs.data(), os.data());
    });
    float* o = out + bh * n * d;
    float* lse = L + bh * n;
    parallel_rows(n, d, [&](int64_t i) {
      const float M = std::max(mb[i], ms[i]);
      float* oi = o + i * d;
      if (std::isnan(mb[i]) || std::isnan(ms[i])) {  // a score overflowed: NaN, refused below
        for (int64_t e = 0; e < d; ++e) oi[e] = kNaN;
        lse[i] = kNaN;
        return;
      }
      if (M == kNegInf) {  // no usable key in either part: output 0, never NaN
        for (int64_t e = 0; e < d; ++e) oi[e] = 0.0f;
        lse[i] = kNegInf;
        return;
      }
      const float a = mb[i] == kNegInf ? 0.0f : std::exp(mb[i] - M), b = ms[i] == kNegInf ? 0.0f : std::exp(ms[i] - M);
      const double Z = zb[i] * a + zs[i] * b;
      const float inv = static_cast<float>(1.0 / Z);
      for (int64_t e = 0; e < d; ++e) oi[e] = (a * ob[i * d + e] + b * os[i * d + e]) * inv;
      lse[i] = M + static_cast<float>(std::log(Z));
    });
  }
}

}  // namespace

Tensor sparse_strided_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                                const Tensor& key_padding_mask) {
  check_self_attention(q, k, v);
  AZ_CHECK(o.mode == SparseMode::strided && o.heads == SparseHeads::merged,
           "sparse: the strided block kernel computes mode=strided with heads=merged only");
  const int64_t n = q.size(2);
  if (key_padding_mask.defined())
    AZ_CHECK(key_padding_mask.shape() == Shape({q.size(0), n}), "sparse: key_padding_mask must be (B, n) = ",
             Shape({q.size(0), n}), ", got ", key_padding_mask.shape());
  const StridedCall c = strided_call(q, sparse_stride(o, n), o.causal, key_padding_mask);
  Tensor out = Tensor::empty(q.shape()), L = Tensor::empty({c.B, c.H, n});
  strided_forward(c, q.data(), k.data(), v.data(), out.data(), L.data());
  AZ_CHECK(core::all_finite(out.data(), out.numel()),
           "sparse: a score, the softmax normaliser or the output overflowed float32 or is not finite (inputs too "
           "large): refusing rather than writing wrong numbers");
  if (!will_record({&q, &k, &v})) return out;
  const Tensor pad = key_padding_mask;
  return record(
      out, "sparse_strided_attention", {q, k, v},
      [c, pad](BackwardContext& ctx) {
        const Tensor &q = ctx.inputs[0], &k = ctx.inputs[1], &v = ctx.inputs[2];
        const float *pq = q.data(), *pk = k.data(), *pv = v.data(), *pg = ctx.grad_out.data(),
                    *po = ctx.out.data(), *pl = ctx.saved[0].data();
        const int64_t n = c.n, d = c.d;
        Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
        std::vector<float> D(n), dq_s(n * d), dk_s(n * d), dv_s(n * d), qt, kt, vt, gt;
        for (int64_t bh = 0; bh < c.B * c.H; ++bh) {
          const StridedShape s = c.shape(bh);
          const int64_t off = bh * n * d;
          const float *qb = pq + off, *kb = pk + off, *vb = pv + off, *gb = pg + off, *L = pl + bh * n;
          float *dqb = dq.data() + off, *dkb = dk.data() + off, *dvb = dv.data() + off;
          // D_i = do_i · out_i   (the softmax backward's row term)
          parallel_rows(n, d, [&](int64_t i) {
            const float *g = gb + i * d, *o = po + off + i * d;
            D[i] = static_cast<float>(
                detail::lane_sum(d, [g, o](int64_t e) { return static_cast<double>(g[e]) * o[e]; }));
          });
          const auto band = [&s](int64_t i, int64_t j) { return s.band(i, j); };
          const auto stride = [&s](int64_t i, int64_t j) { return s.stride(i, j); };
          const int64_t tile_work = 2 * kBandTile * (kBandTile + 2 * c.l) * d;
          transpose_all(qb, n, d, qt);
          transpose_all(kb, n, d, kt);
          transpose_all(vb, n, d, vt);
          transpose_all(gb, n, d, gt);
          const Transposed all{qt.data(), kt.data(), vt.data(), gt.data(), n + 16};
          parallel_rows(c.tiles, tile_work, [&](int64_t t) {  // band: dq by query tile
            thread_local std::vector<int64_t> rows, reach;
            band_tile(s, t, rows, reach, false);
            backward_block(s, true, qb, kb, vb, gb, L, D.data(), rows, reach, band, dqb, nullptr, nullptr, all);
          });
          parallel_rows(c.tiles, tile_work, [&](int64_t t) {  // band: dk, dv by key tile
            thread_local std::vector<int64_t> rows, reach;
            band_tile(s, t, rows, reach, true);
            backward_block(s, false, qb, kb, vb, gb, L, D.data(), rows, reach, band, nullptr, dkb, dvb, all);
          });
          parallel_rows(c.classes, 2 * (n / c.l + 1) * (n / c.l + 1) * d, [&](int64_t r) {  // stride, by class
            thread_local std::vector<int64_t> pos;
            stride_class(s, r, pos);
            backward_block(s, true, qb, kb, vb, gb, L, D.data(), pos, pos, stride, dq_s.data(), nullptr, nullptr);
            backward_block(s, false, qb, kb, vb, gb, L, D.data(), pos, pos, stride, nullptr, dk_s.data(),
                           dv_s.data());
          });
          parallel_rows(n, d, [&](int64_t i) {
            for (int64_t e = i * d; e < (i + 1) * d; ++e) {
              dqb[e] += dq_s[e];
              dkb[e] += dk_s[e];
              dvb[e] += dv_s[e];
            }
          });
        }
        ctx.add_grad(0, dq);
        ctx.add_grad(1, dk);
        ctx.add_grad(2, dv);
      },
      {L});
}

namespace {
// The probabilities the strided block kernel applied, as (B, H, n, n): p = e^(s - L) per block, scattered.
Tensor sparse_strided_effective_attention(const Tensor& q, const Tensor& k, const SparseOptions& o,
                                          const Tensor& key_padding_mask) {
  NoGradGuard no_grad;
  const int64_t n = q.size(2);
  const StridedCall c = strided_call(q, sparse_stride(o, n), o.causal, key_padding_mask);
  Tensor scratch = Tensor::empty(q.shape()), L = Tensor::empty({c.B, c.H, n});
  strided_forward(c, q.data(), k.data(), k.data(), scratch.data(), L.data());  // L depends on the scores only
  Tensor A = Tensor::zeros({c.B, c.H, n, n});
  for (int64_t bh = 0; bh < c.B * c.H; ++bh) {
    const StridedShape s = c.shape(bh);
    const float *qb = q.data() + bh * n * c.d, *kb = k.data() + bh * n * c.d, *Lb = L.data() + bh * n;
    float* a = A.data() + bh * n * n;
    std::vector<float> X, Xt, S;
    std::vector<int64_t> rows, cols;
    const auto scatter = [&](const auto& visible) {
      block_scores(s, s.scale, qb, rows, kb, cols, visible, X, Xt, S);
      const int64_t ld = blocks::padded(static_cast<int64_t>(cols.size()));
      for (size_t x = 0; x < rows.size(); ++x)
        for (size_t y = 0; y < cols.size(); ++y) {
          const float sc = S[x * ld + y];
          const int64_t i = rows[x];
          if (sc != kNegInf && Lb[i] != kNegInf) a[i * n + cols[y]] += core::fast_exp(sc - Lb[i]);
        }
    };
    for (int64_t t = 0; t < c.tiles; ++t) {
      band_tile(s, t, rows, cols, false);
      scatter([&s](int64_t i, int64_t j) { return s.band(i, j); });
    }
    for (int64_t r = 0; r < c.classes; ++r) {
      stride_class(s, r, rows);
      cols = rows;
      scatter([&s](int64_t i, int64_t j) { return s.stride(i, j); });
    }
  }
  return A;
}
}  // namespace

Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                        const Tensor& key_padding_mask) {
  check_self_attention(q, k, v);
  if (o.mode == SparseMode::strided && o.heads == SparseHeads::merged)
    return sparse_strided_attention(q, k, v, o, key_padding_mask);
  auto index = std::make_shared<const IntTensor>(sparse_index(o, q.size(2), q.size(1)));  // (1, 1|H, n, K)
  IndexAttentionOptions io;
  io.who = "sparse";  // a refusal names the scheme
  io.key_padding_mask = key_padding_mask;
  return sparse_pattern_attention(q, k, v, index, io);  // (B, H, n, d)
}

Tensor sparse_dense_mask_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                                   const Tensor& key_padding_mask) {
  check_self_attention(q, k, v);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2);
  // blocked = 1 where query i may not see key j: (1 or B, 1 or H, n, n), filled from the key lists.
  const IntTensor index = sparse_index(o, n, H);  // (1, Hi, n, K)
  const int64_t Hi = index.shape[1], K = index.shape[3], Bb = key_padding_mask.defined() ? B : 1;
  if (key_padding_mask.defined())
    AZ_CHECK(key_padding_mask.shape() == Shape({B, n}), "sparse: key_padding_mask must be (B, n) = ", Shape({B, n}),
             ", got ", key_padding_mask.shape());
  Tensor blocked = Tensor::ones({Bb, Hi, n, n});
  float* m = blocked.data();
  for (int64_t b = 0; b < Bb; ++b)
    for (int64_t h = 0; h < Hi; ++h)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t t = 0; t < K; ++t) {
          const int64_t j = index.data[(h * n + i) * K + t];
          const bool padded = key_padding_mask.defined() && key_padding_mask.data()[b * n + j] == 0.0f;
          if (j >= 0 && !padded) m[((b * Hi + h) * n + i) * n + j] = 0.0f;
        }
  const Tensor scores = matmul(q, k, false, true) / std::sqrt(static_cast<float>(q.size(3)));  // (B, H, n, n)
  const Tensor probs = softmax(masked_fill(scores, blocked, -std::numeric_limits<float>::infinity()), -1);
  return matmul(probs, v);  // (B, H, n, d)
}

Tensor sparse_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                                  const Tensor& key_padding_mask) {
  check_self_attention(q, k, v);
  if (o.mode == SparseMode::strided && o.heads == SparseHeads::merged)  // what that kernel applied, bit for bit
    return sparse_strided_effective_attention(q.detach(), k.detach(), o, key_padding_mask);
  const IntTensor index = sparse_index(o, q.size(2), q.size(1));
  IndexAttentionOptions io;
  io.who = "sparse";  // a refusal names the scheme
  io.key_padding_mask = key_padding_mask;
  const Tensor probs = index_attention_forward(q.detach(), k.detach(), v.detach(), index, io).probs;  // (B,H,n,K)
  return index_to_dense(probs, index, q.size(2));                                                   // (B,H,n,n)
}

// ---- the registered scheme "sparse" ------------------------------------------------------------------------
namespace {

SchemeInfo sparse_info() {
  SchemeInfo i;
  i.name = "sparse";
  i.summary =
      "Sparse Transformer: factorised strided/fixed patterns A1 ∪ A2 (strided: band tiles + one dense block per "
      "residue class; fixed: per-query key lists), exact, O(n·√n·d) with stride ≈ √n";
  i.paper = "Child, Gray, Radford, Sutskever 2019, Generating Long Sequences with Sparse Transformers";
  i.lecture = 3;
  i.use(sparse_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::FP, Family::CP};
  i.exactness = Exactness::on_pattern;
  i.masked_softmax = true;
  i.time_growth = "n·√n";
  i.memory_exponent = 1.0;  // the default (strided, merged) runs on dense blocks and keeps O(n); fixed: key lists, n·√n
  i.idea = "strided pattern merged with a local one (A1 ∪ A2), stride ~ sqrt(n)";
  i.claim = {"Child et al. 2019 (Table 2): the fixed pattern matches dense attention on enwik8 "
              "(0.99 vs 1.00 bits per byte) at a lower time per step",
             attention::ClaimTest::lm_matches_exact};
  i.lra_paper = {"Sparse Trans.", 17.07, 71.71, 51.24, 63.58, 59.59, 44.24};
  i.gallery_settings = {"mode=fixed"};
  i.test_settings = {{"mode=fixed", "stride=8", "summary=3"}, {"heads=split", "stride=5"}};
  return i;
}

// ---- decoding ---------------------------------------------------------------------------------------------
// One token at a time (attention/decode.h). The state is the keys and values some query still to come will read:
//   fixed    the summary cells (last c of each block) so far and the current block: (t/l)·c + l per head, so
//            about 2·(t·c/l + l)·d floats, which grows with t, but l/c times slower than a KV cache;
//   strided  every key: query i reads j ≡ i (mod l) back to the start, and every residue comes again within l
//            tokens, so nothing can be dropped. The gain is in time, not memory: a step reads about t/l + l
//            keys, not t.
// Keys no later query would read are dropped after each step. Heads split between A1 and A2 share one store.
class SparseDecoder : public Decoder {
 public:
  SparseDecoder(const SparseOptions& o, int64_t n) : Decoder("sparse", n), o_(o), l_(sparse_stride(o, n)) {}
  int64_t state_floats() const override { return 2 * B * H * d * static_cast<int64_t>(positions_.size()); }
  std::string state() const override {
    return o_.mode == SparseMode::fixed
               ? "the summary cells so far and the current block (stride l = " + std::to_string(l_) +
                     "): 2·(t·c/l + l)·d floats per head, growing l/c times slower than a KV cache"
               : "every key and value (stride l = " + std::to_string(l_) +
                     "; some later query reads each one): 2·t·d floats per head, but a step reads ~t/l + l of them";
  }

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override {
    const int64_t t = tokens();
    positions_.push_back(t);
    keys_.emplace_back(k.data(), k.data() + B * H * d);  // (B·H, d) of token t
    values_.emplace_back(v.data(), v.data() + B * H * d);
    Tensor out = Tensor::empty({B, H, 1, d});
    std::vector<int64_t> row;
    std::vector<const float*> ks, vs;
    for (int64_t h = 0; h < H; ++h) {
      sparse_row_keys(o_, l_, length(), sparse_head_parts(o_, h), t, row);  // sorted, all <= t (causal)
      for (int64_t b = 0; b < B; ++b) {
        const int64_t bh = b * H + h;
        ks.clear();
        vs.clear();
        for (int64_t j : row) {
          const size_t slot = static_cast<size_t>(
              std::lower_bound(positions_.begin(), positions_.end(), j) - positions_.begin());
          AZ_CHECK(slot < positions_.size() && positions_[slot] == j, "sparse decode: key ", j, " of query ", t,
                   " was dropped from the state (a bug)");
          ks.push_back(keys_[slot].data() + bh * d);
          vs.push_back(values_[slot].data() + bh * d);
        }
        attend_cached(q.data() + bh * d, ks, vs, d, out.data() + bh * d);
      }
    }
    AZ_CHECK(core::all_finite(out.data(), out.numel()), "sparse decode: token ", t,
             "'s output is not finite (the scores overflow float32)");
    size_t kept = 0;  // drop what no later query would read
    for (size_t s = 0; s < positions_.size(); ++s)
      if (needed_later(positions_[s], t)) {
        if (kept != s) {
          positions_[kept] = positions_[s];
          keys_[kept].swap(keys_[s]);
          values_[kept].swap(values_[s]);
        }
        ++kept;
      }
    positions_.resize(kept);
    keys_.resize(kept);
    values_.resize(kept);
    return out;
  }

 private:
  // Whether a query i > t would read key j <= t, were the sequence to go on (so that the state is a function of
  // t alone, as documented, and not of how close the end is).
  bool needed_later(int64_t j, int64_t t) const {
    const int64_t next = t + 1;
    if (o_.mode == SparseMode::strided) return true;           // A2: i = j + l, j + 2l, ... reads it
    return j / l_ == next / l_ || j % l_ >= l_ - o_.summary;  // A1: the current block; A2: a summary cell
  }

  SparseOptions o_;
  int64_t l_;
  std::vector<int64_t> positions_;                 // kept keys' positions, ascending
  std::vector<std::vector<float>> keys_, values_;  // per kept position: (B·H, d)
};

class SparseScheme : public Scheme {
 public:
  SparseScheme() : Scheme(sparse_info()) {}
  std::unique_ptr<Decoder> make_decoder(const Config& cfg, int64_t n) const override {
    return std::make_unique<SparseDecoder>(sparse_options(cfg), n);
  }

  double flops(const Shape& q, const Config& cfg) const override {
    return attention_flops(q, index_pairs_per_head(sparse_index(sparse_options(cfg), q[2], q[1])));
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return sparse_attention(q, k, v, sparse_options(cfg), cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return sparse_effective_attention(q, k, v, sparse_options(cfg), cfg.key_padding_mask);
  }
  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    AZ_CHECK(q_shape.size() == 4, "sparse: pattern needs a (B, H, n, d) shape, got ", q_shape);
    const int64_t B = q_shape[0], H = q_shape[1], n = q_shape[2];
    const SparseOptions o = sparse_options(cfg);
    const IntTensor index = sparse_index(o, n, H);
    return index_pattern(index, B, H, n, cfg.key_padding_mask);  // (B, H, n, n)
  }
};

Registrar registrar(std::make_unique<SparseScheme>());

}  // namespace

}  // namespace attention
