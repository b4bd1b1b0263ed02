// tools/gallery.cpp — gallery: write OUT/index.html, one static page to browse every lesson's pictures.
//
//   build/tools/gallery [--out out] [--root .]      # `make run` and `make notebooks` call it
//
// For each lesson (ROOT/lessons/NN_name.cpp) and each companion notebook (ROOT/notebooks_cpp/NAME.cpp that
// starts with a `// %% [markdown]` cell), in that order, the page shows:
//   - the title and a one-line summary: the first `# ` heading of the source's first prose cell and the first
//     sentence after it (tools/percent.h, summarize()); the whole introduction folds out below, its Markdown
//     (**bold**, *italic*, `code`, [links](x)) rendered as HTML by tools/markdown.h;
//   - where its exercise is (the `// EXERCISE` block of the source);
//   - its figures, read from OUT/NAME/manifest.tsv ("file<TAB>kind<TAB>caption", written by lessons/lesson.h):
//     each one an <img> with the caption as alt text and as the figure's caption, linked to the full PNG;
//   - links to its notebook (OUT/notebooks/NAME.ipynb, when `make notebooks` made one), its source, and its
//     narration log with the self-check result (OUT/NAME.log, when `make run` made one);
// then the benchmark plots and tables under OUT/bench/ and OUT/lra/ when they exist. Under the page title: a link
// back to the README (ROOT/README.md, relative: ../README.md from out/) and how the exercises work.
// Every link is relative, so the page works from file:// and from a copy of OUT/ together with the sources.
// No network, no framework: HTML and inline CSS, plus ten lines of script that, after the page has loaded,
// list broken images in an attribute of <body> (and show a banner) — scripts/check-gallery.sh reads it through
// headless Chromium. The page has no timestamps: the same files give the same bytes.
// Exit status: 0 written (warnings on stderr for figures a manifest lists but that are missing), 2 bad usage
// or OUT cannot be written.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tools/markdown.h"
#include "tools/percent.h"

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

using markdown::escape_html;
using markdown::inline_html;

// A relative URL for a path: every byte outside [A-Za-z0-9._~/-] percent-encoded.
std::string url(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '~' || c == '/' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

// The lesson's introduction (its first prose cell) as simple HTML: paragraphs, indented blocks as <pre>,
// "- " and "1. " lines as list items, "## " as a small heading, and in the text **bold**, *italic*, `code` and
// [links](target) (tools/markdown.h; a relative target is prefixed with link_base, the path from OUT to the
// source's folder). The "# " title is left out (shown above).
std::string prose_html(const std::string& markdown, const std::string& link_base) {
  const std::vector<std::string> lines = lines_of(markdown);
  std::string out;
  size_t i = 0;
  while (i < lines.size()) {
    if (blank(lines[i]) || lines[i].rfind("# ", 0) == 0) {
      ++i;
      continue;
    }
    if (lines[i].rfind("#", 0) == 0) {
      const size_t hashes = lines[i].find_first_not_of('#');
      out += "<h4>" + inline_html(lines[i].substr(std::min(lines[i].size(), hashes + 1)), link_base) + "</h4>\n";
      ++i;
      continue;
    }
    if (lines[i].rfind("    ", 0) == 0) {
      out += "<pre>";
      for (; i < lines.size() && (lines[i].rfind("    ", 0) == 0 || (blank(lines[i]) && i + 1 < lines.size() &&
                                                                    lines[i + 1].rfind("    ", 0) == 0));
           ++i)
        out += escape_html(lines[i].size() >= 4 ? lines[i].substr(4) : "") + "\n";
      out += "</pre>\n";
      continue;
    }
    auto list_item = [](const std::string& l) {
      if (l.rfind("- ", 0) == 0 || l.rfind("* ", 0) == 0) return size_t(2);
      const size_t digits = l.find_first_not_of("0123456789");
      if (digits != std::string::npos && digits > 0 && l.compare(digits, 2, ". ") == 0) return digits + 2;
      return size_t(0);
    };
    if (list_item(lines[i]) > 0) {
      const bool ordered = lines[i][0] != '-' && lines[i][0] != '*';
      out += ordered ? "<ol>\n" : "<ul>\n";
      while (i < lines.size() && list_item(lines[i]) > 0) {
        std::string item = lines[i].substr(list_item(lines[i]));
        for (++i; i < lines.size() && !blank(lines[i]) && list_item(lines[i]) == 0 && lines[i].rfind("  ", 0) == 0; ++i)
          item += " " + lines[i].substr(lines[i].find_first_not_of(' '));
        out += "<li>" + inline_html(item, link_base) + "</li>\n";
      }
      out += ordered ? "</ol>\n" : "</ul>\n";
      continue;
    }
    std::string paragraph;
    for (; i < lines.size() && !blank(lines[i]) && lines[i].rfind("    ", 0) != 0 && lines[i].rfind("#", 0) != 0 &&
           list_item(lines[i]) == 0;
         ++i)
      paragraph += (paragraph.empty() ? "" : " ") + lines[i];
    out += "<p>" + inline_html(paragraph, link_base) + "</p>\n";
  }
  return out;
}

// Width and height from a PNG's IHDR chunk; false if the bytes are not a PNG.
bool png_size(const fs::path& path, uint32_t* w, uint32_t* h) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[24] = {};
  if (!in.read(reinterpret_cast<char*>(b), 24)) return false;
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (!std::equal(sig, sig + 8, b) || std::string(reinterpret_cast<char*>(b + 12), 4) != "IHDR") return false;
  *w = (uint32_t(b[16]) << 24) | (uint32_t(b[17]) << 16) | (uint32_t(b[18]) << 8) | b[19];
  *h = (uint32_t(b[20]) << 24) | (uint32_t(b[21]) << 16) | (uint32_t(b[22]) << 8) | b[23];
  return true;
}

