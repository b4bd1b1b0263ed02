// attention/routing.h — the Routing Transformer (Roy, Saffar, Vaswani, Grangier 2021, Efficient Content-Based
// Sparse Attention with Routing Transformers, TACL), registered as the scheme "routing".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, C = clusters, w = tokens per cluster.
//
// The idea: attention is mostly spent on a few keys close to the query, so group queries and keys by content
// and let each query attend only inside its group. Per head, C centroids μ_c (shared by queries and keys) split
// the ℓ2-normalised queries q̂ and keys k̂ into clusters; a query attends (one softmax) to the keys of its
// cluster only. With C ≈ √n clusters of w ≈ √n tokens the cost is C·w²·d = n·w·d = O(n^1.5·d), and the memory
// O(n·w) — instead of n²·d and n².
//
//   1. routing     q̂ = q/|q|, k̂ = k/|k|; non-causal (the paper's balanced clusters): cluster c takes the w
//                  queries nearest to μ_c and, separately, the w keys nearest to μ_c (top-w by distance), so every
//                  cluster holds exactly w queries and w keys; a token can be in several clusters or in none
//   2. attention   within cluster c: softmax(q_Qc k_Kcᵀ / √d) v_Kc                           (w × w per cluster)
//   3. scatter     out_i = mean over the clusters that hold query i of their outputs; a query in no cluster
//                  gets 0 (the paper mixes in local-attention heads to cover such tokens; we do not)
//   4. centroids   k-means: the layer initialises them by k-means on the first batch it sees and then moves
//                  them after every training forward by an exponential moving average (decay 0.999) towards the
//                  mean of the q̂, k̂ assigned to them (nearest centroid); they are state, not parameters.
// The attention logits use the raw q, k (scaled dot product); q̂, k̂ only route. The routing is piecewise
// constant in q and k, so gradients flow through the attention only, with the clusters held fixed.
//
// Kernel level (`attnzoo run`, no state): non-causal, each sequence's centroids come from a few seeded k-means
// iterations (kmeans_iters) on its own q̂ and k̂ (the init picks C distinct points by a seeded permutation).
//
// Causal (decoders): a query attends to the keys of its cluster at positions <= its own; a query with no such
// key gets 0 (never NaN). Balanced top-w clusters are NOT causal: a later token that is nearer to μ_c pushes an
// earlier one out of cluster c, so earlier outputs would depend on later tokens. K-means on the sequence itself
// leaks the same way (later tokens move the centroids). So in causal mode every token is routed on its own to
// its nearest centroid (as a query and, separately, as a key; clusters are then unbalanced), and the kernel's
// centroids are seeded random unit vectors (data-independent); the causal layer routes its very first batch with
// those and fits k-means on it afterwards, for the batches that follow.
//
// The pattern (which pairs share a cluster) depends on q and k, so the Scheme reports has_pattern() = false and
// data_pattern() gives the data-dependent 0/1 mask: A is 0 outside it.
#pragma once

#include <memory>
#include <vector>

#include "attention/scheme.h"

