// lessons/solutions/13_routing_transformer.h — SPOILER: the reference solution of lesson 13's exercise (step 5),
// and a known-wrong answer. Try the exercise first; `build/lessons/13_routing_transformer --solution` runs this
// solution, `--wrong-answer` shows how the self-check reports a rule whose clusters do not find the content.
// Included by the lesson after its `MyRouting` struct.
#pragma once

namespace solution {

// The EXERCISE block's second suggestion: route every token to its 2 nearest centroids (the 2 smallest
// rank[i·C + c]). No query is left in no cluster (its output would be 0), and each query sees the keys of two
// clusters, so more of its top keys. The memberships are 2 per token: 2·n = 128, twice the balanced rule's
// C·w = 64. The scores grow more than that: a cluster of m queries and m keys costs m², and these clusters are
// no longer balanced (the lesson prints 2484 scores against the balanced 512, the largest cluster alone 784).
inline MyRouting routing() {
  MyRouting r;
  r.cluster_members = [](const std::vector<float>& rank, int64_t n, int64_t C, int64_t w) {
    std::vector<std::vector<int64_t>> members(static_cast<size_t>(C));
    for (int64_t i = 0; i < n; ++i) {  // positions in order, so every list comes out ascending
      std::vector<int64_t> by_distance(static_cast<size_t>(C));
      std::iota(by_distance.begin(), by_distance.end(), 0);
      std::stable_sort(by_distance.begin(), by_distance.end(),
                       [&](int64_t a, int64_t b) { return rank[i * C + a] < rank[i * C + b]; });
      for (int64_t t = 0; t < std::min<int64_t>(2, C); ++t) members[by_distance[t]].push_back(i);
    }
    return members;
  };
  r.predicted_memberships = 128;
  return r;
}

// Wrong: the balanced rule, reading rank as if it were stored cluster by cluster (rank[c·n + i]) instead of
// token by token (rank[i·C + c], row i of n rows of C). Every index stays inside the vector, the lists are valid
// and the prediction is right for that rule (C·w = 64), so only the content check fails: the numbers each
// cluster sorts by belong to other tokens and other centroids, and the clusters keep hardly more of a query's
// top keys than random ones.
inline MyRouting wrong_routing() {
  MyRouting r;
  r.cluster_members = [](const std::vector<float>& rank, int64_t n, int64_t C, int64_t w) {
    std::vector<std::vector<int64_t>> members(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return rank[c * n + a] < rank[c * n + b]; });  // wrong layout
      members[c].assign(order.begin(), order.begin() + std::min(w, n));
      std::sort(members[c].begin(), members[c].end());
    }
    return members;
  };
  r.predicted_memberships = 64;
  return r;
}

}  // namespace solution