struct Figure {
  std::string file, kind, caption;
};

// DIR/manifest.tsv: the header "file\tkind\tcaption", then one figure per line (lessons/lesson.h).
std::vector<Figure> read_manifest(const fs::path& dir) {
  std::vector<Figure> figures;
  const std::vector<std::string> lines = lines_of(read_text(dir / "manifest.tsv"));
  for (size_t i = 1; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    const size_t t1 = lines[i].find('\t');
    const size_t t2 = t1 == std::string::npos ? std::string::npos : lines[i].find('\t', t1 + 1);
    Figure f;
    f.file = lines[i].substr(0, t1);
    if (t2 != std::string::npos) {
      f.kind = lines[i].substr(t1 + 1, t2 - t1 - 1);
      f.caption = lines[i].substr(t2 + 1);
    }
    figures.push_back(f);
  }
  return figures;
}

struct Page {
  fs::path out;   // OUT, as given
  fs::path root;  // ROOT, as given
  int images = 0;
  int warnings = 0;

  // Path of `target` relative to OUT (where index.html lives), with forward slashes.
  std::string rel(const fs::path& target) const {
    std::error_code ec;
    const fs::path from = fs::weakly_canonical(fs::absolute(out), ec);
    const fs::path to = fs::weakly_canonical(fs::absolute(target), ec);
    return to.lexically_relative(from).generic_string();
  }

  std::string figure(const fs::path& png, const std::string& caption, const std::string& label, bool timing) {
    uint32_t w = 0, h = 0;
    std::string size_attrs;
    bool wide = false;  // side-by-side panels get two grid columns
    if (png_size(png, &w, &h)) {
      size_attrs = " width=\"" + std::to_string(w) + "\" height=\"" + std::to_string(h) + "\"";
      wide = w > 3 * h / 2;
    } else {
      std::cerr << "gallery: warning: " << png.string() << " is missing or not a PNG\n";
      ++warnings;
    }
    ++images;
    const std::string src = url(rel(png));
    const std::string alt = caption.empty() ? label : caption;
    std::string s = std::string(wide ? "<figure class=\"wide\">" : "<figure>") + "\n<a href=\"" + src + "\"><img src=\"" + src + "\" alt=\"" + escape_html(alt) + "\"" +
                    size_attrs + "></a>\n<figcaption><b>" + escape_html(label) + "</b>" +
                    (timing ? " <span class=\"note\">(measured times: they vary from run to run)</span>" : "") +
                    (caption.empty() ? "" : " — " + inline_html(caption)) + "</figcaption>\n</figure>\n";
    return s;
  }
};

