// tests/test_lessons.cpp — every lesson program (build/lessons/NN_name, beside this test binary), run as a
// separate process with --quick.
//
// The contract of lessons/lesson.h is checked from the outside: exit status 0 and a final line
// "RESULT <name> checks=P/T files=F status=PASS" with P == T; every figure listed in <out>/<name>/manifest.tsv
// exists, decodes as a PNG of a plausible size and was announced with "[figure] ..."; the same seed gives
// byte-identical deterministic figures (and another seed changes them); a bad flag exits 2 with one line
// "error: ..." on stderr. Each lesson's first --quick run is cached, so the suite runs each lesson only as often
// as it must (it also runs under AddressSanitizer, where lessons are several times slower).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "plot/plot.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;

namespace {

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Run {
  int status = -1;
  std::string out, err;
};

// Runs `program args...` with stdout and stderr captured separately.
Run run_program(const std::string& program, const std::vector<std::string>& args) {
  const std::string io = testing::temp_dir("lesson_io");
  std::string cmd = quote(program);
  for (const std::string& a : args) cmd += " " + quote(a);
  cmd += " >" + quote(io + "/stdout") + " 2>" + quote(io + "/stderr") + " </dev/null";
  const int raw = std::system(cmd.c_str());
  Run r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  r.out = read_file_text(io + "/stdout");
  r.err = read_file_text(io + "/stderr");
  fs::remove_all(io);
  return r;
}

// build/lessons/[0-9]* in order (00_..., 01_..., ...).
std::vector<std::string> lesson_programs() {
  std::vector<std::string> programs;
  const fs::path dir = fs::path(testing::build_dir()) / "lessons";
  if (!fs::is_directory(dir)) return programs;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.empty() && name[0] >= '0' && name[0] <= '9') programs.push_back(entry.path().string());
  }
  std::sort(programs.begin(), programs.end());
  return programs;
}

std::string program_name(const std::string& program) { return fs::path(program).filename().string(); }

struct Figure {
  std::string file, kind, caption;
};

// <out>/<name>/manifest.tsv: the header "file\tkind\tcaption", then one figure per line.
std::vector<Figure> read_manifest(const std::string& lesson_dir, std::string* header) {
  std::vector<Figure> figures;
  const auto lines = split_lines(read_file_text(lesson_dir + "/manifest.tsv"));
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      *header = lines[0];
      continue;
    }
    const size_t t1 = lines[i].find('\t'), t2 = lines[i].find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) {
      figures.push_back({lines[i], "", ""});  // malformed: the caller's checks will say so
      continue;
    }
    figures.push_back({lines[i].substr(0, t1), lines[i].substr(t1 + 1, t2 - t1 - 1), lines[i].substr(t2 + 1)});
  }
  return figures;
}

struct Outcome {
  Run run;
  std::string out_dir;  // --out
};

// One lesson run with --quick into a fresh directory; the first run with default flags is cached per program.
Outcome run_lesson(const std::string& program, const std::vector<std::string>& extra = {}) {
  Outcome o;
  o.out_dir = testing::temp_dir("lesson_" + program_name(program));
  std::vector<std::string> args = {"--quick", "--out", o.out_dir};
  args.insert(args.end(), extra.begin(), extra.end());
  o.run = run_program(program, args);
  return o;
}

// The cache removes its output directories when the test program exits.
struct FirstRuns {
  std::map<std::string, Outcome> runs;
  ~FirstRuns() {
    std::error_code ec;
    for (const auto& entry : runs) fs::remove_all(entry.second.out_dir, ec);
  }
};

const Outcome& first_run(const std::string& program) {
  static FirstRuns cache;
  auto it = cache.runs.find(program);
  if (it == cache.runs.end()) it = cache.runs.emplace(program, run_lesson(program)).first;
  return it->second;
}

std::vector<std::string> deterministic_pngs(const std::string& lesson_dir) {
  std::string header;
  std::vector<std::string> files;
  for (const Figure& f : read_manifest(lesson_dir, &header))
    if (f.kind == "deterministic") files.push_back(f.file);
  return files;
}

}  // namespace

