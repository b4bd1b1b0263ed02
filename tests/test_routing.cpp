// tests/test_routing.cpp — the Routing Transformer: the kernel against a dense masked reference built from the
// same cluster assignment (outputs and dq, dk, dv), balanced clusters, k-means, the EMA update, centroids at eval,
// causal no-leak (and why balanced top-w routing would leak), exactness with one cluster, gradchecks, the limits
// that depend on n. Determinism and generic bad settings: the conformance table (tests/test_schemes.cpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "attention/dense.h"
#include "attention/routing.h"
#include "tests/helpers.h"

using namespace core;
using attention::Routing;
using attention::RoutingOptions;
using testing::QKV;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor leaf(const Tensor& t) { return t.detach().clone().set_requires_grad(); }

RoutingOptions opts(bool causal, int64_t clusters = 0, int64_t cluster_size = 0) {
  RoutingOptions o;
  o.causal = causal;
  o.clusters = clusters;
  o.cluster_size = cluster_size;
  o.seed = 3;
  return o;
}

std::vector<int64_t> members(const IntTensor& start, const IntTensor& pos, int64_t g) {
  return std::vector<int64_t>(pos.data.begin() + start.data[g], pos.data.begin() + start.data[g + 1]);
}

// Dense reference from core ops: for every cluster c, softmax(q kᵀ/√d) masked to (i in Qc, j in Kc, causal j <= i);
// A = Σ_c probs_c / (number of clusters in which row i has a key); out = A v.
Tensor reference_out(const Tensor& q, const Tensor& k, const Tensor& v, const Routing& r, bool causal) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2);
  const Tensor scores = attention::dense_scores(q, k);  // (B, H, n, n)
  Tensor total = Tensor::zeros({B, H, n, n});
  Tensor count = Tensor::zeros({B, H, n, 1});
  for (int64_t c = 0; c < r.clusters; ++c) {
    Tensor blocked = Tensor::ones({B, H, n, n});
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const auto qs = members(r.query_start, r.query_pos, bh * r.clusters + c);
      const auto ks = members(r.key_start, r.key_pos, bh * r.clusters + c);
      for (int64_t i : qs) {
        bool any = false;
        for (int64_t j : ks)
          if (!causal || j <= i) blocked.data()[(bh * n + i) * n + j] = 0.0f, any = true;
        count.data()[bh * n + i] += any;
      }
    }
    total = total + softmax(masked_fill(scores, blocked, -kInf), -1);
  }
  for (int64_t i = 0; i < count.numel(); ++i) count.data()[i] = std::max(count.data()[i], 1.0f);
  return matmul(total / count, v);
}

}  // namespace

TEST_CASE("routing: outputs and dq, dk, dv equal a dense masked reference with the same clusters") {
  for (bool causal : {false, true})
    for (int64_t n : {37, 64}) {
      CAPTURE(causal);
      CAPTURE(n);
      const QKV x = testing::random_qkv({2, 2, n, 8}, 10 + n);
      const RoutingOptions o = opts(causal);
      const Routing r = attention::routing_assign(x.q, x.k, o);
      std::vector<Tensor> mine{leaf(x.q), leaf(x.k), leaf(x.v)}, ref{leaf(x.q), leaf(x.k), leaf(x.v)};
      const Tensor out = attention::routing_attention(mine[0], mine[1], mine[2], r, causal);
      const Tensor want = reference_out(ref[0], ref[1], ref[2], r, causal);
      CHECK_CLOSE(out.detach(), want.detach(), 1e-4, 1e-5);
      CHECK_CLOSE(out.detach(), attention::routing_kernel(x.q, x.k, x.v, o), 0.0, 0.0);  // the kernel is this
      const Tensor G = testing::rand_tensor(x.q.shape(), 99);
      out.backward(G);
      want.backward(G);
      const char* names[] = {"dq", "dk", "dv"};
      for (int a = 0; a < 3; ++a) {
        CAPTURE(names[a]);
        CHECK_CLOSE(mine[a].grad(), ref[a].grad(), 1e-4, 1e-5);
      }
      // effective attention and the data-dependent pattern
      const Tensor A = attention::routing_effective_attention(x.q, x.k, r, causal);
      CHECK_CLOSE(out.detach(), matmul(A, x.v), 1e-4, 1e-5);
      const Tensor M = attention::routing_pattern(r, causal);
      int64_t outside = 0;
      for (int64_t i = 0; i < A.numel(); ++i) outside += A.data()[i] != 0.0f && M.data()[i] == 0.0f;
      CHECK(outside == 0);
    }
}

