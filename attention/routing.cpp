// attention/routing.cpp — the Routing Transformer: k-means routing (balanced top-w clusters, or nearest centroid
// when causal), attention inside clusters with a hand-written backward, EMA centroid updates, the layer and the
// registry entry "routing". See attention/routing.h for the equations and the choices made.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, C = clusters, w = tokens per cluster,
// bh = b·H + h (one sequence of one head), g = bh·C + c (one cluster of one sequence of one head).
#include "attention/routing.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "attention/kernels/small_gemm.h"
#include "core/fast_exp.h"
#include "core/autograd.h"
#include "core/ops_linalg.h"
#include "core/ops_shape.h"
#include "core/parallel.h"
#include "core/random.h"

namespace attention {

using namespace core;
using core::detail::parallel_rows;
using namespace attention::blocks;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline float dot(const float* a, const float* b, int64_t d) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t t = 0; t < d; ++t) s += a[t] * b[t];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, int64_t d) {
#pragma omp simd
  for (int64_t t = 0; t < d; ++t) y[t] += alpha * x[t];
}

bool is_valid(const Tensor& key_padding_mask, int64_t b, int64_t n, int64_t i) {
  return !key_padding_mask.defined() || key_padding_mask.data()[b * n + i] != 0.0f;
}

void check_padding(const Tensor& key_padding_mask, int64_t B, int64_t n) {
  if (key_padding_mask.defined())
    AZ_CHECK(key_padding_mask.shape() == Shape({B, n}), "routing: key_padding_mask must be (B, n) = ",
             Shape({B, n}), ", got ", key_padding_mask.shape());
}

// ranks[i][c] = |μ_c|² - 2 x_i·μ_c = |x_i - μ_c|² - |x_i|², which orders the centroids by distance to x_i.
// points (m, d) with centroids (C, d) -> (m, C); or points (B, H, n, d) with centroids (B or 1, H, C, d) ->
// (B, H, n, C). The dot products are one BLAS matmul; each entry depends only on its own row and centroid, so
// changing other rows never changes its bits (the causal routing relies on it).
Tensor distance_ranks(const Tensor& points, const Tensor& centroids) {
  NoGradGuard no_grad;
  Tensor ranks = matmul(points.detach(), centroids.detach(), false, true);
  const int64_t C = centroids.size(-2), d = centroids.size(-1), m = points.size(-2);
  const int64_t groups = centroids.numel() / (C * d);  // 1, or Bc·H
  std::vector<float> mu_sq(static_cast<size_t>(groups * C));
  for (int64_t g = 0; g < groups * C; ++g) mu_sq[g] = dot(centroids.data() + g * d, centroids.data() + g * d, d);
  const int64_t blocks = ranks.numel() / (m * C);  // 1, or B·H
  const int64_t H = centroids.dim() == 4 ? centroids.size(1) : 1;
  const bool shared = centroids.dim() != 4 || centroids.size(0) == 1;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t g = shared ? blk % H : blk;  // which centroid set row block blk uses
    float* r = ranks.data() + blk * m * C;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < C; ++c) r[i * C + c] = mu_sq[g * C + c] - 2.0f * r[i * C + c];
  }
  return ranks;
}

// Seeded random unit rows (rows, d).
Tensor random_unit_rows(int64_t rows, int64_t d, Rng& rng) {
  Tensor t = randn({rows, d}, rng);
  return l2_normalize(t);
}

// The generator of (batch, head) bh's k-means at kernel level: a documented derivation from the seed.
uint64_t sequence_seed(uint64_t seed, int64_t bh) { return seed * 1000003ULL + 7919ULL * static_cast<uint64_t>(bh) + 1; }

// Cluster lists from per-cluster member vectors.
void pack(const std::vector<std::vector<int64_t>>& members, IntTensor& start, IntTensor& pos) {
  int64_t total = 0;
  for (const auto& m : members) total += static_cast<int64_t>(m.size());
  start = IntTensor({static_cast<int64_t>(members.size()) + 1});
  pos = IntTensor({total});
  int64_t at = 0;
  for (size_t g = 0; g < members.size(); ++g) {
    start.data[g] = at;
    for (int64_t p : members[g]) pos.data[static_cast<size_t>(at++)] = p;
  }
  start.data[members.size()] = at;
}

// Geometry shared by the routing functions.
struct RouteShape {
  int64_t B, H, n, d, C, Bc;  // Bc: batch size of the centroids (1 = shared by the batch)
};
RouteShape route_shape(const Tensor& qhat, const Tensor& khat, const Tensor& centroids, const char* op) {
  AZ_CHECK(qhat.dim() == 4 && khat.shape() == qhat.shape(), op, ": qhat and khat must be (B, H, n, d) alike, got ",
           qhat.shape(), " and ", khat.shape());
  AZ_CHECK(centroids.dim() == 4 && centroids.size(1) == qhat.size(1) && centroids.size(3) == qhat.size(3) &&
               (centroids.size(0) == 1 || centroids.size(0) == qhat.size(0)) && centroids.size(2) >= 1,
           op, ": centroids must be (B or 1, H, C, d) for q of shape ", qhat.shape(), ", got ", centroids.shape());
  return {qhat.size(0), qhat.size(1), qhat.size(2), qhat.size(3), centroids.size(2), centroids.size(0)};
}

}  // namespace

