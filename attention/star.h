// attention/star.h — Star Transformer (Guo et al. 2019, Star-Transformer, NAACL), registered as "star".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, D = d_model = H * d.
//
// One relay node s and one satellite hᵢ per token. Each cycle t of the paper's Algorithm 1 does
//
//   satellites:  Cᵢ = [h_{i-1}; hᵢ; h_{i+1}; eᵢ; s]         5 context vectors, eᵢ = the token's embedding
//                hᵢ ← LayerNorm(ReLU(MultiAtt(hᵢ, Cᵢ)))      the query is hᵢ itself
//   relay:       s  ← LayerNorm(ReLU(MultiAtt(s, [s; h_1..h_n])))
//
// with h⁰ = e and s⁰ = mean(e). The satellites form a RING: h_{-1} is h_{n-1} and h_n is h_0 (the paper
// connects the first and the last satellite). Every satellite sees 5 keys and the relay sees n+1, so one cycle
// costs O(n·d) time and memory, against O(n²·d) for full attention. Two hops (satellite -> relay -> satellite)
// connect any pair of tokens, so the receptive field is global after a single cycle.
//
// Pitfall (a public implementation has it): building h_{i±1} by zero-padding the ends. The zero key scores 0,
// which is not -inf, so the phantom neighbour still takes softmax weight (and a zero value dilutes the output).
// Here the neighbours wrap around the ring; with padding, the ring runs over the real tokens only.
//
// The three levels (attention/scheme.h):
//   kernel(q, k, v)  ONE satellite update on per-head projections, the way cycle 1 sees them: since h⁰ = e, the
//                    embedding's key/value is the token's own kᵢ/vᵢ, and since s⁰ = mean(e) and projections are
//                    affine, the relay's key/value are the means of k and v over the tokens:
//                      outᵢ = Σ_c softmax_c(qᵢ·key_c / √d) value_c
//                      keys   [k_{i-1}, kᵢ, k_{i+1}, kᵢ, mean(k)],   values [v_{i-1}, vᵢ, v_{i+1}, vᵢ, mean(v)]
//   effective_attention  the n×n matrix of that update: a ring band (tridiagonal with corners; the diagonal gets
//                    the self AND the embedding weight) plus p_relay/n spread over every column: out == A @ v.
//   make_layer       the full Star Transformer layer (StarLayer below) with its own projections and `cycles`.
#pragma once

#include <memory>
#include <vector>

#include "attention/scheme.h"
#include "core/nn.h"

namespace attention {

// Ring neighbours of each position: prev and next are (B, n). Without padding, prev(i) = (i-1) mod n and
// next(i) = (i+1) mod n. With a key_padding_mask (B, n) (1 = token, 0 = padding) the ring runs over the real
// tokens only: prev(i) / next(i) are the nearest real tokens before / after i, cyclically, so that no query
// ever sees a padding key. (n = 1: both neighbours are the token itself; n = 2: both are the other token.)
struct StarRing {
  IntTensor prev, next;  // (B, n)
};
StarRing star_ring(int64_t batch, int64_t n, const Tensor& key_padding_mask = Tensor());

// The 5 context slots of a satellite, in this order.
enum StarSlot { kStarPrev = 0, kStarSelf = 1, kStarNext = 2, kStarEmbedding = 3, kStarRelay = 4, kStarSlots = 5 };

// The satellite update, fused, with a hand-written backward:
//   q, k_h, v_h, k_e, v_e: (B, H, n, d)   queries of the satellites; keys/values of the satellites and of the
//                                         embeddings
//   k_s, v_s:              (B, H, 1, d)   the relay's key and value
// -> (B, H, n, d). It stores the (B, H, n, 5) probabilities for the backward pass: O(n) memory, no n×n matrix.
Tensor star_satellite_attention(const Tensor& q, const Tensor& k_h, const Tensor& v_h, const Tensor& k_e,
                                const Tensor& v_e, const Tensor& k_s, const Tensor& v_s, const StarRing& ring);

// The context weights of that update: (B, H, n, 5) in StarSlot order (no graph; for pictures and A).
Tensor star_satellite_probabilities(const Tensor& q, const Tensor& k_h, const Tensor& k_e, const Tensor& k_s,
                                    const StarRing& ring);

// Mean over the real tokens along the sequence axis: x (B, H, n, d) -> (B, H, 1, d). Differentiable.
Tensor star_token_mean(const Tensor& x, const Tensor& key_padding_mask = Tensor());

// The kernel of the registered scheme (one satellite update on q, k, v, see above): (B, H, n, d).
Tensor star_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_padding_mask = Tensor());
// Its n×n matrix: (B, H, n, n) with star_attention == A @ v.
Tensor star_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& key_padding_mask = Tensor());

// The (n+1) × (n+2) connectivity of one cycle, 0/1. Rows: satellites 0..n-1, then the relay (row n).
// Columns: satellites 0..n-1, then the token's own embedding eᵢ (column n), then the relay (column n+1).
// Satellite rows: the ring band {i-1, i, i+1} (wrapping at the corners), their embedding, the relay.
// The relay row: every satellite and itself (not the embeddings).
Tensor star_connectivity(int64_t n);

// One cycle's parameters: the satellites' multi-head attention (w_q, w_k, w_v, w_o) and LayerNorm, and the
// relay's (r_q, r_k, r_v, r_o, relay_norm). The relay part exists only when a later cycle reads the relay.
class StarCycle : public core::nn::Module {
 public:
  StarCycle(int64_t d_model, bool with_relay, core::Rng& rng);
  core::nn::Linear w_q, w_k, w_v, w_o;
  core::nn::LayerNorm satellite_norm;
  std::unique_ptr<core::nn::Linear> r_q, r_k, r_v, r_o;
  std::unique_ptr<core::nn::LayerNorm> relay_norm;
};

// The Star Transformer layer: x (B, n, D) are the token embeddings eᵢ and the first satellites h⁰; the relay
// starts as their mean over the real tokens (the paper's s⁰ = average(e)). Then `cycles` cycles of Algorithm 1,
// each with its own parameters. The layer returns the satellites H^T (B, n, D). The paper's last relay update
// only feeds its sentence classifier ([max(H^T); s^T]); nothing reads it here, so cycles = T runs T satellite
// updates and the T-1 relay updates between them (cycles = 1: the relay is the plain mean of the embeddings).
//
// Not a ProjectedAttention: a layer is `cycles` rounds, each with its own projections, whose keys and values read
// three inputs (the satellites h, the embeddings e, the relay s), and whose output passes ReLU and LayerNorm; the
// relay has a second attention of its own. One q, k, v -> kernel -> w_o would hide all of that.
class StarLayer : public AttentionLayer {
 public:
  StarLayer(const LayerConfig& cfg, int64_t cycles, core::Rng& rng);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) override;
  int64_t d_model, n_heads, cycles;
  std::vector<std::unique_ptr<StarCycle>> cycle;
};

}  // namespace attention
