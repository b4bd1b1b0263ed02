// tests/test_cli.cpp — the attnzoo command-line tool (cli/attnzoo.cpp), run as a separate process.
//
// What is checked is the contract of DESIGN.md: `run` gives the same numbers as the in-process reference
// (outputs, gradients, effective attention, mask); `show` writes a PNG that decodes; and every kind of bad input
// exits with status 2, prints exactly one line "attnzoo: ..." on stderr that names the problem, and leaves no
// output file behind.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "lra/listops.h"
#include "lra/suite.h"
#include "core/core.h"
#include "plot/png.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;

namespace {

using core::Shape;
using core::Tensor;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// 'it''s' -> a single-quoted shell word.
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Result {
  int status = -1;  // exit status of the process
  std::string out, err;
};

// Runs build/attnzoo (or build/asan/attnzoo, beside this test binary) with `args`, capturing both streams.
Result run_cli(const std::vector<std::string>& args) {
  const std::string dir = testing::temp_dir("cli_io");
  std::string cmd = shell_quote(testing::build_dir() + "/attnzoo");
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(dir + "/stdout") + " 2>" + shell_quote(dir + "/stderr") + " </dev/null";
  const int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  r.out = read_text(dir + "/stdout");
  r.err = read_text(dir + "/stderr");
  fs::remove_all(dir);
  return r;
}

// Inputs for `run`: q (B, H, n, d), k and v (B, H, m, d), written as .npy files into a fresh directory.
struct Inputs {
  std::string dir;
  Tensor q, k, v;
  std::string file(const std::string& name) const { return dir + "/" + name; }
};

Inputs make_inputs(const std::string& tag, Shape q_shape, Shape kv_shape, uint64_t seed) {
  Inputs in;
  in.dir = testing::temp_dir(tag);
  in.q = testing::rand_tensor(q_shape, seed);
  in.k = testing::rand_tensor(kv_shape, seed + 1);
  in.v = testing::rand_tensor(kv_shape, seed + 2);
  core::npy::save(in.file("q.npy"), in.q);
  core::npy::save(in.file("k.npy"), in.k);
  core::npy::save(in.file("v.npy"), in.v);
  return in;
}

std::vector<std::string> run_args(const Inputs& in, std::vector<std::string> extra) {
  std::vector<std::string> args = {"run",          "full", "--q", in.file("q.npy"), "--k", in.file("k.npy"),
                                   "--v",          in.file("v.npy"), "--out", in.file("out.npy")};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A successful run prints nothing on stderr.
void check_ok(const Result& r) {
  INFO("stderr: ", r.err);
  CHECK(r.status == 0);
  CHECK(r.err.empty());
}

}  // namespace

TEST_CASE("cli: help, no arguments and --help print the usage and exit 0") {
  const std::vector<std::vector<std::string>> invocations = {{}, {"--help"}, {"help"}, {"run", "--help"}};
  for (const std::vector<std::string>& args : invocations) {
    const Result r = run_cli(args);
    CAPTURE(args.size());
    check_ok(r);
    CHECK(r.out.find("usage:") != std::string::npos);
    CHECK(r.out.find("attnzoo run SCHEME") != std::string::npos);
  }
}

TEST_CASE("cli: list shows every registered scheme with its properties") {
  const Result r = run_cli({"list"});
  check_ok(r);
  for (const attention::Scheme* s : attention::all_schemes()) {
    CAPTURE(s->name());
    CHECK(r.out.find("\n" + s->name() + " ") != std::string::npos);
    CHECK(r.out.find(s->paper()) != std::string::npos);
    for (const attention::HyperParam& hp : s->hyperparams())
      CHECK(r.out.find(hp.key + "=" + hp.default_value) != std::string::npos);
  }
  CHECK(r.out.find("full") != std::string::npos);
  CHECK(r.out.find("causal") != std::string::npos);
  CHECK(r.out.find("pattern") != std::string::npos);
  // every causal scheme says what its decoder keeps between generated tokens
  size_t decoders = 0;
  for (size_t at = r.out.find("decoding keeps"); at != std::string::npos; at = r.out.find("decoding keeps", at + 1))
    ++decoders;
  size_t causal = 0;
  for (const attention::Scheme* s : attention::all_schemes()) causal += s->supports_causal();
  CHECK(decoders == causal);  // 12 in the course; one more with the README's blockwise example added
  CHECK(r.out.find("KV cache") != std::string::npos);
  CHECK(r.out.find("ring buffer") != std::string::npos);
}

TEST_CASE("cli: run full equals dense_attention computed in-process") {
  struct Case {
    const char* what;
    Shape q_shape, kv_shape;
    bool causal;
  };
  const std::vector<Case> cases = {
      {"square", {2, 3, 7, 5}, {2, 3, 7, 5}, false},
      {"square causal", {2, 3, 7, 5}, {2, 3, 7, 5}, true},
      {"more keys than queries", {1, 2, 4, 3}, {1, 2, 9, 3}, false},
      {"one token", {1, 1, 1, 4}, {1, 1, 1, 4}, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const Inputs in = make_inputs("cli_run", c.q_shape, c.kv_shape, 10);
    const std::vector<std::string> extra = c.causal ? std::vector<std::string>{"--causal"} : std::vector<std::string>{};
    const Result r = run_cli(run_args(in, extra));
    check_ok(r);
    // One line on stdout names what was written.
    CHECK(r.out == "run full: wrote " + in.file("out.npy") + " " + core::shape_str(c.q_shape) + "\n");
    const Tensor got = core::npy::load(in.file("out.npy"));
    const Tensor want = attention::dense_attention(in.q, in.k, in.v, {c.causal, Tensor()});
    CHECK_CLOSE(got, want, 1e-5, 1e-5);
    fs::remove_all(in.dir);
  }
}

TEST_CASE("cli: run --causal --decode writes the same out as the causal kernel, for every causal scheme") {
  const Inputs in = make_inputs("cli_decode", {2, 2, 64, 8}, {2, 2, 64, 8}, 12);
  for (const attention::Scheme* s : attention::all_schemes()) {
    if (!s->supports_causal()) continue;
    CAPTURE(s->name());
    std::vector<std::string> args = run_args(in, {"--causal", "--decode"});
    args[1] = s->name();
    const Result got = run_cli(args);
    check_ok(got);
    // One line: what was written, then what the decoder kept after the last token.
    CHECK(lines_of(got.out).size() == 1);
    CHECK(got.out.find("decoder state after 64 tokens") != std::string::npos);
    const Tensor decoded = core::npy::load(in.file("out.npy"));
    const Tensor want = s->kernel(in.q, in.k, in.v, s->configure({}, true));
    CHECK_CLOSE(decoded, want, 1e-4, 1e-4);
    fs::remove(in.file("out.npy"));
  }
  fs::remove_all(in.dir);
}

TEST_CASE("cli: run --grad-out --grads writes the autograd gradients of sum(out * G)") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const Inputs in = make_inputs("cli_grad", {2, 2, 6, 4}, {2, 2, 6, 4}, 20);
    const Tensor G = testing::rand_tensor({2, 2, 6, 4}, 23);
    core::npy::save(in.file("g.npy"), G);
    std::vector<std::string> extra = {"--grad-out", in.file("g.npy"), "--grads", in.file("grads")};
    if (causal) extra.push_back("--causal");
    check_ok(run_cli(run_args(in, extra)));

    Tensor q = in.q.clone().detach(), k = in.k.clone().detach(), v = in.v.clone().detach();
    for (Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
    core::sum(attention::dense_attention(q, k, v, {causal, Tensor()}) * G).backward();

    CHECK_CLOSE(core::npy::load(in.file("grads/dq.npy")), q.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(core::npy::load(in.file("grads/dk.npy")), k.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(core::npy::load(in.file("grads/dv.npy")), v.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(core::npy::load(in.file("out.npy")), attention::dense_attention(in.q, in.k, in.v, {causal, Tensor()}),
                1e-5, 1e-5);
    fs::remove_all(in.dir);
  }
}

TEST_CASE("cli: run --save-attn writes A with out == A @ v, and --save-mask the causal pattern") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const int64_t B = 2, H = 2, n = 8, d = 4;
    const Inputs in = make_inputs("cli_attn", {B, H, n, d}, {B, H, n, d}, 30);
    std::vector<std::string> extra = {"--save-attn", in.file("a.npy"), "--save-mask", in.file("m.npy")};
    if (causal) extra.push_back("--causal");
    check_ok(run_cli(run_args(in, extra)));

    const Tensor out = core::npy::load(in.file("out.npy"));
    const Tensor A = core::npy::load(in.file("a.npy"));
    const Tensor M = core::npy::load(in.file("m.npy"));
    REQUIRE(A.shape() == Shape({B, H, n, n}));
    REQUIRE(M.shape() == Shape({B, H, n, n}));
    CHECK_CLOSE(core::matmul(A, in.v), out, 1e-5, 1e-5);
    CHECK_CLOSE(A, attention::dense_probabilities(in.q, in.k, {causal, Tensor()}), 1e-5, 1e-6);

    // The mask: ones on and below the diagonal when causal, ones everywhere otherwise; A is 0 where it is 0.
    int wrong = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const float want = (!causal || j <= i) ? 1.0f : 0.0f;
            wrong += M.at({b, h, i, j}) != want;
            if (want == 0.0f) wrong += A.at({b, h, i, j}) != 0.0f;
          }
    CHECK(wrong == 0);
    fs::remove_all(in.dir);
  }
}

// Table-driven over the registry, so that every scheme added later is checked through the CLI too: at its
// default settings `run` gives what the kernel gives in-process, its --save-attn A satisfies out == A @ v, its
// --save-mask is 0/1, and `show` draws it. What a scheme does not support is refused with exit 2.
TEST_CASE("cli: every registered scheme runs and shows at its defaults, or is refused with a reason") {
  const int64_t B = 1, H = 2, n = 64, d = 8;
  for (const attention::Scheme* s : attention::all_schemes()) {
    const std::string name = s->name();
    CAPTURE(name);
    const Inputs in = make_inputs("cli_scheme", {B, H, n, d}, {B, H, n, d}, 60);
    std::vector<std::string> args = {"run",   name, "--q", in.file("q.npy"), "--k", in.file("k.npy"),
                                     "--v",   in.file("v.npy"), "--out", in.file("out.npy"), "--save-attn",
                                     in.file("a.npy")};
    if (s->has_pattern()) args.insert(args.end(), {"--save-mask", in.file("m.npy")});
    const Result r = run_cli(args);
    {
      check_ok(r);
      const Tensor out = core::npy::load(in.file("out.npy"));
      const Tensor want = s->kernel(in.q, in.k, in.v, s->configure({}, false, 0));
      CHECK_CLOSE(out, want, 1e-5, 1e-6);
      const Tensor A = core::npy::load(in.file("a.npy"));
      CHECK_CLOSE(core::matmul(A, in.v), out, 1e-3, 1e-4);
      if (s->has_pattern()) {
        const Tensor M = core::npy::load(in.file("m.npy"));
        CHECK(M.shape() == Shape({B, H, n, n}));
        int not_binary = 0;
        for (float x : M.to_vector()) not_binary += x != 0.0f && x != 1.0f;
        CHECK(not_binary == 0);
      }
    }
    // Refusals: exit 2, one line naming the reason, no file.
    auto check_refused = [&](std::vector<std::string> a, const std::string& word, const std::string& file) {
      CAPTURE(word);
      fs::remove(file);
      const Result rr = run_cli(a);
      CHECK(rr.status == 2);
      REQUIRE(lines_of(rr.err).size() == 1);
      CHECK(rr.err.find(word) != std::string::npos);
      CHECK_FALSE(fs::exists(file));
    };
    std::vector<std::string> plain = run_args(in, {});
    plain[1] = name;
    if (!s->has_pattern()) {
      std::vector<std::string> a = plain;
      a.insert(a.end(), {"--save-mask", in.file("m2.npy")});
      check_refused(a, "pattern", in.file("out.npy"));
    }
    if (!s->supports_causal()) {
      check_refused({"show", name, "--causal", "--out", in.file("c.png")}, "causal", in.file("c.png"));
      std::vector<std::string> a = plain;
      a.push_back("--causal");
      check_refused(a, "causal", in.file("out.npy"));
    }
    const Result shown = run_cli({"show", name, "--out", in.file("show.png")});
    check_ok(shown);
    CHECK(plot::load_png(in.file("show.png")).width > 0);
    fs::remove_all(in.dir);
  }
}

TEST_CASE("cli: bad input exits 2 with one line on stderr and writes no output") {
  const Inputs in = make_inputs("cli_err", {1, 2, 5, 4}, {1, 2, 5, 4}, 40);
  {
    std::ofstream garbage(in.file("garbage.npy"), std::ios::binary);
    garbage << "this is not a numpy file\x01\x02\x03";
  }
  core::npy::save(in.file("rank3.npy"), testing::rand_tensor({2, 5, 4}, 41));
  core::npy::save(in.file("v_other.npy"), testing::rand_tensor({1, 2, 6, 4}, 42));
  core::npy::save(in.file("g_wrong.npy"), testing::rand_tensor({1, 2, 5, 3}, 43));
  core::npy::save(in.file("g.npy"), testing::rand_tensor({1, 2, 5, 4}, 44));
  const std::string q = in.file("q.npy"), k = in.file("k.npy"), v = in.file("v.npy");
  const std::string out = in.file("out.npy"), attn = in.file("a.npy"), grads = in.file("grads");

  struct Case {
    const char* what;
    std::vector<std::string> args;
    std::vector<std::string> words;  // each must appear in the error line
  };
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"run", "full", "--q", q, "--k", k, "--v", v, "--out", out, "--save-attn", attn};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto with = [&](const std::string& option, const std::string& file) {
    std::vector<std::string> a = {"run", "full", "--q", q, "--k", k, "--v", v, "--out", out};
    for (size_t i = 2; i + 1 < a.size(); i += 2)
      if (a[i] == option) a[i + 1] = file;
    return a;
  };
  const std::vector<Case> cases = {
      {"missing file", with("--k", in.file("nope.npy")), {"nope.npy"}},
      {"malformed .npy", with("--q", in.file("garbage.npy")), {"garbage.npy"}},
      {"rank-3 q", with("--q", in.file("rank3.npy")), {"rank3.npy", "(B, H, n, d)", "(2,5,4)"}},
      {"k and v disagree", with("--v", in.file("v_other.npy")), {"same shape", "(1,2,5,4)", "(1,2,6,4)"}},
      {"unknown scheme", {"run", "nosuch", "--q", q, "--k", k, "--v", v, "--out", out}, {"nosuch", "full"}},
      {"unknown --set key", run({"--set", "window=4"}), {"window"}},
      {"--set without =", run({"--set", "window"}), {"key=value"}},
      {"unknown option", run({"--frobnicate", "3"}), {"--frobnicate"}},
      {"missing option value", run({"--seed"}), {"--seed", "value"}},
      {"bad seed", run({"--seed", "abc"}), {"--seed", "abc"}},
      {"missing --q", {"run", "full", "--k", k, "--v", v, "--out", out}, {"--q"}},
      {"missing scheme", {"run"}, {"scheme"}},
      {"grad-out of the wrong shape", run({"--grad-out", in.file("g_wrong.npy"), "--grads", grads}),
       {"grad-out", "(1,2,5,3)", "(1,2,5,4)"}},
      {"--grad-out without --grads", run({"--grad-out", in.file("g.npy")}), {"--grads"}},
      {"--grads without --grad-out", run({"--grads", grads}), {"--grad-out"}},
      {"output into a missing directory", run({"--save-mask", in.file("no/such/dir/m.npy")}), {"no/such/dir"}},
      {"same file twice", run({"--save-mask", out}), {"same file"}},
      {"an output that cannot be written (the others are rolled back)", run({"--save-mask", "/proc/attnzoo_m.npy"}),
       {"/proc/attnzoo_m.npy", "no output was written"}},
      {"--decode without --causal", run({"--decode"}), {"--decode", "--causal"}},
      {"--decode with gradients", run({"--decode", "--causal", "--grad-out", in.file("g.npy"), "--grads", grads}),
       {"--decode", "gradients"}},
      {"--decode with more keys than queries", with("--v", in.file("v_other.npy")), {"same shape"}},
      {"--decode of a scheme without a causal variant",
       {"run", "star", "--q", q, "--k", k, "--v", v, "--out", out, "--causal", "--decode"}, {"star", "causal"}},
      {"show: unknown scheme", {"show", "nosuch", "--out", out}, {"nosuch", "full"}},
      {"show: n too large", {"show", "full", "--n", "100000", "--out", out}, {"--n", "100000"}},
      {"show: n not a number", {"show", "full", "--n", "12x", "--out", out}, {"--n", "12x"}},
      {"unknown command", {"frobnicate"}, {"frobnicate"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const Result r = run_cli(c.args);
    INFO("stderr: ", r.err);
    CHECK(r.status == 2);
    const std::vector<std::string> lines = lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("attnzoo: ", 0) == 0);
    for (const std::string& w : c.words) {
      CAPTURE(w);
      CHECK(lines[0].find(w) != std::string::npos);
    }
    CHECK(r.out.empty());
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(attn));
    CHECK_FALSE(fs::exists(grads));
  }
  // Nothing but the inputs is left in the directory (no temporary files either).
  int files = 0;
  for (const auto& e : fs::directory_iterator(in.dir)) files += e.is_regular_file();
  CHECK(files == 8);
  fs::remove_all(in.dir);
}