TEST_CASE("lessons: the lesson programs are built") {
  const auto programs = lesson_programs();
  INFO("looked in " << testing::build_dir() << "/lessons");
  REQUIRE(programs.size() >= 2);
  CHECK(program_name(programs[0]) == "00_tensors_and_autograd");
  CHECK(program_name(programs[1]) == "01_attention_is_quadratic");
}

TEST_CASE("lessons: each passes its self-checks with --quick and writes the PNGs its manifest lists") {
  const std::regex result_re(R"(^RESULT (\S+) checks=(\d+)/(\d+) files=(\d+) status=(PASS|FAIL)$)");
  for (const std::string& program : lesson_programs()) {
    const std::string name = program_name(program);
    CAPTURE(name);
    const Outcome& o = first_run(program);
    INFO("stdout tail:\n" << o.run.out.substr(o.run.out.size() > 3000 ? o.run.out.size() - 3000 : 0));
    INFO("stderr:\n" << o.run.err);
    CHECK(o.run.status == 0);

    // The last line is the RESULT line, every check passed.
    const auto lines = split_lines(o.run.out);
    REQUIRE(!lines.empty());
    std::smatch m;
    REQUIRE(std::regex_match(lines.back(), m, result_re));
    CHECK(m[1].str() == name);
    CHECK(m[5].str() == "PASS");
    const int passed = std::stoi(m[2].str()), total = std::stoi(m[3].str()), files = std::stoi(m[4].str());
    CHECK(total > 0);
    CHECK(passed == total);
    CHECK(o.run.out.find("\nFAIL  ") == std::string::npos);
    CHECK(files >= 1);

    // The manifest lists exactly the announced figures, and each one is a real, readable PNG.
    const std::string dir = o.out_dir + "/" + name;
    REQUIRE(fs::is_regular_file(dir + "/manifest.tsv"));
    std::string header;
    const std::vector<Figure> figures = read_manifest(dir, &header);
    CHECK(header == "file\tkind\tcaption");
    CHECK(static_cast<int>(figures.size()) == files);
    int announced = 0;
    for (const std::string& line : lines) announced += line.rfind("[figure] ", 0) == 0;
    CHECK(announced == files);
    for (const Figure& f : figures) {
      CAPTURE(f.file);
      CHECK((f.kind == "deterministic" || f.kind == "timing"));
      CHECK(f.caption.size() >= 10);  // says what to look for
      CHECK(f.file.size() > 4);
      CHECK(f.file.substr(f.file.size() - 4) == ".png");
      CHECK(o.run.out.find("[figure] " + dir + "/" + f.file + " — ") != std::string::npos);
      REQUIRE(fs::is_regular_file(dir + "/" + f.file));
      const plot::Image img = plot::load_png(dir + "/" + f.file);
      CHECK(img.width >= 200);
      CHECK(img.height >= 150);
      CHECK(img.width <= 4000);
      CHECK(img.height <= 4000);
      // Not a blank canvas: background, text, axes and data make at least four colours.
      std::map<int, int> colours;
      for (size_t p = 0; p + 2 < img.rgb.size() && colours.size() < 8; p += 3)
        ++colours[(img.rgb[p] << 16) | (img.rgb[p + 1] << 8) | img.rgb[p + 2]];
      CHECK(colours.size() >= 4);
    }
  }
}

TEST_CASE("lessons: the same seed gives byte-identical deterministic figures") {
  int compared = 0;
  for (const std::string& program : lesson_programs()) {
    const std::string name = program_name(program);
    if (name != "00_tensors_and_autograd" && name != "01_attention_is_quadratic") continue;
    CAPTURE(name);
    const Outcome& first = first_run(program);          // seed 0 (the default)
    const Outcome second = run_lesson(program, {"--seed", "0"});
    REQUIRE(first.run.status == 0);
    REQUIRE(second.run.status == 0);
    const auto files = deterministic_pngs(first.out_dir + "/" + name);
    CHECK(files.size() >= 1);
    CHECK(files == deterministic_pngs(second.out_dir + "/" + name));
    for (const std::string& f : files) {
      CAPTURE(f);
      const std::string a = read_file_text(first.out_dir + "/" + name + "/" + f);
      const std::string b = read_file_text(second.out_dir + "/" + name + "/" + f);
      CHECK(!a.empty());
      CHECK(a == b);
      ++compared;
    }
    fs::remove_all(second.out_dir);
  }
  CHECK(compared >= 2);
}

