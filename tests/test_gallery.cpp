// tests/test_gallery.cpp — the gallery's Markdown (tools/markdown.h) and what the page tells a newcomer
// (tools/gallery.cpp). The gallery's figures, captions and links are tested in tests/test_notebooks.cpp.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/helpers.h"
#include "tools/markdown.h"

namespace fs = std::filesystem;
using markdown::inline_html;

TEST_CASE("gallery markdown: bold, italic, code and links become HTML") {
  CHECK(inline_html("**bold**") == "<strong>bold</strong>");
  CHECK(inline_html("*italic*") == "<em>italic</em>");
  CHECK(inline_html("a `code` span") == "a <code>code</code> span");
  CHECK(inline_html("the **fixed patterns (FP)** — look") == "the <strong>fixed patterns (FP)</strong> — look");
  CHECK(inline_html("(*how* they avoid it)") == "(<em>how</em> they avoid it)");
  CHECK(inline_html("**a *b* c**") == "<strong>a <em>b</em> c</strong>");
  CHECK(inline_html("*a **b** c*") == "<em>a <strong>b</strong> c</em>");
  CHECK(inline_html("see [the README](../README.md).") == "see <a href=\"../README.md\">the README</a>.");
  CHECK(inline_html("[**x**](https://example.org/a?b=1&c=2)") ==
        "<a href=\"https://example.org/a?b=1&amp;c=2\"><strong>x</strong></a>");
}

TEST_CASE("gallery markdown: arithmetic and unbalanced markers stay as written") {
  CHECK(inline_html("2 * 3 * 4") == "2 * 3 * 4");
  CHECK(inline_html("x ** 2 + y ** 2") == "x ** 2 + y ** 2");
  CHECK(inline_html("a*b*c") == "a*b*c");              // inside a word: not emphasis
  CHECK(inline_html("*note without an end") == "*note without an end");
  CHECK(inline_html("**half bold*") == "**half bold*");  // runs of different length do not pair
  CHECK(inline_html("***") == "***");
  CHECK(inline_html("an unmatched ` backtick") == "an unmatched ` backtick");
  CHECK(inline_html("[no target] and [x](has space)") == "[no target] and [x](has space)");
  CHECK(inline_html("\\*not italic\\*") == "*not italic*");
  CHECK(inline_html("`*not italic*` in code") == "<code>*not italic*</code> in code");
  CHECK(inline_html("d_head and n_buckets") == "d_head and n_buckets");  // underscores are names
}

TEST_CASE("gallery markdown: the text is escaped, inside markup too") {
  CHECK(inline_html("a < b & c > \"d\" 'e'") == "a &lt; b &amp; c &gt; &quot;d&quot; &#39;e&#39;");
  CHECK(inline_html("**<script>**") == "<strong>&lt;script&gt;</strong>");
  CHECK(inline_html("`<b>`") == "<code>&lt;b&gt;</code>");
  CHECK(inline_html("[x](a\"onmouseover=\"b)") == "<a href=\"a&quot;onmouseover=&quot;b\">x</a>");
  // a relative link target gets the base (the path from out/ to the lesson's folder); others do not
  CHECK(inline_html("[f](fig.png) [g](#top) [h](https://x.org)", "../lessons/") ==
        "<a href=\"../lessons/fig.png\">f</a> <a href=\"#top\">g</a> <a href=\"https://x.org\">h</a>");
}

TEST_CASE("gallery: the page renders the lessons' Markdown, links back to the README and says where the exercises are") {
  const std::string gallery = testing::build_dir() + "/tools/gallery";
  REQUIRE_MESSAGE(fs::is_regular_file(gallery), "build it: make " << gallery);
  testing::TempDir out("gallery_md");
  const std::string cmd = "'" + gallery + "' --out '" + out.path.string() + "' --root '" + testing::source_dir() +
                          "' >/dev/null 2>&1 </dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(out.path / "index.html", std::ios::binary);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Lesson 15's introduction names the survey's families in bold: rendered, not shown as asterisks.
  CHECK(page.find("<strong>fixed patterns (FP)</strong>") != std::string::npos);
  CHECK(page.find("**fixed patterns") == std::string::npos);
  CHECK(page.find("*satellite*") == std::string::npos);  // lesson 02's italics
  CHECK(page.find("<em>satellite</em>") != std::string::npos);
  // The README, linked relative to the page, and the exercises.
  const std::string readme = fs::relative(fs::path(testing::source_dir()) / "README.md", out.path).generic_string();
  CHECK(page.find("<a href=\"" + readme + "\">README</a>") != std::string::npos);
  CHECK(page.find("each lesson's EXERCISE block") != std::string::npos);
  CHECK(page.find("exercise: the <code>// EXERCISE</code> block in 05_longformer.cpp") != std::string::npos);
}
