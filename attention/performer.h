// attention/performer.h — the Performer's FAVOR+ attention (Choromanski et al. 2021, Rethinking Attention with
// Performers, ICLR), registered as the scheme "performer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, m = number of random features.
//
// Softmax attention weighs key j by exp(q_i·k_j / √d). With x' = x / d^(1/4) that is exp(q'·k'), and for
// w ~ N(0, I_d)
//   exp(q'·k') = E_w[ exp(w·q' - ‖q'‖²/2) · exp(w·k' - ‖k'‖²/2) ],
// so with m draws w_1..w_m (the rows of W, (m, d)) the positive random features
//   phi(x) = exp(W x' - ‖x'‖²/2) / √m                                     (m values, all > 0)
// give an unbiased estimate phi(q)·phi(k) of the softmax kernel. Attention becomes kernel attention
// (attention/kernels/feature_attention.h): out = D⁻¹ phi(Q) (phi(K)ᵀ V), D = diag(phi(Q) (phi(K)ᵀ 1)), causal by
// prefix sums — O(n·m·d) time, O(n·m) memory, and never an n x n matrix.
//
// Orthogonal random features (the "O" of FAVOR+): W is built from blocks of d rows that are exactly orthogonal
// (core::orthogonal: QR of a Gaussian d x d matrix), each row then rescaled to the norm of an independent
// Gaussian d-vector, so that every row is still marginally N(0, I_d) (norms chi-distributed), but rows within a
// block are never redundant: the estimate has lower variance (paper, Theorem 2). orthogonal=false draws W with
// iid N(0, 1) entries. One W per call, shared by all heads, drawn from Config::seed: same seed, same features.
//
// Numerical stabiliser. exp(w·x' - ‖x'‖²/2) leaves float's range: for large ‖x'‖ every feature underflows to 0
// (the -‖x'‖²/2 term wins; then the normaliser is 0/0), and for large d it can overflow (it is at most
// exp(‖w‖²/2), ‖w‖² ≈ d). So each feature vector is rescaled before the exp:
//   queries: each row is divided by exp(max_l of its own exponents) — a per-row factor, which cancels between
//            numerator and denominator of that row;
//   keys:    each key is divided by exp(c_j), c_j = max_l of key j's own exponents (it looks at key j only),
//            and the kernel folds the factors back in with a running maximum M_i = max_{j<=i} c_j
//            (attention/kernels/feature_attention.h): row i only ever sees keys j <= i and their c_j.
//   Never a maximum over the keys of the whole sequence in the causal case: that would make row i depend on
//   future keys (a public implementation does this, and its causal outputs change when the future changes).
//   The stabilisers are constants for autograd; since they cancel exactly, the gradients are those of the
//   unstabilised formula. eps (key `eps`, default 1e-12) is the denominator of a row that sees no key (all
//   padding): its output is 0, not 0/0. It is not added to other rows: in the rescaled units a row's normaliser
//   can be far below any fixed eps at large input norms (q, k ~ 6·N(0, 1) at d = 16 gave normalisers near 1e-12,
//   and a fixed eps = 1e-12 took up to 62% of a row's mass). Rows that see a key are normalised exactly; a
//   normaliser that left float32's normal range, or an exponent that overflowed (‖x'‖² beyond float), is refused
//   with core::Error ("performer: ...") instead of giving a wrong row.
//   The query features are computed as exp(s (w_l·x − max_l' w_l'·x)) / √m: ‖x'‖²/2 cancels within a row and is
//   left out, so large ‖x‖ do not round the difference away.
//
// Redrawing. The kernel is a pure function of (q, k, v, seed). The layer (make_layer) holds a draw counter:
// PerformerLayer::redraw() moves to the next draw, and with redraw=N > 0 the layer redraws by itself every N
// forward passes in training mode (never in eval mode). Draw t uses seed feature_seed(cfg.seed, t).
//
// Hyperparameters: features (m, default 128), orthogonal (true), redraw (0 = never), eps (1e-12).
#pragma once