// ---- hyperparameters ------------------------------------------------------------------------------------
const ParamTable<RoutingOptions>& routing_params() {
  using O = RoutingOptions;
  static const auto table =
      ParamTable<O>("routing")
          .integer_or_auto("clusters", &O::clusters, 1, kNoLimit, "number of clusters C per head (auto = round(sqrt(n)))")
          .integer_or_auto("cluster_size", &O::cluster_size, 1, kNoLimit,
                           "tokens per cluster w (the paper's window), queries and keys each (auto = ceil(n / C)); "
                           "balanced routing only")
          .integer("kmeans_iters", &O::kmeans_iters, 0, 1000,
                   "k-means iterations fitting the centroids (kernel: on each sequence; layer: first batch)")
          .number("decay", &O::decay, closed_open(0, 1),
                  "the layer's EMA decay of the centroids after each training step");
  return table;
}

std::vector<HyperParam> routing_hyperparams() { return routing_params().hyperparams(); }

RoutingOptions routing_options(const Config& cfg, int64_t n) {
  RoutingOptions o = routing_params().read(cfg.settings);
  o.causal = cfg.causal;
  o.seed = cfg.seed;
  o.key_padding_mask = cfg.key_padding_mask;
  if (n > 0) {
    AZ_CHECK(o.clusters <= n, "routing: clusters=", o.clusters, " exceeds n = ", n);
    AZ_CHECK(o.cluster_size <= n, "routing: cluster_size=", o.cluster_size, " exceeds n = ", n);
  }
  return o;
}

int64_t routing_num_clusters(int64_t n, const RoutingOptions& o) {
  if (o.clusters > 0) return o.clusters;
  return std::max<int64_t>(1, std::llround(std::sqrt(static_cast<double>(n))));
}

int64_t routing_cluster_size(int64_t n, int64_t clusters, const RoutingOptions& o) {
  if (o.cluster_size > 0) return std::min(o.cluster_size, n);
  return std::max<int64_t>(1, (n + clusters - 1) / clusters);
}

Tensor l2_normalize(const Tensor& x) {
  AZ_CHECK(x.dim() >= 1, "l2_normalize: needs at least 1 dim, got ", x.shape());
  const int64_t d = x.size(-1), rows = d ? x.numel() / d : 0;
  Tensor out = Tensor::empty(x.shape());
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * d;
    double s = 0.0;
    for (int64_t t = 0; t < d; ++t) s += static_cast<double>(xr[t]) * xr[t];
    const double inv = s > 0.0 ? 1.0 / std::sqrt(s) : 0.0;
    for (int64_t t = 0; t < d; ++t) out.data()[r * d + t] = static_cast<float>(xr[t] * inv);
  }
  return out;
}

// ---- k-means --------------------------------------------------------------------------------------------
IntTensor nearest_centroid(const Tensor& points, const Tensor& centroids) {
  AZ_CHECK(points.dim() >= 1 && centroids.dim() == 2 && centroids.size(1) == points.size(-1) && centroids.size(0) >= 1,
           "nearest_centroid: points (..., d) and centroids (C, d) must agree on d, got ", points.shape(), " and ",
           centroids.shape());
  const int64_t d = centroids.size(1), C = centroids.size(0), m = points.numel() / d;
  const Tensor ranks = distance_ranks(reshape(points, {m, d}), centroids);  // (m, C)
  Shape out_shape(points.shape().begin(), points.shape().end() - 1);
  IntTensor out(out_shape);
  for (int64_t i = 0; i < m; ++i) {
    const float* r = ranks.data() + i * C;
    int64_t arg = 0;
    for (int64_t c = 1; c < C; ++c)
      if (r[c] < r[arg]) arg = c;  // ties: the lower index
    out.data[static_cast<size_t>(i)] = arg;
  }
  return out;
}

