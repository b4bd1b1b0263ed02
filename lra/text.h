// lra/text.h — the byte-level text tasks of the Long Range Arena: Text (IMDb sentiment, Maas et al. 2011)
// and Retrieval (ACL Anthology Network citation pairs, Radev et al. 2013). Loaders for the data a user downloads;
// nothing is downloaded here.
//
// Token map (both tasks; as tfds ByteTextEncoder, which LRA used): PAD 0, byte b -> b + 1, vocab 257, no CLS.
// Raw bytes, no cleaning: IMDb reviews keep their "<br />" tags, as in the benchmark.
//
// Text: aclImdb/{train,test}/{pos,neg}/*.txt (aclImdb_v1.tar.gz from https://ai.stanford.edu/~amaas/data/sentiment/
// unpacked). Label 1 = pos, 0 = neg; 25 000 reviews per split. Files are read in name order, neg first. Each review
// is truncated to max_len bytes (the LRA paper: 4K; the repository's config: 1000 — pass what you train with).
//
// Retrieval: the LRA release's new_aan_pairs.{train,eval,test}.tsv (lra_release/tsv_data/): one pair per line,
//   label <TAB> id1 <TAB> id2 <TAB> text1 <TAB> text2
// no header, no quoting, label 1 (the two papers are linked by a citation) or 0, read as a number ("1", "0.0", ...).
// Each document is truncated to max_len bytes (LRA: 4000 per document, 8K in total). The dataset is a pair task:
// inputs[i] = text1, inputs2[i] = text2. The model encodes both documents with one shared encoder (two towers),
// pools them to X1 and X2 (B, d), and classifies [X1, X2, X1·X2, X1−X2] (B, 4d) — see dataset.h.
#pragma once

#include <cstdint>
#include <string>

#include "lra/dataset.h"

namespace lra::text {

constexpr Token kPad = 0;
constexpr int64_t kVocab = 257;
// Bytes -> ids (b + 1), at most max_len of them (max_len <= 0: all).
Sequence encode_bytes(const std::string& bytes, int64_t max_len = 0);
// ids -> bytes; PAD ends the text (so a padded batch row decodes to its document).
std::string decode_bytes(const Sequence& ids);

// One split of aclImdb ("train" or "test"): task "text", 2 classes, vocab 257. Throws core::Error with one line
// naming the missing directory (ACL_DIR/SPLIT/pos or .../neg) or the unreadable file.
Dataset load_imdb_split(const std::string& acl_dir, const std::string& split, int64_t max_len = 4000);
// train and test, with a seeded val_fraction of train moved to val (IMDb has no validation split; LRA evaluated
// on test).
Splits load_imdb(const std::string& acl_dir, int64_t max_len = 4000, double val_fraction = 0.1, uint64_t seed = 0);

}  // namespace lra::text

namespace lra::retrieval {

// One TSV file: task "retrieval", 2 classes, vocab 257, pair = true. Errors name the path ("missing PATH") or
// the line ("PATH:LINE: expected 5 tab-separated fields ..., got 3").
Dataset load_tsv(const std::string& path, int64_t max_len = 4000);
// DIR/new_aan_pairs.train.tsv, .eval.tsv (-> val), .test.tsv.
Splits load_dir(const std::string& dir, int64_t max_len = 4000);
// Writes pairs in the same layout (ids are written as "a<i>" and "b<i>"); for fixtures and small experiments.
// texts must not contain tabs or line breaks.
void write_tsv(const std::string& path, const Dataset& pairs);

}  // namespace lra::retrieval
