// lra/dataset.cpp — see dataset.h: the Dataset checks, subsets and splits, padding into batches.
#include "lra/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace lra {

namespace {

// A seeded Fisher–Yates order of 0..n-1 (the same shuffle as core::permutation, without the IntTensor).
std::vector<int64_t> shuffled(int64_t n, core::Rng& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.randint(0, i + 1)]);
  return order;
}

int64_t round_count(double fraction, int64_t n) { return static_cast<int64_t>(std::llround(fraction * n)); }

}  // namespace

std::vector<int64_t> Dataset::label_counts() const {
  std::vector<int64_t> counts(static_cast<size_t>(std::max<int64_t>(num_classes, 0)), 0);
  for (int64_t y : labels)
    if (y >= 0 && y < num_classes) ++counts[y];
  return counts;
}

int64_t Dataset::longest() const {
  size_t m = 0;
  for (const auto& s : inputs) m = std::max(m, s.size());
  for (const auto& s : inputs2) m = std::max(m, s.size());
  return static_cast<int64_t>(m);
}

void Dataset::check() const {
  const std::string name = "dataset '" + task + "'";
  AZ_CHECK(vocab > 0 && num_classes > 0 && max_len > 0, name, ": vocab, num_classes and max_len must be > 0, got ",
           vocab, ", ", num_classes, ", ", max_len);
  AZ_CHECK(pad_id >= 0 && pad_id < vocab, name, ": pad_id ", pad_id, " is outside [0, ", vocab, ")");
  AZ_CHECK(inputs.size() == labels.size(), name, ": ", inputs.size(), " inputs but ", labels.size(), " labels");
  if (pair) {
    AZ_CHECK(inputs2.size() == labels.size(), name, ": pair task with ", inputs2.size(), " second documents for ",
             labels.size(), " labels");
  } else {
    AZ_CHECK(inputs2.empty(), name, ": inputs2 holds ", inputs2.size(), " sequences but pair is false");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    AZ_CHECK(labels[i] >= 0 && labels[i] < num_classes, name, ": example ", i, " has label ", labels[i],
             " outside [0, ", num_classes, ")");
    for (const Sequence* s : {&inputs[i], pair ? &inputs2[i] : nullptr}) {
      if (!s) continue;
      AZ_CHECK(static_cast<int64_t>(s->size()) <= max_len, name, ": example ", i, " has ", s->size(),
               " tokens, more than max_len ", max_len);
      for (Token t : *s)
        AZ_CHECK(t >= 0 && t < vocab, name, ": example ", i, " has token id ", t, " outside [0, ", vocab, ")");
    }
  }
}

Dataset subset(const Dataset& data, const std::vector<int64_t>& indices) {
  Dataset out;  // the metadata, without copying the examples
  out.task = data.task;
  out.vocab = data.vocab;
  out.num_classes = data.num_classes;
  out.max_len = data.max_len;
  out.pad_id = data.pad_id;
  out.pair = data.pair;
  out.inputs.reserve(indices.size());
  out.labels.reserve(indices.size());
  for (int64_t i : indices) {
    AZ_CHECK(i >= 0 && i < data.size(), "subset: index ", i, " outside dataset '", data.task, "' of ",
             data.size(), " examples");
    out.inputs.push_back(data.inputs[i]);
    if (data.pair) out.inputs2.push_back(data.inputs2[i]);
    out.labels.push_back(data.labels[i]);
  }
  return out;
}

Dataset take(const Dataset& data, int64_t n) {
  std::vector<int64_t> idx(static_cast<size_t>(std::clamp<int64_t>(n, 0, data.size())));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  return subset(data, idx);
}

Splits split(const Dataset& data, double val_fraction, double test_fraction, uint64_t seed) {
  AZ_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1.0,
           "split: val_fraction ", val_fraction, " and test_fraction ", test_fraction,
           " must be >= 0 with a sum below 1");
  core::Rng rng(seed);
  const std::vector<int64_t> order = shuffled(data.size(), rng);
  const int64_t n_test = round_count(test_fraction, data.size());
  const int64_t n_val = round_count(val_fraction, data.size());
  auto range = [&](int64_t a, int64_t b) { return std::vector<int64_t>(order.begin() + a, order.begin() + b); };
  Splits s;
  s.test = subset(data, range(0, n_test));
  s.val = subset(data, range(n_test, n_test + n_val));
  s.train = subset(data, range(n_test + n_val, data.size()));
  return s;
}

Splits carve_val(Dataset train, Dataset test, double val_fraction, uint64_t seed) {
  AZ_CHECK(val_fraction >= 0 && val_fraction < 1.0, "carve_val: val_fraction must be in [0, 1), got ",
           val_fraction);
  core::Rng rng(seed);
  std::vector<int64_t> order = shuffled(train.size(), rng);
  const int64_t n_val = round_count(val_fraction, train.size());
  std::vector<int64_t> val_idx(order.begin(), order.begin() + n_val);
  std::vector<int64_t> train_idx(order.begin() + n_val, order.end());
  std::sort(train_idx.begin(), train_idx.end());  // train keeps the original order
  Splits s;
  s.val = subset(train, val_idx);
  s.train = subset(train, train_idx);
  s.test = std::move(test);
  return s;
}

