// tests/test_npy_fuzz.cpp — the .npy reader over thousands of deterministic mutants of valid files.
//
// Every mutant must either load a well-formed tensor or throw core::Error whose message is one line of printable
// ASCII naming the file; nothing else (no other exception, no crash — this file also runs under ASan/UBSan).
// Memory: what a load allocates through core::memory (tensors and the reader's buffers) stays within a small
// multiple of the input's own size, so a header that lies about its shape costs nothing.
// A sample of the mutants is also read from a regular file and from a pipe: the three paths agree on whether
// the input is valid and, if so, on the tensor.
//
// The mutants are enumerated (every prefix, every bit of the preamble and header, a grid of header edits, every
// version byte, header-length lies), not drawn at random, so a failure names a case that reproduces.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "core/npy.h"
#include "tests/helpers.h"

namespace npy = core::npy;

namespace {

// A .npy file from header text and data; `len_field` overrides the header length written (a lie) when >= 0.
std::string make_npy(const std::string& header, const std::string& data, int major = 1, int minor = 0,
                     int64_t len_field = -1) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  const uint64_t len = len_field >= 0 ? static_cast<uint64_t>(len_field) : header.size();
  const size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t b = 0; b < len_bytes; ++b) out += static_cast<char>((len >> (8 * b)) & 0xFF);
  return out + header + data;
}

std::string dict(const std::string& descr, const std::string& order, const std::string& shape) {
  return "{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }";
}

// What one load gave: the tensor's shape and bytes, or the error message.
struct Outcome {
  bool loaded = false;
  core::Shape shape;
  std::string values;  // raw bytes of the elements
  std::string error;
};

Outcome run(bool as_int, const std::function<void(Outcome&, bool)>& load) {
  Outcome o;
  try {
    load(o, as_int);
    o.loaded = true;
  } catch (const core::Error& e) {
    o.error = e.what();
  }
  return o;
}

void load_into(Outcome& o, bool as_int, const std::function<core::Tensor()>& f,
               const std::function<core::IntTensor()>& g) {
  if (as_int) {
    const core::IntTensor t = g();
    REQUIRE(t.numel() == core::numel_of(t.shape));
    o.shape = t.shape;
    o.values.assign(reinterpret_cast<const char*>(t.data.data()), sizeof(int64_t) * t.data.size());
  } else {
    const core::Tensor t = f();
    REQUIRE(t.numel() == core::numel_of(t.shape()));
    o.shape = t.shape();
    o.values.assign(reinterpret_cast<const char*>(t.data()), sizeof(float) * t.numel());
  }
}

