// tools/nbrun.cpp — nbrun: turn a percent-format C++ program (a lesson, or a companion notebook in
// notebooks_cpp/) into a Jupyter notebook with its printed output and its pictures.
//
//   build/tools/nbrun lessons/01_attention_is_quadratic.cpp --out-dir out/notebooks  (one line:)
//       --cxx g++ --cxxflags "-std=c++17 -O3 -I. ..." --ldlibs "build/libattnzoo.a -lopenblas ..." -- --out out
//   make notebooks          # every lesson and companion, with the Makefile's own compiler and flags
//
// What it does, per SOURCE:
//   1. reads it and cuts it into cells (tools/percent.h: where markers may stand, and the errors);
//   2. writes an instrumented copy to a temporary directory: each code-cell marker inside main() gets a
//      boundary print on the same line, and `#line 1 "SOURCE"` keeps every compiler message pointing into the
//      original file;
//   3. compiles it: CXX CXXFLAGS -iquote DIR_OF_SOURCE COPY -o BINARY LDFLAGS LDLIBS (run from the current
//      directory, so -I. means the project root; -MMD/-MP/-MD are dropped);
//   4. runs BINARY with the arguments after `--` (stdin /dev/null, same working directory) and sorts what it
//      prints into cells as it arrives: text before the first boundary belongs to the cell holding main's `{`;
//      every "[figure] PATH — caption" line (lessons/lesson.h prints one per L.show) is followed by the PNG
//      at PATH, read right then, as an inline image (tools/ipynb.h); stderr becomes a stderr stream;
//   5. writes OUT_DIR/NAME.ipynb (nbformat 4.5, language C++17, no kernelspec) laid out as a document
//      (tools/ipynb.h, document_cells): the prose, a short setup cell, each step's code with its output and
//      pictures (each figure with its caption below it, instead of the "[figure] ..." line), and the helpers
//      defined before main() in an appendix at the end. The notebooks open in Jupyter, VS Code and on GitHub
//      with their pictures, without any C++ kernel. Same source and seed, same bytes, except for numbers the
//      program itself prints differently (timings).
// A failure names the cell whose output was seen last and shows the error, and no notebook is written:
//   nbrun: lessons/05_x.cpp: cell 14 (line 210): the program exited with status 2
//     error: matmul: (2,3) @ (4,5): inner dims 3 != 4
// Compile errors name the cell of the first error line. With several SOURCEs, a failure does not stop the
// others; a summary follows. Exit status: 0 every notebook written, 1 a compile or run failed, 2 bad usage or a
// malformed source (one line "PATH:LINE: what is wrong").
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include "tools/ipynb.h"
#include "tools/percent.h"

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: nbrun [options] SOURCE.cpp... [-- PROGRAM ARGS...]\n"
    "Compile and run each percent-format C++ SOURCE once and write its notebook (NAME.ipynb).\n"
    "  -o FILE.ipynb      where to write the notebook (one SOURCE only)\n"
    "  --out-dir DIR      write DIR/NAME.ipynb for each SOURCE (default out/notebooks)\n"
    "  --cxx CMD          the compiler (default: $CXX, else g++)\n"
    "  --cxxflags FLAGS   compile flags (default: $CXXFLAGS, else -std=c++17 -O2 -I.)\n"
    "  --ldflags FLAGS    link flags (default: $LDFLAGS)\n"
    "  --ldlibs LIBS      libraries, e.g. the engine and BLAS (default: $LDLIBS)\n"
    "  --timeout SECONDS  longest a program may run (default 900)\n"
    "  -j, --jobs N       compile N SOURCEs at a time (default 1); the programs still run one at a time\n"
    "  --echo             show the program's output while it runs\n"
    "  --keep-temp        keep the instrumented copy and its binary (their directory is printed)\n"
    "  --check            only read the SOURCEs and list their cells (no compile, no run)\n"
    "  --help             this text\n"
    "Arguments after -- go to every program (e.g. -- --out out --seed 1).\n"
    "Exit status: 0 every notebook written, 1 a compile or run failed, 2 bad usage or a malformed source.\n";

