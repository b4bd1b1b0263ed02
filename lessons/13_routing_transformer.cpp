// %% [markdown]
// # 13 · The Routing Transformer: attention inside k-means clusters
//
// A softmax row is usually dominated by a few keys — the ones whose direction is closest to the query. The
// Routing Transformer (Roy, Saffar, Vaswani, Grangier 2021, Efficient Content-Based Sparse Attention with
// Routing Transformers, TACL) finds those keys without computing all n scores: per head, C centroids μ_c split
// the ℓ2-normalised queries and keys into clusters, and each query attends only to the keys of its own cluster.
//
//     q̂ = q/|q|, k̂ = k/|k|;   cluster c holds the w queries and the w keys nearest to μ_c   (balanced)
//     out_i = mean over the clusters c holding query i of softmax(q_i k_Kcᵀ / √d) v_Kc
//     centroids: an online k-means, μ ← λ·μ + (1−λ)·(the queries and keys assigned to μ), λ close to 1
//
// (In the official code the centroids start as random normal vectors, layer-normalised, and the update keeps
// running averages of each centroid's count and sum of assigned vectors. This course does it its own way: Step 2
// fits the centroids by plain k-means on one input, and the course's routing layer (Step 7) starts from k-means
// on its first batch, then moves μ by μ ← 0.999·μ + 0.001·(mean of the vectors assigned to μ).)
//
// With C ≈ √n clusters of w = n/C tokens the cost is C·w²·d = n·w·d = O(n^1.5·d) instead of n²·d. We build it on
// an input with hidden topics, look at the clusters and the block-diagonal attention they induce, measure how
// much of the exact attention's top keys the routing finds as C grows, check the causal variant, and measure
// the cost beside full attention.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, C = clusters, w = tokens per cluster.
// %%
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/routing.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)

// Tokens of `topics` hidden topics at random positions: q and k are the topic's direction plus noise, so a
// query's largest attention weights fall on the keys of its own topic. (B, H) = (1, 1).
struct TopicData {
  Tensor q, k, v;           // (1, 1, n, d)
  std::vector<int> topic;   // (n)
};
TopicData topic_data(int64_t n, int64_t d, int64_t topics, core::Rng& rng) {
  const Tensor centers = core::randn({topics, d}, rng) * 1.5f;
  TopicData t{Tensor::empty({1, 1, n, d}), Tensor::empty({1, 1, n, d}), core::randn({1, 1, n, d}, rng), {}};
  for (int64_t i = 0; i < n; ++i) {
    const int g = static_cast<int>(rng.randint(0, topics));
    t.topic.push_back(g);
    for (int64_t c = 0; c < d; ++c) {
      const float x = centers.at({g, c}) + 0.4f * rng.normal();
      t.q.at({0, 0, i, c}) = x + 0.3f * rng.normal();
      t.k.at({0, 0, i, c}) = x + 0.3f * rng.normal();
    }
  }
  return t;
}

// A Routing from explicit member lists (cluster c -> query positions, key positions), for one sequence-head.
attention::Routing make_routing(int64_t n, const std::vector<std::vector<int64_t>>& queries,
                                const std::vector<std::vector<int64_t>>& keys) {
  auto pack = [](const std::vector<std::vector<int64_t>>& m, IntTensor& start, IntTensor& pos) {
    int64_t total = 0;
    for (const auto& c : m) total += static_cast<int64_t>(c.size());
    start = IntTensor({static_cast<int64_t>(m.size()) + 1});
    pos = IntTensor({total});
    int64_t at = 0;
    for (size_t c = 0; c < m.size(); ++c) {
      start.data[c] = at;
      for (int64_t p : m[c]) pos.data[static_cast<size_t>(at++)] = p;
    }
    start.data[m.size()] = at;
  };
  attention::Routing r;
  r.batch = 1, r.heads = 1, r.n = n, r.clusters = static_cast<int64_t>(queries.size());
  pack(queries, r.query_start, r.query_pos);
  pack(keys, r.key_start, r.key_pos);
  return r;
}

// The dense reference from core ops: one masked softmax per cluster (rows of queries outside the cluster are
// fully masked and give 0), summed, divided by the number of clusters in which each query found a key.
Tensor dense_reference(const Tensor& q, const Tensor& k, const Tensor& v, const attention::Routing& r, bool causal) {
  const int64_t n = q.size(2);
  const Tensor scores = attention::dense_scores(q, k);  // (1, 1, n, n)
  Tensor total = Tensor::zeros({1, 1, n, n}), count = Tensor::zeros({1, 1, n, 1});
  for (int64_t c = 0; c < r.clusters; ++c) {
    Tensor blocked = Tensor::ones({1, 1, n, n});
    for (int64_t a = r.query_start.data[c]; a < r.query_start.data[c + 1]; ++a) {
      const int64_t i = r.query_pos.data[a];
      bool any = false;
      for (int64_t e = r.key_start.data[c]; e < r.key_start.data[c + 1]; ++e) {
        const int64_t j = r.key_pos.data[e];
        if (!causal || j <= i) blocked.at({0, 0, i, j}) = 0.0f, any = true;
      }
      count.at({0, 0, i, 0}) += any ? 1.0f : 0.0f;
    }
    total = total + core::softmax(core::masked_fill(scores, blocked, -1.0f / 0.0f), -1);
  }
  for (int64_t i = 0; i < n; ++i) count.at({0, 0, i, 0}) = std::max(count.at({0, 0, i, 0}), 1.0f);
  return core::matmul(total / count, v);
}