KMeansResult kmeans(const Tensor& points, int64_t clusters, int64_t iters, uint64_t seed) {
  AZ_CHECK(points.dim() == 2, "kmeans: points must be (m, d), got ", points.shape());
  AZ_CHECK(clusters >= 1, "kmeans: clusters must be >= 1, got ", clusters);
  AZ_CHECK(iters >= 0, "kmeans: iters must be >= 0, got ", iters);
  const int64_t m = points.size(0), d = points.size(1);
  const float* x0 = points.data();  // (m, d)
  Rng rng(seed);
  KMeansResult r;
  r.centroids = Tensor::empty({clusters, d});
  float* mu = r.centroids.data();
  const IntTensor order = permutation(m, rng);
  const int64_t from_data = std::min(m, clusters);
  for (int64_t c = 0; c < from_data; ++c)
    std::memcpy(mu + c * d, x0 + order.data[static_cast<size_t>(c)] * d, sizeof(float) * d);
  if (from_data < clusters) {
    const Tensor extra = random_unit_rows(clusters - from_data, d, rng);
    std::memcpy(mu + from_data * d, extra.data(), sizeof(float) * extra.numel());
  }
  auto distortion = [&](const IntTensor& a) {
    double total = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      const float* x = x0 + i * d;
      const float* c = mu + a.data[static_cast<size_t>(i)] * d;
      for (int64_t t = 0; t < d; ++t) total += static_cast<double>(x[t] - c[t]) * (x[t] - c[t]);
    }
    return m ? total / m : 0.0;
  };
  IntTensor assign = nearest_centroid(points, r.centroids);
  r.distortion.push_back(distortion(assign));
  std::vector<double> sum(static_cast<size_t>(clusters * d));
  std::vector<int64_t> count(static_cast<size_t>(clusters));
  for (int64_t it = 0; it < iters; ++it) {
    // update: each centroid moves to the mean of its points (an empty cluster keeps its centroid)
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t c = assign.data[static_cast<size_t>(i)];
      ++count[c];
      double* sc = sum.data() + c * d;
      const float* x = x0 + i * d;
      for (int64_t t = 0; t < d; ++t) sc[t] += x[t];
    }
    for (int64_t c = 0; c < clusters; ++c)
      if (count[c] > 0)
        for (int64_t t = 0; t < d; ++t) mu[c * d + t] = static_cast<float>(sum[c * d + t] / count[c]);
    // assign: each point to its nearest centroid
    assign = nearest_centroid(points, r.centroids);
    r.distortion.push_back(distortion(assign));
  }
  return r;
}

// ---- routing --------------------------------------------------------------------------------------------
int64_t Routing::queries_in(int64_t bh, int64_t c) const {
  const int64_t g = bh * clusters + c;
  return query_start.data[g + 1] - query_start.data[g];
}
int64_t Routing::keys_in(int64_t bh, int64_t c) const {
  const int64_t g = bh * clusters + c;
  return key_start.data[g + 1] - key_start.data[g];
}

Routing route_balanced(const Tensor& qhat, const Tensor& khat, const Tensor& centroids, int64_t window,
                       const Tensor& key_padding_mask) {
  const RouteShape s = route_shape(qhat, khat, centroids, "route_balanced");
  AZ_CHECK(window >= 1, "route_balanced: window must be >= 1, got ", window);
  check_padding(key_padding_mask, s.B, s.n);
  const int64_t BH = s.B * s.H;
  const Tensor ranks[2] = {distance_ranks(qhat, centroids), distance_ranks(khat, centroids)};  // (B, H, n, C)
  std::vector<std::vector<int64_t>> qm(static_cast<size_t>(BH * s.C)), km(static_cast<size_t>(BH * s.C));
  parallel_rows(BH, s.n * s.C * 4, [&](int64_t bh) {
    const int64_t b = bh / s.H;
    std::vector<std::pair<float, int64_t>> cand;
    for (int side = 0; side < 2; ++side) {
      const float* r = ranks[side].data() + bh * s.n * s.C;  // (n, C)
      for (int64_t c = 0; c < s.C; ++c) {
        cand.clear();
        for (int64_t i = 0; i < s.n; ++i)
          if (is_valid(key_padding_mask, b, s.n, i)) cand.push_back({r[i * s.C + c], i});
        const int64_t w = std::min<int64_t>(window, static_cast<int64_t>(cand.size()));
        std::vector<int64_t>& members = (side == 0 ? qm : km)[static_cast<size_t>(bh * s.C + c)];
        if (w == 0) continue;
        // the w nearest (ties: the lower position), then in position order
        std::nth_element(cand.begin(), cand.begin() + (w - 1), cand.end());
        for (int64_t u = 0; u < w; ++u) members.push_back(cand[static_cast<size_t>(u)].second);
        std::sort(members.begin(), members.end());
      }
    }
  });
  Routing r;
  r.batch = s.B, r.heads = s.H, r.n = s.n, r.clusters = s.C;
  pack(qm, r.query_start, r.query_pos);
  pack(km, r.key_start, r.key_pos);
  return r;
}

Routing route_nearest(const Tensor& qhat, const Tensor& khat, const Tensor& centroids,
                      const Tensor& key_padding_mask) {
  const RouteShape s = route_shape(qhat, khat, centroids, "route_nearest");
  check_padding(key_padding_mask, s.B, s.n);
  const int64_t BH = s.B * s.H;
  const Tensor ranks[2] = {distance_ranks(qhat, centroids), distance_ranks(khat, centroids)};  // (B, H, n, C)
  std::vector<std::vector<int64_t>> qm(static_cast<size_t>(BH * s.C)), km(static_cast<size_t>(BH * s.C));
  parallel_rows(BH, s.n * s.C, [&](int64_t bh) {
    const int64_t b = bh / s.H;
    for (int side = 0; side < 2; ++side) {
      const float* r = ranks[side].data() + bh * s.n * s.C;  // (n, C)
      for (int64_t i = 0; i < s.n; ++i) {  // in position order: each cluster's list comes out ascending
        if (!is_valid(key_padding_mask, b, s.n, i)) continue;
        int64_t arg = 0;
        for (int64_t c = 1; c < s.C; ++c)
          if (r[i * s.C + c] < r[i * s.C + arg]) arg = c;
        (side == 0 ? qm : km)[static_cast<size_t>(bh * s.C + arg)].push_back(i);
      }
    }
  });
  Routing r;
  r.batch = s.B, r.heads = s.H, r.n = s.n, r.clusters = s.C;
  pack(qm, r.query_start, r.query_pos);
  pack(km, r.key_start, r.key_pos);
  return r;
}