struct Entry {
  std::string name;     // NN_name
  fs::path source;
  std::string group;    // "lesson" or "notebook"
};

// The RESULT line of OUT/NAME.log: "RESULT 01_x checks=7/7 files=3 status=PASS".
std::string result_of(const fs::path& log) {
  std::string result;
  for (const std::string& line : lines_of(read_text(log)))
    if (line.rfind("RESULT ", 0) == 0) result = line;
  return result;
}

std::string field(const std::string& result, const std::string& key) {
  const size_t p = result.find(" " + key + "=");
  if (p == std::string::npos) return "";
  const size_t start = p + key.size() + 2;
  return result.substr(start, result.find(' ', start) - start);
}

std::string section(Page& page, const Entry& e) {
  std::string s = "<section class=\"lesson\" id=\"" + escape_html(e.name) + "\">\n";
  notebook::Summary summary;
  std::string parse_error;
  try {
    summary = notebook::summarize(notebook::parse_percent(read_text(e.source), e.source.generic_string()));
  } catch (const std::exception& ex) {
    parse_error = ex.what();
  }
  const std::string title = summary.title.empty() ? e.name : summary.title;
  s += "<h2><a href=\"#" + escape_html(e.name) + "\">" + inline_html(title) + "</a></h2>\n";
  if (!summary.sentence.empty()) s += "<p class=\"summary\">" + inline_html(summary.sentence) + "</p>\n";
  if (!parse_error.empty())
    s += "<p class=\"warn\">This source is not a valid percent-format file: " + escape_html(parse_error) + "</p>\n";

  // Links: notebook, source, where its exercise is, log with its result.
  std::vector<std::string> links;
  const fs::path nb = page.out / "notebooks" / (e.name + ".ipynb");
  if (fs::is_regular_file(nb)) links.push_back("<a href=\"" + url(page.rel(nb)) + "\">notebook (.ipynb)</a>");
  links.push_back("<a href=\"" + url(page.rel(e.source)) + "\">source (" + escape_html(e.source.filename().string()) + ")</a>");
  if (read_text(e.source).find("// EXERCISE") != std::string::npos)
    links.push_back("exercise: the <code>// EXERCISE</code> block in " + escape_html(e.source.filename().string()));
  const fs::path log = page.out / (e.name + ".log");
  if (fs::is_regular_file(log)) {
    links.push_back("<a href=\"" + url(page.rel(log)) + "\">narration log</a>");
    const std::string result = result_of(log);
    const std::string status = field(result, "status"), checks = field(result, "checks");
    if (!status.empty())
      links.push_back(std::string("<span class=\"badge ") + (status == "PASS" ? "pass" : "fail") + "\">" +
                      escape_html(status) + (checks.empty() ? "" : " · checks " + escape_html(checks)) + "</span>");
  }
  s += "<p class=\"links\">";
  for (size_t i = 0; i < links.size(); ++i) s += (i ? " · " : "") + links[i];
  s += "</p>\n";

  const std::string intro = prose_html(summary.intro, page.rel(e.source.parent_path()) + "/");
  if (!intro.empty()) s += "<details><summary>Introduction</summary>\n" + intro + "</details>\n";

  const fs::path dir = page.out / e.name;
  if (!fs::is_regular_file(dir / "manifest.tsv")) {
    s += std::string("<p class=\"note\">No figures yet: ") +
         (e.group == "lesson" ? "<code>make run</code> draws them." : "<code>make notebooks</code> draws them.") +
         "</p>\n";
  } else {
    const std::vector<Figure> figures = read_manifest(dir);
    if (figures.empty()) s += "<p class=\"note\">This program drew no figures.</p>\n";
    s += "<div class=\"figures\">\n";
    for (const Figure& f : figures) s += page.figure(dir / f.file, f.caption, f.file, f.kind == "timing");
    s += "</div>\n";
  }
  s += "</section>\n";
  return s;
}