struct Options {
  std::vector<std::string> sources;
  std::vector<std::string> program_args;
  std::string out_file;
  std::string out_dir = "out/notebooks";
  std::string cxx, cxxflags, ldflags, ldlibs;
  double timeout = 900.0;
  int jobs = 1;
  bool echo = false, keep_temp = false, check_only = false;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

Options parse_options(int argc, char** argv) {
  Options o;
  o.cxx = env_or("CXX", "g++");
  o.cxxflags = env_or("CXXFLAGS", "-std=c++17 -O2 -I.");
  o.ldflags = env_or("LDFLAGS", "");
  o.ldlibs = env_or("LDLIBS", "");
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (int j = i + 1; j < argc; ++j) o.program_args.push_back(argv[j]);
      break;
    }
    std::string value;
    bool has_value = false;
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "-o") {
      o.out_file = take();
    } else if (arg == "--out-dir") {
      o.out_dir = take();
    } else if (arg == "--cxx") {
      o.cxx = take();
    } else if (arg == "--cxxflags") {
      o.cxxflags = take();
    } else if (arg == "--ldflags") {
      o.ldflags = take();
    } else if (arg == "--ldlibs") {
      o.ldlibs = take();
    } else if (arg == "--timeout") {
      const std::string s = take();
      char* end = nullptr;
      o.timeout = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || !(o.timeout > 0)) throw UsageError("--timeout wants a number of seconds, got '" + s + "'");
    } else if (arg == "--jobs" || arg == "-j") {
      const std::string s = take();
      char* end = nullptr;
      const long n = std::strtol(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || n < 1 || n > 64)
        throw UsageError("--jobs wants a count from 1 to 64, got '" + s + "'");
      o.jobs = static_cast<int>(n);
    } else if (arg == "--echo") {
      o.echo = true;
    } else if (arg == "--keep-temp") {
      o.keep_temp = true;
    } else if (arg == "--check") {
      o.check_only = true;
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option '" + std::string(argv[i]) + "' (see --help)");
    } else {
      o.sources.push_back(arg);
    }
  }
  if (o.sources.empty()) throw UsageError("no SOURCE given (see --help)");
  if (!o.out_file.empty() && o.sources.size() != 1) throw UsageError("-o takes one SOURCE; use --out-dir for several");
  return o;
}