// Reads `bytes` through a pipe (/dev/fd/N): the whole input sits in the pipe's buffer and the write end is
// closed, so the reader sees a stream of unknown size that ends. Inputs must fit the pipe (64 KiB).
Outcome via_pipe(const std::string& bytes, bool as_int) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(bytes.size() <= 60000);
  REQUIRE(::write(fds[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fds[1]);
  const std::string path = "/dev/fd/" + std::to_string(fds[0]);
  const Outcome o = run(as_int, [&](Outcome& out, bool i) {
    load_into(out, i, [&] { return npy::load(path); }, [&] { return npy::load_int(path); });
  });
  ::close(fds[0]);
  return o;
}

Outcome via_file(const std::string& bytes, bool as_int, const std::string& path) {
  // A new file each time: rewriting a truncated file makes ext4 flush it to disk on close (auto_da_alloc),
  // which made this test wait on the disk for seconds.
  ::unlink(path.c_str());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  return run(as_int, [&](Outcome& out, bool i) {
    load_into(out, i, [&] { return npy::load(path); }, [&] { return npy::load_int(path); });
  });
}

struct Fuzzer {
  testing::TempDir dir{"npy_fuzz"};
  int64_t cases = 0, loaded = 0, rejected = 0, cross_checked = 0;

  // One mutant, as float32 and as int64; every `cross_every`-th also through a file and a pipe.
  void check(const std::string& bytes, const std::string& what, int cross_every = 16) {
    for (int as_int = 0; as_int < 2; ++as_int) {
      ++cases;
      core::memory::reset_peak();
      const size_t before = core::memory::current_bytes();
      const Outcome mem = run(as_int, [&](Outcome& out, bool i) {
        load_into(out, i, [&] { return npy::load_from_bytes(bytes, "fuzz.npy"); },
                  [&] { return npy::load_int_from_bytes(bytes, "fuzz.npy"); });
      });
      // A tensor and the reader's chunk buffer: at most twice the input (int32 widens to int64), plus alignment.
      const size_t used = core::memory::peak_bytes() - before;
      if (used > 2 * bytes.size() + 4096) {
        FAIL_CHECK(what, ": allocated ", used, " bytes for an input of ", bytes.size());
      }
      if (mem.loaded) {
        ++loaded;
      } else {
        ++rejected;
        if (!testing::printable_line(mem.error) || mem.error.rfind("npy: fuzz.npy: ", 0) != 0) {
          FAIL_CHECK(what, ": message is not one printable line naming the file: ", testing::printable_line(mem.error),
                     " ", mem.error.size(), " bytes");
        }
      }
      if (cases % cross_every != 0 || bytes.size() > 60000) continue;
      ++cross_checked;
      for (int k = 0; k < 2; ++k) {
        core::memory::reset_peak();
        const size_t start = core::memory::current_bytes();
        const Outcome other = k == 0 ? via_pipe(bytes, as_int) : via_file(bytes, as_int, dir / "m.npy");
        // A stream may hold one chunk (at most 1 MiB) before it finds the data short.
        const size_t cap = 2 * bytes.size() + 4096 + (k == 0 ? (size_t(1) << 20) : 0);
        if (core::memory::peak_bytes() - start > cap) FAIL_CHECK(what, ": ", k == 0 ? "pipe" : "file", " allocated too much");
        if (other.loaded != mem.loaded || other.shape != mem.shape || other.values != mem.values) {
          FAIL_CHECK(what, (k == 0 ? ": pipe" : ": file"), " disagrees with memory: '", other.error, "' vs '",
                     mem.error, "'");
        }
        if (!other.loaded && !testing::printable_line(other.error)) FAIL_CHECK(what, ": unprintable message");
      }
    }
  }
};

// Valid files to damage: both dtypes, several shapes, formats 1.0, 2.0, 3.0.
std::vector<std::string> valid_files() {
  std::vector<std::string> v;
  v.push_back(make_npy(dict("'<f4'", "False", "(2, 3)"), std::string(24, '\x01')));
  v.push_back(make_npy(dict("'<f4'", "False", "()"), std::string("\x00\x00\x80\x3f", 4)));
  v.push_back(make_npy(dict("'<f4'", "False", "(0, 5)"), ""));
  v.push_back(make_npy(dict("'<i8'", "False", "(3,)"), std::string(24, '\x03')));
  v.push_back(make_npy(dict("'<i4'", "False", "(1, 2)"), std::string(8, '\x04')));
  v.push_back(make_npy(dict("'<f4'", "False", "(4,)"), std::string(16, '\x05'), 2));
  v.push_back(make_npy(dict("'<i8'", "True", "(2,)"), std::string(16, '\x06'), 3));
  std::string padded = dict("'<f4'", "False", "(1, 1, 2)");
  padded.append((64 - (10 + padded.size() + 1) % 64) % 64, ' ');
  v.push_back(make_npy(padded + "\n", std::string(8, '\x07')));
  return v;
}

}  // namespace