Tensor routing_kernel_centroids(const Tensor& q, const Tensor& k, const RoutingOptions& o) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), C = routing_num_clusters(n, o);
  if (o.causal) {  // data-independent: fitting them to this sequence would let later tokens route earlier ones
    Rng rng(o.seed ^ 0x726F7574696E67ULL);
    return reshape(random_unit_rows(H * C, d, rng), {1, H, C, d});
  }
  check_padding(o.key_padding_mask, B, n);
  const Tensor qhat = l2_normalize(q.detach()), khat = l2_normalize(k.detach());
  Tensor centroids = Tensor::empty({B, H, C, d});
  parallel_rows(B * H, n * C * d * std::max<int64_t>(o.kmeans_iters, 1), [&](int64_t bh) {
    const int64_t b = bh / H;
    std::vector<float> rows;
    for (const Tensor* x : {&qhat, &khat})
      for (int64_t i = 0; i < n; ++i)
        if (is_valid(o.key_padding_mask, b, n, i))
          rows.insert(rows.end(), x->data() + (bh * n + i) * d, x->data() + (bh * n + i + 1) * d);
    const int64_t m = static_cast<int64_t>(rows.size()) / d;
    const Tensor points = Tensor::from_vector({m, d}, rows);
    const KMeansResult km = kmeans(points, C, o.kmeans_iters, sequence_seed(o.seed, bh));
    std::memcpy(centroids.data() + bh * C * d, km.centroids.data(), sizeof(float) * C * d);
  });
  return centroids;
}

Routing routing_assign(const Tensor& q, const Tensor& k, const RoutingOptions& o) {
  const int64_t n = q.size(2), C = routing_num_clusters(n, o);
  const Tensor centroids = routing_kernel_centroids(q, k, o);
  const Tensor qhat = l2_normalize(q.detach()), khat = l2_normalize(k.detach());
  if (o.causal) return route_nearest(qhat, khat, centroids, o.key_padding_mask);
  return route_balanced(qhat, khat, centroids, routing_cluster_size(n, C, o), o.key_padding_mask);
}