// rank[i][c] = |μ_c|² - 2 x_i·μ_c for x (1, 1, n, d), centroids (C, d): n·C floats.
std::vector<float> ranks_of(const Tensor& x, const Tensor& mu) {
  const int64_t n = x.size(2), d = x.size(3), C = mu.size(0);
  std::vector<float> r(static_cast<size_t>(n * C));
  for (int64_t c = 0; c < C; ++c) {
    double m2 = 0.0;
    for (int64_t t = 0; t < d; ++t) m2 += double(mu.at({c, t})) * mu.at({c, t});
    for (int64_t i = 0; i < n; ++i) {
      double dot = 0.0;
      for (int64_t t = 0; t < d; ++t) dot += double(x.at({0, 0, i, t})) * mu.at({c, t});
      r[static_cast<size_t>(i * C + c)] = static_cast<float>(m2 - 2.0 * dot);
    }
  }
  return r;
}

// Share of the exact attention's top-k mass that a 0/1 pattern keeps: mean over queries of
// Σ_{j in topk(i), pattern(i, j)} A_ij / Σ_{j in topk(i)} A_ij.
double captured_share(const Tensor& A, const Tensor& pattern, int64_t topk) {
  const int64_t n = A.size(-1);
  double total = 0.0;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* a = A.data() + i * n;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + topk, order.end(), [&](int64_t x, int64_t y) { return a[x] > a[y]; });
    double top = 0.0, kept = 0.0;
    for (int64_t u = 0; u < topk; ++u) {
      top += a[order[u]];
      kept += pattern.data()[i * n + order[u]] != 0.0f ? a[order[u]] : 0.0;
    }
    total += kept / top;
  }
  return total / n;
}

// What is wrong with the query and key lists (C lists of positions each) that an exercise's cluster rule returned,
// in the exercise's terms: the wrong number of lists, a position outside 0..n-1, a position twice, a list out of
// order. Empty when the routing kernel can use them.
std::string cluster_list_problem(const std::vector<std::vector<int64_t>>& qm,
                                 const std::vector<std::vector<int64_t>>& kmem, int64_t n, int64_t C) {
  std::string problem;
  if (static_cast<int64_t>(qm.size()) != C || static_cast<int64_t>(kmem.size()) != C)
    problem = "your rule returned " + std::to_string(qm.size()) + " lists for the queries and " +
              std::to_string(kmem.size()) + " for the keys: return one list per cluster, C = " + std::to_string(C);
  for (const auto* m : {&qm, &kmem})
    for (size_t c = 0; c < m->size() && problem.empty(); ++c) {
      const std::vector<int64_t>& list = (*m)[c];
      const std::string which = std::string(m == &qm ? "query" : "key") + " list of cluster " + std::to_string(c);
      for (size_t a = 0; a < list.size() && problem.empty(); ++a) {
        if (list[a] < 0 || list[a] >= n)
          problem = which + " holds " + std::to_string(list[a]) + ", not a position of the " + std::to_string(n) +
                    " tokens (0.." + std::to_string(n - 1) + ")";
        else if (a > 0 && list[a] == list[a - 1])
          problem = which + " holds position " + std::to_string(list[a]) + " twice: a token is in a cluster or not";
        else if (a > 0 && list[a] < list[a - 1])
          problem = which + " is not ascending (" + std::to_string(list[a - 1]) + " before " +
                    std::to_string(list[a]) + "): the kernel walks positions in order — sort each list";
      }
    }
  return problem;
}

// Random clusters of exactly the sizes of `lists` (cluster c -> positions among n): list c becomes the first
// |list c| positions of a fresh shuffle of 0..n-1, ascending. One permutation of rng per list, in order.
std::vector<std::vector<int64_t>> random_clusters_like(const std::vector<std::vector<int64_t>>& lists, int64_t n,
                                                       core::Rng& rng) {
  std::vector<std::vector<int64_t>> out;
  for (const std::vector<int64_t>& list : lists) {
    const IntTensor perm = core::permutation(n, rng);
    out.emplace_back(perm.data.begin(), perm.data.begin() + static_cast<int64_t>(list.size()));
    std::sort(out.back().begin(), out.back().end());
  }
  return out;
}