// ---- batches -----------------------------------------------------------------------------------------------

int64_t Batch::real_tokens() const {
  double total = 0;
  for (const core::Tensor* m : {&mask, &mask2}) {
    if (!m->defined()) continue;
    for (int64_t i = 0; i < m->numel(); ++i) total += m->data()[i];
  }
  return static_cast<int64_t>(total);
}

namespace {

// Rows of `seqs` at `indices` into ids (B, L) padded with pad_id, and the float mask (B, L).
void pad_rows(const std::vector<Sequence>& seqs, const std::vector<int64_t>& indices, Token pad_id,
              const BatchOptions& opts, const std::string& task, core::IntTensor& ids, core::Tensor& mask) {
  const int64_t B = static_cast<int64_t>(indices.size());
  int64_t longest = 0;
  for (int64_t i : indices) longest = std::max<int64_t>(longest, static_cast<int64_t>(seqs[i].size()));
  int64_t L = longest;
  if (opts.pad_to > 0) {
    AZ_CHECK(longest <= opts.pad_to, "make_batch: dataset '", task, "' has a sequence of ", longest,
             " tokens, longer than pad_to ", opts.pad_to);
    L = opts.pad_to;
  }
  if (opts.multiple_of > 1) L = (L + opts.multiple_of - 1) / opts.multiple_of * opts.multiple_of;
  L = std::max<int64_t>(L, 1);  // a batch of empty sequences still has one (masked) position
  ids = core::IntTensor({B, L}, pad_id);
  mask = core::Tensor::zeros({B, L});
  float* m = mask.data();
  for (int64_t b = 0; b < B; ++b) {
    const Sequence& s = seqs[indices[b]];
    for (size_t t = 0; t < s.size(); ++t) {
      ids.data[b * L + t] = s[t];
      m[b * L + t] = 1.0f;
    }
  }
}

}  // namespace

Batch make_batch(const Dataset& data, const std::vector<int64_t>& indices, const BatchOptions& opts) {
  AZ_CHECK(!indices.empty(), "make_batch: no indices (dataset '", data.task, "')");
  AZ_CHECK(opts.pad_to >= 0 && opts.multiple_of >= 1, "make_batch: pad_to must be >= 0 and multiple_of >= 1, got ",
           opts.pad_to, " and ", opts.multiple_of);
  for (int64_t i : indices)
    AZ_CHECK(i >= 0 && i < data.size(), "make_batch: index ", i, " outside dataset '", data.task, "' of ",
             data.size(), " examples");
  Batch batch;
  batch.index = indices;
  pad_rows(data.inputs, indices, data.pad_id, opts, data.task, batch.ids, batch.mask);
  if (data.pair) pad_rows(data.inputs2, indices, data.pad_id, opts, data.task, batch.ids2, batch.mask2);
  batch.labels = core::IntTensor({static_cast<int64_t>(indices.size())});
  for (size_t b = 0; b < indices.size(); ++b) batch.labels.data[b] = data.labels[indices[b]];
  return batch;
}

std::vector<std::vector<int64_t>> batch_indices(int64_t n, int64_t batch_size, core::Rng* shuffle,
                                                bool drop_last) {
  AZ_CHECK(n >= 0 && batch_size >= 1, "batch_indices: need n >= 0 and batch_size >= 1, got ", n, " and ",
           batch_size);
  std::vector<int64_t> order;
  if (shuffle) {
    order = shuffled(n, *shuffle);
  } else {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    if (drop_last && end - start < batch_size) break;
    batches.emplace_back(order.begin() + start, order.begin() + end);
  }
  return batches;
}

BatchStream::BatchStream(const Dataset& data, int64_t batch_size, uint64_t seed, BatchOptions opts)
    : data_(data), batch_size_(batch_size), opts_(opts), rng_(seed) {
  AZ_CHECK(batch_size >= 1, "BatchStream: batch_size must be >= 1, got ", batch_size);
  AZ_CHECK(data.size() > 0, "BatchStream: dataset '", data.task, "' is empty");
  order_ = shuffled(data_.size(), rng_);
}

Batch BatchStream::next() {
  const int64_t n = data_.size();
  const int64_t B = std::min(batch_size_, n);
  if (pos_ + B > n) {  // the rest of this epoch does not fill a batch: start the next epoch
    order_ = shuffled(n, rng_);
    pos_ = 0;
    ++epoch_;
  }
  std::vector<int64_t> idx(order_.begin() + pos_, order_.begin() + pos_ + B);
  pos_ += B;
  ++steps_;
  return make_batch(data_, idx, opts_);
}

}  // namespace lra