TEST_CASE("routing: balanced clusters hold exactly w queries and w keys, the w nearest to the centroid") {
  for (int64_t n : {37, 64, 100}) {
    CAPTURE(n);
    const QKV x = testing::random_qkv({2, 2, n, 8}, n);
    const RoutingOptions o = opts(false);
    const int64_t C = attention::routing_num_clusters(n, o), w = attention::routing_cluster_size(n, C, o);
    CHECK(C == std::llround(std::sqrt(double(n))));
    CHECK(w == (n + C - 1) / C);
    const Tensor mu = attention::routing_kernel_centroids(x.q, x.k, o);  // (B, H, C, d)
    REQUIRE(mu.shape() == Shape{2, 2, C, 8});
    const Tensor qhat = attention::l2_normalize(x.q), khat = attention::l2_normalize(x.k);
    const Routing r = attention::route_balanced(qhat, khat, mu, w);
    for (int64_t bh = 0; bh < 4; ++bh)
      for (int64_t c = 0; c < C; ++c) {
        CHECK(r.queries_in(bh, c) == w);
        CHECK(r.keys_in(bh, c) == w);
        // every member is at least as near to μ_c as every non-member
        const float* m = mu.data() + (bh * C + c) * 8;
        auto dist = [&](const Tensor& t, int64_t i) {
          double s = 0;
          for (int64_t u = 0; u < 8; ++u) s += std::pow(double(t.data()[(bh * n + i) * 8 + u]) - m[u], 2);
          return s;
        };
        const auto qs = members(r.query_start, r.query_pos, bh * C + c);
        CHECK(std::is_sorted(qs.begin(), qs.end()));
        const std::set<int64_t> in(qs.begin(), qs.end());
        double worst_in = 0, best_out = 1e9;
        for (int64_t i = 0; i < n; ++i) (in.count(i) ? worst_in = std::max(worst_in, dist(qhat, i))
                                                      : best_out = std::min(best_out, dist(qhat, i)));
        CHECK(worst_in <= best_out + 1e-5);
      }
  }
}

TEST_CASE("routing: k-means never increases the distortion, and finds planted clusters") {
  // 4 well-separated directions in d = 6, 40 noisy points each
  Rng rng(4);
  const Tensor centers = attention::l2_normalize(randn({4, 6}, rng));
  Tensor points = Tensor::empty({160, 6});
  for (int64_t i = 0; i < 160; ++i)
    for (int64_t t = 0; t < 6; ++t) points.at({i, t}) = centers.at({i % 4, t}) + 0.05f * rng.normal();
  const auto km = attention::kmeans(points, 4, 8, 11);
  REQUIRE(km.distortion.size() == 9);
  for (size_t t = 1; t < km.distortion.size(); ++t) CHECK(km.distortion[t] <= km.distortion[t - 1] + 1e-9);
  const auto one = attention::kmeans(points, 4, 0, 11);
  CHECK(one.distortion.size() == 1);
  CHECK(km.distortion.back() <= one.distortion[0]);
  // with a good init the planted clusters are recovered: distortion ≈ the noise level 6·0.05²
  double best = 1e9;
  for (uint64_t seed = 0; seed < 5; ++seed) best = std::min(best, attention::kmeans(points, 4, 8, seed).distortion.back());
  CHECK(best < 3 * 6 * 0.05 * 0.05);
  // nearest_centroid: ties go to the lower index
  const Tensor same = Tensor::from_vector({2, 2}, {1, 0, 1, 0});
  CHECK(attention::nearest_centroid(Tensor::from_vector({1, 2}, {0.5f, 0.5f}), same).data[0] == 0);
}

