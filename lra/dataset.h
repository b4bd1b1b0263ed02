// lra/dataset.h — the one dataset type of the Long Range Arena tasks: token sequences with a class label,
// and the helpers that turn them into batches for the models of attention/transformer.h and into splits.
//
// Every task (ListOps, byte-level Text, Retrieval, Image, Pathfinder) produces a lra::Dataset. The trainer never
// needs to know which task it has: it reads vocab, num_classes and max_len to build the model, and pulls batches.
//
//   lra::Splits s = lra::listops::generate_splits(2000, 200, 200, opts, /*seed=*/1);  // or lra::load_task (tasks.h)
//   attention::ModelConfig cfg;  cfg.vocab = s.train.vocab;  cfg.max_len = s.train.max_len;
//   attention::SequenceClassifier model(cfg, s.train.num_classes);
//   lra::BatchStream stream(s.train, /*batch_size=*/32, /*seed=*/1);
//   lra::Batch b = stream.next();                          // b.ids (B, L), b.mask (B, L), b.labels (B,)
//   core::Tensor logits = model.forward(b.ids, b.mask);    // (B, num_classes); b.labels for cross_entropy
//   for (const auto& idx : lra::batch_indices(s.val.size(), 64)) { lra::Batch v = lra::make_batch(s.val, idx); ... }
//
// Pair tasks (Retrieval, dataset.pair == true): every example is two documents. A batch then also carries
// ids2/mask2 for the second document. The model encodes both with the same encoder (two towers, shared weights),
// pools each to X1, X2 (B, d) and classifies the concatenation [X1, X2, X1·X2, X1−X2] (B, 4d) — the LRA
// "dual encoder" head. That combination is the trainer's job; the data layer only keeps the two documents apart.
//
// Token maps (which id is PAD; no task uses a CLS token: SequenceClassifier mean-pools over the mask):
//   listops     PAD 0, digits 0..9 -> 1..10, MIN 11, MAX 12, MED 13, SM 14, "]" 15; vocab 16   (listops.h)
//   text        PAD 0, byte b -> b + 1; vocab 257  (as tfds ByteTextEncoder)                (text.h)
//   retrieval   the same as text, on each of the two documents                             (text.h)
//   image       gray pixel value v -> v (0..255); vocab 256; every image is exactly max_len (cifar.h)
//   pathfinderS gray pixel value v -> v (0..255); vocab 256; every image is exactly S*S      (pathfinder.h)
// For the image tasks pad_id is 0 (a black pixel): it never appears as padding, because all sequences have the
// same length, unless a batch is padded beyond it with BatchOptions — and then the mask marks it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace lra {

using Token = int32_t;
using Sequence = std::vector<Token>;  // one example's token ids, no padding

struct Dataset {
  std::string task;          // "listops", "text", "retrieval", "image", "pathfinder32", ... (for logs and reports)
  int64_t vocab = 0;         // every token id is in [0, vocab) (pad_id included)
  int64_t num_classes = 0;   // every label is in [0, num_classes)
  int64_t max_len = 0;       // no sequence is longer: the model's positional table needs max_len rows
  Token pad_id = 0;          // the id make_batch() fills the positions after a sequence's end with
  bool pair = false;         // retrieval: example i is the two documents inputs[i] and inputs2[i]
  std::vector<Sequence> inputs;   // one token sequence per example
  std::vector<Sequence> inputs2;  // pair tasks only: the second document of each example; empty otherwise
  std::vector<int64_t> labels;    // one class id per example

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  // Examples per class: counts[c] = how many labels equal c (num_classes entries).
  std::vector<int64_t> label_counts() const;
  // The longest sequence (over both documents for pair tasks); 0 for an empty dataset.
  int64_t longest() const;
  // Throws core::Error naming the task and the first inconsistency: sizes of inputs/inputs2/labels, a label
  // outside [0, num_classes), a token outside [0, vocab), a sequence longer than max_len.
  void check() const;
};

// The same task's metadata with the examples at `indices` (in that order; repeats allowed).
Dataset subset(const Dataset& data, const std::vector<int64_t>& indices);
// The first n examples (all of them if n >= size).
Dataset take(const Dataset& data, int64_t n);

struct Splits {
  Dataset train, val, test;
};
// Shuffles the examples with `seed`, then cuts them into test (the first round(test_fraction·n)), val (the next
// round(val_fraction·n)) and train (the rest). Fractions in [0, 1) with val + test < 1.
Splits split(const Dataset& data, double val_fraction, double test_fraction, uint64_t seed);
// For data that come with a train and a test split only (IMDb, CIFAR-10): moves a seeded random
// round(fraction·n) of `train` into the returned .val; .train keeps the rest in its original order.
Splits carve_val(Dataset train, Dataset test, double val_fraction, uint64_t seed);

// ---- batches -----------------------------------------------------------------------------------------------

struct Batch {
  core::IntTensor ids;          // (B, L) token ids; position t >= length of row b holds the dataset's pad_id
  core::Tensor mask;            // (B, L) float32 key_padding_mask: 1 = real token, 0 = padding
  core::IntTensor ids2;         // pair tasks only: the second documents, (B, L2); empty (dim 0) otherwise
  core::Tensor mask2;           // pair tasks only: (B, L2); undefined otherwise
  core::IntTensor labels;       // (B,) class ids
  std::vector<int64_t> index;   // the dataset index of each row
  int64_t size() const { return labels.numel(); }
  int64_t real_tokens() const;  // number of 1s in mask (and mask2): for tokens/s figures
};

struct BatchOptions {
  // L = the longest sequence in the batch (0), or exactly pad_to (> 0; a longer sequence is an error, so use
  // pad_to = data.max_len for fixed-shape batches, e.g. when timing schemes at a given length).
  int64_t pad_to = 0;
  // Then L is rounded up to a multiple of this (schemes with blocks or chunks need n % block == 0).
  int64_t multiple_of = 1;
};

// The examples at `indices`, padded to a common length. Throws on an index out of range or an empty list.
Batch make_batch(const Dataset& data, const std::vector<int64_t>& indices, const BatchOptions& opts = {});

// Index lists covering 0..n-1 once, batch_size per list (the last one shorter unless drop_last), in order, or
// shuffled by `shuffle` when it is given. For evaluation: batch_indices(val.size(), 64).
std::vector<std::vector<int64_t>> batch_indices(int64_t n, int64_t batch_size, core::Rng* shuffle = nullptr,
                                                bool drop_last = false);

// An endless stream of training batches: each epoch visits every example once in a new seeded order, in full
// batches (the incomplete remainder of an epoch is dropped; a dataset smaller than batch_size gives batches of
// the whole dataset). Keeps a reference to `data`, which must outlive the stream. Same seed, same batches.
class BatchStream {
 public:
  BatchStream(const Dataset& data, int64_t batch_size, uint64_t seed, BatchOptions opts = {});
  // A temporary dataset would be gone before the first batch: keep the dataset in a variable.
  BatchStream(Dataset&& data, int64_t batch_size, uint64_t seed, BatchOptions opts = {}) = delete;
  Batch next();
  int64_t epoch() const { return epoch_; }   // completed passes over the data
  int64_t steps() const { return steps_; }   // batches returned so far

 private:
  const Dataset& data_;
  int64_t batch_size_;
  BatchOptions opts_;
  core::Rng rng_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0, epoch_ = 0, steps_ = 0;
};

}  // namespace lra
