// tests/test_attention_maps.cpp — lm/attention_maps.h: the mean attention distance, the capture of a model's
// attention, the figures, the interactive page (its JSON and its escaping) and `attnzoo lm attention`'s refusals.
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/core.h"
#include "lm/attention_maps.h"
#include "lm/train.h"
#include "plot/heatmap.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
using core::Tensor;

namespace {

// A minimal JSON checker (RFC 8259 grammar; numbers loosely): true when `s` is one valid JSON value.
struct JsonChecker {
  const std::string& s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  bool lit(const char* w) {
    const std::string t(w);
    if (s.compare(i, t.size(), t) != 0) return false;
    i += t.size();
    return true;
  }
  bool str() {
    if (s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') return ++i, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        ++i;
        if (i >= s.size()) return false;
        if (s[i] == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
        } else if (std::string("\"\\/bfnrt").find(s[i]) == std::string::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool num() {
    const size_t start = i;
    while (i < s.size() && std::string("+-0123456789.eE").find(s[i]) != std::string::npos) ++i;
    return i > start;
  }
  bool value() {
    ws();
    if (i >= s.size()) return false;
    bool ok;
    if (s[i] == '{') {
      ++i;
      ws();
      if (s[i] == '}') return ++i, true;
      do {
        ws();
        if (!str()) return false;
        ws();
        if (s[i++] != ':' || !value()) return false;
        ws();
      } while (s[i] == ',' && ++i);
      ok = s[i++] == '}';
    } else if (s[i] == '[') {
      ++i;
      ws();
      if (s[i] == ']') return ++i, true;
      do {
        if (!value()) return false;
        ws();
      } while (s[i] == ',' && ++i);
      ok = s[i++] == ']';
    } else if (s[i] == '"') {
      ok = str();
    } else if (lit("true") || lit("false") || lit("null")) {
      ok = true;
    } else {
      ok = num();
    }
    return ok;
  }
};

bool valid_json(const std::string& s) {
  JsonChecker c{s};
  const bool ok = c.value();
  c.ws();
  return ok && c.i == s.size();
}

// Maps of one layer with two heads on a passage of n bytes: head 0 looks at the byte itself, head 1 uniformly.
lm::AttentionMaps toy_maps(const std::string& passage) {
  const int64_t n = static_cast<int64_t>(passage.size());
  lm::AttentionMaps m;
  m.label = "toy \"model\" </script>";
  m.passage = passage;
  Tensor w = Tensor::zeros({2, n, n});
  for (int64_t i = 0; i < n; ++i) {
    w.data()[i * n + i] = 1.0f;
    for (int64_t j = 0; j < n; ++j) w.data()[(n + i) * n + j] = 1.0f / static_cast<float>(n);
  }
  m.weights = {w};
  return m;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Result {
  int status = -1;
  std::string out, err;
};

Result run_cli(const std::vector<std::string>& args) {
  const std::string dir = testing::temp_dir("attention_cli_io");
  std::string cmd = "'" + testing::build_dir() + "/attnzoo'";
  for (const std::string& a : args) cmd += " '" + a + "'";  // the tests' arguments have no quote
  cmd += " >'" + dir + "/stdout' 2>'" + dir + "/stderr' </dev/null";
  const int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_text(dir + "/stdout");
  r.err = read_text(dir + "/stderr");
  fs::remove_all(dir);
  return r;
}

}  // namespace

TEST_CASE("mean_attention_distance: sum_j A_ij |i-j| averaged over the queries, on known matrices") {
  // Identity: 0. Each row on its left neighbour (row 0 on itself): (0 + 1 + 1 + 1) / 4. Uniform 4x4:
  // row i has mean |i - j| = (0+1+2+3)/4, (1+0+1+2)/4, (2+1+0+1)/4, (3+2+1+0)/4 -> mean 1.25.
  Tensor A = Tensor::zeros({3, 4, 4});
  for (int64_t i = 0; i < 4; ++i) {
    A.data()[i * 4 + i] = 1.0f;
    A.data()[16 + i * 4 + std::max<int64_t>(i - 1, 0)] = 1.0f;
    for (int64_t j = 0; j < 4; ++j) A.data()[32 + i * 4 + j] = 0.25f;
  }
  const Tensor d = lm::mean_attention_distance(A);
  REQUIRE(d.shape() == core::Shape({3}));
  CHECK(d.data()[0] == doctest::Approx(0.0));
  CHECK(d.data()[1] == doctest::Approx(0.75));
  CHECK(d.data()[2] == doctest::Approx(1.25));
  CHECK_THROWS_AS(lm::mean_attention_distance(Tensor::zeros({2, 3})), core::Error);
  // Signed rows count by |A_ij| / sum_j |A_ij|; an all-zero row is left out:
  // row 0 (1, -1, 0): (0 + 1) / 2; row 1 zero; row 2 (0, 0, 2): 0 -> mean over 2 rows 0.25.
  const Tensor S = Tensor::from_vector({3, 3}, {1, -1, 0, 0, 0, 0, 0, 0, 2});
  CHECK(lm::mean_attention_distance(S).item() == doctest::Approx(0.25));
  // distance_grid: (layers, heads)
  const Tensor g = lm::distance_grid(toy_maps("abcd"));
  REQUIRE(g.shape() == core::Shape({1, 2}));
  CHECK(g.data()[0] == doctest::Approx(0.0));
  CHECK(g.data()[1] == doctest::Approx(1.25));
}

TEST_CASE("json_string: quotes, backslashes, control bytes, </script> and bytes >= 0x80 are escaped") {
  CHECK(lm::json_string("a\"b\\c\nd") == "\"a\\\"b\\\\c\\nd\"");
  CHECK(lm::json_string("</script>") == "\"\\u003c/script\\u003e\"");
  CHECK(lm::json_string(std::string("\t\x01\xe9", 3)) == "\"\\u0009\\u0001\\u00e9\"");
  CHECK(valid_json(lm::json_string(std::string("x\"</script><!--\x7f\xff'&", 17))));
}

TEST_CASE("attention page: self-contained, its data valid JSON with the weights, the passage escaped") {
  const std::string passage = "He said \"</script><script>alert(1)</script>\" & 'left'\\\n\tend";
  const std::string page = lm::attention_page({toy_maps(passage)}, "title <b>");
  CHECK(page.find("<b>") == std::string::npos);  // the title is HTML-escaped
  CHECK(page.find("title &lt;b&gt;") != std::string::npos);
  CHECK(page.find("http") == std::string::npos);  // nothing from the network
  const std::string open = "<script type=\"application/json\" id=\"attention-data\">";
  const size_t a = page.find(open);
  REQUIRE(a != std::string::npos);
  const size_t b = page.find("</script>", a);
  REQUIRE(b != std::string::npos);
  const std::string data = page.substr(a + open.size(), b - a - open.size());
  CHECK(valid_json(data));
  CHECK(data.find('<') == std::string::npos);  // so the passage's </script> cannot end the element
  CHECK(data.find(lm::json_string(passage)) != std::string::npos);
  CHECK(data.find("\"w\":[[[[1,0,") != std::string::npos);  // head 0's first row: the byte itself
  CHECK(data.find("\"heads\":2") != std::string::npos);
  // Exactly two <script> elements: the data and the page's code.
  size_t scripts = 0;
  for (size_t p = page.find("<script"); p != std::string::npos; p = page.find("<script", p + 1)) ++scripts;
  CHECK(scripts == 2);

  const std::string dir = testing::temp_dir("attention_page");
  lm::write_attention_page(dir + "/a.html", {toy_maps(passage)}, "title <b>");
  CHECK(read_text(dir + "/a.html") == page);
  CHECK_THROWS_AS(lm::write_attention_page(dir + "/missing/a.html", {toy_maps(passage)}), core::Error);
  fs::remove_all(dir);
}

TEST_CASE("heatmap text labels: drawn, and refused when their count does not match") {
  plot::HeatmapOptions o;
  o.title = "t";
  o.row_labels = {"a", "b", "c"};
  o.col_labels = {"a", "b", "c"};
  const Tensor m = Tensor::ones({3, 3});
  const plot::Image with = plot::heatmap(m, o);
  o.row_labels = o.col_labels = {"", "", ""};
  const plot::Image without = plot::heatmap(m, o);
  CHECK(with.rgb != without.rgb);  // the labels drew something
  o.row_labels = {"a"};
  CHECK_THROWS_AS(plot::heatmap(m, o), core::Error);
}

TEST_CASE("lm attention: capture, figures and files from a saved model; bad input is one line, exit 2, nothing "
          "written") {
  std::string text;
  for (int k = 0; text.size() < 3000; ++k) text += "In the beginning " + std::to_string(k) + " was the word.\n";
  const corpora::TextSplits splits = corpora::split(text);
  const corpora::Corpus corpus{"toy", "tests/test_attention_maps.cpp", text};
  const std::string dir = testing::temp_dir("lm_attention");
  lm::TrainOptions o;
  o.lm.context = 32;
  o.lm.model.scheme = "longformer";
  o.lm.model.set = {"window=4"};
  o.lm.model.d_model = 16;
  o.lm.model.n_heads = 2;
  o.lm.model.n_layers = 2;
  o.lm.model.d_ff = 32;
  o.steps = 2;
  o.batch_size = 2;
  o.eval_every = 2;
  o.eval_bytes = 64;
  o.progress = lra::ProgressMode::Quiet;
  o.out_dir = dir + "/model";
  lm::train(splits, corpus, o);

  // In process: every layer's rows sum to 1, longformer's window keeps them within 4 bytes.
  std::unique_ptr<lm::ByteLM> model = lm::load_model(dir + "/model");
  const lm::AttentionMaps maps = lm::capture_attention(*model, text.substr(0, 20));
  REQUIRE(maps.layers() == 2);
  REQUIRE(maps.heads() == 2);
  CHECK(model->training());  // the flag is restored
  for (int64_t l = 0; l < 2; ++l) {
    const Tensor d = lm::mean_attention_distance(maps.weights[l]);
    for (int64_t h = 0; h < 2; ++h) CHECK((d.data()[h] > 0.0f && d.data()[h] <= 4.0f));
  }
  CHECK_THROWS_AS(lm::capture_attention(*model, std::string(33, 'a')), core::Error);
  CHECK_THROWS_AS(maps.head(2, 0), core::Error);

  const std::string file = dir + "/passage.txt";
  std::ofstream(file) << text;
  const std::string out = dir + "/out";
  const Result ok = run_cli({"lm", "attention", "--model", dir + "/model", "--model", dir + "/model", "--text", file,
                             "--offset", "10", "--length", "24", "--out", out});
  CHECK(ok.status == 0);
  CHECK(ok.out.find("wrote") != std::string::npos);
  for (const char* f : {"heatmaps.png", "distance.png", "attention.html"}) CHECK(fs::exists(out + "/" + f));

  const std::vector<std::vector<std::string>> bad = {
      {"lm", "attention", "--text", file, "--out", out + "2"},                                 // no model
      {"lm", "attention", "--model", dir + "/model", "--out", out + "2"},                      // no text
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--corpus", "kjv", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file},                          // no --out
      {"lm", "attention", "--model", dir + "/nope", "--text", file, "--out", out + "2"},       // no such model
      {"lm", "attention", "--model", dir + "/model", "--text", dir + "/nope.txt", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--length", "33", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--offset", "2990", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--layer", "2", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--head", "-1", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--steps", "3", "--out", out + "2"},
      {"lm", "attention", "--model", dir + "/model", "--text", file, "--out", file},           // out is a file
  };
  for (const auto& args : bad) {
    CAPTURE(args.back());
    const Result r = run_cli(args);
    CHECK(r.status == 2);
    CHECK(r.err.rfind("attnzoo: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(!fs::exists(out + "2"));
  }
  fs::remove_all(dir);
}