TEST_CASE("routing: the EMA moves each centroid towards the mean of its rows with decay 0.999") {
  const int64_t B = 1, H = 2, n = 10, d = 3, C = 2;
  const Tensor qhat = attention::l2_normalize(testing::rand_tensor({B, H, n, d}, 1));
  const Tensor khat = attention::l2_normalize(testing::rand_tensor({B, H, n, d}, 2));
  const Tensor mu = attention::l2_normalize(testing::rand_tensor({H, C, d}, 3));
  const Tensor updated = attention::routing_ema_update(mu, qhat, khat, Tensor(), 0.999);
  for (int64_t h = 0; h < H; ++h) {
    const Tensor mu_h = reshape(slice(mu, 0, h, h + 1), {C, d});
    for (int64_t c = 0; c < C; ++c) {
      std::vector<double> mean(d, 0.0);
      int64_t cnt = 0;
      for (const Tensor* x : {&qhat, &khat}) {
        const Tensor rows = reshape(slice(*x, 1, h, h + 1), {n, d});
        const IntTensor a = attention::nearest_centroid(rows, mu_h);
        for (int64_t i = 0; i < n; ++i)
          if (a.data[i] == c) {
            ++cnt;
            for (int64_t t = 0; t < d; ++t) mean[t] += rows.at({i, t});
          }
      }
      for (int64_t t = 0; t < d; ++t) {
        const double want = cnt ? 0.999 * mu.at({h, c, t}) + 0.001 * mean[t] / cnt : mu.at({h, c, t});
        CHECK(updated.at({h, c, t}) == doctest::Approx(want).epsilon(1e-6));
      }
    }
  }
  CHECK(!testing::bit_equal(updated, mu));
  // the layer: the first training forward fits k-means, every later one applies exactly this update
  attention::LayerConfig lc = testing::layer_config(8, 2);
  lc.max_len = 16;
  lc.seed = 5;
  Rng rng(6);
  attention::RoutingLayer layer(lc, rng);
  CHECK(layer.clusters == 4);
  const Tensor x = testing::rand_tensor({2, 16, 8}, 7);
  NoGradGuard ng;
  layer.forward(x);
  CHECK(layer.is_fitted());
  const Tensor before = layer.centroids.clone();
  layer.forward(x);
  const Tensor q = attention::split_heads(layer.w_q.forward(x), 2), k = attention::split_heads(layer.w_k.forward(x), 2);
  CHECK_CLOSE(layer.centroids,
              attention::routing_ema_update(before, attention::l2_normalize(q), attention::l2_normalize(k), Tensor(), 0.999),
              1e-6, 1e-7);
  layer.eval();  // eval: no update
  const Tensor frozen = layer.centroids.clone();
  layer.forward(x);
  CHECK(testing::bit_equal(frozen, layer.centroids));
}

TEST_CASE("routing: eval never routes with uninitialised centroids") {
  attention::LayerConfig lc = testing::layer_config(8, 2);
  lc.max_len = 16;
  lc.seed = 5;
  const Tensor x = testing::rand_tensor({2, 16, 8}, 7);
  NoGradGuard ng;
  {
    // non-causal: the first batch, even in eval, fits k-means before it is routed
    Rng rng(6);
    attention::RoutingLayer layer(lc, rng);
    layer.eval();
    CHECK(!layer.is_fitted());
    const Tensor y = layer.forward(x);
    CHECK(layer.is_fitted());
    CHECK(testing::all_finite(y));
    CHECK(testing::all_finite(layer.centroids));
    CHECK(testing::bit_equal(y, layer.forward(x)));
  }
  {
    // causal: seeded random unit centroids until a training step fits them (a fit on the batch being routed
    // would let later tokens move the centroids that route earlier ones)
    lc.causal = true;
    Rng r1(6), r2(6);
    attention::RoutingLayer a(lc, r1), b(lc, r2);
    a.eval();
    b.eval();
    CHECK(testing::all_finite(a.centroids));
    for (int64_t i = 0; i < a.centroids.numel() / 4; ++i) {
      double s = 0;
      for (int64_t t = 0; t < 4; ++t) s += std::pow(a.centroids.data()[i * 4 + t], 2);
      CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
    }
    CHECK(testing::bit_equal(a.forward(x), b.forward(x)));
    CHECK(!a.is_fitted());
    a.train();
    a.forward(x);
    CHECK(a.is_fitted());
  }
}