TEST_CASE("cli: inputs with NaN are refused, not propagated") {
  const Inputs in = make_inputs("cli_nan", {1, 1, 3, 2}, {1, 1, 3, 2}, 50);
  Tensor bad = in.q.clone();
  bad.at({0, 0, 1, 1}) = std::numeric_limits<float>::quiet_NaN();
  core::npy::save(in.file("q.npy"), bad);
  const Result r = run_cli(run_args(in, {}));
  CHECK(r.status == 2);
  REQUIRE(lines_of(r.err).size() == 1);
  CHECK(r.err.find("(0,0,1,1)") != std::string::npos);
  CHECK_FALSE(fs::exists(in.file("out.npy")));
  fs::remove_all(in.dir);
}

TEST_CASE("cli: show writes a PNG that decodes and prints its path") {
  const std::string dir = testing::temp_dir("cli_show");
  const std::string png = dir + "/sub/full.png";  // show creates missing parent directories
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    std::vector<std::string> args = {"show", "full", "--n", "16", "--out", png};
    if (causal) args.push_back("--causal");
    const Result r = run_cli(args);
    check_ok(r);
    CHECK(r.out == png + "\n");
    const plot::Image img = plot::load_png(png);
    // Two heads and the pattern panel, side by side: much wider than tall.
    CHECK(img.width > 2 * img.height);
    CHECK(img.height > 100);
    fs::remove(png);
  }
  fs::remove_all(dir);
}