TEST_CASE("npy fuzz: truncations, bit flips, length lies and versions of valid files") {
  Fuzzer fz;
  const std::vector<std::string> valid = valid_files();
  for (size_t f = 0; f < valid.size(); ++f) {
    const std::string& file = valid[f];
    const std::string tag = "file " + std::to_string(f);
    // Every prefix (the header is cut at every byte), the whole file, and a few data lengths past it.
    for (size_t len = 0; len <= file.size(); ++len) fz.check(file.substr(0, len), tag + " prefix " + std::to_string(len), 3);
    for (size_t extra : {1, 3, 4, 8, 64, 4096}) fz.check(file + std::string(extra, '\x09'), tag + " +bytes", 1);
    // Every single-bit flip in the preamble and header (and the first data bytes).
    const size_t flip_end = std::min<size_t>(file.size(), 100);
    for (size_t pos = 0; pos < flip_end; ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string m = file;
        m[pos] = static_cast<char>(m[pos] ^ (1 << bit));
        fz.check(m, tag + " flip " + std::to_string(pos) + "." + std::to_string(bit));
      }
    }
    // The header-length field lies: near the truth, zero, the format's maximum.
    const int major = static_cast<unsigned char>(file[6]);
    const size_t len_size = major == 1 ? 2 : 4;
    const uint64_t truth = static_cast<unsigned char>(file[8]) | static_cast<uint64_t>(static_cast<unsigned char>(file[9])) << 8 |
                           (len_size == 4 ? static_cast<uint64_t>(static_cast<unsigned char>(file[10])) << 16 : 0);
    std::vector<uint64_t> lies = {0, 1, 0xFFFF};
    for (int d = -12; d <= 12; ++d)
      if (static_cast<int64_t>(truth) + d >= 0) lies.push_back(static_cast<uint64_t>(static_cast<int64_t>(truth) + d));
    if (len_size == 4) lies.insert(lies.end(), {0x10000, 0x10001, 0x7FFFFFFF, 0xFFFFFFFF});
    for (uint64_t lie : lies) {
      std::string m = file;
      for (size_t b = 0; b < len_size; ++b) m[8 + b] = static_cast<char>((lie >> (8 * b)) & 0xFF);
      fz.check(m, tag + " header length " + std::to_string(lie), 1);
    }
    // Every version byte pair a file could claim.
    for (int ma = 0; ma < 256; ++ma) {
      for (int mi : {0, 1, 255}) {
        std::string m = file;
        m[6] = static_cast<char>(ma);
        m[7] = static_cast<char>(mi);
        fz.check(m, tag + " version " + std::to_string(ma) + "." + std::to_string(mi), 7);
      }
    }
  }
  MESSAGE(fz.cases, " loads: ", fz.loaded, " loaded, ", fz.rejected, " rejected, ", fz.cross_checked,
          " also through a file and a pipe");
  CHECK(fz.loaded > 100);  // the unharmed files and harmless flips (data bytes, spaces) load
  CHECK(fz.rejected > 5000);
}

TEST_CASE("npy fuzz: header dict edits — keys, descr, order, shapes, commas, nesting, unicode") {
  Fuzzer fz;
  // clang-format off
  const std::vector<std::string> descrs = {
      "'<f4'", "'<i8'", "'<i4'", "'<f8'", "'>f4'", "'>i4'", "'|u1'", "'<c8'", "'O'", "''", "'<f4 '", "'f4'",
      "'<f400000000000000'", "\"<f4\"", "<f4", "'<f4", "[('a', '<f4')]", "{'a': 1}", "'<f\xc3\xa9'", "'\x1b[2J'"};
  const std::vector<std::string> orders = {"False", "True", "0", "'False'", "Fals", "None", "True,"};
  const std::vector<std::string> shapes = {
      "()", "(3,)", "(2, 3)", "(2, 3,)", "(0,)", "(0, 1099511627776)", "(1099511627776,)", "(1099511627777,)",
      "(1048576, 1048576)", "(1048576, 1048577)", "(-1,)", "(-0,)", "(2, -3)", "(9223372036854775807,)",
      "(9223372036854775808,)", "(18446744073709551616,)", "(99999999999999999999999999,)", "(3)", "3", "[2, 3]",
      "((2, 3),)", "(2, (3,))", "((),)", "('2',)", "(2 3)", "(2,, 3)", "(,)", "(2.0,)", "(2L,)", "(0x10,)",
      "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
      "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,)",
      "(2\xc2\xa0,)", "(\xef\xbc\x92,)", "(2,"};
  // clang-format on
  // Elements of the shapes above that a reader may accept (-1: never valid), so that two thirds of the mutants
  // carry exactly the data their header describes (and reach the dtype and order checks), the rest a wrong size.
  const std::vector<int64_t> numel = {1, 3, 6, 6, 0, 0, -1, -1, -1, -1, -1, 0, -1, -1, -1, -1, -1, -1, -1, -1,
                                      -1, -1, -1, -1, -1, -1, -1, -1, 2, -1, -1, -1, -1, -1};
  REQUIRE(numel.size() == shapes.size());
  const int64_t data_lens[] = {0, 4, 12, 24, 25, 48};
  int64_t n = 0;
  for (const std::string& d : descrs)
    for (const std::string& o : orders)
      for (size_t si = 0; si < shapes.size(); ++si) {
        const std::string& s = shapes[si];
        const std::string header = dict(d, o, s);
        const int64_t itemsize = d.find("i8") != std::string::npos || d.find("f8") != std::string::npos ? 8 : 4;
        const int64_t len = n % 3 != 0 && numel[si] >= 0 ? numel[si] * itemsize : data_lens[n % 6];
        ++n;
        fz.check(make_npy(header, std::string(static_cast<size_t>(len), '\x0b'), 1 + static_cast<int>(n % 3)),
                 "dict " + header, 29);
      }
  // Whole-dict edits: keys missing, repeated, unknown, misspelt, unicode; commas and braces missing.
  const std::vector<std::string> dicts = {
      "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
      "'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),,}",
      "{'descr': '<f4', 'fortran_order': False}",
      "{'descr': '<f4', 'shape': (2,)}",
      "{'fortran_order': False, 'shape': (2,)}",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shap\xc3\xa9': (2,)}",
      "{'d\xc3\xa9scr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\x1b[31m': 1}",
      "{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}",
      "{descr: '<f4', fortran_order: False, shape: (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} \x00",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n\n\n",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': {'y': {'z': 1}}}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), \"'\": 1}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '" + std::string(70, 'k') + "': 1}",
      "{}", "", "{", "}", "{'", "{'descr", "\xef\xbb\xbf{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      std::string(65000, ' ') + "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      std::string(3000, '{'), std::string(3000, '('), "{'descr': '<f4', 'fortran_order': False, 'shape': " +
      std::string(3000, '(') + "}"};
  for (const std::string& d : dicts)
    for (int64_t len : {0, 8, 9}) fz.check(make_npy(d, std::string(static_cast<size_t>(len), '\0')), "dict edit", 1);
  MESSAGE(fz.cases, " loads: ", fz.loaded, " loaded, ", fz.rejected, " rejected, ", fz.cross_checked,
          " also through a file and a pipe");
  CHECK(fz.loaded > 20);  // the well-formed combinations of descr, order and shape with matching data
  CHECK(fz.rejected > 5000);
}