namespace attention {

struct RoutingOptions {
  int64_t clusters = 0;      // C; 0 = auto: round(√n)
  int64_t cluster_size = 0;  // w, the paper's window (balanced clusters); 0 = auto: ceil(n / C)
  int64_t kmeans_iters = 3;  // k-means iterations of the kernel-level (and first-batch) fit
  double decay = 0.999;      // the layer's EMA decay
  bool causal = false;
  uint64_t seed = 0;         // k-means init and the causal kernel's centroids
  Tensor key_padding_mask;   // (B, n): 1 = real token, 0 = padding (routed nowhere); undefined = none
};

std::vector<HyperParam> routing_hyperparams();
// Parses and validates cfg's settings (one-line errors naming the key); n = 0 skips the checks that need n.
RoutingOptions routing_options(const Config& cfg, int64_t n = 0);
int64_t routing_num_clusters(int64_t n, const RoutingOptions& o);         // C for a sequence of n tokens
int64_t routing_cluster_size(int64_t n, int64_t clusters, const RoutingOptions& o);  // w
const ParamTable<RoutingOptions>& routing_params();  // clusters, cluster_size, kmeans_iters, decay

// Rows (last axis) scaled to unit length; an all-zero row stays 0. No gradient.
Tensor l2_normalize(const Tensor& x);

// ---- k-means ----
struct KMeansResult {
  Tensor centroids;                // (C, d)
  std::vector<double> distortion;  // mean squared distance to the nearest centroid: [0] after the init, [t] after t updates
};
// Lloyd's k-means on points (m, d). Init: C distinct points picked by a permutation from Rng(seed) (if m < C,
// the rest are seeded random unit vectors). An empty cluster keeps its centroid. The distortion never increases.
KMeansResult kmeans(const Tensor& points, int64_t clusters, int64_t iters, uint64_t seed);
// Index of the nearest centroid (smallest squared distance; ties: the lower index) of each row: points (m, d),
// centroids (C, d) -> (m).
IntTensor nearest_centroid(const Tensor& points, const Tensor& centroids);

// ---- routing: which queries and keys each cluster holds ----
struct Routing {
  int64_t batch = 0, heads = 0, n = 0, clusters = 0;
  // Cluster (bh, c), bh = b·H + h, holds the queries query_pos[query_start[g] .. query_start[g+1]) and the keys
  // key_pos[key_start[g] .. key_start[g+1]) with g = bh·C + c; positions ascending inside each cluster.
  IntTensor query_start, key_start;  // (B·H·C + 1)
  IntTensor query_pos, key_pos;
  int64_t queries_in(int64_t bh, int64_t c) const;
  int64_t keys_in(int64_t bh, int64_t c) const;
};

// Balanced: cluster c takes the w valid queries and the w valid keys nearest to μ_c. centroids: (B or 1, H, C, d);
// qhat, khat: (B, H, n, d) unit rows.
Routing route_balanced(const Tensor& qhat, const Tensor& khat, const Tensor& centroids, int64_t window,
                       const Tensor& key_padding_mask = Tensor());
// Nearest: every valid query and every valid key goes to its own nearest centroid (the causal routing).
Routing route_nearest(const Tensor& qhat, const Tensor& khat, const Tensor& centroids,
                      const Tensor& key_padding_mask = Tensor());

// The kernel's centroids (B or 1, H, C, d): non-causal, k-means per (batch, head) on that sequence's q̂ and k̂;
// causal, seeded random unit vectors (1, H, C, d).
Tensor routing_kernel_centroids(const Tensor& q, const Tensor& k, const RoutingOptions& o);
// Centroids, then routing, as the kernel does it.
Routing routing_assign(const Tensor& q, const Tensor& k, const RoutingOptions& o);

// Attention inside the clusters, outputs scattered back (mean over the clusters holding each query): q, k, v
// (B, H, n, d) -> (B, H, n, d). Differentiable in q, k, v with a hand-written backward (routing held fixed);
// saves the within-cluster probabilities, Σ_c |Qc|·|Kc| floats (= n·w per head when balanced).
Tensor routing_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Routing& routing, bool causal);
// The (B, H, n, n) matrix routing_attention applied: out == A @ v.
Tensor routing_effective_attention(const Tensor& q, const Tensor& k, const Routing& routing, bool causal);
// 0/1 (B, H, n, n): query i and key j share a cluster (and j <= i when causal). A is 0 outside.
Tensor routing_pattern(const Routing& routing, bool causal);

// The kernel: routing_assign, then routing_attention.
Tensor routing_kernel(const Tensor& q, const Tensor& k, const Tensor& v, const RoutingOptions& o);

// One EMA step: for each head and centroid, μ ← decay·μ + (1 − decay)·(mean of the valid q̂ and k̂ rows whose
// nearest centroid is μ); a centroid with no assigned row stays. centroids (H, C, d); qhat, khat (B, H, n, d).
Tensor routing_ema_update(const Tensor& centroids, const Tensor& qhat, const Tensor& khat,
                          const Tensor& key_padding_mask, double decay);

// The layer: the standard projections (ProjectedAttention), routing with its own per-head centroids, attention,
// output projection. C = clusters, or round(√max_len) when clusters=auto. The centroids, the fitted flag and the
// step counter are buffers (state, not parameters: k-means and the EMA move them, the optimiser does not), so a
// checkpoint saves and restores them with the parameters.
class RoutingLayer : public ProjectedAttention {
 public:
  RoutingLayer(const LayerConfig& cfg, core::Rng& rng);
  // Route q̂, k̂ with the centroids (fitting them first if needed), attend within the clusters, and in training
  // move the centroids: (B, H, n, d).
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override;
  // The matrix attend applies (with the layer's centroids), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }
  // k-means on the q̂, k̂ of a batch (every valid row of every sequence), per head; sets fitted.
  void fit_centroids(const Tensor& qhat, const Tensor& khat, const Tensor& key_padding_mask);
  bool is_fitted() const { return fitted.item() != 0.0f; }

  RoutingOptions options;
  int64_t clusters;
  // buffers, registered under these names
  Tensor centroids;  // (H, C, d): seeded random unit vectors until the first fit
  Tensor fitted;     // (): 1 once k-means has run, else 0
  Tensor steps;      // (): training forwards seen (EMA updates = steps - 1 when the first one fitted)
};

}  // namespace attention
