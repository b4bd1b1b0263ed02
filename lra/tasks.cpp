// lra/tasks.cpp — see tasks.h: the task name -> generator or loader dispatch.
#include "lra/tasks.h"

#include "lra/books.h"
#include "lra/cifar.h"
#include "lra/fashion.h"
#include "lra/listops.h"
#include "lra/pathfinder.h"
#include "lra/text.h"
#include "core/error.h"
#include "corpora/corpus.h"

namespace lra {

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"listops",      "pathfinder",   "pathfinder16", "pathfinder32",
                                                 "pathfinder64", "pathfinder128", "pathx",       "text",
                                                 "retrieval",    "image"};
  return names;
}

namespace {

std::string joined_names() {
  std::string s;
  for (const std::string& n : task_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

Splits listops_task(const TaskOptions& t) {
  const int64_t max_len = t.max_len > 0 ? t.max_len : 2000;
  if (!t.data.empty()) return listops::load_dir(t.data, max_len);
  listops::Options o;
  if (max_len != 2000) {
    o.max_length = max_len + 1;  // length <= max_len: nothing is cut off
    o.min_length = t.listops_min_length >= 0 ? t.listops_min_length : max_len / 4;
  } else if (t.listops_min_length >= 0) {
    o.min_length = t.listops_min_length;
  }
  return listops::generate_splits(t.n_train, t.n_val, t.n_test, o, t.seed, max_len);
}

Splits pathfinder_task(const TaskOptions& t, int size) {
  AZ_CHECK(t.max_len == 0 || t.max_len == static_cast<int64_t>(size) * size, "lra: pathfinder", size,
           " images are ", size * size, " tokens; max_len ", t.max_len, " does not fit (leave it 0)");
  return pathfinder::generate_splits(t.n_train, t.n_val, t.n_test, pathfinder::options_for_size(size), t.seed);
}

// Which book? (pairs = false) or same book? (pairs = true) on the King James Bible (books.h).
Splits books_task(const TaskOptions& t, bool pairs) {
  const books::Bible bible = books::parse_kjv(corpora::load_corpus("kjv").text);
  books::Options o;
  o.length = t.max_len > 0 ? t.max_len : 1024;
  o.n_train = t.n_train;
  o.n_val = t.n_val;
  o.n_test = t.n_test;
  o.val_fraction = t.val_fraction;
  o.seed = t.seed;
  o.books66 = t.books66;
  return pairs ? books::same_book(bible, o) : books::which_book(bible, o);
}

}  // namespace

std::string offline_source(const std::string& task) {
  if (task == "image") return "Fashion-MNIST, Debian package dataset-fashion-mnist";
  if (task == "text") return "which book of the King James Bible?, Debian packages bible-kjv + bible-kjv-text";
  if (task == "retrieval") return "same book of the King James Bible?, Debian packages bible-kjv + bible-kjv-text";
  return "";
}

Splits load_task(const TaskOptions& t) {
  const std::string& name = t.task;
  if (name == "listops") return listops_task(t);
  if (name == "pathfinder") return pathfinder_task(t, t.pathfinder_size);
  if (name == "pathx") return pathfinder_task(t, 128);
  if (name.rfind("pathfinder", 0) == 0) {
    const std::string digits = name.substr(10);
    for (int size : {16, 32, 64, 128})
      if (digits == std::to_string(size)) return pathfinder_task(t, size);
  }
  if (name == "text") {
    if (t.data.empty()) return books_task(t, false);
    return text::load_imdb(t.data, t.max_len > 0 ? t.max_len : 4000, t.val_fraction, t.seed);
  }
  if (name == "retrieval") {
    if (t.data.empty()) return books_task(t, true);
    return retrieval::load_dir(t.data, t.max_len > 0 ? t.max_len : 4000);
  }
  if (name == "image") {
    // Without --data: Fashion-MNIST from the Debian package (offline); with it: the CIFAR-10 batches given.
    if (t.data.empty()) {
      AZ_CHECK(t.max_len == 0 || t.max_len == fashion::kPixels, "lra: image (Fashion-MNIST) sequences are ",
               fashion::kPixels, " pixels; max_len ", t.max_len, " does not fit (leave it 0)");
      // Fashion-MNIST comes whole (54,000 / 6,000 / 10,000): the first n_train / n_val / n_test of each split.
      Splits s = fashion::load_dir(fashion::kDefaultDir, t.val_fraction, t.seed);
      s.train = take(s.train, t.n_train);
      s.val = take(s.val, t.n_val);
      s.test = take(s.test, t.n_test);
      return s;
    }
    AZ_CHECK(t.max_len == 0 || t.max_len == 1024, "lra: image (CIFAR-10, --data) sequences are 1024 pixels; max_len ",
             t.max_len, " does not fit (leave it 0)");
    return cifar::load_dir(t.data, t.val_fraction, t.seed);
  }
  AZ_FAIL("lra: unknown task '", name, "' (tasks: ", joined_names(), ")");
}

}  // namespace lra