TEST_CASE("lessons: --seed is honoured (another seed draws other data)") {
  for (const std::string& program : lesson_programs()) {
    const std::string name = program_name(program);
    if (name != "00_tensors_and_autograd") continue;
    const Outcome& first = first_run(program);
    const Outcome other = run_lesson(program, {"--seed", "5"});
    REQUIRE(other.run.status == 0);
    CHECK(read_file_text(first.out_dir + "/" + name + "/regions.png") !=
          read_file_text(other.out_dir + "/" + name + "/regions.png"));
    CHECK(other.run.out.find("(seed 5") != std::string::npos);
    fs::remove_all(other.out_dir);
  }
}

TEST_CASE("lessons: bad flags exit 2 with one line on stderr; --help exits 0") {
  for (const std::string& program : lesson_programs()) {
    const std::string name = program_name(program);
    CAPTURE(name);
    const std::string out_dir = testing::temp_dir("lesson_flags");
    struct Case {
      std::vector<std::string> args;
      std::string names;  // what the error line must mention
    };
    const std::vector<Case> cases = {
        {{"--out", out_dir, "--nope"}, "--nope"},
        {{"--out", out_dir, "--seed", "abc"}, "--seed"},
        {{"--out", out_dir, "--seed"}, "--seed"},
        {{"--quick", "--out"}, "--out"},
    };
    for (const Case& c : cases) {
      const std::vector<std::string>& args = c.args;
      CAPTURE(c.names);
      const Run r = run_program(program, args);
      CHECK(r.status == 2);
      CHECK(r.out.empty());
      const auto err_lines = split_lines(r.err);
      REQUIRE(err_lines.size() == 1);
      CHECK(err_lines[0].rfind("error: ", 0) == 0);
      CHECK(err_lines[0].find(c.names) != std::string::npos);
    }
    const Run help = run_program(program, {"--help"});
    CHECK(help.status == 0);
    CHECK(help.out.find("usage:") != std::string::npos);
    CHECK(help.out.find("--quick") != std::string::npos);
    fs::remove_all(out_dir);
  }
}

// Every lesson whose EXERCISE block goes through Lesson::exercise (lessons/solutions/NAME.h) is run twice more:
// with its reference solution (--solution) every check passes; with its known-wrong answer (--wrong-answer) the
// lesson ends with status FAIL, every FAIL is an exercise check ("FAIL  exercise: ..."), and each FAIL carries a
// reason for the learner after the measured detail.
TEST_CASE("lessons: every exercise's solution passes its check, and its known-wrong answer fails it, saying why") {
  int with_exercise = 0;
  for (const std::string& program : lesson_programs()) {
    const std::string name = program_name(program);
    CAPTURE(name);
    const Outcome wrong = run_lesson(program, {"--wrong-answer"});
    if (wrong.run.out.find("(--wrong-answer: running the known-wrong answer") == std::string::npos) {
      fs::remove_all(wrong.out_dir);
      continue;  // this lesson's exercise has no solutions file yet
    }
    ++with_exercise;
    CHECK(wrong.run.status == 1);
    CHECK(wrong.run.out.find("status=FAIL") != std::string::npos);
    int fails = 0;
    for (const std::string& line : split_lines(wrong.run.out)) {
      if (line.rfind("FAIL  ", 0) != 0) continue;
      ++fails;
      CAPTURE(line);
      CHECK(line.rfind("FAIL  exercise: ", 0) == 0);  // only the exercise's own checks fail
      CHECK(line.find("(") != std::string::npos);      // with the learner's reason in parentheses
    }
    CHECK(fails >= 1);
    const Outcome solved = run_lesson(program, {"--solution"});
    CHECK(solved.run.status == 0);
    CHECK(solved.run.out.find("(--solution: running the reference solution") != std::string::npos);
    CHECK(solved.run.out.find("status=PASS") != std::string::npos);
    fs::remove_all(wrong.out_dir);
    fs::remove_all(solved.out_dir);
  }
  CHECK(with_exercise >= 17);  // lessons 00-16: every lesson with an exercise has a solutions file
}