// ---- attention inside the clusters ----------------------------------------------------------------------
namespace {

void check_routing(const Routing& r, const Tensor& q, const char* op) {
  AZ_CHECK(r.batch == q.size(0) && r.heads == q.size(1) && r.n == q.size(2) &&
               r.query_start.numel() == r.batch * r.heads * r.clusters + 1,
           op, ": the routing was made for (B, H, n) = (", r.batch, ",", r.heads, ",", r.n, "), q is ", q.shape());
}

// How many keys of cluster g query i may look at: all of them, or (causal) those at positions <= i — a prefix,
// since positions are ascending.
inline int64_t admissible(const int64_t* keys, int64_t nk, int64_t i, bool causal) {
  if (!causal) return nk;
  return static_cast<int64_t>(std::upper_bound(keys, keys + nk, i) - keys);
}

// For one sequence-head bh: in how many clusters each query has at least one admissible key (the mean's
// denominator; a query counted 0 times gets output 0).
std::vector<int64_t> query_counts(const Routing& r, int64_t bh, bool causal) {
  std::vector<int64_t> count(static_cast<size_t>(r.n), 0);
  for (int64_t c = 0; c < r.clusters; ++c) {
    const int64_t g = bh * r.clusters + c;
    const int64_t* keys = r.key_pos.data.data() + r.key_start.data[g];
    const int64_t nk = r.key_start.data[g + 1] - r.key_start.data[g];
    for (int64_t a = r.query_start.data[g]; a < r.query_start.data[g + 1]; ++a) {
      const int64_t i = r.query_pos.data[a];
      if (admissible(keys, nk, i, causal) > 0) ++count[i];
    }
  }
  return count;
}

// Offsets of each cluster's probability block (|Qc| × |Kc| floats) in one flat buffer.
std::vector<int64_t> prob_offsets(const Routing& r) {
  const int64_t G = r.batch * r.heads * r.clusters;
  std::vector<int64_t> off(static_cast<size_t>(G + 1), 0);
  for (int64_t g = 0; g < G; ++g) {
    const int64_t nq = r.query_start.data[g + 1] - r.query_start.data[g];
    const int64_t nk = r.key_start.data[g + 1] - r.key_start.data[g];
    off[g + 1] = off[g] + nq * nk;
  }
  return off;
}

// One cluster's rows gathered into small contiguous blocks (attention/kernels/small_gemm.h): its nq queries and
// nk keys, so that its scores, outputs and gradients are block products rather than one dot product per pair.
struct ClusterBlock {
  const int64_t* qpos = nullptr;  // (nq) query positions, ascending
  const int64_t* keys = nullptr;  // (nk) key positions, ascending
  int64_t nq = 0, nk = 0, ld = 0;  // ld = padded(nk), the row stride of S
  std::vector<float> Q, Kt, S;     // (nq, d), (d, ld), (nq, ld) = Q Kᵀ before scaling
};

void load_cluster(const Routing& r, int64_t g, const float* q, const float* k, int64_t d, ClusterBlock& w) {
  w.qpos = r.query_pos.data.data() + r.query_start.data[g];
  w.keys = r.key_pos.data.data() + r.key_start.data[g];
  w.nq = r.query_start.data[g + 1] - r.query_start.data[g];
  w.nk = r.key_start.data[g + 1] - r.key_start.data[g];
  w.ld = padded(w.nk);
  gather_rows(q, w.qpos, w.nq, d, w.Q);
  gather_columns(k, w.keys, w.nk, d, w.Kt);
  w.S.resize(static_cast<size_t>(w.nq * w.ld));
  scores(w.Q.data(), w.Kt.data(), w.nq, w.ld, d, w.S.data());
}

// The forward of one sequence-head: fills probs (the cluster blocks of bh) and out rows (n, d) of bh.
// forward: s_u = q_i·k_u/√d over admissible keys u;  p = softmax(s);  out_i += (1/count_i) Σ_u p_u v_u
void forward_one(const Routing& r, int64_t bh, bool causal, const float* q, const float* k, const float* v,
                 int64_t d, float scale, const std::vector<int64_t>& off, float* probs, float* out) {
  const std::vector<int64_t> count = query_counts(r, bh, causal);
  ClusterBlock w;
  std::vector<float> V, O;
  for (int64_t c = 0; c < r.clusters; ++c) {
    const int64_t g = bh * r.clusters + c;
    load_cluster(r, g, q, k, d, w);
    const int64_t nq = w.nq, nk = w.nk;
    float* P = probs + off[g];  // (nq, nk)
    for (int64_t a = 0; a < nq; ++a) {
      const int64_t i = w.qpos[a];
      float* p = P + a * nk;
      std::fill(p, p + nk, 0.0f);
      const int64_t lim = admissible(w.keys, nk, i, causal);
      if (lim == 0) continue;  // no key to look at: contributes nothing, and is not counted
      const float* s = w.S.data() + a * w.ld;
      float m = kNegInf;
      for (int64_t u = 0; u < lim; ++u) m = std::max(m, s[u] * scale);
      double total = 0.0;
      for (int64_t u = 0; u < lim; ++u) total += (p[u] = core::fast_exp(s[u] * scale - m));
      const float inv = static_cast<float>(1.0 / total);
      for (int64_t u = 0; u < lim; ++u) p[u] *= inv;
    }
    // out_i += share_i (P V)_i
    gather_rows(v, w.keys, nk, d, V);
    O.resize(static_cast<size_t>(nq * d));
    weighted_rows(P, nk, V.data(), nq, nk, d, O.data());
    for (int64_t a = 0; a < nq; ++a) {
      const int64_t i = w.qpos[a];
      if (count[i] == 0 || admissible(w.keys, nk, i, causal) == 0) continue;
      axpy(1.0f / static_cast<float>(count[i]), O.data() + a * d, out + i * d, d);
    }
  }
}

}  // namespace