// %%
// Step 5's exercise: your routing rule (which positions each cluster takes), and your prediction of how many
// (query, cluster) memberships it makes. Your version is the EXERCISE block in main; the reference solution and
// a known-wrong answer are in lessons/solutions/13_routing_transformer.h.
//   rank: n rows of C, rank[i·C + c] = |μ_c|² - 2 x̂_i·μ_c (smaller = nearer); -> C lists of positions
using ClusterRule = std::function<std::vector<std::vector<int64_t>>(const std::vector<float>& rank, int64_t n,
                                                                    int64_t C, int64_t w)>;
struct MyRouting {
  ClusterRule cluster_members;        // called once with the queries' ranks, once with the keys'
  int64_t predicted_memberships = 0;  // your count of Σ_c (queries in cluster c), for n = 64, C = 8, w = 8
};
#include "lessons/solutions/13_routing_transformer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "13_routing_transformer");

  // %% [markdown]
  // ## Step 1 · tokens with hidden topics
  // n = 64 tokens, each of one of 8 hidden topics at a random position. Its query and its key are the topic's
  // direction plus noise, so the exact attention of a query is concentrated on the keys of its own topic —
  // scattered all over the sequence, where no fixed window or block pattern can find them.
  // %%
  L.step("Step 1 · tokens with hidden topics");
  const int64_t n = 64, d = 16, topics = 8;
  core::Rng rng = L.rng(0);
  const TopicData data = topic_data(n, d, topics, rng);
  const Tensor &q = data.q, &k = data.k, &v = data.v;
  std::string strip;
  for (int64_t i = 0; i < 24; ++i) strip += std::to_string(data.topic[i]) + " ";
  L.say("q, k, v: ", q.shape(), "  (B, H, n, d); topics of the first 24 tokens: ", strip, "...");

  // %% [markdown]
  // ## Step 2 · normalise and fit the centroids (k-means)
  // Routing compares directions, so queries and keys are scaled to unit length. The centroids come from
  // k-means on all 2n unit vectors (queries and keys share the centroids): start from C random points, then
  // alternate "assign each point to its nearest centroid" and "move each centroid to the mean of its points".
  // The mean squared distance (distortion) can only go down.
  // %%
  L.step("Step 2 · normalise, then k-means");
  attention::RoutingOptions o;  // clusters = round(√n) = 8, window = n / C = 8
  const int64_t C = attention::routing_num_clusters(n, o), w = attention::routing_cluster_size(n, C, o);
  const Tensor qhat = attention::l2_normalize(q), khat = attention::l2_normalize(k);
  const Tensor points = core::concat({core::reshape(qhat, {n, d}), core::reshape(khat, {n, d})}, 0);  // (2n, d)
  L.say("C = round(sqrt(", n, ")) = ", C, " clusters of w = ", w, " queries and ", w, " keys; k-means on ", points.shape());
  const attention::KMeansResult km = attention::kmeans(points, C, 6, 17);
  lesson::Table kt({"iteration", "distortion"}, 10);
  bool down = true;
  for (size_t t = 0; t < km.distortion.size(); ++t) {
    kt.row({std::to_string(t), lesson::fixed(km.distortion[t], 4)});
    if (t > 0) down = down && km.distortion[t] <= km.distortion[t - 1] + 1e-12;
  }
  L.check("k-means never increases the distortion", down);
  const Tensor mu = km.centroids;  // (C, d)

  // %% [markdown]
  // ## Step 3 · balanced routing
  // Each cluster takes the w queries and the w keys nearest to its centroid (the paper's balanced clusters:
  // every cluster costs exactly w × w scores). A token far from every centroid may end up in no cluster
  // (its output is 0 — the paper adds local-attention heads for those) and a central one in several (its
  // output is the mean of its clusters' outputs). The strip shows each token's topic and nearest centroid.
  // %%
  L.step("Step 3 · balanced routing");
  const attention::Routing routing = attention::route_balanced(qhat, khat, core::reshape(mu, {1, 1, C, d}), w);
  std::vector<int> in_clusters(static_cast<size_t>(n), 0);
  std::string sizes;
  for (int64_t c = 0; c < C; ++c) {
    sizes += std::to_string(routing.queries_in(0, c)) + "/" + std::to_string(routing.keys_in(0, c)) + " ";
    for (int64_t a = routing.query_start.data[c]; a < routing.query_start.data[c + 1]; ++a) ++in_clusters[routing.query_pos.data[a]];
  }
  L.say("queries/keys per cluster: ", sizes);
  L.say("queries in no cluster: ", std::count(in_clusters.begin(), in_clusters.end(), 0), ", in two or more: ",
        std::count_if(in_clusters.begin(), in_clusters.end(), [](int c) { return c >= 2; }));
  bool balanced = true;
  for (int64_t c = 0; c < C; ++c) balanced = balanced && routing.queries_in(0, c) == w && routing.keys_in(0, c) == w;
  L.check("every cluster holds exactly w queries and w keys", balanced);
  const IntTensor q_cluster = attention::nearest_centroid(core::reshape(qhat, {n, d}), mu);  // (n)
  const IntTensor k_cluster = attention::nearest_centroid(core::reshape(khat, {n, d}), mu);
  // how pure are the clusters? votes[topic][cluster]; each cluster is named after the topic most of its tokens have
  std::vector<std::vector<int>> votes(static_cast<size_t>(topics), std::vector<int>(static_cast<size_t>(C), 0));
  for (int64_t i = 0; i < n; ++i) ++votes[data.topic[i]][q_cluster.data[i]];
  std::vector<int> cluster_topic(static_cast<size_t>(C), 0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t g = 0; g < topics; ++g)
      if (votes[g][c] > votes[cluster_topic[c]][c]) cluster_topic[c] = static_cast<int>(g);
  {
    IntTensor ids({3, n});
    for (int64_t i = 0; i < n; ++i) {
      ids.at({0, i}) = data.topic[i];
      ids.at({1, i}) = cluster_topic[q_cluster.data[i]];
      ids.at({2, i}) = cluster_topic[k_cluster.data[i]];
    }
    std::vector<std::string> labels;
    for (int64_t g = 0; g < topics; ++g) labels.push_back("topic " + std::to_string(g));
    img::HeatmapOptions so;
    so.title = "the cluster id strip";
    so.subtitle = "row 0: hidden topic; rows 1, 2: the majority topic of the query's / key's nearest cluster";
    so.xlabel = "position i";
    so.ylabel = "row";
    so.target_px = 1024;
    L.show(img::categorical_heatmap(ids, labels, so), "cluster_strip.png",
           "the cluster id strip: each cluster is coloured by the topic most of its tokens have, so a column of "
           "three equal colours is a token routed to its own topic's cluster — nearly all columns are");
  }
  {
    int agree = 0;
    for (const auto& vt : votes) agree += *std::max_element(vt.begin(), vt.end());
    L.say("tokens in the majority cluster of their topic: ", agree, " of ", n);
    L.check("k-means found the topics: at least 80 % of the tokens sit in their topic's cluster", agree >= 0.8 * n);
  }

  // %% [markdown]
  // ## Step 4 · attention inside the clusters
  // For each cluster: a w × w score matrix, a softmax, and w outputs scattered back to their positions. In the
  // original order the effective n × n matrix looks scattered; sorted by cluster it is block diagonal: C blocks
  // of w × w, which is all the kernel ever computes.
  // %%
  L.step("Step 4 · attention inside the clusters");
  const Tensor out = attention::routing_attention(q, k, v, routing, false);            // (1,1,64,16)
  const Tensor A = attention::routing_effective_attention(q, k, routing, false);       // (1,1,64,64)
  const Tensor M = attention::routing_pattern(routing, false);
  L.say("out: ", out.shape(), "; the kernel computed ", C, " clusters x ", w, " x ", w, " = ", C * w * w,
        " scores instead of n² = ", n * n);
  L.check_close("out == effective_attention @ v", out, core::matmul(A, v), 1e-5f);
  int64_t outside = 0;
  for (int64_t i = 0; i < A.numel(); ++i) outside += A.data()[i] != 0.0f && M.data()[i] == 0.0f;
  L.check("no weight outside the same-cluster pattern", outside == 0);
  {
    // sort queries by their query cluster and keys by their key cluster (stable: position order inside)
    std::vector<int64_t> qo(static_cast<size_t>(n)), ko(static_cast<size_t>(n));
    std::iota(qo.begin(), qo.end(), 0);
    std::iota(ko.begin(), ko.end(), 0);
    std::stable_sort(qo.begin(), qo.end(), [&](int64_t a, int64_t b) { return q_cluster.data[a] < q_cluster.data[b]; });
    std::stable_sort(ko.begin(), ko.end(), [&](int64_t a, int64_t b) { return k_cluster.data[a] < k_cluster.data[b]; });
    Tensor sorted = Tensor::zeros({n, n});
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b) sorted.at({a, b}) = A.at({0, 0, qo[a], ko[b]});
    const lesson::MapStyle by_cluster =
        lesson::MapStyle().xlabel("key (sorted by cluster)").ylabel("query (sorted by cluster)");
    L.show(img::hstack({matrix_map(A, "routing attention, original order", "n = 64, C = 8, w = 8"),
                        matrix_map(sorted, "the same matrix, sorted by cluster", "queries by query cluster, keys by key cluster",
                                   by_cluster)}),
           "attention_orders.png",
           "left: the effective attention in position order is scattered (each topic is spread over the "
           "sequence); right: rows and columns sorted by nearest centroid — the weight gathers in blocks on the "
           "diagonal, one per cluster (off-block weight comes from tokens routed to a cluster other than their "
           "nearest)");
  }

  // %% [markdown]
  // ## Step 5 · check against a dense masked reference
  // With the clusters fixed, the kernel must equal dense softmax attention masked to "same cluster", one
  // softmax per cluster, averaged over the clusters a query belongs to — outputs and gradients. (The routing
  // itself is piecewise constant: no gradient flows through the cluster choice; the paper trains the centroids
  // by k-means/EMA, not by backprop.) Then your routing rule from the EXERCISE block.
  // %%
  L.step("Step 5 · check against a dense masked reference");
  {
    core::Rng grng = L.rng(1);
    const Tensor G = core::randn(q.shape(), grng);
    for (bool causal : {false, true}) {
      const attention::Routing r = causal ? attention::route_nearest(qhat, khat, core::reshape(mu, {1, 1, C, d})) : routing;
      const lesson::KernelVsReference c = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) { return attention::routing_attention(x[0], x[1], x[2], r, causal); },
          [&](const std::vector<Tensor>& x) { return dense_reference(x[0], x[1], x[2], r, causal); }, {q, k, v}, G);
      const std::string tag = causal ? "causal" : "balanced";
      L.check_close(tag + ": output equals the dense masked reference", c.out, c.ref_out, 1e-5f);
      float worst = 0.0f;
      for (int t = 0; t < 3; ++t) worst = std::max(worst, lesson::max_abs_diff(c.grads[t], c.ref_grads[t]));
      L.check(tag + ": dq, dk, dv equal the reference's", worst < 1e-4f, "max |diff| = " + lesson::sig(worst, 2));
    }
  }

  // %% [markdown]
  // ### Your routing rule
  // The EXERCISE block holds the rule that turns distances into clusters. Before you run it, PREDICT how many
  // (query, cluster) memberships it makes in total, Σ_c (queries in cluster c): every membership is one row of
  // scores the kernel computes (a row as long as that cluster's key list). The self-check verifies that your
  // lists are lists the kernel can use, runs them through the kernel against the dense reference, counts the
  // memberships, and asks whether your clusters find the content: they must keep clearly more of each query's
  // exact top-8 attention mass than random clusters of the same sizes do. Your version is the EXERCISE block;
  // the reference solution and a known-wrong answer are in lessons/solutions/13_routing_transformer.h.
  // %%
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // cluster_members(rank, n, C, w): given rank[i·C + c] = |μ_c|² - 2 x̂_i·μ_c (smaller = nearer; n rows of C)
  // and the window w, list the positions cluster c takes (ascending, each once). The default is the paper's
  // balanced rule: each cluster takes its w nearest tokens, so every cluster has exactly w members and a token
  // may be in several clusters or in none. Try, each with its prediction of the memberships:
  //   - nearest centroid only: token i goes to argmin_c rank[i][c] (clusters become unbalanced: look at the
  //     sizes printed and at the captured share);
  //   - the 2 nearest centroids per token (every token is routed; twice the memberships, and more than twice
  //     the scores, since a cluster of m queries and m keys costs m²);
  //   - a larger w (w = 2n/C): more keys per query, more of the top-8 mass found, four times the scores.
  MyRouting my_routing;
  my_routing.cluster_members = [](const std::vector<float>& rank, int64_t n, int64_t C, int64_t w) {
    std::vector<std::vector<int64_t>> members(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return rank[a * C + c] < rank[b * C + c]; });  // nearest first
      members[c].assign(order.begin(), order.begin() + std::min(w, n));
      std::sort(members[c].begin(), members[c].end());  // the kernel wants positions in ascending order
    }
    return members;
  };
  my_routing.predicted_memberships = 64;  // C = 8 clusters of w = 8 queries each
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyRouting answer = L.exercise(my_routing, solution::routing(), solution::wrong_routing());

  // %% [markdown]
  // **Checking your rule.** Your rule runs twice, on the queries' ranks and on the keys', and must give lists
  // the kernel can use; if it does, they go through the kernel against the dense reference. Then read the sizes
  // printed: the memberships you predicted, the scores they cost beside the balanced C·w², and the queries left
  // in no cluster. Last, the top-8 mass your clusters keep is set beside that of random clusters of the same
  // sizes: what routing by chance alone would keep.
  // %%
  {
    const std::vector<float> rq = ranks_of(qhat, mu), rk = ranks_of(khat, mu);
    const auto qm = answer.cluster_members(rq, n, C, w), kmem = answer.cluster_members(rk, n, C, w);
    const std::string problem = cluster_list_problem(qm, kmem, n, C);  // empty: the kernel can use the lists
    const bool lists_ok = L.exercise_check("your rule lists each cluster's positions once, ascending, within 0.." +
                                               std::to_string(n - 1),
                                           problem.empty(), "", problem);
    if (!lists_ok) {
      L.say("(the kernel, captured-mass and prediction checks of your rule are skipped: they need lists the kernel can use)");
    } else {
      const attention::Routing mine = make_routing(n, qm, kmem);
      L.check_close("your routing through the kernel equals the dense reference with your clusters",
                    attention::routing_attention(q, k, v, mine, false), dense_reference(q, k, v, mine, false), 1e-5f);
      int64_t memberships = 0, scores = 0, largest = 0;
      std::vector<int> seen(static_cast<size_t>(n), 0);
      std::string sizes_text;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t nq = static_cast<int64_t>(qm[c].size()), nk = static_cast<int64_t>(kmem[c].size());
        memberships += nq, scores += nq * nk, largest = std::max(largest, nq * nk);
        sizes_text += std::to_string(nq) + "/" + std::to_string(nk) + " ";
        for (int64_t i : qm[c]) ++seen[static_cast<size_t>(i)];
      }
      L.say("your clusters (queries/keys): ", sizes_text, "-> ", memberships, " memberships, ", scores,
            " scores (balanced: ", C * w * w, "; n² = ", n * n, "), largest cluster ", largest, " scores; queries in no "
            "cluster: ", std::count(seen.begin(), seen.end(), 0));
      // Random clusters of your sizes (queries' lists, then keys', one stream of shuffles): what chance would keep.
      core::Rng prng = L.rng(5);
      const Tensor exact = attention::dense_probabilities(q, k);  // (1, 1, 64, 64)
      const double share = captured_share(exact, attention::routing_pattern(mine, false), 8);
      const auto random_q = random_clusters_like(qm, n, prng), random_k = random_clusters_like(kmem, n, prng);
      const double chance = captured_share(exact, attention::routing_pattern(make_routing(n, random_q, random_k), false), 8);
      L.say("your routing keeps ", lesson::fixed(100 * share, 1), " % of the exact top-8 attention mass; random clusters of "
            "your sizes keep ", lesson::fixed(100 * chance, 1), " % (the library's balanced routing: ",
            lesson::fixed(100 * captured_share(exact, M, 8), 1), " %)");
      L.exercise_check("your clusters find the content: at least 25 points more of the top-8 mass than random clusters of "
                       "the same sizes",
                       share >= chance + 0.25,
                       "yours " + lesson::fixed(100 * share, 1) + " %, random " + lesson::fixed(100 * chance, 1) + " %",
                       chance > 0.75 ? "your clusters are so large that even random ones hold most of each query's top "
                                       "keys: the routing no longer chooses, and saves little — keep w near n/C"
                                     : "your clusters hold a query's top keys hardly more often than random clusters "
                                       "of the same sizes: cluster c should take the tokens nearest to its centroid, "
                                       "the smallest rank[i·C + c] (row i, column c of n rows of C numbers)");
      L.exercise_check("your prediction of the (query, cluster) memberships", answer.predicted_memberships == memberships,
                       "predicted " + std::to_string(answer.predicted_memberships) + ", counted " +
                           std::to_string(memberships),
                       "add up the query lists: a rule that gives each of the C clusters w tokens makes C·w, one that "
                       "sends every token to its m nearest centroids makes m·n");
    }
  }

  // %% [markdown]
  // ## Step 6 · how much of the true attention does routing find?
  // For each query, take the 8 keys with the largest exact softmax weight, and ask which share of their weight
  // falls on keys the routing lets the query see. With C clusters of w = n/C, more clusters are cheaper (each
  // query sees w = n/C keys) but miss more. Content-based routing (k-means) against a random balanced routing
  // of the same sizes, on n = 256 tokens of 16 topics.
  // %%
  L.step("Step 6 · share of the exact top-8 attention mass captured, vs the number of clusters");
  std::vector<double> cs, content_share, random_share;
  {
    const int64_t n2 = 256;
    core::Rng drng = L.rng(2);
    const TopicData big = topic_data(n2, d, 16, drng);
    const Tensor exact = attention::dense_probabilities(big.q, big.k);  // (1,1,256,256)
    lesson::Table share({"clusters C", "w = n/C", "keys seen", "k-means routing (%)", "random routing (%)"}, 8);
    for (int64_t Cn : {1, 2, 4, 8, 16, 32, 64}) {
      attention::RoutingOptions oc;
      oc.clusters = Cn;
      oc.seed = 5;
      const attention::Routing r = attention::routing_assign(big.q, big.k, oc);
      const double s = captured_share(exact, attention::routing_pattern(r, false), 8);
      // random balanced routing: a random permutation cut into C groups of w (queries and keys grouped alike)
      const int64_t wn = n2 / Cn;
      core::Rng prng(100 + Cn);
      const IntTensor perm = core::permutation(n2, prng);
      std::vector<std::vector<int64_t>> groups(static_cast<size_t>(Cn));
      for (int64_t i = 0; i < n2; ++i) groups[i / wn].push_back(perm.data[i]);
      for (auto& g : groups) std::sort(g.begin(), g.end());
      const double sr = captured_share(exact, attention::routing_pattern(make_routing(n2, groups, groups), false), 8);
      cs.push_back(double(Cn)), content_share.push_back(100 * s), random_share.push_back(100 * sr);
      share.row({std::to_string(Cn), std::to_string(wn), lesson::fixed(100.0 * wn / n2, 1) + " %",
                 lesson::fixed(100 * s, 1), lesson::fixed(100 * sr, 1)});
    }
    L.check("one cluster of all tokens keeps 100 % (it is full attention)", std::fabs(content_share[0] - 100.0) < 1e-6);
    L.check("k-means routing keeps far more than random routing at C = 16 (w = 16)", content_share[4] > random_share[4] + 30.0,
            lesson::fixed(content_share[4], 1) + " % vs " + lesson::fixed(random_share[4], 1) + " %");
    img::PlotOptions po;
    po.title = "top-8 attention mass kept by the routing";
    po.xlabel = "number of clusters C (w = 256 / C)";
    po.ylabel = "share kept (%)";
    po.log_x = true;
    L.show(img::line_plot({{"k-means routing", cs, content_share}, {"random balanced routing", cs, random_share}}, po),
           "captured_mass.png",
           "share of each query's exact top-8 attention mass that its clusters contain: random routing drops fast "
           "(each query sees a random w/n of the keys; it levels off at the weight of the query's own key, which "
           "sits in its group), k-means routing stays high until the clusters become smaller than the topics "
           "(C > 16)");
  }

  // %% [markdown]
  // ## Step 7 · causal routing, centroids that move, and why not top-w when causal
  // A decoder may not let later tokens change earlier outputs. Balanced top-w clusters break that: a later
  // token nearer to μ_c pushes an earlier token out of cluster c. So causal routing sends each token to its
  // nearest centroid on its own (clusters become unbalanced), attends by original position (keys j <= i of the
  // same cluster), and the kernel's centroids must not be fit to the very sequence it routes (k-means would see
  // the future): seeded random centroids at kernel level, the layer's trained ones in a model.
  // %%
  L.step("Step 7 · causal routing and the EMA");
  {
    attention::RoutingOptions oc;
    oc.causal = true;
    oc.seed = 3;
    const Tensor outc = attention::routing_kernel(q, k, v, oc);
    const Tensor Ac = attention::routing_effective_attention(q, k, attention::routing_assign(q, k, oc), true);
    bool above = false;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) above = above || Ac.at({0, 0, i, j}) != 0.0f;
    L.check("causal: no weight above the diagonal", !above);
    const int64_t t = 29;
    Tensor q2 = q.clone(), k2 = k.clone(), v2 = v.clone();
    for (Tensor* x : {&q2, &k2, &v2})
      for (int64_t i = t + 1; i < n; ++i)
        for (int64_t c = 0; c < d; ++c) x->at({0, 0, i, c}) = -x->at({0, 0, i, c});
    const Tensor a = core::slice(outc, 2, 0, t + 1), b = core::slice(attention::routing_kernel(q2, k2, v2, oc), 2, 0, t + 1);
    L.check("causal: outputs up to t = 29 are bit-identical when every later token changes",
            std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0);
    // the leak that balanced clusters would have: crowd cluster 0 with later tokens
    const Tensor mu1 = core::reshape(mu, {1, 1, C, d});
    Tensor crowd = qhat.clone();
    for (int64_t i = 32; i < n; ++i)
      for (int64_t c = 0; c < d; ++c) crowd.at({0, 0, i, c}) = mu.at({0, c});
    const attention::Routing before = attention::route_balanced(qhat, khat, mu1, w),
                             after = attention::route_balanced(crowd, khat, mu1, w);
    auto early = [](const attention::Routing& r) {
      int64_t e = 0;
      for (int64_t x = r.query_start.data[0]; x < r.query_start.data[1]; ++x) e += r.query_pos.data[x] < 32;
      return e;
    };
    L.say("balanced cluster 0 holds ", early(before), " queries from the first half; after changing only the second half: ",
          early(after));
    L.check("top-w routing is not causal: later tokens pushed earlier ones out of a cluster", early(before) > early(after));
  }

  // %% [markdown]
  // **Centroids that move.** In a model the centroids belong to the routing layer and follow its queries and
  // keys as they train. The layer's first training forward fits them by k-means on its batch; every later one
  // moves each centroid a little towards the mean of the unit vectors assigned to it (an exponential moving
  // average, decay 0.999). The check repeats one such step by hand and compares.
  // %%
  {
    // the layer: first training forward = k-means on the batch; every later one = EMA with decay 0.999
    attention::LayerConfig lc;
    lc.d_model = 32;
    lc.n_heads = 2;
    lc.max_len = 64;
    lc.seed = 4;
    core::Rng lrng = L.rng(3);
    attention::RoutingLayer layer(lc, lrng);
    const Tensor x = core::randn({2, 64, 32}, lrng);
    core::NoGradGuard ng;
    layer.forward(x);
    const Tensor before = layer.centroids.clone();
    layer.forward(x);
    const Tensor qq = attention::split_heads(layer.w_q.forward(x), 2), kk = attention::split_heads(layer.w_k.forward(x), 2);
    const Tensor want = attention::routing_ema_update(before, attention::l2_normalize(qq), attention::l2_normalize(kk),
                                                      Tensor(), 0.999);
    L.say("layer: ", layer.clusters, " centroids per head ", layer.centroids.shape(), ", fitted by k-means on batch 1; batch 2 moved them by ",
          lesson::sig(lesson::max_abs_diff(before, layer.centroids), 2), " (decay 0.999)");
    L.check_close("the second training step is one EMA step: mu <- 0.999 mu + 0.001 mean(assigned)", layer.centroids, want, 1e-6f);
  }

  // %% [markdown]
  // ## Step 8 · the cost
  // Forward + backward beside dense attention (B = 1, H = 1, d = 64, C = round(√n), w = n/C). The routing
  // kernel stores its C·w² = n·w within-cluster weights (n^1.5) and the cluster lists; it spends n·C·d on the
  // distances to the centroids (and a few k-means iterations at kernel level) and C·w²·d on the attention.
  // At these n the n·w weights are still fewer than the n·d gradients of q, k and v (w = √n < d = 64 up to
  // n = 4096), so the fitted memory exponent sits between 1 and 1.5; the check asks for that band, no more.
  // %%
  L.step("Step 8 · the cost");
  const lesson::CostResult cost = lesson::cost_step(
      L, {lesson::Curve("full").expect(2.0, 2.0), lesson::Curve("routing", {}, "routing (C = sqrt(n))").memory_between(0.9, 1.6)},
      lesson::CostOptions()
          .title("routing (C = sqrt(n) clusters) vs full attention")
          .figure("cost.png", "log-log: full attention grows with slope 2 (n^2), routing with slope about 1.5 "
                              "(n^1.5): the memory gap widens by about sqrt(2) per doubling of n"));
  const attention::Scaling& full_cost = cost.fit("full");
  const attention::Scaling& rt_cost = cost.fit("routing (C = sqrt(n))");

  // %% [markdown]
  // ## Step 9 · what the paper reported, and what we measured
  // Roy et al. (2021) report in their abstract (the tables of their experiments section hold the details), for
  // autoregressive models with routing attention in some heads and layers (and local attention in the others),
  // against comparable sparse attention models: Wikitext-103 language modelling at
  // 15.8 perplexity against 18.3, ImageNet-64 generation at 3.43 bits/dim against 3.44 (with fewer attention
  // layers), and a new state of the art (at the time) of 33.2 test perplexity on PG-19 with a 22-layer model
  // trained on sequences of 8192 tokens; attention complexity O(n^1.5·d) instead of O(n²·d).
  // %%
  L.step("Step 9 · the paper's results (as reported) and ours (as measured)");
  L.say("paper (Roy et al. 2021, abstract, vs comparable sparse attention models): Wikitext-103 perplexity 15.8");
  L.say("  (vs 18.3); ImageNet-64 3.43 bits/dim (vs 3.44); PG-19 test perplexity 33.2 (22 layers, sequences of 8192),");
  L.say("  a new state of the art at the time.");
  L.say("this lesson (as measured): k-means routing with C = 16 kept ", lesson::fixed(content_share[4], 1),
        " % of the exact top-8 attention mass (random routing: ", lesson::fixed(random_share[4], 1), " %); at n = ",
        full_cost.n.back(), " forward+backward took ", lesson::fixed(rt_cost.ms.back(), 1), " ms vs ",
        lesson::fixed(full_cost.ms.back(), 1), " ms (this machine) and ", lesson::fixed(rt_cost.mib.back(), 1),
        " MiB vs ", lesson::fixed(full_cost.mib.back(), 1), " MiB for full attention.");

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, route each token to its nearest centroid only (predict the memberships first).
  //    Which clusters grow, which shrink, and what happens to the captured share and to the cost (the biggest
  //    cluster decides it)? The reference solution (--solution) routes every token to its 2 nearest centroids.
  // 2. In Step 6, raise the number of topics to 64: where does the k-means curve drop now, and why?
  // 3. Why is there no gradient through the cluster assignment, and how do the centroids learn anyway?
  // 4. A query in no cluster gets output 0. How would you make sure every token is covered (the paper mixes in
  //    local-attention heads)?
  // Next: the taxonomy — every scheme of the course side by side.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
