// lra/tasks.h — every Long Range Arena task by name, for the CLI and the trainer: one call gives the splits.
//
//   lra::TaskOptions t;  t.task = "listops";  t.max_len = 256;  t.n_train = 4000;
//   lra::Splits s = lra::load_task(t);        // generated: ListOps with 64 < length <= 256
//   t.task = "text";  s = lra::load_task(t);                             // which book? on the KJV (books.h)
//   t.task = "text";  t.data = "data/aclImdb";  s = lra::load_task(t);   // loaded; one-line error if absent
//
//   task            source                                          default max_len  data (TaskOptions::data)
//   listops         generated (listops.h), or the official TSVs      2000             optional: dir of basic_*.tsv
//   pathfinder      generated (pathfinder.h), size pathfinder_size   size²            -
//   pathfinder16/32/64/128, pathx (= pathfinder128)
//   text            without data: which book? on the KJV (books.h:   1024             -
//                   9 book groups, or the 66 books with books66)
//                   with data: aclImdb folders (text.h)              4000             the aclImdb directory
//   retrieval       without data: same book? pairs of KJV passages   1024 per doc     -
//                   (books.h); with data: new_aan_pairs.*.tsv        4000 per doc     their directory
//   image           without data: Fashion-MNIST, Debian package       784              -
//                   dataset-fashion-mnist (fashion.h)
//                   with data: CIFAR-10 binary batches (cifar.h)     1024             cifar-10-batches-bin
// The KJV tasks need the Debian packages bible-kjv and bible-kjv-text (corpora/corpus.h); their sizes are n_train,
// n_val, n_test, capped by what the text gives at that length (books.h says how).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lra/dataset.h"

namespace lra {

struct TaskOptions {
  std::string task = "listops";
  std::string data;          // where downloaded data live (see the table); empty for generated tasks
  int64_t max_len = 0;       // 0: the task's default. Text/retrieval: bytes kept per document. Image tasks: must
                             // be 0 or the image's pixel count.
  // Generated tasks and the KJV tasks: split sizes (train, val, test) and the seed of the generator.
  // Fashion-MNIST (image, no data): the first n_train / n_val / n_test images of its splits.
  int64_t n_train = 2000, n_val = 200, n_test = 200;
  uint64_t seed = 0;
  // ListOps generated with a max_len other than 2000: lengths min_length < length <= max_len, with
  // min_length = max_len / 4 unless set here (>= 0). At max_len 2000, the benchmark's 500 < length < 2000.
  int64_t listops_min_length = -1;
  int pathfinder_size = 32;  // for task "pathfinder"
  double val_fraction = 0.1; // text and image: the part of train held out for validation (seeded by `seed`);
                             // KJV tasks: the part of each book's verses (after train, before test) for val
  bool books66 = false;      // text from the KJV: the 66 books as classes instead of the 9 book groups
};

// The names load_task accepts.
const std::vector<std::string>& task_names();
// What text, retrieval and image read when no data path is given (one phrase, for progress lines and reports);
// empty for the generated tasks.
std::string offline_source(const std::string& task);
// The three splits of the task. Throws core::Error with one line: an unknown task (listing the names), missing
// data (naming the path), a malformed file (naming file and line).
Splits load_task(const TaskOptions& opts);

}  // namespace lra