TEST_CASE("cli: lra generates ListOps TSV and Pathfinder PNGs, trains a scheme, and rejects bad input") {
  const std::string dir = testing::temp_dir("lra");
  // ListOps in the official layout; by default printed with parentheses as the original generator does
  Result r = run_cli({"lra", "listops", "--generate", "20", "--seq-len", "40", "--seed", "3", "--out", dir + "/a.tsv"});
  check_ok(r);
  CHECK(r.out.find("wrote 20 ListOps examples") != std::string::npos);
  std::vector<std::string> tsv = lines_of(read_text(dir + "/a.tsv"));
  REQUIRE(tsv.size() == 21);
  CHECK(tsv[0] == "Source\tTarget");
  CHECK(tsv[1].find("( ") != std::string::npos);
  const auto examples = lra::listops::read_tsv(dir + "/a.tsv", /*check_labels=*/true);  // labels = evaluator's
  REQUIRE(examples.size() == 20);
  for (const auto& e : examples) {
    const int64_t len = static_cast<int64_t>(lra::listops::tokenize(e.text).size());
    CHECK(len > 10);
    CHECK(len <= 40);
  }
  r = run_cli({"lra", "listops", "--generate", "5", "--seq-len", "40", "--no-parens", "--out", dir + "/b.tsv"});
  check_ok(r);
  tsv = lines_of(read_text(dir + "/b.tsv"));
  REQUIRE(tsv.size() == 6);
  CHECK(tsv[1].find('(') == std::string::npos);
  CHECK(tsv[1].rfind("[", 0) == 0);

  // Pathfinder: PNG images of the requested size and labels.csv
  r = run_cli({"lra", "pathfinder", "--generate", "4", "--size", "16", "--out", dir + "/pf"});
  check_ok(r);
  const std::vector<std::string> labels = lines_of(read_text(dir + "/pf/labels.csv"));
  REQUIRE(labels.size() == 5);
  CHECK(labels[0] == "file,label");
  for (int i = 0; i < 4; ++i) {
    const auto img = plot::load_png(dir + "/pf/000" + std::to_string(i) + ".png");
    CHECK(img.width == 16);
    CHECK(img.height == 16);
    CHECK(labels[i + 1].rfind("000" + std::to_string(i) + ".png,", 0) == 0);
  }

  // A tiny training run: progress lines, then the run's files
  r = run_cli({"lra", "listops", "--scheme", "linear", "--steps", "6", "--seq-len", "20", "--train", "64", "--val",
               "16", "--test", "16", "--batch", "8", "--eval-every", "3", "--d-model", "16", "--heads", "2",
               "--layers", "1", "--d-ff", "32", "--progress", "lines", "--out", dir + "/run"});
  check_ok(r);
  // Piped (not a terminal): a line per log row (every step here: --eval-every 3 logs every max(1, 3/4) steps).
  for (int step = 1; step <= 6; ++step) CHECK(r.out.find("step " + std::to_string(step) + "/6") != std::string::npos);
  CHECK(r.out.find("ETA") != std::string::npos);
  CHECK(r.out.find("nan") == std::string::npos);
  CHECK(r.out.find("test accuracy") != std::string::npos);
  const std::vector<std::string> log = lines_of(read_text(dir + "/run/log.csv"));
  REQUIRE(log.size() >= 3);
  CHECK(log[0] == "step,loss,train_acc,val_acc,lr,seconds");
  CHECK(log.back().rfind("6,", 0) == 0);
  CHECK(read_text(dir + "/run/result.json").find("\"scheme\": \"linear\"") != std::string::npos);
  CHECK(plot::load_png(dir + "/run/curves.png").width > 600);
  // The bar, before the first log row (every 2 steps here): a dash for the loss, not "nan".
  r = run_cli({"lra", "listops", "--scheme", "linear", "--steps", "4", "--seq-len", "20", "--train", "64", "--val",
               "16", "--test", "16", "--batch", "8", "--eval-every", "8", "--d-model", "16", "--heads", "2",
               "--layers", "1", "--d-ff", "32", "--progress", "bar", "--out", dir + "/bar"});
  check_ok(r);
  CHECK(r.out.find("step 1/4  loss   \u2013  ") != std::string::npos);
  CHECK(r.out.find("nan") == std::string::npos);

  // Bad input: one line on stderr, exit 2, naming the problem
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"lra"}, "which task"},
      {{"lra", "sudoku", "--scheme", "full"}, "unknown task 'sudoku'"},
      {{"lra", "listops"}, "which scheme"},
      {{"lra", "listops", "--scheme", "nope"}, "unknown scheme 'nope'"},
      {{"lra", "listops", "--scheme", "longformer", "--set", "windw=3"}, "windw"},
      {{"lra", "listops", "--scheme", "full", "--steps", "ten"}, "--steps 'ten' is not an integer"},
      {{"lra", "listops", "--scheme", "full", "--lr", "fast"}, "--lr 'fast' is not a number"},
      {{"lra", "listops", "--scheme", "full", "--steps", "0"}, "too small"},
      {{"lra", "text", "--scheme", "full", "--train", "0"}, "--train"},  // offline which-book?: its sizes checked
      {{"lra", "image", "--scheme", "full", "--seq-len", "1024"}, "784 pixels"},  // offline Fashion-MNIST
      {{"lra", "text", "--scheme", "full", "--data", dir + "/no_aclImdb"}, dir + "/no_aclImdb"},
      {{"lra", "image", "--scheme", "full", "--data", dir}, "data_batch_1.bin"},
      {{"lra", "pathfinder", "--generate", "2", "--size", "20", "--out", dir + "/x"}, "--size 20"},
      {{"lra", "listops", "--generate", "2"}, "--out"},
      {{"lra", "listops", "--generate", "2", "--scheme", "full", "--out", dir + "/c.tsv"}, "--scheme does not apply"},
      {{"lra", "text", "--generate", "2", "--out", dir + "/t"}, "--generate applies to listops and pathfinder only"},
  };
  for (const auto& [args, part] : bad) {
    const Result e = run_cli(args);
    CAPTURE(args.size() > 1 ? args[1] : args[0]);
    CAPTURE(e.err);
    CHECK(e.status == 2);
    const std::vector<std::string> lines = lines_of(e.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("attnzoo: ", 0) == 0);
    CHECK(lines[0].find(part) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(dir + "/c.tsv"));
  fs::remove_all(dir);
}