#include "attention/scheme.h"

namespace attention {

constexpr float kPerformerEps = 1e-12f;

// W: (m, d), orthogonal blocks with chi-distributed row norms, or iid N(0, 1). Same seed, same W.
Tensor draw_random_features(int64_t m, int64_t d, bool orthogonal, uint64_t seed);
// The seed of the t-th draw of a layer whose base seed is `seed` (t = 0 is `seed` itself).
uint64_t feature_seed(uint64_t seed, uint64_t draw);

// phi(x) = exp(W x' - ‖x'‖²/2) / √m with x' = x d^(-1/4), unstabilised (it overflows for large x):
// (B, H, n, d) -> (B, H, n, m). Differentiable. For lessons and tests; the kernel uses the stabilised forms.
Tensor positive_random_features(const Tensor& x, const Tensor& W);
// The trigonometric features of random Fourier features, exp(‖x'‖²/2) / √m · [sin(W x'), cos(W x')]:
// (B, H, n, d) -> (B, H, n, 2m). Also an unbiased estimate of exp(q'·k'), but not positive. Not differentiable
// (for the lesson's comparison only).
Tensor trig_random_features(const Tensor& x, const Tensor& W);

// Stabilised query features: phi(q_i) / exp(max_l exponent_il): every row's largest entry is 1/√m.
Tensor favor_query_features(const Tensor& q, const Tensor& W);
// Stabilised key features phi(k_j) / exp(c_j), and c_j (B, H, n) (-inf for padding keys, whose features are 0).
struct KeyFeatures {
  Tensor phi;        // (B, H, n, m)
  Tensor log_scale;  // (B, H, n), constant
};
KeyFeatures favor_key_features(const Tensor& k, const Tensor& W, const Tensor& key_padding_mask = Tensor());

// The kernel: q, k, v (B, H, n, d) -> (B, H, n, d), with random features W (m, d).
Tensor performer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& W, bool causal,
                           float eps = kPerformerEps, const Tensor& key_padding_mask = Tensor());
// Â = D⁻¹ phi(Q) phi(K)ᵀ (lower triangle when causal), the matrix the kernel applies: (B, H, n, n),
// performer_attention(q, k, v, W) == Â @ v. Differentiable.
Tensor performer_attention_matrix(const Tensor& q, const Tensor& k, const Tensor& W, bool causal,
                                  float eps = kPerformerEps, const Tensor& key_padding_mask = Tensor());

// The layer of the scheme: the standard projections (ProjectedAttention) around the kernel, plus feature
// redrawing. The draw counter and the count of training calls are buffers, so a checkpoint restores which
// features the layer uses (draw t: W from feature_seed(cfg.seed, t)) and when it redraws next.
class PerformerLayer : public ProjectedAttention {
 public:
  PerformerLayer(const Scheme& scheme, const LayerConfig& cfg, core::Rng& rng);
  // The kernel with the current draw's features: (B, H, n, d). In training with redraw=N > 0, every N-th call
  // first moves to the next draw.
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override;
  // The matrix attend applies (with the current draw's features), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }
  // One token at a time with the current draw's features: the recurrent state of FAVOR+ (attention/decode.h).
  std::unique_ptr<LayerDecoder> make_decoder(int64_t n) override;
  void redraw();                                    // next draw of W (deterministic: see feature_seed)
  uint64_t draws() const;                           // how many times the features were redrawn
  Tensor features(int64_t d_head) const;            // the W the next forward pass uses: (m, d_head)

 private:
  uint64_t base_seed_;
  int64_t redraw_every_ = 0;
  // buffers "draw" and "training_calls"
  Tensor draw_;            // (): the current draw t
  Tensor training_calls_;  // (): training forward passes seen (for redraw=N)
};

}  // namespace attention
