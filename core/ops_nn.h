// core/ops_nn.h — the neural-network ops, each with a hand-written (fused) backward.
#pragma once

#include "core/tensor.h"

namespace core {

class Rng;  // core/random.h

// softmax along axis. A row whose entries are all -inf gives zeros (not NaN), and zero gradient.
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
// Normalise over the last dim: (x - mean) / sqrt(var + eps) * gamma + beta. gamma, beta: (d) or undefined.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps = 1e-5f);
// Mean negative log-likelihood of logits (N, C) for targets (N); targets equal to ignore_index are skipped.
// If every target is ignored the loss is 0 (PyTorch gives NaN).
Tensor cross_entropy(const Tensor& logits, const IntTensor& targets, int64_t ignore_index = -100);
// Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p). Identity when !training
// or p == 0. The mask comes from rng, so the same seed replays the same mask.
Tensor dropout(const Tensor& x, float p, Rng& rng, bool training = true);
// Rows of weight (V, D) picked by index (…) -> (…, D).
Tensor embedding(const Tensor& weight, const IntTensor& index);
// Inclusive prefix sum along axis.
Tensor cumsum(const Tensor& x, int64_t axis);

}  // namespace core