TEST_CASE("routing: causal outputs up to t do not depend on later tokens; balanced top-w would leak") {
  const int64_t n = 50, d = 8;
  const QKV x = testing::random_qkv({1, 2, n, d}, 5);
  const RoutingOptions o = opts(true);
  const Tensor out = attention::routing_kernel(x.q, x.k, x.v, o);
  for (int64_t t : {0, 1, 9, 24, 48}) {
    CAPTURE(t);
    QKV y{x.q.clone(), x.k.clone(), x.v.clone()};
    for (Tensor* m : {&y.q, &y.k, &y.v})
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = t + 1; i < n; ++i)
          for (int64_t c = 0; c < d; ++c) m->at({0, h, i, c}) = 1.0f - 3.0f * m->at({0, h, i, c});
    CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(attention::routing_kernel(y.q, y.k, y.v, o), 2, 0, t + 1)));
  }
  const Tensor A = attention::routing_effective_attention(x.q, x.k, attention::routing_assign(x.q, x.k, o), true);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) CHECK(A.at({0, 1, i, j}) == 0.0f);
  // A query whose cluster holds no key at or before it gets 0, not NaN.
  CHECK(testing::all_finite(out));
  // Why not balanced clusters when causal: with the same centroids, later tokens change which EARLIER tokens a
  // top-w cluster holds.
  const Tensor mu = attention::routing_kernel_centroids(x.q, x.k, o);
  const Tensor qhat = attention::l2_normalize(x.q), khat = attention::l2_normalize(x.k);
  QKV y{x.q.clone(), x.k.clone(), x.v.clone()};
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 25; i < n; ++i)
      for (int64_t c = 0; c < d; ++c) y.q.at({0, h, i, c}) = mu.at({0, h, 0, c});  // crowd cluster 0
  const Routing before = attention::route_balanced(qhat, khat, mu, 7);
  const Routing after = attention::route_balanced(attention::l2_normalize(y.q), khat, mu, 7);
  auto early = [](const Routing& r) {
    std::vector<int64_t> e;
    for (int64_t a = r.query_start.data[0]; a < r.query_start.data[1]; ++a)
      if (r.query_pos.data[a] < 25) e.push_back(r.query_pos.data[a]);
    return e;
  };
  CHECK(!early(before).empty());
  CHECK(early(after).empty());  // every early query was pushed out of cluster 0 by later ones
}

TEST_CASE("routing: one cluster of all tokens is exactly full attention") {
  const QKV x = testing::random_qkv({2, 2, 23, 8}, 40);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const Tensor out = attention::routing_kernel(x.q, x.k, x.v, opts(causal, 1));
    CHECK_CLOSE(out, attention::dense_attention(x.q, x.k, x.v, {causal, Tensor()}), 1e-4, 1e-5);
  }
  // 2 clusters with w = n: every token in both, the mean of two identical attentions
  CHECK_CLOSE(attention::routing_kernel(x.q, x.k, x.v, opts(false, 2, 23)),
              attention::dense_attention(x.q, x.k, x.v), 1e-4, 1e-5);
}