TEST_CASE("cli: bench measures schemes and writes csv, md and png; bad options exit 2") {
  const std::string dir = testing::temp_dir("bench");
  const Result r = run_cli({"bench", "--schemes", "full", "--n", "32,64,128", "--heads", "2", "--d", "8",
                            "--repeats", "1", "--out", dir});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("[3/3] full n=128") != std::string::npos);  // one progress line per configuration
  const std::vector<std::string> csv = lines_of(read_text(dir + "/attention.csv"));
  REQUIRE(csv.size() == 4);
  CHECK(csv[3].rfind("full,128,1,2,8,0,", 0) == 0);
  // dense attention's memory grows ~4x per doubling: the fitted exponent is printed in the table
  CHECK(read_text(dir + "/attention.md").find("| full |") != std::string::npos);
  const auto img = plot::load_png(dir + "/attention.png");
  CHECK(img.width > 600);
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"bench", "--schemes", "nope"}, {"bench", "--n", "12,x"}, {"bench", "--n", "0"},
        {"bench", "--heads"}, {"bench", "extra"}}) {
    const Result e = run_cli(bad);
    CHECK(e.status == 2);
    CHECK(lines_of(e.err).size() == 1);
  }
  fs::remove_all(dir);
}

// ---- the error contract, case by case (regressions) and by fuzzing -------------------------------------------

