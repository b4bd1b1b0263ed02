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
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"

namespace attention {

using namespace core;

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

Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                        const Tensor& key_padding_mask) {
  check_self_attention(q, k, v);
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
      "Sparse Transformer: factorised strided/fixed patterns A1 ∪ A2 on per-query key lists, exact, O(n·√n·d) with "
      "stride ≈ √n";
  i.paper = "Child, Gray, Radford, Sutskever 2019, Generating Long Sequences with Sparse Transformers";
  i.lecture = 3;
  i.use(sparse_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::FP, Family::CP};
  i.exactness = Exactness::on_pattern;
  i.masked_softmax = true;
  i.time_growth = "n·√n";
  i.memory_exponent = 1.5;
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