TEST_CASE("routing: a token in no cluster gets 0; padding is routed nowhere and changes nothing") {
  const int64_t n = 30, d = 8;
  const QKV x = testing::random_qkv({2, 2, n, d}, 60);
  // 3 clusters of w = 4: at most 12 queries are routed, so at least 18 rows are 0
  const RoutingOptions o = opts(false, 3, 4);
  const Tensor out = attention::routing_kernel(x.q, x.k, x.v, o);
  int64_t zero_rows = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool zero = true;
    for (int64_t c = 0; c < d; ++c) zero = zero && out.at({0, 0, i, c}) == 0.0f;
    zero_rows += zero;
  }
  CHECK(zero_rows >= n - 12);
  Tensor kpm = Tensor::ones({2, n});
  for (int64_t i : {0, 5, 6, 29}) kpm.at({0, i}) = 0.0f;
  kpm.at({1, 17}) = 0.0f;
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    RoutingOptions p = opts(causal);
    p.key_padding_mask = kpm;
    QKV y{x.q.clone(), x.k.clone(), x.v.clone()};
    for (Tensor* m : {&y.q, &y.k, &y.v})
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0; i < n; ++i)
          if (kpm.at({b, i}) == 0.0f)
            for (int64_t h = 0; h < 2; ++h)
              for (int64_t c = 0; c < d; ++c) m->at({b, h, i, c}) = 4.0f;
    const Tensor a = attention::routing_kernel(x.q, x.k, x.v, p), b = attention::routing_kernel(y.q, y.k, y.v, p);
    const Routing r = attention::routing_assign(x.q, x.k, p);
    for (int64_t e = 0; e < r.key_pos.numel(); ++e) {
      // no padding key in any cluster (batch 0's clusters come first)
      const bool batch0 = e < r.key_start.data[static_cast<size_t>(2 * r.clusters)];
      CHECK(kpm.at({batch0 ? 0 : 1, r.key_pos.data[e]}) != 0.0f);
    }
    for (int64_t bi = 0; bi < 2; ++bi)
      for (int64_t i = 0; i < n; ++i)
        if (kpm.at({bi, i}) != 0.0f)
          for (int64_t h = 0; h < 2; ++h)
            for (int64_t c = 0; c < d; ++c) CHECK(a.at({bi, h, i, c}) == b.at({bi, h, i, c}));
  }
}

TEST_CASE("routing: gradcheck of the kernel (routing held fixed) and of the layer") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const QKV x = testing::random_qkv({1, 2, 12, 3}, 7);
    const Routing r = attention::routing_assign(x.q, x.k, opts(causal, 3));
    const auto res = gradcheck(
        [&](const std::vector<Tensor>& t) { return attention::routing_attention(t[0], t[1], t[2], r, causal); },
        {x.q, x.k, x.v}, {"routing kernel"});
    INFO(res.message);
    CHECK(res.checked == 3 * x.q.numel());
    CHECK(res.ok);
  }
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    attention::LayerConfig lc = testing::layer_config(4, 2, {}, causal);
    lc.max_len = 9;
    lc.seed = 1;
    Rng rng(2);
    attention::RoutingLayer layer(lc, rng);
    const Tensor x0 = testing::rand_tensor({1, 9, 4}, 8);
    {
      NoGradGuard ng;
      layer.forward(x0);  // fit the centroids on a batch
    }
    layer.eval();  // no EMA while finite differences run
    Tensor x = x0.clone().set_requires_grad();
    std::vector<Tensor> leaves = layer.parameters();
    leaves.push_back(x);
    // the routing is piecewise constant: gradcheck is valid where no ±eps step moves a token across a cluster
    // boundary; eps = 1e-3 keeps the steps small (tolerances scaled to match)
    GradcheckOptions go;
    go.name = "routing layer";
    go.eps = 1e-3f;
    go.atol = 5e-3;
    go.rtol = 5e-2;
    const auto res = gradcheck_leaves([&] { return layer.forward(x); }, leaves, go);
    INFO(res.message);
    CHECK(res.ok);
    CHECK(res.checked == layer.num_parameters() + x.numel());
  }
}

TEST_CASE("routing: clusters and cluster_size may not exceed n; keys as many as queries") {
  const auto& s = attention::find_scheme("routing");
  const QKV x = testing::random_qkv({1, 2, 16, 4}, 1);
  auto run = [&](const std::vector<std::string>& set) { s.kernel(x.q, x.k, x.v, s.configure(set)); };
  CHECK_THROWS_WITH_AS(run({"clusters=17"}), doctest::Contains("routing: clusters=17 exceeds n = 16"), core::Error);
  CHECK_THROWS_WITH_AS(run({"cluster_size=20"}), doctest::Contains("routing: cluster_size=20 exceeds n = 16"), core::Error);
  CHECK_THROWS_WITH_AS(s.kernel(x.q, testing::rand_tensor({1, 2, 8, 4}, 2), testing::rand_tensor({1, 2, 8, 4}, 3),
                                s.configure({})),
                       doctest::Contains("as many keys as queries"), core::Error);
}