std::string read_text(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = in.good();
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The flags without the ones that make gcc write dependency files (the Makefile's -MMD -MP).
std::string without_dep_flags(const std::string& flags) {
  std::istringstream in(flags);
  std::string out, word;
  while (in >> word)
    if (word != "-MMD" && word != "-MP" && word != "-MD") out += (out.empty() ? "" : " ") + word;
  return out;
}

std::string random_tag() {
  unsigned char bytes[6] = {};
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  uint64_t mix = static_cast<uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ULL ^
                 static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::string tag;
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 6; ++i) {
    const unsigned b = bytes[i] ^ static_cast<unsigned>((mix >> (8 * i)) & 0xFF);
    tag += hex[b >> 4];
    tag += hex[b & 15];
  }
  return tag;
}

// ---- child processes ---------------------------------------------------------------------------------------

struct ProcessResult {
  bool started = false;
  std::string start_error;
  bool exited = false;
  int exit_status = -1;
  int signal = 0;
  bool timed_out = false;
  double seconds = 0.0;
};

// Runs argv (stdin /dev/null) in its own process group and hands stdout and stderr to the callbacks as they
// arrive. Kills the group after `timeout` seconds.
template <class OnOut, class OnErr>
ProcessResult run_process(const std::vector<std::string>& argv, double timeout, OnOut on_out, OnErr on_err) {
  ProcessResult r;
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  // O_CLOEXEC on every end: a child forked by another thread must not inherit this child's pipes (it would hold
  // them open, and this reader would wait for that other program too); dup2 below clears it on fds 1 and 2.
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(exec_pipe, O_CLOEXEC) != 0) {
    r.start_error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  // Everything the child needs is made before fork(): other threads may be compiling at the same time, and
  // the child of a threaded program should only call async-signal-safe functions until execvp.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid < 0) {
    r.start_error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    setpgid(0, 0);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(exec_pipe[0]);
    execvp(args[0], args.data());
    const int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(exec_pipe[1]);
  int exec_errno = 0;
  if (read(exec_pipe[0], &exec_errno, sizeof exec_errno) == static_cast<ssize_t>(sizeof exec_errno)) {
    close(exec_pipe[0]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    waitpid(pid, nullptr, 0);
    r.start_error = "cannot run " + argv[0] + ": " + std::strerror(exec_errno);
    return r;
  }
  close(exec_pipe[0]);
  r.started = true;

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buffer[65536];
  while (open_fds > 0) {
    const double left = timeout - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      r.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    const int ready = poll(fds, 2, static_cast<int>(std::min(left, 1.0) * 1000) + 1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = read(fds[k].fd, buffer, sizeof buffer);
      if (got > 0) {
        const std::string chunk(buffer, static_cast<size_t>(got));
        if (k == 0) on_out(chunk); else on_err(chunk);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
}

// ---- one notebook ------------------------------------------------------------------------------------------

struct Result {
  int status = 0;  // 0 written, 1 compile/run failure, 2 malformed source
  std::string summary;
  int cells = 0, figures = 0;
  double compile_seconds = 0.0, run_seconds = 0.0;
};

std::string cell_name(const notebook::PercentSource& src, int index) {
  if (index < 0 || index >= static_cast<int>(src.cells.size())) return "before the first cell";
  const notebook::Cell& c = src.cells[static_cast<size_t>(index)];
  return "cell " + std::to_string(index + 1) + " (line " + std::to_string(c.marker_line > 0 ? c.marker_line : c.first_line) + ")";
}

// The last `max_lines` lines of text, each indented by two spaces.
std::string indented_tail(const std::string& text, size_t max_lines) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  const size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  if (from > 0) out += "  ...\n";
  for (size_t i = from; i < lines.size(); ++i) out += "  " + lines[i] + "\n";
  return out;
}

std::string indented_head(const std::string& text, size_t max_lines) {
  std::istringstream in(text);
  std::string out;
  size_t count = 0;
  for (std::string line; std::getline(in, line);) {
    if (count++ == max_lines) {
      out += "  ...\n";
      break;
    }
    out += "  " + line + "\n";
  }
  return out;
}

// Reads a figure the program announced: must exist and be a PNG.
std::string read_png(const std::string& path, std::string* bytes) {
  bool ok = false;
  *bytes = read_text(path, &ok);
  if (!ok) return "cannot read the file (does it exist? paths are relative to " + fs::current_path().string() + ")";
  if (!notebook::is_png(*bytes)) return "not a PNG file";
  return "";
}

// One SOURCE on its way to a notebook: parsed, instrumented, compiled (phase 2, several at a time), run (phase 3,
// one at a time, so that the timings the lessons print are not disturbed by a compiler on the other core).
struct Job {
  std::string source;
  Result res;  // res.status != 0: failed at some phase, the later ones skip it
  notebook::PercentSource src;
  std::string tmp, abs_source, tag, binary, command, out_path;
  bool keep_temp = false;
  Job() = default;
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  ~Job() {  // the temporary directory of the instrumented copy and its binary
    if (tmp.empty()) return;
    std::error_code ec;
    if (keep_temp) {
      std::cerr << "nbrun: kept " << tmp << "\n";
    } else {
      fs::remove_all(tmp, ec);
    }
  }
};

// Phase 1: read and cut SOURCE into cells, write the instrumented copy into a fresh temporary directory.
void prepare(Job& job, const Options& opt) {
  const std::string& source = job.source;
  Result& res = job.res;
  bool ok = false;
  const std::string text = read_text(source, &ok);
  if (!ok || fs::is_directory(source)) {
    res.status = 2;
    res.summary = source + ": cannot read the file";
    return;
  }
  notebook::PercentSource& src = job.src;
  try {
    src = notebook::parse_percent(text, source);
  } catch (const notebook::SourceError& e) {
    res.status = 2;
    res.summary = e.what();
    return;
  }
  res.cells = static_cast<int>(src.cells.size());
  if (src.main_cell < 0) {
    res.status = 2;
    res.summary = source + ": no main() function: there is nothing to run";
    return;
  }
  const std::string name = fs::path(source).stem().string();
  job.out_path = opt.out_file.empty() ? (fs::path(opt.out_dir) / (name + ".ipynb")).string() : opt.out_file;

  std::string tmp_template = (fs::temp_directory_path() / ("attnzoo-nb-" + name + "-XXXXXX")).string();
  std::vector<char> tmp_buf(tmp_template.begin(), tmp_template.end());
  tmp_buf.push_back('\0');
  if (!mkdtemp(tmp_buf.data())) {
    res.status = 1;
    res.summary = source + ": cannot make a temporary directory: " + std::strerror(errno);
    return;
  }
  job.tmp = tmp_buf.data();
  job.keep_temp = opt.keep_temp;

  job.tag = random_tag();
  job.abs_source = fs::absolute(source).lexically_normal().string();
  const std::string copy = job.tmp + "/" + name + ".nb.cpp";
  job.binary = job.tmp + "/" + name;
  {
    std::ofstream out(copy, std::ios::binary);
    out << notebook::instrument(src, job.tag, job.abs_source);
    if (!out.good()) {
      res.status = 1;
      res.summary = source + ": cannot write " + copy;
      return;
    }
  }
  const std::string dir_of_source = fs::path(job.abs_source).parent_path().string();
  job.command = opt.cxx + " " + without_dep_flags(opt.cxxflags) + " -iquote " + shell_quote(dir_of_source) + " " +
                shell_quote(copy) + " -o " + shell_quote(job.binary) + " " + opt.ldflags + " " + opt.ldlibs;
}

// Phase 2: compile the instrumented copy (called from several threads at once, one job each).
void compile(Job& job, const Options& opt) {
  const std::string& source = job.source;
  const std::string& abs_source = job.abs_source;
  const std::string& command = job.command;
  const notebook::PercentSource& src = job.src;
  Result& res = job.res;
  std::string compiler_output;
  const ProcessResult compiled = run_process(
      {"/bin/sh", "-c", command}, opt.timeout, [&](const std::string& s) { compiler_output += s; },
      [&](const std::string& s) { compiler_output += s; });
  res.compile_seconds = compiled.seconds;
  if (!compiled.started || !compiled.exited || compiled.exit_status != 0) {
    res.status = 1;
    // The first "FILE:LINE:COL: error" that names the source tells the cell.
    std::string where;
    std::istringstream lines(compiler_output);
    for (std::string line; where.empty() && std::getline(lines, line);) {
      if (line.rfind(abs_source + ":", 0) != 0 || line.find("error:") == std::string::npos) continue;
      const int at = std::atoi(line.c_str() + abs_source.size() + 1);
      if (at > 0) where = " in " + cell_name(src, src.cell_at_line(at));
    }
    res.summary = source + ": compile error" + where + ":\n" +
                  (compiled.started ? indented_head(compiler_output, 30) : "  " + compiled.start_error + "\n") +
                  "  (command: " + command + ")";
  }
}

// Phase 3: run the binary, sort its output into cells, write the notebook.
void run_and_write(Job& job, const Options& opt) {
  const std::string& source = job.source;
  const notebook::PercentSource& src = job.src;
  const std::string& tag = job.tag;
  const std::string& binary = job.binary;
  const std::string& out_path = job.out_path;
  Result& res = job.res;
  // Run.
  notebook::OutputSplitter splitter(tag, src.main_cell, read_png);
  if (opt.echo)
    splitter.echo = [](const std::string& name, const std::string& s) { (name == "stderr" ? std::cerr : std::cout) << s << std::flush; };
  std::vector<std::string> run_argv = {binary};
  run_argv.insert(run_argv.end(), opt.program_args.begin(), opt.program_args.end());
  const ProcessResult ran = run_process(
      run_argv, opt.timeout,
      [&](const std::string& s) { splitter.feed_stdout(s); },
      [&](const std::string& s) { splitter.feed_stderr(s); });
  splitter.finish();
  res.run_seconds = ran.seconds;
  const std::string where = cell_name(src, splitter.current_cell());
  std::string failure;
  if (!ran.started) {
    failure = ran.start_error;
  } else if (ran.timed_out) {
    failure = "timed out after " + std::to_string(static_cast<int>(opt.timeout)) + " s in " + where;
  } else if (!ran.exited) {
    failure = where + ": the program was killed by signal " + std::to_string(ran.signal) + " (" + strsignal(ran.signal) + ")";
  } else if (ran.exit_status != 0) {
    failure = where + ": the program exited with status " + std::to_string(ran.exit_status);
    // A self-check that failed (exit 1) is named with the cell that printed it.
    for (const auto& cell : splitter.outputs)
      for (const notebook::Output& o : cell.second) {
        if (o.kind != notebook::Output::Kind::stream || o.name != "stdout") continue;
        std::istringstream in(o.text);
        for (std::string line; std::getline(in, line);)
          if (line.rfind("FAIL  ", 0) == 0) failure += "\n  " + cell_name(src, cell.first) + ": " + line;
      }
  } else if (!splitter.figure_problems.empty()) {
    for (const auto& p : splitter.figure_problems)
      failure += (failure.empty() ? "" : "\n  ") + cell_name(src, p.first) + ": " + p.second;
  }
  if (!failure.empty()) {
    // The error text: what the failing cell wrote to stderr (else all of stderr, else its last stdout lines).
    auto stream_of = [&](int cell, const std::string& name) {
      std::string text;
      auto it = splitter.outputs.find(cell);
      if (it != splitter.outputs.end())
        for (const notebook::Output& o : it->second)
          if (o.kind == notebook::Output::Kind::stream && o.name == name) text += o.text;
      return text;
    };
    std::string error_text = stream_of(splitter.current_cell(), "stderr");
    if (error_text.empty())
      for (const auto& cell : splitter.outputs) error_text += stream_of(cell.first, "stderr");
    if (error_text.empty()) error_text = stream_of(splitter.current_cell(), "stdout");
    res.status = 1;
    res.summary = source + ": " + failure + "\n" + indented_tail(error_text, 20);
    if (!res.summary.empty() && res.summary.back() == '\n') res.summary.pop_back();
    return;
  }

  // Write the notebook (atomically: a reader never sees half a file).
  nlohmann::json args = nlohmann::json::array();
  for (const std::string& a : opt.program_args) args.push_back(a);
  const nlohmann::json nb = notebook::make_notebook(
      src, splitter.outputs, {{"attnzoo", {{"source", source}, {"args", args}, {"made_by", "tools/nbrun.cpp"}}}});
  res.cells = static_cast<int>(nb["cells"].size());
  for (const auto& cell : splitter.outputs)
    for (const notebook::Output& o : cell.second) res.figures += o.kind == notebook::Output::Kind::image;
  std::error_code ec;
  const fs::path parent = fs::path(out_path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  const std::string partial = out_path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << notebook::dump_notebook(nb);
    if (!out.good()) {
      res.status = 1;
      res.summary = source + ": cannot write " + partial;
      return;
    }
  }
  fs::rename(partial, out_path, ec);
  if (ec) {
    res.status = 1;
    res.summary = source + ": cannot write " + out_path + ": " + ec.message();
    return;
  }
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << "wrote " << out_path << ": " << res.cells << " cells, " << res.figures << " figures (compile "
    << res.compile_seconds << " s, run " << res.run_seconds << " s)";
  res.summary = s.str();
}

// --check: the cells of a source, one line each.
int check(const Options& opt) {
  int status = 0;
  for (const std::string& source : opt.sources) {
    bool ok = false;
    const std::string text = read_text(source, &ok);
    if (!ok) {
      std::cerr << "nbrun: " << source << ": cannot read the file\n";
      status = 2;
      continue;
    }
    try {
      const notebook::PercentSource src = notebook::parse_percent(text, source);
      int markdown = 0, code = 0, boundaries = 0;
      for (const notebook::Cell& c : src.cells) {
        (c.kind == notebook::CellKind::markdown ? markdown : code)++;
        boundaries += c.boundary;
      }
      std::cout << source << ": " << src.cells.size() << " cells (" << markdown << " markdown, " << code << " code), ";
      if (src.main_cell >= 0) {
        std::cout << "main() in cell " << src.main_cell + 1 << ", " << boundaries << " cell boundaries inside main()\n";
      } else {
        std::cout << "no main()\n";
      }
      for (size_t i = 0; i < src.cells.size(); ++i) {
        const notebook::Cell& c = src.cells[i];
        std::string first = c.source.substr(0, c.source.find('\n'));
        if (first.size() > 60) first = first.substr(0, 57) + "...";
        std::cout << "  " << (c.kind == notebook::CellKind::markdown ? "markdown" : "code    ") << " cell " << i + 1
                  << "  lines " << c.first_line << "-" << c.last_line << (c.boundary ? "  [boundary]" : "")
                  << (c.holds_main ? "  [main]" : "") << "  " << first << "\n";
      }
    } catch (const notebook::SourceError& e) {
      std::cerr << "nbrun: " << e.what() << "\n";
      status = 2;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  try {
    opt = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "nbrun: " << e.what() << "\n";
    return 2;
  }
  if (opt.check_only) return check(opt);

  // Phase 1 for every SOURCE, phase 2 with --jobs compilers at a time, then phase 3 one SOURCE after another.
  std::vector<std::unique_ptr<Job>> jobs;
  for (const std::string& source : opt.sources) {
    jobs.push_back(std::make_unique<Job>());
    jobs.back()->source = source;
    prepare(*jobs.back(), opt);
  }
  std::atomic<size_t> next{0};
  std::mutex print;
  auto compiler = [&] {
    for (size_t i; (i = next++) < jobs.size();) {
      Job& job = *jobs[i];
      if (job.res.status != 0) continue;
      compile(job, opt);
      if (opt.sources.size() > 1 && job.res.status == 0) {
        std::lock_guard<std::mutex> lock(print);
        std::cout << "nbrun: compiled " << job.source << " (" << static_cast<int>(job.res.compile_seconds + 0.5)
                  << " s)" << std::endl;
      }
    }
  };
  std::vector<std::thread> compilers;
  for (int t = 1; t < std::min<int>(opt.jobs, static_cast<int>(jobs.size())); ++t) compilers.emplace_back(compiler);
  compiler();
  for (std::thread& t : compilers) t.join();

  int worst = 0;
  std::vector<std::pair<std::string, Result>> results;
  for (const std::unique_ptr<Job>& job : jobs) {
    if (job->res.status == 0) {
      if (opt.sources.size() > 1) std::cout << "nbrun: " << job->source << " ..." << std::endl;
      run_and_write(*job, opt);
    }
    const Result& r = job->res;
    if (r.status == 0) {
      std::cout << "nbrun: " << r.summary << std::endl;
    } else {
      std::cerr << "nbrun: " << r.summary << std::endl;
    }
    worst = std::max(worst, r.status);
    results.emplace_back(job->source, r);
  }
  if (results.size() > 1) {
    int written = 0;
    std::cout << "\nnbrun summary:\n";
    for (const auto& [source, r] : results) {
      written += r.status == 0;
      const std::string verdict = r.status == 0   ? "ok     " + std::to_string(r.figures) + " figures"
                                  : r.status == 1 ? "FAILED (compile or run)"
                                                  : "FAILED (malformed source)";
      std::cout << "  " << source << std::string(source.size() < 50 ? 50 - source.size() : 1, ' ') << verdict << "\n";
    }
    std::cout << "  " << written << " of " << results.size() << " notebooks written" << std::endl;
  }
  return worst;
}