namespace {

// The contract for an exit status of 2: exactly one printable line on stderr, "attnzoo: ...".
void check_refused(const Result& r) {
  INFO("stderr: ", r.err);
  CHECK(r.status == 2);
  const std::vector<std::string> lines = lines_of(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("attnzoo: ", 0) == 0);
  // printable: no control byte (UTF-8 text such as "×" may appear; raw input bytes are escaped as \xNN)
  CHECK(std::none_of(lines[0].begin(), lines[0].end(), [](char c) { return (c >= 0 && c < 0x20) || c == 0x7f; }));
}

}  // namespace

TEST_CASE("cli: bench --decode writes decode.csv, .md, .png; its options alone go with it") {
  const std::string dir = testing::temp_dir("bench_decode");
  const Result r = run_cli({"bench", "--decode", "--schemes", "flash,linear", "--t", "16,32", "--long-t", "64",
                            "--heads", "1", "--d", "4", "--steps", "2", "--out", dir});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("[2/2] linear t=64 cached") != std::string::npos);  // the long length: linear only
  CHECK(r.out.find("flash t=64") == std::string::npos);
  CHECK(lines_of(read_text(dir + "/decode.csv")).size() == 1 + 4 + 6);
  CHECK(read_text(dir + "/decode.md").find("| flash | cached |") != std::string::npos);
  CHECK(plot::load_png(dir + "/decode.png").width > 1000);
  const std::string never = dir + "/never";
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"bench", "--decode", "--schemes", "star", "--out", never},
        {"bench", "--decode", "--n", "64", "--out", never},
        {"bench", "--decode", "--causal", "--out", never},
        {"bench", "--t", "64", "--out", never},
        {"bench", "--decode", "--t", "0", "--out", never},
        {"bench", "--decode", "--long-t", "x", "--out", never},
        {"bench", "--decode", "--steps", "0", "--out", never}}) {
    CAPTURE(bad[1] + " " + bad[2]);
    check_refused(run_cli(bad));
    CHECK_FALSE(fs::exists(never));
  }
  fs::remove_all(dir);
}

TEST_CASE("cli: a failing output leaves every existing file as it was (all outputs or none)") {
  const Inputs in = make_inputs("cli_atomic", {1, 2, 5, 4}, {1, 2, 5, 4}, 80);
  core::npy::save(in.file("g.npy"), testing::rand_tensor({1, 2, 5, 4}, 81));
  const std::string out = in.file("out.npy"), before = "an earlier result";
  { std::ofstream(out, std::ios::binary) << before; }
  // --grads DIR where DIR/dq.npy is a directory: refused before any work, and --out is not replaced.
  fs::create_directories(in.file("gd/dq.npy"));
  Result r = run_cli(run_args(in, {"--grad-out", in.file("g.npy"), "--grads", in.file("gd")}));
  check_refused(r);
  CHECK(r.err.find("gd/dq.npy is a directory") != std::string::npos);
  CHECK(read_text(out) == before);
  // An output that fails only when it is written (/proc takes no files): the other outputs are rolled back and the
  // existing --out keeps its old bytes.
  r = run_cli(run_args(in, {"--save-attn", "/proc/attnzoo_attn.npy"}));
  check_refused(r);
  CHECK(r.err.find("no output was written") != std::string::npos);
  CHECK(read_text(out) == before);
  // A special file is never replaced: --out /dev/null would otherwise be renamed over.
  r = run_cli(run_args(in, {}));  // (sanity: the same command works)
  CHECK(r.status == 0);
  std::vector<std::string> args = run_args(in, {});
  args[9] = "/dev/null";
  check_refused(run_cli(args));
  CHECK(fs::is_character_file("/dev/null"));
  // No temporary or backup files are left behind.
  for (const auto& e : fs::directory_iterator(in.dir)) {
    CAPTURE(e.path().string());
    CHECK(e.path().string().find(".partial.") == std::string::npos);
    CHECK(e.path().string().find(".previous.") == std::string::npos);
  }
  fs::remove_all(in.dir);
}

TEST_CASE("cli: lra, bench and show refuse an unusable output path before doing any work") {
  testing::TempDir dir("cli_outpath");
  const std::string file = (dir.path / "afile").string();
  { std::ofstream(file) << "x"; }
  const std::vector<std::vector<std::string>> cases = {
      {"lra", "listops", "--scheme", "full", "--steps", "400", "--out", file + "/run"},
      {"lra", "suite", "--schemes", "full", "--out", file + "/suite"},
      {"lra", "pathfinder", "--generate", "3", "--out", file + "/pf"},
      {"lra", "listops", "--generate", "3", "--out", file + "/x.tsv"},
      {"bench", "--schemes", "full", "--n", "64", "--out", file + "/bench"},
      {"show", "full", "--out", file + "/x.png"},
      {"lra", "listops", "--scheme", "full", "--out", file},  // a file where a directory is expected
      {"bench", "--schemes", "full", "--n", "64", "--out", file},
  };
  for (const auto& c : cases) {
    CAPTURE(c[0] + " " + c[1]);
    const Result r = run_cli(c);
    check_refused(r);
    CHECK(r.err.find("afile") != std::string::npos);
    CHECK(r.out.empty());  // nothing was loaded, trained or measured
  }
  CHECK(read_text(file) == "x");
}