Tensor routing_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Routing& routing, bool causal) {
  Scheme::check_qkv(q, k, v, "routing");
  AZ_CHECK(k.size(2) == q.size(2), "routing: needs as many keys as queries (self-attention), got q ", q.shape(),
           " and k ", k.shape());
  check_routing(routing, q, "routing_attention");
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  auto r = std::make_shared<const Routing>(routing);  // shared with the backward (never the output handle)
  auto off = std::make_shared<const std::vector<int64_t>>(prob_offsets(*r));
  Tensor probs = Tensor::empty({std::max<int64_t>(off->back(), 1)});  // Σ_c |Qc|·|Kc| within-cluster weights
  Tensor out = Tensor::zeros(q.shape());                               // (B, H, n, d)
  parallel_rows(B * H, n * d * 8, [&](int64_t bh) {
    forward_one(*r, bh, causal, q.data() + bh * n * d, k.data() + bh * n * d, v.data() + bh * n * d, d, scale, *off,
                probs.data(), out.data() + bh * n * d);
  });
  if (!will_record({&q, &k, &v})) return out;
  return record(
      out, "routing_attention", {q, k, v},
      [r, off, causal, scale](BackwardContext& c) {
        const Tensor &q = c.inputs[0], &k = c.inputs[1], &v = c.inputs[2];
        const float* probs = c.saved[0].data();
        const int64_t n = q.size(2), d = q.size(3), BH = q.size(0) * q.size(1);
        Tensor dq = Tensor::zeros(q.shape()), dk = Tensor::zeros(k.shape()), dv = Tensor::zeros(v.shape());
        parallel_rows(BH, n * d * 8, [&](int64_t bh) {
          const float* qb = q.data() + bh * n * d;
          const float* kb = k.data() + bh * n * d;
          const float* vb = v.data() + bh * n * d;
          const float* gb = c.grad_out.data() + bh * n * d;
          float* dqb = dq.data() + bh * n * d;
          float* dkb = dk.data() + bh * n * d;
          float* dvb = dv.data() + bh * n * d;
          const std::vector<int64_t> count = query_counts(*r, bh, causal);
          ClusterBlock w;
          std::vector<float> Go, Vt, dS, K, dQ, dK, dV;
          for (int64_t cl = 0; cl < r->clusters; ++cl) {
            const int64_t g = bh * r->clusters + cl;
            load_cluster(*r, g, qb, kb, d, w);
            const int64_t nq = w.nq, nk = w.nk, ld = w.ld;
            const float* P = probs + (*off)[g];  // (nq, nk)
            // forward: out_i += share_i Σ_u p_u v_u  =>  dv_u += Σ_i p_iu go_i,  dp_iu = go_i·v_u,  go_i = share_i g_i
            Go.assign(static_cast<size_t>(nq * d), 0.0f);
            for (int64_t a = 0; a < nq; ++a) {
              const int64_t i = w.qpos[a];
              if (count[i] == 0) continue;
              const float share = 1.0f / static_cast<float>(count[i]);
              for (int64_t t = 0; t < d; ++t) Go[a * d + t] = share * gb[i * d + t];
            }
            gather_columns(vb, w.keys, nk, d, Vt);
            dS.resize(static_cast<size_t>(nq * ld));
            scores(Go.data(), Vt.data(), nq, ld, d, dS.data());  // dp (nq, ld)
            // forward: p = softmax(s)  =>  ds_u = p_u (dp_u - Σ p dp);  s_u = q_i·k_u·scale
            for (int64_t a = 0; a < nq; ++a) {
              const float* p = P + a * nk;
              float* ds = dS.data() + a * ld;
              double pdp = 0.0;
              for (int64_t u = 0; u < nk; ++u) pdp += static_cast<double>(p[u]) * ds[u];
              for (int64_t u = 0; u < nk; ++u) ds[u] = p[u] * (ds[u] - static_cast<float>(pdp)) * scale;
            }
            gather_rows(kb, w.keys, nk, d, K);
            dQ.resize(static_cast<size_t>(nq * d));
            dK.resize(static_cast<size_t>(nk * d));
            dV.resize(static_cast<size_t>(nk * d));
            weighted_rows(dS.data(), ld, K.data(), nq, nk, d, dQ.data());      // dq_i += Σ_u ds_iu k_u
            weighted_rows_t(dS.data(), ld, w.Q.data(), nq, nk, d, dK.data());  // dk_u += Σ_i ds_iu q_i
            weighted_rows_t(P, nk, Go.data(), nq, nk, d, dV.data());          // dv_u += Σ_i p_iu go_i
            for (int64_t a = 0; a < nq; ++a) axpy(1.0f, dQ.data() + a * d, dqb + w.qpos[a] * d, d);
            for (int64_t u = 0; u < nk; ++u) {
              axpy(1.0f, dK.data() + u * d, dkb + w.keys[u] * d, d);
              axpy(1.0f, dV.data() + u * d, dvb + w.keys[u] * d, d);
            }
          }
        });
        c.add_grad(0, dq);
        c.add_grad(1, dk);
        c.add_grad(2, dv);
      },
      {probs});
}

Tensor routing_effective_attention(const Tensor& q, const Tensor& k, const Routing& routing, bool causal) {
  check_routing(routing, q, "routing_effective_attention");
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const std::vector<int64_t> off = prob_offsets(routing);
  Tensor probs = Tensor::empty({std::max<int64_t>(off.back(), 1)});
  Tensor scratch = Tensor::zeros(q.shape());
  Tensor A = Tensor::zeros({B, H, n, n});
  parallel_rows(B * H, n * d * 8, [&](int64_t bh) {
    // the forward with v = anything fills the probabilities; then A_ij += p / count_i
    forward_one(routing, bh, causal, q.data() + bh * n * d, k.data() + bh * n * d, k.data() + bh * n * d, d, scale,
                off, probs.data(), scratch.data() + bh * n * d);
    const std::vector<int64_t> count = query_counts(routing, bh, causal);
    for (int64_t c = 0; c < routing.clusters; ++c) {
      const int64_t g = bh * routing.clusters + c;
      const int64_t* keys = routing.key_pos.data.data() + routing.key_start.data[g];
      const int64_t nk = routing.key_start.data[g + 1] - routing.key_start.data[g];
      const int64_t q0 = routing.query_start.data[g];
      for (int64_t a = q0; a < routing.query_start.data[g + 1]; ++a) {
        const int64_t i = routing.query_pos.data[a];
        if (count[i] == 0) continue;
        const float* p = probs.data() + off[g] + (a - q0) * nk;
        const float share = 1.0f / static_cast<float>(count[i]);
        for (int64_t u = 0; u < nk; ++u) A.data()[(bh * n + i) * n + keys[u]] += share * p[u];
      }
    }
  });
  return A;
}