// OUT/bench/ or OUT/lra/: every PNG (captions from a manifest.tsv there, if any), the markdown tables inline,
// links to the CSV files.
std::string results_section(Page& page, const std::string& sub, const std::string& title, const std::string& how) {
  const fs::path dir = page.out / sub;
  if (!fs::is_directory(dir)) return "";
  std::vector<fs::path> pngs, tables, others;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext == ".png") pngs.push_back(entry.path());
    else if (ext == ".md") tables.push_back(entry.path());
    else if (ext == ".csv" || ext == ".json" || ext == ".txt" || ext == ".html") others.push_back(entry.path());
  }
  if (pngs.empty() && tables.empty() && others.empty()) return "";
  std::sort(pngs.begin(), pngs.end());
  std::sort(tables.begin(), tables.end());
  std::sort(others.begin(), others.end());
  std::vector<Figure> manifest;
  if (fs::is_regular_file(dir / "manifest.tsv")) manifest = read_manifest(dir);
  std::string s = "<section class=\"lesson\" id=\"" + sub + "\">\n<h2><a href=\"#" + sub + "\">" + escape_html(title) +
                  "</a></h2>\n<p class=\"summary\">" + how + "</p>\n";
  if (!others.empty()) {
    s += "<p class=\"links\">";
    for (size_t i = 0; i < others.size(); ++i)
      s += std::string(i ? " · " : "") + "<a href=\"" + url(page.rel(others[i])) + "\">" +
           escape_html(others[i].filename().string()) + "</a>";
    s += "</p>\n";
  }
  if (!pngs.empty()) {
    s += "<div class=\"figures\">\n";
    for (const fs::path& p : pngs) {
      std::string caption;
      for (const Figure& f : manifest)
        if (f.file == p.filename().string()) caption = f.caption;
      s += page.figure(p, caption, p.filename().string(), true);
    }
    s += "</div>\n";
  }
  for (const fs::path& t : tables) {
    std::string text = read_text(t);
    if (text.size() > 20000) text = text.substr(0, 20000) + "\n...";
    s += "<h4>" + escape_html(t.filename().string()) + "</h4>\n<pre>" + escape_html(text) + "</pre>\n";
  }
  s += "</section>\n";
  return s;
}