TEST_CASE("cli: messages escape control bytes from the input and stay on one line") {
  const Inputs in = make_inputs("cli_escape", {1, 2, 5, 4}, {1, 2, 5, 4}, 90);
  // A setting name with ESC, BEL, a vertical tab and a form feed, as a shell could pass it.
  Result r = run_cli(run_args(in, {"--set", "w\x1b[31min\x07\x0b\x0c=3"}));
  check_refused(r);
  CHECK(r.err.find("\\x1b[31min\\x07\\x0b\\x0c") != std::string::npos);
  // A .npy header whose dict key holds control bytes and a broken UTF-8 sequence.
  std::string header = "{'de\x1bscr\x07\xff': '<f4', 'fortran_order': False, 'shape': (1, 2, 5, 4), }";
  header.append(118 - header.size() - 10, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header + std::string(160, '\0');
  { std::ofstream(in.file("bad.npy"), std::ios::binary) << bytes; }
  std::vector<std::string> args = run_args(in, {});
  args[3] = in.file("bad.npy");
  r = run_cli(args);
  check_refused(r);
  CHECK(r.err.find('\x1b') == std::string::npos);
  CHECK(r.err.find('\x07') == std::string::npos);
  // A file name with a newline in it stays on one line too.
  args[3] = in.file("no\nsuch.npy");
  check_refused(run_cli(args));
  fs::remove_all(in.dir);
}

TEST_CASE("cli: a setting given twice, --save-mask with m != n and linformer's k name what is wrong") {
  const Inputs in = make_inputs("cli_msgs", {1, 2, 20, 4}, {1, 2, 25, 4}, 95);
  std::vector<std::string> args = run_args(in, {"--set", "window=3", "--set", "window=5"});
  args[1] = "longformer";
  Result r = run_cli(args);
  check_refused(r);
  CHECK(r.err.find("setting 'window' is given twice") != std::string::npos);
  r = run_cli(run_args(in, {"--save-mask", in.file("m.npy")}));
  check_refused(r);
  CHECK(r.err.find("as many positions as q (q has n=20, k has m=25)") != std::string::npos);
  CHECK_FALSE(fs::exists(in.file("out.npy")));
  args = run_args(in, {});
  args[1] = "linformer";
  r = run_cli(args);
  check_refused(r);
  CHECK(r.err.find("k=32 must be <= the number of keys m=25") != std::string::npos);
  fs::remove_all(in.dir);
}

TEST_CASE("cli fuzz: every numeric option of every command at boundary values: exit 0, or 2 with one line and no output") {
  const Inputs in = make_inputs("cli_fuzz", {1, 2, 6, 4}, {1, 2, 6, 4}, 97);
  const std::string out = in.file("out");  // the output of every command (a file or a directory)
  struct Command {
    std::vector<std::string> base;     // a small, valid call that writes `out`
    std::vector<std::string> options;  // its options that take a number
  };
  const std::vector<Command> commands = {
      {{"show", "full", "--n", "8", "--out", out + ".png"}, {"n", "d", "heads", "seed"}},
      {{"run", "full", "--q", in.file("q.npy"), "--k", in.file("k.npy"), "--v", in.file("v.npy"), "--out", out + ".npy"},
       {"seed"}},
      {{"bench", "--schemes", "full", "--n", "16", "--heads", "1", "--d", "4", "--repeats", "1", "--out", out},
       {"n", "batch", "heads", "d", "repeats", "seed"}},
      {{"lra", "listops", "--scheme", "full", "--steps", "2", "--train", "8", "--val", "4", "--test", "4", "--d-model",
        "8", "--heads", "2", "--layers", "1", "--d-ff", "8", "--batch", "4", "--progress", "quiet", "--out", out},
       {"steps", "batch", "eval-every", "lr", "warmup", "d-model", "heads", "layers", "d-ff", "train", "val", "test",
        "data-seed", "seq-len", "time-limit", "seed"}},
      {{"lra", "listops", "--generate", "3", "--seq-len", "40", "--out", out + ".tsv"}, {"generate", "seq-len", "seed"}},
      {{"lra", "pathfinder", "--generate", "2", "--size", "16", "--out", out}, {"generate", "size", "seed"}},
      {{"lm", "train", "--corpus", in.file("text.txt"), "--scheme", "flash", "--context", "16", "--steps", "2",
        "--d-model", "8", "--heads", "2", "--layers", "1", "--d-ff", "8", "--batch", "2", "--progress", "quiet",
        "--no-compressors", "--out", out},
       {"context", "steps", "batch", "lr", "warmup", "eval-every", "eval-bytes", "d-model", "heads", "layers", "d-ff",
        "seed", "time-limit"}},
  };
  {
    std::ofstream text(in.file("text.txt"));
    for (int i = 0; i < 300; ++i) text << "  " << i << " and the light was good.\n";
  }
  const std::vector<std::string> values = {"0",   "1",   "-1",  "abc", "1e3", "99999999999999999999", "9223372036854775807",
                                           "2.5"};
  int runs = 0, refused = 0;
  for (const Command& c : commands)
    for (const std::string& option : c.options)
      for (const std::string& value : values) {
        std::vector<std::string> args = c.base;
        auto it = std::find(args.begin(), args.end(), "--" + option);
        if (it != args.end()) {
          *(it + 1) = value;
        } else {
          args.push_back("--" + option);
          args.push_back(value);
        }
        CAPTURE(c.base[0] + " " + c.base[1] + " --" + option + " '" + value + "'");
        for (const char* ext : {"", ".png", ".npy", ".tsv"}) fs::remove_all(out + ext);
        const Result r = run_cli(args);
        ++runs;
        CHECK((r.status == 0 || r.status == 2));
        if (r.status == 2) {
          ++refused;
          check_refused(r);
          for (const char* ext : {"", ".png", ".npy", ".tsv"}) CHECK_FALSE(fs::exists(out + ext));
        }
      }
  MESSAGE(runs, " runs, ", refused, " refused");
  CHECK(refused > runs / 2);
  fs::remove_all(in.dir);
}

TEST_CASE("cli: lm train writes a model that lm eval scores in one line bpc=...; bad input is refused before work") {
  const std::string dir = testing::temp_dir("cli_lm");
  const std::string text = dir + "/text.txt", model = dir + "/model";
  {
    std::ofstream f(text);
    for (int i = 0; i < 400; ++i) f << "  " << i << " and the light was good, and he said unto them.\n";
  }
  const std::vector<std::string> train = {"lm", "train", "--corpus", text, "--scheme", "longformer", "--set",
                                          "window=4", "--context", "32", "--steps", "20", "--d-model", "16",
                                          "--heads", "2", "--layers", "1", "--batch", "4", "--eval-every", "10",
                                          "--progress", "lines", "--out", model};
  const Result r = run_cli(train);
  check_ok(r);
  INFO(r.out);
  CHECK(r.out.find("step 20/20") != std::string::npos);
  CHECK(r.out.find("tok/s") != std::string::npos);
  for (const char* c : {"gzip", "bzip2", "xz"}) CHECK(r.out.find(std::string("  ") + c) != std::string::npos);
  for (const char* f : {"model.safetensors", "config.json", "result.json", "log.csv", "curves.png"})
    CHECK(fs::exists(model + "/" + f));
  const std::string result = read_text(model + "/result.json");
  for (const char* key : {"\"test_bpc\"", "\"valid_bpc\"", "\"tokens_per_s\"", "\"peak_bytes\"", "\"steps\": 20"})
    CHECK(result.find(key) != std::string::npos);

  const Result e = run_cli({"lm", "eval", "--model", model, "--text", text});
  check_ok(e);
  const std::vector<std::string> lines = lines_of(e.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("bpc=", 0) == 0);
  const double bpc = std::stod(lines[0].substr(4));
  CHECK(bpc > 0.05);
  CHECK(bpc < 7.5);  // trained for 20 tiny steps: below the 8 bits per byte of knowing nothing (measured 6.8)

  // generate: the prompt, then 50 bytes as they come, on stdout; the speed and the state in one line on stderr.
  // Same seed, same text; --no-cache recomputes and writes the same text; another seed, another text.
  const std::vector<std::string> gen = {"generate", "--model", model, "--prompt", "  7 and the", "--tokens", "50",
                                        "--seed", "3"};
  const Result g1 = run_cli(gen), g2 = run_cli(gen);
  REQUIRE(g1.status == 0);
  CHECK(g1.out.size() == 11 + 50 + 1);
  CHECK(g1.out.rfind("  7 and the", 0) == 0);
  CHECK(g1.out == g2.out);
  const std::vector<std::string> err_lines = lines_of(g1.err);
  REQUIRE(err_lines.size() == 1);
  CHECK(err_lines[0].rfind("generate: 50 bytes in ", 0) == 0);
  CHECK(err_lines[0].find("bytes/s") != std::string::npos);
  CHECK(err_lines[0].find("longformer cached") != std::string::npos);
  CHECK(err_lines[0].find("ring buffer") != std::string::npos);
  std::vector<std::string> no_cache = gen;
  no_cache.push_back("--no-cache");
  const Result g3 = run_cli(no_cache);
  CHECK(g3.out == g1.out);
  CHECK(g3.err.find("recomputed") != std::string::npos);
  std::vector<std::string> other_seed = gen;
  other_seed.back() = "4";
  CHECK(run_cli(other_seed).out != g1.out);
  const std::vector<std::vector<std::string>> bad_gen = {
      {"generate", "--model", dir + "/none", "--prompt", "a"},
      {"generate", "--model", model, "--prompt", ""},
      {"generate", "--model", model},
      {"generate", "--prompt", "a"},
      {"generate", "--model", model, "--prompt", "a", "--tokens", "0"},
      {"generate", "--model", model, "--prompt", "a", "--temperature", "-1"},
      {"generate", "--model", model, "--prompt", "a", "--temperature", "nan"},
      {"generate", "--model", model, "--prompt", "a", "--top-k", "300"},
      {"generate", "--model", model, "--prompt", "a", "--top-k", "-1"},
      {"generate", "--model", model, "--prompt", "a", "--tokens", "99999999999999999999"},
      {"generate", "--model", model, "--prompt", "a", "--seed", "abc"},
      {"generate", "--model", model, "--prompt", "a", "--frobnicate"}};
  for (const auto& args : bad_gen) {
    CAPTURE(args.back());
    const Result b = run_cli(args);
    check_refused(b);
    CHECK(b.out.empty());
  }
  // a masked LM reads both sides: it cannot write left to right, and says how to get one that can
  const std::string mlm = dir + "/mlm";
  check_ok(run_cli({"lm", "train", "--corpus", text, "--scheme", "flash", "--mlm", "--context", "32", "--steps", "2",
                    "--d-model", "16", "--heads", "2", "--layers", "1", "--batch", "2", "--progress", "quiet",
                    "--no-compressors", "--out", mlm}));
  const Result masked = run_cli({"generate", "--model", mlm, "--prompt", "a"});
  check_refused(masked);
  CHECK(masked.out.empty());
  CHECK(masked.err.find("masked LM") != std::string::npos);
  CHECK(masked.err.find("without --mlm") != std::string::npos);

  // Refusals: exit 2, one line, no output directory created.
  const std::string out = dir + "/never";
  const std::vector<std::vector<std::string>> bad = {
      {"lm", "train", "--corpus", text, "--context", "32", "--out", out},                            // no scheme
      {"lm", "train", "--corpus", dir + "/missing.txt", "--scheme", "flash", "--out", out},          // no file
      {"lm", "train", "--corpus", text, "--scheme", "linformer", "--out", out},                      // not causal
      {"lm", "train", "--corpus", text, "--scheme", "flash", "--context", "4096", "--out", out},     // text too short
      {"lm", "train", "--corpus", text, "--scheme", "nope", "--out", out},
      {"lm", "train", "--corpus", text, "--scheme", "flash", "--set", "window=3", "--out", out},
      {"lm", "train", "--scheme", "flash", "--out", out},                                            // no corpus
      {"lm", "eval", "--model", dir + "/none", "--text", text},
      {"lm", "eval", "--model", model, "--text", dir + "/missing.txt"},
      {"lm", "eval", "--model", model},
      {"lm", "fly"},
      {"lm"}};
  for (const auto& args : bad) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    CAPTURE(joined);
    const Result b = run_cli(args);
    check_refused(b);
    CHECK_FALSE(fs::exists(out));
  }
  // The non-causal scheme is refused with the way out: --mlm.
  CHECK(run_cli({"lm", "train", "--corpus", text, "--scheme", "linformer", "--out", out}).err.find("--mlm") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("cli: lm's model, rebuilt in PyTorch from model.safetensors + config.json, gives the same logits") {
  const std::string script = testing::source_dir() + "/tests/reference/lm_parity.py";
  const std::string dir = testing::temp_dir("cli_lm_parity");
  const std::string cmd = "/usr/bin/python3 " + shell_quote(script) + " " + shell_quote(testing::build_dir()) + " >" +
                          shell_quote(dir + "/out") + " 2>&1";
  const int raw = std::system(cmd.c_str());
  const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  const std::string out = read_text(dir + "/out");
  fs::remove_all(dir);
  if (status == 2 && out.find("skipped") != std::string::npos) {
    MESSAGE("skipped: " << out << " (the parity check needs python3-torch and python3-numpy: make deps-torch)");
    return;
  }
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("PASS") != std::string::npos);
}

TEST_CASE("cli: lra --init fine-tunes from an lm train model and records it; mismatches are refused in one line") {
  const std::string dir = testing::temp_dir("cli_init");
  const std::string text = dir + "/text.txt", model = dir + "/model", acl = dir + "/aclImdb";
  {
    std::ofstream f(text);
    for (int i = 0; i < 300; ++i) f << "  " << i << " and the light was good, and he said unto them.\n";
  }
  check_ok(run_cli({"lm", "train", "--corpus", text, "--scheme", "flash", "--context", "32", "--steps", "4",
                    "--d-model", "16", "--heads", "2", "--layers", "1", "--d-ff", "32", "--batch", "4",
                    "--eval-every", "4", "--progress", "quiet", "--out", model}));
  // A tiny aclImdb-shaped directory: "good" reviews and "bad" ones (made up here).
  for (const char* split : {"train", "test"}) {
    for (const char* label : {"pos", "neg"}) {
      fs::create_directories(acl + "/" + split + "/" + label);
      for (int i = 0; i < 12; ++i)
        std::ofstream(acl + "/" + split + "/" + label + "/" + std::to_string(i) + "_1.txt")
            << (std::string(label) == "pos" ? "a fine and good film, good " : "a dull and bad film, bad ") << i;
    }
  }
  const std::string out = dir + "/run";
  const Result r = run_cli({"lra", "text", "--data", acl, "--init", model, "--scheme", "longformer", "--set",
                            "window=4", "--steps", "4", "--eval-every", "2", "--batch", "4", "--progress", "quiet",
                            "--out", out});
  check_ok(r);
  INFO(r.out);
  CHECK(r.out.find("init from " + model) != std::string::npos);
  // text keeps 4000 bytes per review (the task's max_len) > the LM's 32 positions: Longformer's copy
  CHECK(r.out.find("the 32 learned rows copied 125 times to fill 4000") != std::string::npos);
  CHECK(r.out.find("freshly initialised (2): single.head.weight, single.head.bias") != std::string::npos);
  CHECK(r.out.find("always the majority class") != std::string::npos);
  CHECK(read_text(out + "/result.json").find("\"init\": \"" + model + "\"") != std::string::npos);
  CHECK(read_text(out + "/result.md").find("| encoder started from | " + model) != std::string::npos);
  // Without --init the record says scratch.
  check_ok(run_cli({"lra", "text", "--data", acl, "--scheme", "flash", "--steps", "2", "--eval-every", "2",
                    "--d-model", "16", "--heads", "2", "--layers", "1", "--progress", "quiet", "--out", out}));
  CHECK(read_text(out + "/result.json").find("\"init\": null") != std::string::npos);

  // --self-pretrain: an LM on ListOps' own training inputs first (OUT/self_lm), recorded as the run's init.
  const std::string self = dir + "/self";
  const Result sp = run_cli({"lra", "listops", "--self-pretrain", "3", "--scheme", "linear", "--steps", "2",
                             "--eval-every", "2", "--train", "200", "--val", "8", "--test", "8", "--d-model", "16",
                             "--heads", "2", "--layers", "1", "--d-ff", "32", "--progress", "quiet", "--out", self});
  check_ok(sp);
  INFO(sp.out);
  CHECK(sp.out.find("row i -> row i for the task's 16 token ids") != std::string::npos);
  CHECK(fs::exists(self + "/self_lm/model.safetensors"));
  CHECK(read_text(self + "/result.json").find("\"init\": \"" + self + "/self_lm\"") != std::string::npos);

  const std::string never = dir + "/never";
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"lra", "listops", "--init", model, "--scheme", "flash", "--out", never}, "needs a byte task"},
      {{"lra", "text", "--data", acl, "--init", model, "--scheme", "flash", "--d-model", "32", "--out", never},
       "--d-model 32 contradicts the pretrained model's 16"},
      {{"lra", "text", "--data", acl, "--init", dir + "/nothing", "--scheme", "flash", "--out", never},
       "nothing/config.json"},
      {{"lra", "text", "--data", acl, "--init", text, "--scheme", "flash", "--out", never}, "config.json"},
      {{"lra", "listops", "--self-pretrain", "3", "--init", model, "--scheme", "flash", "--out", never},
       "--self-pretrain and --init both say where the encoder starts"},
      {{"lra", "listops", "--self-pretrain", "0", "--scheme", "flash", "--out", never}, "--self-pretrain 0"}};
  for (const auto& [args, what] : bad) {
    CAPTURE(what);
    const Result b = run_cli(args);
    check_refused(b);
    CHECK(b.err.find(what) != std::string::npos);
    CHECK_FALSE(fs::exists(never));
  }
  fs::remove_all(dir);
}