Tensor routing_pattern(const Routing& r, bool causal) {
  const int64_t n = r.n;
  Tensor M = Tensor::zeros({r.batch, r.heads, n, n});
  for (int64_t bh = 0; bh < r.batch * r.heads; ++bh)
    for (int64_t c = 0; c < r.clusters; ++c) {
      const int64_t g = bh * r.clusters + c;
      for (int64_t a = r.query_start.data[g]; a < r.query_start.data[g + 1]; ++a)
        for (int64_t e = r.key_start.data[g]; e < r.key_start.data[g + 1]; ++e) {
          const int64_t i = r.query_pos.data[a], j = r.key_pos.data[e];
          if (!causal || j <= i) M.data()[(bh * n + i) * n + j] = 1.0f;
        }
    }
  return M;
}

Tensor routing_kernel(const Tensor& q, const Tensor& k, const Tensor& v, const RoutingOptions& o) {
  Scheme::check_qkv(q, k, v, "routing");
  AZ_CHECK(k.size(2) == q.size(2), "routing: needs as many keys as queries (self-attention), got q ", q.shape(),
           " and k ", k.shape());
  return routing_attention(q, k, v, routing_assign(q, k, o), o.causal);
}

// ---- EMA ------------------------------------------------------------------------------------------------
Tensor routing_ema_update(const Tensor& centroids, const Tensor& qhat, const Tensor& khat,
                          const Tensor& key_padding_mask, double decay) {
  AZ_CHECK(centroids.dim() == 3 && qhat.dim() == 4 && khat.shape() == qhat.shape() &&
               centroids.size(0) == qhat.size(1) && centroids.size(2) == qhat.size(3),
           "routing_ema_update: centroids (H, C, d) and qhat, khat (B, H, n, d) disagree: ", centroids.shape(), ", ",
           qhat.shape(), ", ", khat.shape());
  const int64_t B = qhat.size(0), H = qhat.size(1), n = qhat.size(2), d = qhat.size(3), C = centroids.size(1);
  check_padding(key_padding_mask, B, n);
  Tensor out = centroids.detach().clone();
  for (int64_t h = 0; h < H; ++h) {
    const Tensor mu = reshape(slice(centroids.detach(), 0, h, h + 1), {C, d});
    std::vector<double> sum(static_cast<size_t>(C * d), 0.0);
    std::vector<int64_t> count(static_cast<size_t>(C), 0);
    for (const Tensor* x : {&qhat, &khat})
      for (int64_t b = 0; b < B; ++b) {
        const Tensor rows = reshape(slice(slice(*x, 0, b, b + 1), 1, h, h + 1), {n, d});
        const IntTensor a = nearest_centroid(rows, mu);
        for (int64_t i = 0; i < n; ++i) {
          if (!is_valid(key_padding_mask, b, n, i)) continue;
          const int64_t c = a.data[static_cast<size_t>(i)];
          ++count[c];
          for (int64_t t = 0; t < d; ++t) sum[c * d + t] += rows.data()[i * d + t];
        }
      }
    for (int64_t c = 0; c < C; ++c) {
      if (count[c] == 0) continue;
      float* oc = out.data() + (h * C + c) * d;
      for (int64_t t = 0; t < d; ++t)
        oc[t] = static_cast<float>(decay * oc[t] + (1.0 - decay) * (sum[c * d + t] / count[c]));
    }
  }
  return out;
}

// ---- the layer ------------------------------------------------------------------------------------------
RoutingLayer::RoutingLayer(const LayerConfig& cfg, core::Rng& rng)
    : ProjectedAttention(find_scheme("routing"), cfg, rng),
      options(routing_options(config)),
      clusters(routing_num_clusters(std::max<int64_t>(cfg.max_len, 1), options)),
      fitted(Tensor::scalar(0.0f)),
      steps(Tensor::scalar(0.0f)) {
  const int64_t d = cfg.d_model / cfg.n_heads;
  Rng init(cfg.seed ^ 0x63656E74726F6964ULL);  // its own generator: the model rng goes on to the next layers untouched
  centroids = reshape(random_unit_rows(n_heads * clusters, d, init), {n_heads, clusters, d});
  register_buffer("centroids", centroids);
  register_buffer("fitted", fitted);
  register_buffer("steps", steps);
}

void RoutingLayer::fit_centroids(const Tensor& qhat, const Tensor& khat, const Tensor& key_padding_mask) {
  const int64_t B = qhat.size(0), H = qhat.size(1), n = qhat.size(2), d = qhat.size(3);
  check_padding(key_padding_mask, B, n);
  for (int64_t h = 0; h < H; ++h) {
    std::vector<float> rows;
    for (const Tensor* x : {&qhat, &khat})
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < n; ++i)
          if (is_valid(key_padding_mask, b, n, i))
            rows.insert(rows.end(), x->data() + ((b * H + h) * n + i) * d, x->data() + ((b * H + h) * n + i + 1) * d);
    const int64_t m = static_cast<int64_t>(rows.size()) / d;
    const KMeansResult km = kmeans(Tensor::from_vector({m, d}, rows), clusters, std::max<int64_t>(options.kmeans_iters, 1),
                                   options.seed * 1000003ULL + static_cast<uint64_t>(h) + 17);
    std::memcpy(centroids.data() + h * clusters * d, km.centroids.data(), sizeof(float) * clusters * d);
  }
  fitted.data()[0] = 1.0f;
}