const char* kStyle = R"(body{margin:0;background:#f5f6f8;color:#1d2228;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:8px 24px 48px}
header h1{margin:24px 0 4px;font-size:30px}
header p{margin:4px 0;color:#444}
nav{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:8px 20px;margin:16px 0}
nav ol{columns:2;column-gap:32px;margin:8px 0;padding-left:24px}
nav h2{font-size:18px;margin:8px 0}
section.lesson{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 24px 20px;margin:20px 0}
section.lesson h2{margin:8px 0 4px;font-size:24px}
section.lesson h2 a{color:inherit;text-decoration:none}
h3.group{margin:36px 0 0;font-size:22px;color:#333;border-bottom:2px solid #dde1e6}
.summary{font-size:17px;margin:4px 0 8px}
.links{margin:4px 0 8px;font-size:15px}
.note{color:#666;font-size:14px}
.warn{color:#a50e0e}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:13px;font-weight:600}
.badge.pass{background:#e6f4ea;color:#137333}
.badge.fail{background:#fce8e6;color:#a50e0e}
details{margin:4px 0 12px;font-size:15px}
details summary{cursor:pointer;color:#0b57d0}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:16px;margin-top:8px}
figure{margin:0;border:1px solid #e4e7eb;border-radius:6px;padding:8px;background:#fff}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
@media (min-width:900px){figure.wide{grid-column:span 2}}
figcaption{font-size:14px;color:#3a3f45;margin-top:6px}
code{background:#eef0f3;padding:1px 4px;border-radius:3px;font-size:90%}
pre{background:#f6f8fa;border:1px solid #e4e7eb;padding:8px 12px;overflow:auto;font-size:13px}
a{color:#0b57d0}
#broken-images{display:none;background:#fce8e6;color:#a50e0e;border:1px solid #a50e0e;padding:8px 16px;margin:16px 0;border-radius:6px}
)";

// After load: list the images that did not decode (scripts/check-gallery.sh reads the attributes).
const char* kImageCheck = R"(window.addEventListener("load", function () {
  var broken = [];
  for (var i = 0; i < document.images.length; i++) {
    var img = document.images[i];
    if (!img.complete || img.naturalWidth === 0) broken.push(img.getAttribute("src"));
  }
  document.body.setAttribute("data-images", String(document.images.length));
  document.body.setAttribute("data-broken-images", broken.join(" "));
  if (broken.length) {
    var banner = document.getElementById("broken-images");
    banner.textContent = broken.length + " image(s) failed to load: " + broken.join(", ");
    banner.style.display = "block";
  }
});
)";

// Where to begin, and where the exercises are: under the page title.
std::string start_here(const Page& page) {
  std::string s = "<p>New here? Start with the ";
  const fs::path readme = page.root / "README.md";
  if (fs::is_regular_file(readme)) {
    const std::string rel = page.rel(readme);
    s += "<a href=\"" + url(rel) + "\">README</a> (<code>" + escape_html(rel) + "</code> from this page)";
  } else {
    s += "README (README.md at the top of the project)";
  }
  s += ": it gives the path through the lessons, starting at 00, and what each one needs.</p>\n"
       "<p>Exercises: each lesson's EXERCISE block (between <code>// EXERCISE</code> and <code>// END EXERCISE</code> "
       "in <code>lessons/NN_name.cpp</code>) is the code you are invited to change. Edit it, rebuild with "
       "<code>make</code>, rerun the lesson (<code>build/lessons/NN_name</code>): its self-checks print PASS or FAIL. "
       "Run a lesson with <code>--solution</code> to see a reference solution.</p>\n";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Page page;
  page.out = "out";
  page.root = ".";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--out" || arg == "--root") && i + 1 < argc) {
      (arg == "--out" ? page.out : page.root) = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: gallery [--out DIR] [--root DIR]\n"
                   "Write DIR/index.html (default out/index.html): every lesson and companion notebook of the\n"
                   "project at ROOT (default .) with its summary, figures (DIR/NAME/manifest.tsv) and links, then\n"
                   "the plots under DIR/bench/ and DIR/lra/.\n";
      return 0;
    } else {
      std::cerr << "gallery: unknown argument '" << arg << "' (usage: gallery [--out DIR] [--root DIR])\n";
      return 2;
    }
  }

  std::vector<Entry> entries;
  auto collect = [&](const fs::path& dir, const std::string& group) {
    std::vector<Entry> found;
    if (!fs::is_directory(dir)) return;
    for (const auto& f : fs::directory_iterator(dir)) {
      const std::string file = f.path().filename().string();
      if (!f.is_regular_file() || f.path().extension() != ".cpp") continue;
      if (group == "lesson" && !(file[0] >= '0' && file[0] <= '9')) continue;
      if (group == "notebook") {  // a companion notebook starts with a prose cell; the tools do not
        const std::string text = read_text(f.path());
        const size_t p = text.find_first_not_of(" \t\r\n");
        if (p == std::string::npos || text.compare(p, 16, "// %% [markdown]") != 0) continue;
      }
      found.push_back({f.path().stem().string(), f.path(), group});
    }
    std::sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    entries.insert(entries.end(), found.begin(), found.end());
  };
  collect(page.root / "lessons", "lesson");
  collect(page.root / "notebooks_cpp", "notebook");

  std::string body;
  std::string group;
  for (const Entry& e : entries) {
    if (e.group != group) {
      group = e.group;
      body += group == "lesson" ? "<h3 class=\"group\" id=\"lessons\">Lessons</h3>\n"
                                : "<h3 class=\"group\" id=\"notebooks\">Companion notebooks</h3>\n";
    }
    body += section(page, e);
  }
  std::string results = results_section(page, "bench", "Benchmarks: time and memory vs n",
                                         "Made by <code>make bench</code> (times are measured on this machine).");
  results += results_section(page, "lra", "Long Range Arena", "Made by <code>make lra</code>.");
  results += results_section(page, "lm", "Language models on real text",
                             "Made by <code>make lm</code> (every scheme pretrained on the King James Bible) and "
                             "<code>attnzoo lm attention</code> (attention.html: hover a character to see where a "
                             "trained head looks).");
  if (!results.empty()) body += "<h3 class=\"group\" id=\"results\">Results</h3>\n" + results;

  // Table of contents.
  std::string toc = "<nav>\n<h2>Contents</h2>\n<ol>\n";
  for (const Entry& e : entries) {
    std::string title = e.name;
    try {
      const notebook::Summary s = notebook::summarize(notebook::parse_percent(read_text(e.source), e.source.generic_string()));
      if (!s.title.empty()) title = s.title;
    } catch (const std::exception&) {
    }
    toc += "<li><a href=\"#" + escape_html(e.name) + "\">" + inline_html(title) + "</a>" +
           (e.group == "notebook" ? " <span class=\"note\">(companion notebook)</span>" : "") + "</li>\n";
  }
  if (fs::is_directory(page.out / "bench")) toc += "<li><a href=\"#bench\">Benchmarks</a></li>\n";
  if (fs::is_directory(page.out / "lra")) toc += "<li><a href=\"#lra\">Long Range Arena</a></li>\n";
  if (fs::is_directory(page.out / "lm")) toc += "<li><a href=\"#lm\">Language models on real text</a></li>\n";
  toc += "</ol>\n</nav>\n";

  int lessons = 0, notebooks = 0;
  for (const Entry& e : entries) (e.group == "lesson" ? lessons : notebooks)++;
  std::string doc = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>attnzoo — gallery</title>\n<style>\n" +
                    std::string(kStyle) + "</style>\n</head>\n<body>\n<main>\n<header>\n<h1>attnzoo — gallery</h1>\n" +
                    "<p>Efficient Transformers from scratch in C++: " + std::to_string(lessons) + " lessons, " +
                    std::to_string(notebooks) + " companion notebooks, " + std::to_string(page.images) +
                    " figures. Click a figure for the full-size PNG.</p>\n" + start_here(page) +
                    "<p class=\"note\">Written by <code>build/tools/gallery</code> (tools/gallery.cpp) from "
                    "the lessons' figure manifests; <code>make run</code> and <code>make notebooks</code> rewrite "
                    "it.</p>\n</header>\n<div id=\"broken-images\"></div>\n" +
                    toc + body + "</main>\n<script>\n" + kImageCheck + "</script>\n</body>\n</html>\n";

  std::error_code ec;
  fs::create_directories(page.out, ec);
  const fs::path target = page.out / "index.html";
  const fs::path partial = page.out / "index.html.partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << doc;
    if (!out.good()) {
      std::cerr << "gallery: cannot write " << partial.string() << "\n";
      return 2;
    }
  }
  fs::rename(partial, target, ec);
  if (ec) {
    std::cerr << "gallery: cannot write " << target.string() << ": " << ec.message() << "\n";
    return 2;
  }
  std::cout << "gallery: wrote " << target.string() << " (" << entries.size() << " lessons and notebooks, "
            << page.images << " figures" << (page.warnings ? ", " + std::to_string(page.warnings) + " warnings" : "")
            << ")\n";
  return 0;
}