TEST_CASE("npy fuzz: special files — /dev/null, /dev/zero, a directory, a FIFO") {
  testing::TempDir dir("npy_special_fuzz");
  for (const std::string& path : {std::string("/dev/null"), std::string("/dev/zero")}) {
    const std::string err = testing::error_of([&] { npy::load(path); });
    CHECK(err == "npy: " + path + ": not a .npy file (it does not start with the magic string \\x93NUMPY)");
    CHECK(testing::error_of([&] { npy::load_int(path); }) == err);
  }
  CHECK(testing::error_of([&] { npy::load(dir.path.string()); }) ==
        "npy: cannot read " + dir.path.string() + ": Is a directory");

  // A FIFO: load() opens it and waits for the writer, which a thread plays. The thread blocks SIGPIPE for itself,
  // so when the reader closes early its write fails with EPIPE instead of killing the test runner; the signal
  // left pending for the thread is taken back before it ends.
  const std::string fifo = dir / "q.fifo";
  if (::mkfifo(fifo.c_str(), 0600) != 0) {
    MESSAGE("skipped the FIFO cases: mkfifo failed: ", std::strerror(errno));
    return;
  }
  auto feed = [&](const std::string& bytes) {
    return std::thread([&fifo, bytes] {
      sigset_t pipe_sig;
      sigemptyset(&pipe_sig);
      sigaddset(&pipe_sig, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_sig, nullptr);
      const int fd = ::open(fifo.c_str(), O_WRONLY);  // returns once the reader has opened the FIFO
      if (fd >= 0) {
        size_t done = 0;
        while (done < bytes.size()) {
          const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) break;  // EPIPE: the reader stopped
          done += static_cast<size_t>(w);
        }
        ::close(fd);
      }
      const timespec zero = {0, 0};
      while (sigtimedwait(&pipe_sig, nullptr, &zero) == SIGPIPE) {
      }
    });
  };
  const std::string valid = valid_files()[0];  // (2, 3) float32
  {
    std::thread writer = feed(valid);
    const core::Tensor t = npy::load(fifo);
    writer.join();
    CHECK(t.shape() == core::Shape{2, 3});
  }
  {
    std::thread writer = feed(valid.substr(0, valid.size() - 1));
    const std::string err = testing::error_of([&] { npy::load(fifo); });
    writer.join();
    CHECK(err == "npy: " + fifo + ": truncated: expected 24 bytes of data for shape (2,3), found 23");
  }
  {
    // 4 MiB beyond the data: the reader stops one byte past the data and closes; the writer gets EPIPE.
    std::thread writer = feed(valid + std::string(size_t(4) << 20, '\0'));
    const std::string err = testing::error_of([&] { npy::load(fifo); });
    writer.join();
    CHECK(err == "npy: " + fifo + ": unexpected bytes after the data (expected 24 bytes of data for shape (2,3); " +
                     "the input goes on)");
  }
}