Tensor RoutingLayer::attend(const Tensor&, const Tensor& q, const Tensor& k, const Tensor& v,
                            const Tensor& key_padding_mask) {
  const int64_t n = q.size(2);
  Tensor qhat, khat;  // (B, H, n, d): unit rows, constants for autograd
  {
    NoGradGuard no_grad;
    qhat = l2_normalize(q.detach());
    khat = l2_normalize(k.detach());
  }
  // Non-causal: the first batch the layer sees (train or eval) fits the centroids before it is routed.
  bool fitted_now = false;
  if (!is_fitted() && !options.causal) {
    fit_centroids(qhat, khat, key_padding_mask);
    fitted_now = true;
  }
  const Tensor mu = reshape(centroids, {1, n_heads, clusters, q.size(3)});
  const Routing r = options.causal ? route_nearest(qhat, khat, mu, key_padding_mask)
                                   : route_balanced(qhat, khat, mu, routing_cluster_size(n, clusters, options),
                                                    key_padding_mask);
  const Tensor out = routing_attention(q, k, v, r, options.causal);  // (B, H, n, d)
  if (training()) {
    // after the step: causal layers fit on their first batch only now (it was routed without looking at it);
    // later steps move the centroids by EMA
    if (!is_fitted()) {
      fit_centroids(qhat, khat, key_padding_mask);
    } else if (!fitted_now) {
      centroids = routing_ema_update(centroids, qhat, khat, key_padding_mask, options.decay);
    }
    steps.data()[0] += 1.0f;
  }
  return out;
}

// ---- the registered scheme ------------------------------------------------------------------------------
namespace {

SchemeInfo routing_info() {
  SchemeInfo i;
  i.name = "routing";
  i.summary = "k-means routing: queries attend to the keys of their cluster (C ~ sqrt(n) clusters of w = n/C): O(n·w·d)";
  i.paper = "Roy, Saffar, Vaswani, Grangier 2021, Efficient Content-Based Sparse Attention with Routing Transformers (TACL)";
  i.lecture = 13;
  i.use(routing_params());
  i.causal = true;
  // The pattern is the same-cluster pairs, so it exists only for given q and k.
  i.has_pattern = true;
  i.families = {Family::LP};
  i.exactness = Exactness::on_pattern;
  i.nonsmooth = "k-means clusters are piecewise constant in q and k";
  // Not a masked softmax (masked_softmax = false): a query in several balanced clusters averages their outputs.
  i.time_growth = "n·√n";
  i.memory_exponent = 1;
  i.idea = "pairs chosen by k-means: sqrt(n) clusters of sqrt(n) tokens";
  i.claim = {"Roy et al. 2021 (abstract): better than comparable sparse attention models: Wikitext-103 "
              "perplexity 15.8 vs 18.3; ImageNet-64 3.43 vs 3.44 bits/dim",
             attention::ClaimTest::lm_beats_local};
  i.lra_paper.model = "Routing Trans.";
  i.lm_settings = {"clusters=8"};  // windows of n/8 tokens: 64 at n = 512
  i.gallery_settings = {"clusters=4"};
  i.test_settings = {{"clusters=4"}, {"clusters=3", "cluster_size=10", "kmeans_iters=1"}};
  return i;
}

class RoutingScheme : public Scheme {
 public:
  RoutingScheme() : Scheme(routing_info()) {}

  // C clusters of w queries × w keys = n·w pairs when balanced (causal: about half).
  double flops(const Shape& q, const Config& cfg) const override {
    const RoutingOptions o = routing_options(cfg, q[2]);
    const double n = static_cast<double>(q[2]);
    const double C = o.clusters > 0 ? static_cast<double>(o.clusters) : std::max(1.0, std::round(std::sqrt(n)));
    const double w = o.cluster_size > 0 ? static_cast<double>(o.cluster_size) : std::ceil(n / C);
    return attention_flops(q, (cfg.causal ? 0.5 : 1.0) * C * w * w);
  }
  // check_qkv refuses a NaN/inf in q, k, v: a NaN would make its token's cluster distances NaN, and the token
  // would silently land in no cluster (or another), its row 0 or finite and wrong.
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "routing");
    return routing_kernel(q, k, v, routing_options(cfg, q.size(2)));
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "routing");
    const RoutingOptions o = routing_options(cfg, q.size(2));
    NoGradGuard no_grad;
    return routing_effective_attention(q.detach(), k.detach(), routing_assign(q, k, o), o.causal);
  }
  Tensor pattern(const Shape&, const Config&) const override {
    AZ_FAIL("routing: the pattern depends on q and k (their clusters); use data_pattern(q, k, cfg)");
  }
  Tensor data_pattern(const Tensor& q, const Tensor& k, const Config& cfg) const override {
    check_qkv(q, k, k, "routing");
    const RoutingOptions o = routing_options(cfg, q.size(2));
    NoGradGuard no_grad;
    return routing_pattern(routing_assign(q.detach(), k.detach(), o), o.causal);
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, core::Rng& rng) const override {
    return std::make_unique<RoutingLayer>(cfg, rng);
  }
};

Registrar registrar(std::make_unique<RoutingScheme>());

}  // namespace

}  // namespace attention