TEST_CASE("cli: lra suite --tasks names the presets it has, and it and --init refuse bad input in one line, before any work") {
  const std::string dir = testing::temp_dir("cli_suite_tasks"), never = dir + "/never";
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"lra", "suite", "--tasks", "nope", "--out", never}, "text, retrieval and image, not 'nope'"},
      {{"lra", "suite", "--tasks", "five,listops", "--out", never}, "--tasks five stands alone"},
      {{"lra", "suite", "--tasks", ",", "--out", never}, "not ''"},
      {{"lra", "suite", "--init", dir + "/no-model", "--out", never}, "no-model"},
      {{"lra", "suite", "--init", dir + "/no-model", "--tasks", "listops", "--out", never},
       "listops's tokens are not bytes"},
      {{"lra", "suite", "--init", dir + "/no-model", "--lengths", "1024", "--out", never}, "--lengths does not apply"},
      {{"lra", "suite", "--seq-lens", "256", "--tasks", "text,image", "--out", never}, "image has a fixed length"},
      {{"lra", "suite", "--seq-lens", "256,256", "--out", never}, "two tasks are called 'text@256'"},
      {{"lra", "suite", "--seq-lens", "8", "--out", never}, "outside [16, 65536]"},
      // both experiments together: --init checks the tasks --seq-lens made (listops@256)
      {{"lra", "suite", "--seq-lens", "256", "--tasks", "text,listops", "--init", dir + "/no-model", "--out", never},
       "listops@256's tokens are not bytes"},
      // --init's forms: one shared model, one per scheme ({scheme}), both; --no-scratch only with them
      {{"lra", "suite", "--no-scratch", "--out", never}, "--no-scratch goes with --init or --self-pretrain"},
      {{"lra", "suite", "--self-pretrain", "5", "--init", dir + "/a", "--out", never}, "give one"},
      {{"lra", "suite", "--self-pretrain", "-1", "--out", never}, "--self-pretrain"},
      {{"lra", "suite", "--init", dir + "/a," + dir + "/b", "--out", never}, "one shared model and one with {scheme}"},
      {{"lra", "suite", "--init", dir + "/a,", "--out", never}, "empty model directory"},
      {{"lra", "suite", "--init", dir + "/{scheme}_lm", "--schemes", "linear", "--out", never},
       "--init for linear: lm: missing " + dir + "/linear_lm/config.json"},
      {{"claims", "--out", dir}, "is a directory"},
      {{"claims", "extra", "--out", never}, "unexpected argument 'extra'"},
      {{"claims", "--lra", "--out", never}, "--lra"}};
  for (const auto& [args, what] : bad) {
    CAPTURE(what);
    const Result b = run_cli(args);
    check_refused(b);
    CHECK(b.err.find(what) != std::string::npos);
    CHECK_FALSE(fs::exists(never));
  }
  const std::vector<lra::SuiteTask> five = lra::five_tasks();
  REQUIRE(five.size() == 5);
  CHECK(five[1].data.task == "text");
  CHECK(five[2].data.task == "retrieval");
  CHECK(five[3].data.task == "image");
  CHECK(five[4].title == "Pathfinder 16x16");
  const lra::SuiteTask pf32 = lra::mini_task("pathfinder32");  // the benchmark's size, by name
  CHECK(pf32.title == "Pathfinder 32x32");
  CHECK(pf32.key == "pathfinder32");
  CHECK(lra::mini_task("pathfinder").key == "pathfinder16");
  fs::remove_all(dir);
}
