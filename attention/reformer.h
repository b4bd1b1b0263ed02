// attention/reformer.h — LSH attention with shared query-key vectors (Kitaev, Kaiser, Levskaya 2020, Reformer:
// The Efficient Transformer, ICLR), registered as the scheme "reformer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, R = n_hashes (hashing rounds),
// m = chunk size, nb = n_buckets.
//
// The idea: softmax attention is dominated by the few keys closest to each query. If queries and keys live in
// one space (shared QK: the key of token j is its query, ℓ2-normalised, k_j = q_j / |q_j|), a locality-sensitive
// hash puts close vectors into the same bucket, and each query only needs the keys of its bucket.
//
//   hash        h(x) = argmax([x R; -x R])       R: (d, nb/2) Gaussian, a fresh one per round (and head)
//   sort        positions stably by (bucket, position)            -> the sorted order of round r
//   chunk       cut the sorted order into chunks of m; a query attends to the keys of its own chunk and of the
//               previous chunk (the first chunk's previous chunk is the last one: it wraps)
//   self        a token attends to itself only when nothing else is available: its score is -1e5, not -inf
//   masks       causal (j <= i) and padding masks use the ORIGINAL positions i, j
//   rounds      R rounds give R candidate sets; their outputs are combined with weights exp(L_r - L), where
//               L_r is the log-sum-exp of round r's scores and L the log-sum-exp over all rounds. Equivalently,
//               one softmax over the multiset union of the rounds' candidates (a key found in two rounds counts
//               twice; the paper's optional de-duplication is an exercise of lesson 04).
//
// The k argument of the kernel is IGNORED: keys are always the normalised queries (shared QK). `attnzoo run
// reformer` therefore reports dk = 0.
//
// Causal mode and information leaks. With one global sort, the chunk a query lands in depends on the buckets
// of LATER tokens (a later token hashed to a smaller bucket shifts every slot after it), so the set of earlier
// keys a query sees would depend on the future. Here, in causal mode, chunks are cut per bucket instead: the
// sorted order is the same, but a chunk never straddles two buckets, and its "previous chunk" is the previous
// chunk of the same bucket (none for a bucket's first chunk). A token's chunk is then fixed by how many earlier
// tokens share its bucket, so query i's candidates are the up to 2m - 1 most recent earlier tokens of its
// bucket — a function of tokens 0..i only. Outputs up to t are bit-identical whatever follows t.
//
// The kernel follows the paper's layout: in each round, chunk by chunk, it gathers the chunk's queries and its
// candidate keys (the previous chunk's and its own, at most 2m) into small contiguous blocks and computes the
// m × 2m scores as one block product (forward and backward alike), instead of one dot product per (query, key) of
// rows fetched from their unsorted positions. Rounds are merged by their log-sum-exp, in round order.
// Memory: the kernel saves the inputs, the output, a log-sum-exp per query (B, H, n, 2) and the bucket ids
// (B, H, R, n); scores live only in per-thread chunk buffers (m × 2m floats), and one (batch, head) slice at a time
// keeps a few n × d round buffers. Never n × n. Time O(B·H·R·n·m·d), plus the hashing's O(B·H·R·n·d·nb).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attention/scheme.h"
#include "core/nn.h"

