// tests/test_notebooks.cpp — the percent-format parser, the notebook runner (build/tools/nbrun), the companion
// notebooks (build/notebooks/*) and the gallery generator (build/tools/gallery).
//
// In-process: tools/percent.h cuts sources into cells and refuses misplaced markers with one-line errors
// naming the line; tools/ipynb.h sorts output into cells (fed byte by byte or at once: the same result)
// and encodes base64. End to end: nbrun compiles and runs tests/fixtures/nb_tiny.cpp (standard library only,
// compiled with -O0 so that this stays fast, also under ASan) into a notebook whose cells, outputs and image are
// checked one by one and which Debian's python3-nbformat validates; a second run gives the same bytes; a failing
// run and a compile error name the cell. Every lesson and companion must parse, keep each step's code cell short
// (≤ 60 non-blank lines), and the companions must pass their self-checks with --quick.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "plot/plot.h"
#include "tools/ipynb.h"
#include "tools/percent.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
using nlohmann::json;
using notebook::CellKind;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> text_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string shq(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Proc {
  int status = -1;
  std::string out, err;
};

// Runs `program args...` (stdin /dev/null), stdout and stderr captured separately.
Proc run(const std::string& program, const std::vector<std::string>& args) {
  const std::string io = testing::temp_dir("nb_io");
  std::string cmd = shq(program);
  for (const std::string& a : args) cmd += " " + shq(a);
  cmd += " >" + shq(io + "/out") + " 2>" + shq(io + "/err") + " </dev/null";
  const int raw = std::system(cmd.c_str());
  Proc p;
  p.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  p.out = slurp(io + "/out");
  p.err = slurp(io + "/err");
  fs::remove_all(io);
  return p;
}

std::string fixture_path() { return testing::source_dir() + "/tests/fixtures/nb_tiny.cpp"; }
std::string nbrun() { return testing::build_dir() + "/tools/nbrun"; }

// How nbrun compiles the fixture: plain g++ (or $CXX), no optimisation, no sanitizer: it needs only the
// standard library.
std::vector<std::string> fixture_build_flags() {
  const char* cxx = std::getenv("CXX");
  return {"--cxx", cxx && *cxx ? cxx : "g++", "--cxxflags", "-std=c++17 -O0", "--ldflags", "", "--ldlibs", ""};
}

Proc run_nbrun(const std::string& source, const std::vector<std::string>& extra, const std::vector<std::string>& program_args) {
  std::vector<std::string> args = {source};
  const auto flags = fixture_build_flags();
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("--");
  args.insert(args.end(), program_args.begin(), program_args.end());
  return run(nbrun(), args);
}

std::string joined(const json& multiline) {
  if (multiline.is_string()) return multiline.get<std::string>();
  std::string s;
  for (const auto& part : multiline) s += part.get<std::string>();
  return s;
}

// The fixture's PNG: 2x1, red then blue.
const std::string kTwoPixels = [] {
  const unsigned char bytes[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
      0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x7b, 0x40, 0xe8, 0xdd, 0x00, 0x00, 0x00,
      0x0f, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xb8, 0xa3, 0xa1, 0xa1, 0x11, 0x70, 0x07, 0x00, 0x08, 0x8b,
      0x02, 0x81, 0x5c, 0x54, 0xb3, 0x78, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}();

// Lessons and companion notebooks of the source tree: lessons/[0-9]*.cpp, notebooks_cpp/*.cpp that start with
// a prose cell.
std::vector<std::string> percent_sources() {
  std::vector<std::string> found;
  for (const char* dir : {"lessons", "notebooks_cpp"}) {
    const fs::path d = fs::path(testing::source_dir()) / dir;
    for (const auto& e : fs::directory_iterator(d)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() != ".cpp") continue;
      if (std::string(dir) == "lessons" && !(name[0] >= '0' && name[0] <= '9')) continue;
      if (std::string(dir) == "notebooks_cpp" && slurp(e.path().string()).rfind("// %% [markdown]", 0) != 0) continue;
      found.push_back(e.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

// ---- the parser ----------------------------------------------------------------------------------------------

TEST_CASE("notebooks: a percent source is cut into markdown and code cells") {
  const notebook::PercentSource src = notebook::parse_percent(slurp(fixture_path()), "nb_tiny.cpp");
  const std::vector<CellKind> kinds = {CellKind::markdown, CellKind::code, CellKind::code, CellKind::markdown,
                                       CellKind::code,     CellKind::code, CellKind::code, CellKind::markdown,
                                       CellKind::code,     CellKind::code};
  REQUIRE(src.cells.size() == kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    CAPTURE(i);
    CHECK(src.cells[i].kind == kinds[i]);
    CHECK(src.cells[i].source.find("%%") == std::string::npos);  // markers are not part of any cell
  }
  // Prose loses its "// "; code keeps its lines as written, without blank lines at either end.
  CHECK(src.cells[0].source.rfind("# Fixture · a tiny percent-format program\nUsed by tests/test_notebooks.cpp", 0) == 0);
  CHECK(src.cells[3].source == "## Step 1 · text\nTwo lines on stdout; the second is ended by std::endl.");
  CHECK(src.cells[4].source == "  std::cout << \"first line\\n\";\n  std::cout << \"second line\" << std::endl;");
  CHECK(src.cells[1].source.rfind("#include <fstream>", 0) == 0);
  CHECK(src.cells[1].source.substr(src.cells[1].source.size() - 1) == "}");
  // main: its cell, and the boundaries the runner will print (code markers inside main only).
  CHECK(src.main_cell == 2);
  CHECK(src.cells[2].holds_main);
  CHECK(src.cells[2].source.rfind("int main(int argc, char** argv) {", 0) == 0);
  const std::vector<bool> boundary = {false, false, false, false, true, true, true, false, true, true};
  for (size_t i = 0; i < boundary.size(); ++i) {
    CAPTURE(i);
    CHECK(src.cells[i].boundary == boundary[i]);
  }
  CHECK(src.cells[4].marker_line == 35);
  CHECK(src.cells[4].first_line == 36);
  CHECK(src.cell_at_line(37) == 4);
  CHECK(src.cell_at_line(1) == 0);

  // Places a marker may stand: file scope, a namespace, nested blocks and case labels inside main.
  const std::string ok =
      "// %%\n"
      "namespace helpers {\n"
      "// %% [markdown]\n"
      "// prose inside a namespace\n"
      "// %%\n"
      "inline int twice(int x) { return 2 * x; }\n"
      "}  // namespace helpers\n"
      "// %%\n"
      "int main() {\n"
      "  const char* s = \"// not a marker: no %-sign pair\";\n"
      "  for (int i = 0; i < 2; ++i) {\n"
      "    // %%\n"
      "    switch (i) {\n"
      "      case 0:\n"
      "        // %%\n"
      "        break;\n"
      "      default: {\n"
      "        // %%\n"
      "      }\n"
      "    }\n"
      "  }\n"
      "  auto f = [] { return 1; };\n"
      "  // %%\n"
      "  do { } while (false);\n"
      "  //%%\n"
      "  return f() + helpers::twice(0) + (s != nullptr);\n"
      "}\n";
  const notebook::PercentSource p = notebook::parse_percent(ok, "ok.cpp");
  int boundaries = 0;
  for (const notebook::Cell& c : p.cells) boundaries += c.boundary;
  CHECK(boundaries == 5);
  CHECK(p.main_line == 9);
}

TEST_CASE("notebooks: malformed percent sources give one-line errors naming the line") {
  struct Case {
    std::string what, source;
    int line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"marker in a string literal", "// %%\nint main() {\n  const char* s = \"a // %% b\";\n}\n", 3,
       "inside a string literal"},
      {"marker in a raw string", "// %%\nconst char* s = R\"(\nline\n// %%\n)\";\n", 4, "inside a raw string literal"},
      {"marker after code", "// %%\nint main() {\n  int x = 1;  // %%\n}\n", 3, "after code on the same line"},
      {"marker in a block comment", "// %%\n/* notes\n   // %%\n*/\n", 3, "inside a /* */ comment"},
      {"marker in another function", "// %%\nvoid f() {\n  // %%\n}\n", 3, "other than main()"},
      {"marker in a class body", "// %%\nstruct S {\n  // %%\n  int x;\n};\n", 3, "other than main()"},
      {"marker in a statement", "// %%\nint main() {\n  int x =\n  // %%\n    1;\n}\n", 4, "middle of a statement"},
      {"marker after if (...)", "// %%\nint main(int c, char**) {\n  if (c)\n  // %%\n    c = 2;\n}\n", 4,
       "middle of a statement"},
      {"marker in a lambda", "// %%\nint main() {\n  auto f = [] {\n    // %%\n  };\n}\n", 4, "inside a lambda"},
      {"marker in a call's arguments", "// %%\nint f(int);\nint main() {\n  f(1 +\n  // %%\n  2);\n}\n", 5,
       "middle of a statement"},
      {"marker before else", "// %%\nint main(int c, char**) {\n  if (c) {\n  }\n  // %%\n  else {\n  }\n}\n", 5,
       "right before `else`"},
      {"marker in a parameter list", "// %%\nint f(int a,\n// %%\n      int b);\n", 3, "middle of a declaration"},
      {"unknown marker", "// %% [raw]\nint x;\n", 1, "unknown cell marker"},
      {"code in a markdown cell", "// %% [markdown]\n// prose\nint x = 1;\n// %%\n", 3, "code inside the markdown cell"},
      {"unbalanced braces", "// %%\nint main() {\n  return 0;\n", 2, "never closed"},
      {"no cells at all", "int main() { return 0; }\n", 0, "no cell markers"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    std::string message;
    int line = -1;
    try {
      notebook::parse_percent(c.source, "bad.cpp");
    } catch (const notebook::SourceError& e) {
      message = e.what();
      line = e.line;
    }
    CAPTURE(message);
    CHECK(line == c.line);
    CHECK(message.find(c.says) != std::string::npos);
    CHECK(message.rfind(c.line > 0 ? "bad.cpp:" + std::to_string(c.line) + ": " : "bad.cpp: ", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("notebooks: the instrumented copy keeps every line where it was") {
  const std::string text = slurp(fixture_path());
  const notebook::PercentSource src = notebook::parse_percent(text, fixture_path());
  const std::string copy = notebook::instrument(src, "abc123", "/abs/nb_tiny.cpp");
  const std::vector<std::string> lines = text_lines(copy);
  const auto at = std::find(lines.begin(), lines.end(), "#line 1 \"/abs/nb_tiny.cpp\"");
  REQUIRE(at != lines.end());
  const std::vector<std::string> body(at + 1, lines.end());
  REQUIRE(body.size() == src.lines.size());
  int prints = 0;
  for (size_t l = 0; l < body.size(); ++l) {
    CAPTURE(l + 1);
    if (body[l] == src.lines[l]) continue;
    // A boundary: the original marker line, with the print in front of the comment.
    ++prints;
    CHECK(body[l].find("::attnzoo_notebook_cell_(") != std::string::npos);
    CHECK(body[l].size() > src.lines[l].size());
    CHECK(body[l].substr(body[l].size() - 5) == "// %%");
    const int cell = src.cell_at_line(static_cast<int>(l + 1));
    CHECK(src.cells[static_cast<size_t>(cell)].boundary);
    CHECK(body[l].find("(" + std::to_string(cell) + ");") != std::string::npos);
  }
  CHECK(prints == 5);
  CHECK(copy.find("@@attnzoo-cell:abc123:") != std::string::npos);
}

// ---- output splitting and base64 -----------------------------------------------------------------------------

TEST_CASE("notebooks: program output is sorted into cells the same way whatever the chunks") {
  const std::string tag = "t0";
  auto boundary = [&](int cell) { return "\n" + notebook::boundary_line(tag, cell) + "\n"; };
  const std::string out = "before\n" + boundary(4) + "partial line" + boundary(5) + "[figure] fig.png — a caption\n" +
                          "after\n@@attnzoo-cell:other:6@@\n" + boundary(4) + "again\n";
  const std::string err = "warn0\n" + boundary(4) + boundary(5) + "warn5\n";
  struct Collected {
    std::map<int, std::vector<notebook::Output>> outputs;
    std::vector<std::string> reads;
    int last = -1;
  };
  auto split = [&](size_t chunk) {
    Collected c;
    notebook::OutputSplitter s(tag, 2, [&](const std::string& path, std::string* bytes) {
      c.reads.push_back(path);
      *bytes = kTwoPixels;
      return std::string();
    });
    // Each stream is split by its own boundaries; within a cell, outputs keep their order of arrival (here:
    // all of stdout first).
    for (size_t i = 0; i < out.size(); i += chunk) s.feed_stdout(out.substr(i, chunk));
    for (size_t i = 0; i < err.size(); i += chunk) s.feed_stderr(err.substr(i, chunk));
    s.finish();
    c.outputs = s.outputs;
    c.last = s.current_cell();
    return c;
  };
  for (size_t chunk : {size_t(1), size_t(3), size_t(7), out.size()}) {
    CAPTURE(chunk);
    const Collected c = split(chunk);
    CHECK(c.last == 4);
    CHECK(c.reads == std::vector<std::string>{"fig.png"});  // read once, when its line arrived
    REQUIRE(c.outputs.count(2));  // before the first boundary: the cell that holds main
    REQUIRE(c.outputs.at(2).size() == 2);
    CHECK(c.outputs.at(2)[0].name == "stdout");
    CHECK(c.outputs.at(2)[0].text == "before\n");
    CHECK(c.outputs.at(2)[1].name == "stderr");
    CHECK(c.outputs.at(2)[1].text == "warn0\n");
    // Cell 4 is entered twice: its text accumulates; a line without "\n" stays as it was printed.
    REQUIRE(c.outputs.count(4));
    REQUIRE(c.outputs.at(4).size() == 1);
    CHECK(c.outputs.at(4)[0].text == "partial lineagain\n");
    // Cell 5: the figure line becomes its image (with the caption), then the rest; a boundary with another tag
    // is only text.
    REQUIRE(c.outputs.count(5));
    const auto& five = c.outputs.at(5);
    REQUIRE(five.size() == 3);
    CHECK(five[0].kind == notebook::Output::Kind::image);
    CHECK(five[0].path == "fig.png");
    CHECK(five[0].text == "a caption");
    CHECK(five[0].png == kTwoPixels);
    CHECK(five[1].text == "after\n@@attnzoo-cell:other:6@@\n");
    CHECK(five[2].name == "stderr");
    CHECK(five[2].text == "warn5\n");
  }
}

TEST_CASE("notebooks: a lesson's main() try/catch stays out of the cells and its helpers go to an appendix") {
  const std::string text =
      "// %% [markdown]\n// # T\n// %%\n#include \"lessons/lesson.h\"\nusing core::Tensor;\n\n// twice x\n"
      "int twice(int x) { return 2 * x; }\n"
      "// %%\nint main(int argc, char** argv) try {\n  lesson::Lesson L(argc, argv, \"t\");\n"
      "  // %% [markdown]\n  // ## Step 1\n  // %%\n"
      "  if (twice(1) == 2) {\n    L.say(\"two\");\n  }\n  return L.finish();\n"
      "} catch (const std::exception& e) {\n  return lesson::report_error(e);\n}\n";
  const notebook::PercentSource src = notebook::parse_percent(text, "t.cpp");
  const std::vector<notebook::DocCell> doc = notebook::document_cells(src);
  REQUIRE(doc.size() == 6);  // prose, setup, prose, the step, the appendix's prose, the helpers
  CHECK(doc[1].source == "#include \"lessons/lesson.h\"\nusing core::Tensor;\n\nlesson::Lesson L(argc, argv, \"t\");");
  CHECK(doc[1].output_of == src.main_cell);
  CHECK(doc[3].source == "if (twice(1) == 2) {\n  L.say(\"two\");\n}\nreturn L.finish();");
  CHECK(doc[3].output_of == 4);
  CHECK(doc[4].kind == CellKind::markdown);
  CHECK(doc[5].source == "// twice x\nint twice(int x) { return 2 * x; }");
  CHECK(doc[5].output_of == -1);
}

TEST_CASE("notebooks: base64 matches RFC 4648 and round-trips bytes") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(notebook::base64_encode(plain) == encoded);
    std::string back;
    CHECK(notebook::base64_decode(encoded, &back));
    CHECK(back == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string back;
  CHECK(notebook::base64_decode(notebook::base64_encode(all + kTwoPixels), &back));
  CHECK(back == all + kTwoPixels);
  CHECK_FALSE(notebook::base64_decode("Zm9v!", &back));
  CHECK_FALSE(notebook::base64_decode("Zg=", &back));
}

// ---- the runner, end to end ----------------------------------------------------------------------------------

TEST_CASE("notebooks: nbrun turns the fixture into a notebook with its outputs, and nbformat accepts it") {
  REQUIRE_MESSAGE(fs::is_regular_file(nbrun()), "build it: make " << nbrun());
  const std::string dir = testing::temp_dir("nb_run");
  const std::string path = dir + "/nb_tiny.ipynb";
  const Proc p = run_nbrun(fixture_path(), {"-o", path}, {dir});
  INFO("nbrun stdout:\n" << p.out << "\nstderr:\n" << p.err);
  REQUIRE(p.status == 0);
  CHECK(p.out.find("wrote " + path + ": 11 cells, 1 figures") != std::string::npos);
  const std::string bytes = slurp(path);
  const json nb = json::parse(bytes);

  CHECK(nb["nbformat"] == 4);
  CHECK(nb["nbformat_minor"] == 5);
  CHECK_FALSE(nb["metadata"].contains("kernelspec"));  // no kernel to ask for: the notebook is a record
  CHECK(nb["metadata"]["language_info"]["name"] == "c++");
  CHECK(nb["metadata"]["attnzoo"]["args"] == json::array({dir}));

  const notebook::PercentSource src = notebook::parse_percent(slurp(fixture_path()), fixture_path());
  const std::vector<notebook::DocCell> doc = notebook::document_cells(src);
  const json& cells = nb["cells"];
  REQUIRE(cells.size() == doc.size());
  REQUIRE(cells.size() == 11);  // the source's 10 cells, the code before main split, the appendix's prose
  std::set<std::string> ids;
  int count = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    CAPTURE(i);
    const json& c = cells[i];
    ids.insert(c["id"].get<std::string>());
    CHECK(joined(c["source"]) == doc[i].source);
    if (doc[i].kind == CellKind::markdown) {
      CHECK(c["cell_type"] == "markdown");
      CHECK_FALSE(c.contains("outputs"));
      CHECK_FALSE(c.contains("execution_count"));
    } else {
      CHECK(c["cell_type"] == "code");
      CHECK(c["execution_count"] == ++count);  // 1, 2, 3, ... in cell order
    }
  }
  CHECK(ids.size() == cells.size());

  auto stream = [&](size_t cell, size_t k) {
    const json& o = cells[cell]["outputs"][k];
    return o["name"].get<std::string>() + ":" + joined(o["text"]);
  };
  // The layout of a document: the setup (the includes, then main's first lines, without main's signature and
  // moved left), the steps, and the helpers last, after the appendix's prose.
  const std::string setup = joined(cells[1]["source"]);
  CHECK(setup.rfind("#include <fstream>\n#include <iostream>\n#include <string>\n\n// usage: nb_tiny", 0) == 0);
  CHECK(setup.find("\nconst std::string dir = argc > 1") != std::string::npos);
  CHECK(setup.find("main(") == std::string::npos);
  CHECK(setup.find("write_png") == std::string::npos);
  CHECK(joined(cells[3]["source"]) == "std::cout << \"first line\\n\";\nstd::cout << \"second line\" << std::endl;");
  const std::string last_step = joined(cells[8]["source"]);
  CHECK(last_step.substr(last_step.size() - 9) == "return 0;");  // main's closing `}` left out
  CHECK(cells[9]["cell_type"] == "markdown");
  CHECK(joined(cells[9]["source"]).rfind("## Appendix", 0) == 0);
  const std::string helpers = joined(cells[10]["source"]);
  CHECK(helpers.rfind("// A valid 2x1 PNG", 0) == 0);
  CHECK(helpers.find("std::string write_png(const std::string& dir") != std::string::npos);
  CHECK(cells[10]["outputs"].empty());

  // Which cell printed what.
  REQUIRE(cells[1]["outputs"].size() == 1);
  CHECK(stream(1, 0) == "stdout:setup, printed in the cell that holds main\n");
  REQUIRE(cells[3]["outputs"].size() == 1);
  CHECK(stream(3, 0) == "stdout:first line\nsecond line\n");
  REQUIRE(cells[4]["outputs"].size() == 1);
  CHECK(stream(4, 0) == "stderr:a warning on stderr\n");
  REQUIRE(cells[5]["outputs"].size() == 1);
  CHECK(stream(5, 0) == "stdout:loop 0\nloop 1\n");
  // The figure: its picture, then its caption (no "[figure] PATH" line), then what followed.
  const json& figure_cell = cells[7]["outputs"];
  REQUIRE(figure_cell.size() == 4);
  CHECK(stream(7, 0) == "stdout:before the figure\n");
  CHECK(figure_cell[1]["output_type"] == "display_data");
  CHECK(joined(figure_cell[1]["data"]["text/plain"]) == "two pixels, red and blue");
  CHECK(figure_cell[2]["output_type"] == "display_data");
  CHECK(joined(figure_cell[2]["data"]["text/markdown"]) == "*two pixels, red and blue* (`two_pixels.png`)");
  CHECK(stream(7, 3) == "stdout:after the figure, without a newline");
  REQUIRE(cells[8]["outputs"].size() == 1);
  CHECK(stream(8, 0) == "stdout:done\n");

  // The image is the PNG the program wrote, and decodes.
  std::string png;
  REQUIRE(notebook::base64_decode(figure_cell[1]["data"]["image/png"].get<std::string>(), &png));
  CHECK(png == kTwoPixels);
  CHECK(png == slurp(dir + "/two_pixels.png"));
  const plot::Image image = plot::load_png(dir + "/two_pixels.png");
  CHECK(image.width == 2);
  CHECK(image.height == 1);
  CHECK(image.get(0, 0) == plot::Color{220, 40, 40});
  CHECK(image.get(1, 0) == plot::Color{40, 80, 220});

  // nbformat (Debian's python3-nbformat, installed by make deps) validates it against the nbformat schema.
  const std::string python = "/usr/bin/python3";
  const Proc has = run(python, {"-c", "import nbformat"});
  REQUIRE_MESSAGE(has.status == 0, "python3-nbformat is missing: run `make deps` (" << has.err << ")");
  const Proc valid = run(python, {"-c",
                                  "import sys, nbformat\n"
                                  "nb = nbformat.read(sys.argv[1], as_version=4)\n"
                                  "nbformat.validate(nb)\n"
                                  "print(nb.nbformat, nb.nbformat_minor, len(nb.cells))\n",
                                  path});
  INFO("nbformat: " << valid.out << valid.err);
  CHECK(valid.status == 0);
  CHECK(valid.out == "4 5 11\n");

  // Deterministic: the same source gives the same bytes.
  const std::string again = dir + "/again.ipynb";
  const Proc p2 = run_nbrun(fixture_path(), {"-o", again}, {dir});
  REQUIRE(p2.status == 0);
  CHECK(slurp(again) == bytes);
  fs::remove_all(dir);
}

TEST_CASE("notebooks: a failing cell, a compile error and a malformed source make nbrun fail and say where") {
  REQUIRE_MESSAGE(fs::is_regular_file(nbrun()), "build it: make " << nbrun());
  const std::string dir = testing::temp_dir("nb_fail");

  // The program fails in its last cell: exit 1, the cell and the program's error, no notebook.
  const Proc failed = run_nbrun(fixture_path(), {"-o", dir + "/x.ipynb"}, {dir, "--fail"});
  INFO("stderr:\n" << failed.err);
  CHECK(failed.status == 1);
  CHECK(failed.err.find("nb_tiny.cpp: cell 10 (line 53): the program exited with status 2") != std::string::npos);
  CHECK(failed.err.find("  error: asked to fail") != std::string::npos);
  CHECK(failed.err.find("@@attnzoo-cell") == std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/x.ipynb"));

  // A compile error names the cell of its line, in the original file.
  std::string text = slurp(fixture_path());
  const std::string good = "  std::cout << \"first line\\n\";";
  REQUIRE(text.find(good) != std::string::npos);
  text.replace(text.find(good), good.size(), "  std::cout << no_such_name;");
  const std::string broken = dir + "/broken.cpp";
  write_text(broken, text);
  const Proc compile = run_nbrun(broken, {"-o", dir + "/y.ipynb"}, {dir});
  INFO("stderr:\n" << compile.err);
  CHECK(compile.status == 1);
  CHECK(compile.err.find("broken.cpp: compile error in cell 5 (line 35):") != std::string::npos);
  CHECK(compile.err.find("broken.cpp:36:") != std::string::npos);  // the compiler's own line numbers are the file's
  CHECK(compile.err.find("no_such_name") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/y.ipynb"));

  // A malformed source: exit 2 and one line, before any compiling.
  const std::string bad = dir + "/bad.cpp";
  write_text(bad, "// %%\nint main() {\n  const char* s = \"// %%\";\n  return s != nullptr;\n}\n");
  const Proc malformed = run_nbrun(bad, {"-o", dir + "/z.ipynb"}, {});
  CHECK(malformed.status == 2);
  const auto err_lines = text_lines(malformed.err);
  REQUIRE(err_lines.size() == 1);
  CHECK(err_lines[0] == "nbrun: " + bad + ":3: a cell marker (// %%) inside a string literal: split the string "
                                          "(\"// \" \"%%\") or move the marker out of it");
  const Proc usage = run(nbrun(), {"--nope"});
  CHECK(usage.status == 2);
  CHECK(usage.err == "nbrun: unknown option '--nope' (see --help)\n");
  fs::remove_all(dir);
}

TEST_CASE("notebooks: with --jobs 2, sources compile side by side and each still gets its own verdict") {
  REQUIRE_MESSAGE(fs::is_regular_file(nbrun()), "build it: make " << nbrun());
  const std::string dir = testing::temp_dir("nb_jobs");
  // Three sources: the fixture (good), a copy with a compile error, and a second good copy under another name.
  std::string text = slurp(fixture_path());
  const std::string good = "  std::cout << \"first line\\n\";";
  REQUIRE(text.find(good) != std::string::npos);
  write_text(dir + "/second.cpp", text);
  text.replace(text.find(good), good.size(), "  std::cout << no_such_name;");
  write_text(dir + "/broken.cpp", text);
  std::vector<std::string> args = {fixture_path(), dir + "/broken.cpp", dir + "/second.cpp"};
  const auto flags = fixture_build_flags();
  args.insert(args.end(), flags.begin(), flags.end());
  for (const char* a : {"--jobs", "2", "--out-dir", ""}) args.push_back(a);
  args.back() = dir + "/nb";
  args.push_back("--");
  args.push_back(dir);
  const Proc p = run(nbrun(), args);
  INFO("stdout:\n" << p.out << "\nstderr:\n" << p.err);
  CHECK(p.status == 1);
  CHECK(fs::is_regular_file(dir + "/nb/nb_tiny.ipynb"));
  CHECK(fs::is_regular_file(dir + "/nb/second.ipynb"));
  CHECK_FALSE(fs::exists(dir + "/nb/broken.ipynb"));
  CHECK(p.err.find("broken.cpp: compile error in cell 5 (line 35):") != std::string::npos);
  CHECK(p.out.find("2 of 3 notebooks written") != std::string::npos);
  // The two good notebooks hold the same cells (only the source's name differs).
  const json a = json::parse(slurp(dir + "/nb/nb_tiny.ipynb")), b = json::parse(slurp(dir + "/nb/second.ipynb"));
  CHECK(a["cells"].size() == b["cells"].size());

  for (const char* bad : {"0", "x", "65"}) {
    const Proc usage = run(nbrun(), {fixture_path(), "--jobs", bad});
    CHECK(usage.status == 2);
    CHECK(usage.err == std::string("nbrun: --jobs wants a count from 1 to 64, got '") + bad + "'\n");
  }
  fs::remove_all(dir);
}

// ---- lessons, companions, gallery -----------------------------------------------------------------------------

TEST_CASE("notebooks: every lesson and companion notebook is a percent source the runner accepts") {
  const std::vector<std::string> sources = percent_sources();
  CHECK(sources.size() >= 5);  // lessons 00, 01 and the three companions at least
  for (const std::string& path : sources) {
    CAPTURE(path);
    notebook::PercentSource src;
    REQUIRE_NOTHROW(src = notebook::parse_percent(slurp(path), path));
    CHECK(src.main_cell >= 0);
    REQUIRE(!src.cells.empty());
    CHECK(src.cells[0].kind == CellKind::markdown);
    const notebook::Summary summary = notebook::summarize(src);
    CHECK(!summary.title.empty());
    CHECK(summary.sentence.size() >= 20);
    int boundaries = 0;
    for (const notebook::Cell& c : src.cells) boundaries += c.boundary;
    CHECK(boundaries >= 2);
  }
}

// A notebook reads as a document (tools/ipynb.h): each step's code is short enough to read next to its prose and
// output. The helpers in the appendix (defined before main, output_of == -1) may be longer: they are reference.
TEST_CASE("notebooks: no code cell outside the appendix is longer than 60 non-blank lines") {
  constexpr int kMaxLines = 60;
  for (const std::string& path : percent_sources()) {
    CAPTURE(path);
    const notebook::PercentSource src = notebook::parse_percent(slurp(path), path);
    const std::vector<notebook::DocCell> doc = notebook::document_cells(src);
    for (size_t i = 0; i < doc.size(); ++i) {
      if (doc[i].kind != CellKind::code || doc[i].output_of < 0) continue;
      std::istringstream lines(doc[i].source);
      int count = 0;
      for (std::string line; std::getline(lines, line);) count += line.find_first_not_of(" \t") != std::string::npos;
      const std::string first_line = doc[i].source.substr(0, doc[i].source.find('\n'));
      CAPTURE(i);
      CAPTURE(first_line);
      CHECK(count <= kMaxLines);
    }
  }
}

TEST_CASE("notebooks: the companion notebooks pass their self-checks with --quick") {
  const fs::path dir = fs::path(testing::build_dir()) / "notebooks";
  std::vector<std::string> programs;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) programs.push_back(e.path().string());
  std::sort(programs.begin(), programs.end());
  INFO("looked in " << dir.string());
  REQUIRE(programs.size() >= 3);
  const std::regex result_re(R"(RESULT (\S+) checks=(\d+)/(\d+) files=(\d+) status=PASS)");
  for (const std::string& program : programs) {
    const std::string name = fs::path(program).filename().string();
    CAPTURE(name);
    const std::string out = testing::temp_dir("nb_companion");
    const Proc p = run(program, {"--quick", "--out", out});
    INFO("stdout tail:\n" << p.out.substr(p.out.size() > 3000 ? p.out.size() - 3000 : 0) << "\nstderr:\n" << p.err);
    CHECK(p.status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(p.out, m, result_re));
    CHECK(m[1].str() == name);
    CHECK(m[2].str() == m[3].str());
    CHECK(std::stoi(m[4].str()) >= 1);
    const auto manifest = text_lines(slurp(out + "/" + name + "/manifest.tsv"));
    REQUIRE(manifest.size() >= 2);
    for (size_t i = 1; i < manifest.size(); ++i) {
      const std::string file = manifest[i].substr(0, manifest[i].find('\t'));
      CHECK(notebook::is_png(slurp(out + "/" + name + "/" + file)));
    }
    fs::remove_all(out);
  }
}

TEST_CASE("notebooks: the gallery lists every lesson with its figures, captions and links") {
  const std::string gallery = testing::build_dir() + "/tools/gallery";
  REQUIRE_MESSAGE(fs::is_regular_file(gallery), "build it: make " << gallery);
  const std::string out = testing::temp_dir("nb_gallery");
  const std::string lesson = "01_attention_is_quadratic";
  fs::create_directories(out + "/" + lesson);
  fs::create_directories(out + "/notebooks");
  fs::create_directories(out + "/bench");
  write_text(out + "/" + lesson + "/manifest.tsv",
             "file\tkind\tcaption\nfull.png\tdeterministic\tstripes <every> 8 & more\ncost.png\ttiming\ttime vs n\n");
  write_text(out + "/" + lesson + "/full.png", kTwoPixels);
  write_text(out + "/" + lesson + "/cost.png", kTwoPixels);
  write_text(out + "/notebooks/" + lesson + ".ipynb", "{}");
  write_text(out + "/" + lesson + ".log", "...\nRESULT 01_attention_is_quadratic checks=9/9 files=2 status=PASS\n");
  write_text(out + "/bench/attention.png", kTwoPixels);
  write_text(out + "/bench/attention.md", "| n | ms |\n|---|---|\n| 1024 | 1.5 |\n");

  const Proc p = run(gallery, {"--out", out, "--root", testing::source_dir()});
  INFO("gallery: " << p.out << p.err);
  REQUIRE(p.status == 0);
  const std::string page = slurp(out + "/index.html");
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  // The lesson: title, summary from its first prose cell, figures with captions as alt text, links.
  CHECK(page.find("<h2><a href=\"#01_attention_is_quadratic\">01 · Attention is quadratic</a></h2>") != std::string::npos);
  CHECK(page.find("lets every position of a sequence look at every other one.</p>") != std::string::npos);
  CHECK(page.find("<img src=\"01_attention_is_quadratic/full.png\" alt=\"stripes &lt;every&gt; 8 &amp; more\" "
                  "width=\"2\" height=\"1\">") != std::string::npos);
  CHECK(page.find("<b>cost.png</b> <span class=\"note\">(measured times") != std::string::npos);
  CHECK(page.find("href=\"notebooks/01_attention_is_quadratic.ipynb\"") != std::string::npos);
  CHECK(page.find("<span class=\"badge pass\">PASS · checks 9/9</span>") != std::string::npos);
  CHECK(page.find("id=\"00_tensors_and_autograd\"") != std::string::npos);  // listed even before it ran
  CHECK(page.find("No figures yet") != std::string::npos);
  CHECK(page.find("id=\"attention_gallery\"") != std::string::npos);      // a companion notebook
  CHECK(page.find("<img src=\"bench/attention.png\"") != std::string::npos);
  CHECK(page.find("| 1024 | 1.5 |") != std::string::npos);
  CHECK(page.find("http://") == std::string::npos);  // nothing from the network
  CHECK(page.find("https://") == std::string::npos);
  // Every relative link and image resolves to a file.
  const std::regex link(R"re((?:src|href)="([^"#][^"]*)")re");
  int links = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), link); it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[1].str();
    CAPTURE(target);
    CHECK(fs::exists(fs::path(out) / target));
    ++links;
  }
  CHECK(links >= 6);
  // The same inputs give the same page.
  REQUIRE(run(gallery, {"--out", out, "--root", testing::source_dir()}).status == 0);
  CHECK(slurp(out + "/index.html") == page);
  fs::remove_all(out);
}