namespace attention {

// The hyperparameters of "reformer" (attnzoo list shows them): n_hashes, n_buckets, chunk.
std::vector<HyperParam> reformer_hyperparams();

struct LSHOptions {
  LSHOptions() = default;  // the defaults below; or the hashing in one expression (lessons, tests):
  LSHOptions(int64_t hashes, int64_t buckets, int64_t chunk_length, bool is_causal, uint64_t rotation_seed,
             Tensor padding = Tensor())
      : n_hashes(hashes), n_buckets(buckets), chunk(chunk_length), causal(is_causal), seed(rotation_seed),
        key_padding_mask(std::move(padding)) {}
  int64_t n_hashes = 2;      // R: hashing rounds
  int64_t n_buckets = 0;     // nb: even, >= 2; 0 = auto: 2·ceil(n / chunk) (the paper's m = 2n / nb)
  int64_t chunk = 32;        // m: positions per chunk of the sorted order
  bool causal = false;
  uint64_t seed = 0;         // the rotations R are drawn from core::Rng(seed)
  Tensor key_padding_mask;   // (B, n): 1 = token, 0 = padding; undefined = none
};

// Reads n_hashes, n_buckets and chunk from cfg.settings, plus causal, seed and the padding mask.
// Bad values throw one line naming the key, e.g. "reformer: n_buckets must be even and >= 2, got 7".
LSHOptions lsh_options(const Config& cfg);
const ParamTable<LSHOptions>& reformer_params();  // n_hashes, n_buckets, chunk
void validate(const LSHOptions& o);
// The chunk length used for n tokens: min(chunk, n) (one chunk of n already holds every token).
int64_t lsh_chunk(const LSHOptions& o, int64_t n);
// The number of buckets used for length n (resolves auto).
int64_t lsh_num_buckets(const LSHOptions& o, int64_t n);  // at most 2n: more could not be filled

constexpr float kSelfScore = -1e5f;  // the score of a token for itself: used only when nothing else is there
constexpr float kKeyNormEps = 1e-6f;  // k = q / sqrt(|q|² + eps)

// k = q / sqrt(|q|² + eps), from core ops (differentiable): (B, H, n, d). The kernel computes the same itself.
Tensor lsh_shared_keys(const Tensor& q);

// The random rotations: (H, R, d, nb/2), drawn from core::Rng(seed) in that order (head, round, row, column).
Tensor lsh_rotations(int64_t H, int64_t d, int64_t n_buckets, const LSHOptions& o);

// Bucket ids (B, H, R, n): argmax over [x R; -x R] (first index on ties). Padding tokens get the extra id nb,
// so they sort after every real token. Hashing q or k gives the same ids (argmax ignores a positive scale).
IntTensor lsh_buckets(const Tensor& q, const LSHOptions& o);

// The sorted-and-chunked layout of every round. A "slot" is a place in the sorted order of one round.
// Chunk c of a round covers the slots [chunk_start[c], chunk_start[c + 1]).
struct LSHLayout {
  int64_t B = 0, H = 0, R = 0, n = 0;
  IntTensor perm;         // (B, H, R, n)     perm[slot] = the position in that slot
  IntTensor slot;         // (B, H, R, n)     slot[position]
  IntTensor chunk_of;     // (B, H, R, n)     the chunk of each slot
  IntTensor chunk_start;  // (B, H, R, n + 1) first slot of each chunk (entries past the last chunk unused)
  IntTensor prev;         // (B, H, R, n)     the chunk a chunk also looks at (-1 = none)
  IntTensor next;         // (B, H, R, n)     the chunk that looks back at this one (-1 = none)
  IntTensor n_chunks;     // (B, H, R)
};
LSHLayout lsh_layout(const IntTensor& buckets, const LSHOptions& o);

// The kernel: q, v (B, H, n, d) -> (B, H, n, d). Differentiable in q and v with a hand-written backward.
// `buckets` (B, H, R, n), when given, replaces hashing (the reversible stack replays the forward's buckets).
Tensor lsh_attention(const Tensor& q, const Tensor& v, const LSHOptions& o, const IntTensor* buckets = nullptr);

// How many rounds put key j among query i's candidates, after the causal and padding masks: (B, H, n, n).
// For tests and pictures at small n.
Tensor lsh_candidate_counts(const Tensor& q, const LSHOptions& o, const IntTensor* buckets = nullptr);
// The 0/1 pattern: counts > 0 (what the scheme's data_pattern returns). The effective attention is 0 outside it.
Tensor lsh_pattern(const Tensor& q, const LSHOptions& o, const IntTensor* buckets = nullptr);
// The (B, H, n, n) matrix the kernel applied, rounds' weights folded in: lsh_attention == A @ v.
Tensor lsh_effective_attention(const Tensor& q, const LSHOptions& o, const IntTensor* buckets = nullptr);

// The Reformer's attention layer: ONE projection for queries and keys (shared QK), its own value and output
// projections. x (B, n, d_model) -> (B, n, d_model).
// Not a ProjectedAttention: shared QK means three projections (w_qk, w_v, w_o), not four, and the reversible
// blocks (attention/reversible.h) call forward_lsh to hash once and replay the same buckets in their backward.
class LSHAttentionLayer : public AttentionLayer {
 public:
  LSHAttentionLayer(const LayerConfig& cfg, core::Rng& rng);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) override;
  // The same, saving the bucket ids it hashed into *buckets (replay = false), or using *buckets instead of
  // hashing (replay = true).
  Tensor forward_lsh(const Tensor& x, const Tensor& key_padding_mask, IntTensor* buckets, bool replay);
  // The kernel's options for this layer (seed, causal, settings) with the given padding mask.
  LSHOptions options(const Tensor& key_padding_mask = Tensor()) const;
  // lsh_effective_attention on the shared qk of x: (B, H, n, n), applied to split_heads(w_v(x)).
  Tensor attention_weights(const Tensor& x) override;

  Config config;
  int64_t d_model, n_heads;
  core::nn::Linear w_qk, w_v, w_o;
};

}  // namespace attention
