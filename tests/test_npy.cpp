// tests/test_npy.cpp — core/npy: round trips, files written by real NumPy, error messages, and a fuzz loop.
//
// The fixtures in tests/reference/npy/ were written by NumPy itself (tests/reference/npy/make_npy_fixtures.py),
// so the reader is checked against the format as NumPy writes it, not against our own writer.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>  // getpid, pipe, fork

#include <cerrno>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/npy.h"
#include "tests/helpers.h"
#include "core/random.h"

namespace fs = std::filesystem;
namespace npy = core::npy;

namespace {

using testing::TempDir;

std::string fixture(const std::string& name) {
  return std::string(ATTNZOO_SOURCE_DIR) + "/tests/reference/npy/" + name;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A .npy file from a header text and raw data bytes, without padding (the reader must not rely on it).
std::string make_npy(const std::string& header, const std::string& data, int major = 1) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t b = 0; b < len_bytes; ++b) out += static_cast<char>((header.size() >> (8 * b)) & 0xFF);
  return out + header + data;
}

std::string f4_header(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

bool same_bytes(const core::Tensor& a, const core::Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

core::Tensor float_tensor(const core::Shape& shape, core::Rng& rng) {
  core::Tensor t = core::randn(shape, rng);
  // Values whose bits must survive exactly, wherever there is room for them.
  const float special[] = {0.0f, -0.0f, 1e-45f, std::numeric_limits<float>::max(), INFINITY, -INFINITY, NAN};
  for (int64_t i = 0; i < t.numel() && i < 7; ++i) t.data()[i] = special[i];
  return t;
}

}  // namespace

TEST_CASE("npy: float32 round trips, including scalars and zero-size shapes") {
  TempDir dir("npy");
  core::Rng rng(1);
  const std::vector<core::Shape> shapes = {{}, {0}, {5}, {2, 3, 4}, {0, 3}, {3, 0, 2}, {1, 1, 1, 1, 1, 1, 7}};
  for (const core::Shape& shape : shapes) {
    CAPTURE(core::shape_str(shape));
    const core::Tensor t = float_tensor(shape, rng);
    const std::string path = dir / "t.npy";
    npy::save(path, t);
    const core::Tensor back = npy::load(path);
    CHECK(back.shape() == shape);
    CHECK(same_bytes(t, back));

    // The data starts at a multiple of 64 bytes and the header ends with '\n', as NumPy writes it.
    const std::string bytes = read_bytes(path);
    const size_t header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    CHECK(bytes[6] == 1);  // version 1.0
    CHECK(bytes[7] == 0);
    CHECK((10 + header_len) % 64 == 0);
    CHECK(bytes[10 + header_len - 1] == '\n');
    CHECK(bytes.size() == 10 + header_len + 4 * t.numel());
  }
}

TEST_CASE("npy: int64 round trips, including scalars and zero-size shapes") {
  TempDir dir("npy");
  core::Rng rng(2);
  const std::vector<core::Shape> shapes = {{}, {0}, {5}, {2, 3, 4}, {0, 3}};
  for (const core::Shape& shape : shapes) {
    CAPTURE(core::shape_str(shape));
    core::IntTensor t = core::randint(shape, rng, -1000000, 1000000);
    const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1};
    for (int64_t i = 0; i < t.numel() && i < 4; ++i) t.data[i] = extremes[i];
    const std::string path = dir / "i.npy";
    npy::save(path, t);
    const core::IntTensor back = npy::load_int(path);
    CHECK(back.shape == shape);
    CHECK(back.data == t.data);
  }
}

TEST_CASE("npy: the header reads like NumPy's, byte for byte") {
  TempDir dir("npy");
  const std::string path = dir / "h.npy";
  auto header_of = [&](const std::string& file) {
    const std::string bytes = read_bytes(file);
    const size_t len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    std::string h = bytes.substr(10, len);
    return h.substr(0, h.find('}') + 1);
  };
  npy::save(path, core::Tensor::empty({2, 3}));
  CHECK(header_of(path) == "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  npy::save(path, core::Tensor::empty({5}));
  CHECK(header_of(path) == "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }");
  npy::save(path, core::Tensor::empty({}));
  CHECK(header_of(path) == "{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
  npy::save(path, core::IntTensor({4, 1}));
  CHECK(header_of(path) == "{'descr': '<i8', 'fortran_order': False, 'shape': (4, 1), }");

  // For these small shapes our file is identical to np.save's (same dict text, same padding).
  npy::save(path, npy::load(fixture("f4_2x3.npy")));
  CHECK(read_bytes(path) == read_bytes(fixture("f4_2x3.npy")));
  npy::save(path, npy::load(fixture("f4_scalar.npy")));
  CHECK(read_bytes(path) == read_bytes(fixture("f4_scalar.npy")));
  npy::save(path, npy::load(fixture("f4_0x3.npy")));
  CHECK(read_bytes(path) == read_bytes(fixture("f4_0x3.npy")));
  npy::save(path, npy::load_int(fixture("i8_5.npy")));
  CHECK(read_bytes(path) == read_bytes(fixture("i8_5.npy")));
}

TEST_CASE("npy: files written by NumPy load with the right shapes and values") {
  const core::Tensor a = npy::load(fixture("f4_2x3.npy"));
  CHECK(a.shape() == core::Shape{2, 3});
  const std::vector<float> expected = {1.5f, -2.25f, 0.0f, 3.0e-8f, 1.0e30f, -0.0f};
  for (int i = 0; i < 6; ++i) CHECK(a.data()[i] == expected[i]);
  CHECK(std::signbit(a.data()[5]));

  const core::Tensor s = npy::load(fixture("f4_scalar.npy"));
  CHECK(s.shape() == core::Shape{});
  CHECK(s.numel() == 1);
  CHECK(s.data()[0] == 3.25f);

  const core::Tensor z = npy::load(fixture("f4_0x3.npy"));
  CHECK(z.shape() == core::Shape{0, 3});
  CHECK(z.numel() == 0);

  const core::Tensor v2 = npy::load(fixture("f4_2x2_v2.npy"));  // format 2.0: 4-byte header length
  CHECK(v2.shape() == core::Shape{2, 2});
  CHECK(v2.data()[3] == 4.0f);

  const core::Tensor v3 = npy::load(fixture("f4_3_v3.npy"));  // format 3.0: UTF-8 header
  CHECK(v3.shape() == core::Shape{3});
  CHECK(v3.data()[2] == 8.0f);

  const core::IntTensor i8 = npy::load_int(fixture("i8_5.npy"));
  CHECK(i8.shape == core::Shape{5});
  CHECK(i8.data == core::IntTensor::from_vector({5}, {0, -1, int64_t(1) << 40, -(int64_t(1) << 62), 7}).data);

  const core::IntTensor i4 = npy::load_int(fixture("i4_2x2.npy"));  // int32 is widened
  CHECK(i4.shape == core::Shape{2, 2});
  CHECK(i4.data == core::IntTensor::from_vector({2, 2}, {1, -2, 2147483647, -2147483648LL}).data);
}

TEST_CASE("npy: the reader accepts any key order, spacing, quotes and trailing commas") {
  const std::string data(8, '\0');  // two float32 zeros
  const std::vector<std::string> headers = {
      "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,)}",
      "  {  'descr' :  '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }  \n",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",  // Python 2 wrote long integers so
      "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",    // 1-D: Fortran order is the same layout
  };
  for (const std::string& h : headers) {
    CAPTURE(h);
    const core::Tensor t = npy::load_from_bytes(make_npy(h, data), "x.npy");
    CHECK(t.shape() == core::Shape{2});
  }
  CHECK(npy::load_from_bytes(make_npy(f4_header("(1, 2, )"), data), "x").shape() == core::Shape{1, 2});
  CHECK(npy::load_from_bytes(make_npy(f4_header("(2,)"), data, 2), "x").shape() == core::Shape{2});
}

TEST_CASE("npy: errors name the file and say what is wrong") {
  TempDir dir("npy");
  const std::string missing = dir / "q.npy";
  CHECK_THROWS_WITH_AS(npy::load(missing), ("npy: cannot open " + missing + ": No such file or directory").c_str(),
                       core::Error);
  CHECK_THROWS_WITH_AS(npy::load_int(missing), doctest::Contains("npy: cannot open "), core::Error);
  CHECK_THROWS_WITH_AS(npy::load(dir.path.string()), doctest::Contains("npy: cannot read "), core::Error);

  // Dtype, order and endianness problems come with the NumPy call that fixes them.
  const std::string f8 = fixture("f8_3.npy");
  CHECK_THROWS_WITH_AS(npy::load(f8),
                       ("npy: " + f8 + ": dtype '<f8' (float64) is not supported; expected float32 '<f4' " +
                        "(save float32: a.astype(np.float32))")
                           .c_str(),
                       core::Error);
  CHECK_THROWS_WITH_AS(npy::load(fixture("f4_2x3_fortran.npy")),
                       doctest::Contains("fortran_order=True (column-major) is not supported; save a C-ordered "
                                         "array (np.ascontiguousarray(a))"),
                       core::Error);
  CHECK_THROWS_WITH_AS(npy::load(fixture("f4_3_bigendian.npy")),
                       doctest::Contains("dtype '>f4' (float32) is big-endian; only little-endian is supported "
                                         "(save a.astype('<f4'))"),
                       core::Error);
  CHECK_THROWS_WITH_AS(npy::load(fixture("i8_5.npy")),
                       doctest::Contains("dtype '<i8' (int64) is not supported; expected float32 '<f4' (integer "
                                         "arrays load with load_int"),
                       core::Error);
  CHECK_THROWS_WITH_AS(npy::load_int(fixture("f4_2x3.npy")),
                       doctest::Contains("dtype '<f4' (float32) is not supported; expected int64 '<i8' or int32 "
                                         "'<i4' (save a.astype(np.int64))"),
                       core::Error);

  // Byte-level damage, on bytes in memory (the name is what the message shows).
  const std::string good = make_npy(f4_header("(2, 3)"), std::string(24, '\0'));
  CHECK_NOTHROW(npy::load_from_bytes(good, "g.npy"));
  auto fails_with = [](const std::string& bytes, const std::string& words) {
    CAPTURE(words);
    CHECK_THROWS_WITH_AS(npy::load_from_bytes(bytes, "f.npy"), doctest::Contains(("npy: f.npy: " + words).c_str()),
                         core::Error);
  };
  fails_with("", "not a .npy file");
  fails_with("PK\x03\x04 this is a zip", "not a .npy file");
  fails_with("\x93NUMPZ" + good.substr(6), "not a .npy file");
  fails_with(good.substr(0, good.size() - 5), "truncated: expected 24 bytes of data for shape (2,3), found 19");
  fails_with(good + "xyz", "3 unexpected bytes after the data (expected 24 bytes");
  fails_with(good.substr(0, 20), "truncated: header length 59 exceeds the 10 bytes left in the file");
  fails_with(good.substr(0, 9), "truncated: the file ends inside the header length");
  std::string v9 = good;
  v9[6] = 9;
  fails_with(v9, "unsupported .npy format version 9.0 (supported: 1.0, 2.0, 3.0)");

  // Header text.
  const std::string data6(24, '\0');
  fails_with(make_npy("hello", data6), "malformed header: the header must be a Python dict literal");
  fails_with(make_npy("{'descr': '<f4', 'shape': (2, 3), }", data6),
             "malformed header: header is missing the key 'fortran_order'");
  fails_with(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", data6),
             "malformed header: unexpected key 'extra'");
  fails_with(make_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", data6),
             "malformed header: duplicate key 'descr'");
  fails_with(make_npy(f4_header("(2, -3)"), data6), "malformed header: negative dimension in 'shape'");
  fails_with(make_npy(f4_header("(2, 3"), data6), "malformed header:");
  fails_with(make_npy(f4_header("(6)"), data6), "malformed header: 'shape' (n) is not a tuple");
  fails_with(make_npy(f4_header("[2, 3]"), data6), "malformed header: the value of 'shape' must be a tuple");
  fails_with(make_npy(f4_header("(2.0, 3)"), data6), "malformed header: expected ',' or ')' in 'shape'");
  fails_with(make_npy(f4_header("(99999999999999999999999,)"), data6),
             "malformed header: dimension in 'shape' is absurdly large (more than 2^40)");
  fails_with(make_npy(f4_header("(1048576, 1048576, 2)"), data6), "shape (1048576,1048576,2) has more than 2^40");
  fails_with(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", data6),
             "malformed header: structured dtypes (a list in 'descr') are not supported");
  fails_with(make_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", data6),
             "malformed header: the value of 'fortran_order' must be True or False");
  fails_with(make_npy(f4_header("(2, 3)") + " junk", data6), "malformed header: unexpected text after the header dict");
  // A huge shape with no data behind it is refused before anything is allocated.
  fails_with(make_npy(f4_header("(1000000, 1000000)"), data6), "truncated: expected 4000000000000 bytes");
}

TEST_CASE("npy: writing is atomic and fails cleanly") {
  TempDir dir("npy");
  const std::string path = dir / "x.npy";
  npy::save(path, core::Tensor::full({3}, 1.0f));
  npy::save(path, core::Tensor::full({2}, 7.0f));  // replaces the old file
  CHECK(npy::load(path).shape() == core::Shape{2});
  CHECK(npy::load(path).data()[1] == 7.0f);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) entries += (void(e), 1);
  CHECK(entries == 1);  // no temporary left behind

  // Parent directories are not created (like numpy.save).
  const std::string nowhere = dir / "no_such_dir/x.npy";
  CHECK_THROWS_WITH_AS(npy::save(nowhere, core::Tensor::zeros({2})),
                       ("npy: cannot write " + nowhere + ": No such file or directory").c_str(), core::Error);
  CHECK_FALSE(fs::exists(dir.path / "no_such_dir"));

  // The temporary can be written but the rename fails (the target is a directory): the temporary is removed.
  const std::string a_dir = dir / "a_dir";
  fs::create_directory(a_dir);
  CHECK_THROWS_WITH_AS(npy::save(a_dir, core::IntTensor({2})),
                       doctest::Contains(("npy: cannot write " + a_dir).c_str()), core::Error);
  entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) entries += (void(e), 1);
  CHECK(entries == 2);  // x.npy and a_dir only

  core::IntTensor bad({2, 2});
  bad.data.pop_back();
  CHECK_THROWS_WITH_AS(npy::save(path, bad), doctest::Contains("IntTensor of shape (2,2) holds 3 values"), core::Error);
  CHECK_THROWS_WITH_AS(npy::save(path, core::Tensor()), doctest::Contains("the tensor is undefined"), core::Error);
  CHECK(npy::load(path).data()[1] == 7.0f);  // a failed save leaves the old file alone
}

TEST_CASE("npy: fuzz — malformed bytes load or throw core::Error, nothing else") {
  // Runs under ASan/UBSan in `make sanitize`: any out-of-bounds read or overflow in the parser shows up here.
  core::Rng rng(2024);
  int loaded = 0, rejected = 0;
  auto attempt = [&](const std::string& bytes, const char* kind, int index) {
    for (int as_int = 0; as_int < 2; ++as_int) {
      try {
        if (as_int) {
          const core::IntTensor t = npy::load_int_from_bytes(bytes, "fuzz.npy");
          REQUIRE(t.numel() == core::numel_of(t.shape));
        } else {
          const core::Tensor t = npy::load_from_bytes(bytes, "fuzz.npy");
          REQUIRE(t.numel() == core::numel_of(t.shape()));
        }
        ++loaded;
      } catch (const core::Error& e) {
        REQUIRE(std::string(e.what()).rfind("npy: fuzz.npy: ", 0) == 0);
        ++rejected;
      } catch (const std::exception& e) {
        FAIL("case ", kind, " #", index, ": ", typeid(e).name(), ": ", e.what());
      }
    }
  };

  // Valid files to damage: both dtypes, several shapes, and format 2.0.
  std::vector<std::string> valid;
  valid.push_back(make_npy(f4_header("(2, 3)"), std::string(24, '\x01')));
  valid.push_back(make_npy(f4_header("()"), std::string(4, '\x02')));
  valid.push_back(make_npy(f4_header("(0, 5)"), ""));
  valid.push_back(make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", std::string(24, '\x03')));
  valid.push_back(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", std::string(8, '\x04')));
  valid.push_back(make_npy(f4_header("(4,)"), std::string(16, '\x05'), 2));
  valid.push_back(read_bytes(fixture("f4_2x3.npy")));

  int index = 0;
  // 1. Every proper prefix of a valid file is refused; the whole file loads.
  for (const std::string& file : valid) {
    for (size_t len = 0; len <= file.size(); ++len) {
      if (len < file.size()) {
        CHECK_THROWS_AS(npy::load_from_bytes(file.substr(0, len), "fuzz.npy"), core::Error);
        CHECK_THROWS_AS(npy::load_int_from_bytes(file.substr(0, len), "fuzz.npy"), core::Error);
      } else {
        attempt(file, "prefix", index++);
      }
    }
  }

  // 2. Random bytes, half of them behind a valid magic and version so that the header parser is reached.
  for (int i = 0; i < 1000; ++i) {
    std::string bytes;
    if (i % 2 == 0) bytes = std::string("\x93NUMPY") + static_cast<char>(rng.randint(1, 4)) + '\0';
    const int64_t n = rng.randint(0, 200);
    for (int64_t b = 0; b < n; ++b) bytes += static_cast<char>(rng.randint(0, 256));
    attempt(bytes, "random", i);
  }

  // 3. Valid files with a few random bytes changed (mostly in the first 80 bytes: magic, lengths, header).
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = valid[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(valid.size())))];
    const int64_t edits = rng.randint(1, 5);
    for (int64_t e = 0; e < edits; ++e) {
      const int64_t limit = rng.randint(0, 4) == 0 ? static_cast<int64_t>(bytes.size()) : 80;
      const int64_t pos = rng.randint(0, std::min<int64_t>(limit, static_cast<int64_t>(bytes.size())));
      bytes[static_cast<size_t>(pos)] = static_cast<char>(rng.randint(0, 256));
    }
    attempt(bytes, "mutated", i);
  }

  // 4. Header text with random edits: tokens that a parser may mishandle (huge and negative numbers, stray
  //    brackets and quotes, missing or repeated keys), with data sized to the original shape or random.
  // clang-format off
  const std::vector<std::string> tokens = {
      "(", ")", ",", "'", "\"", ":", "{", "}", "[", "]", " ", "\n", "\\", "-1", "-", "0", "7", "L",
      "99999999999999999999999", "1099511627776", "1099511627777", "4294967296", "True", "False",
      "'shape'", "'descr'", "'fortran_order'", "'<f4'", "'<i8'", "'<f8'", "'>f4'", std::string(1, '\0'), "\xff"};
  // clang-format on
  const std::vector<std::string> shapes = {"()", "(3,)", "(2, 3)", "(1, 2, 3)", "(0,)"};
  for (int i = 0; i < 2000; ++i) {
    const size_t which = static_cast<size_t>(rng.randint(0, static_cast<int64_t>(shapes.size())));
    const std::string& shape = shapes[which];
    const bool as_int = rng.randint(0, 2) == 1;
    std::string header =
        as_int ? "{'descr': '<i8', 'fortran_order': False, 'shape': " + shape + ", }" : f4_header(shape);
    const int64_t edits = rng.randint(1, 4);
    for (int64_t e = 0; e < edits; ++e) {
      const size_t pos = static_cast<size_t>(rng.randint(0, static_cast<int64_t>(header.size()) + 1));
      switch (rng.randint(0, 3)) {
        case 0:  // delete a short run
          header.erase(pos, static_cast<size_t>(rng.randint(1, 6)));
          break;
        case 1:  // insert a token
          header.insert(pos, tokens[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(tokens.size())))]);
          break;
        default:  // replace a run with a token
          header.replace(pos, static_cast<size_t>(rng.randint(1, 4)),
                         tokens[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(tokens.size())))]);
      }
    }
    const int64_t numel[] = {1, 3, 6, 6, 0};  // of each entry of `shapes`
    const int64_t expected = numel[which] * (as_int ? 8 : 4);
    const int64_t data_len = rng.randint(0, 3) == 0 ? rng.randint(0, 64) : expected;
    attempt(make_npy(header, std::string(static_cast<size_t>(data_len), '\x07'), rng.randint(0, 2) ? 1 : 2), "header",
            i);
  }

  // Both outcomes occurred, so the loop exercised the parser rather than failing at the magic every time.
  CHECK(loaded > 50);
  CHECK(rejected > 1000);
}

// ---- hostile files: size checked before reading, streams read no further than the header, messages escaped ------

namespace {

// A valid float32 .npy of shape (2, 3) (24 data bytes), padded as NumPy pads.
std::string small_f4_file() {
  std::string h = f4_header("(2, 3)");
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  return make_npy(h + "\n", std::string(24, '\x01'));
}

// Writes `bytes` to the write end of a fresh pipe from a child process and returns the read end's /dev/fd path.
// The child writes everything (blocking as the pipe fills) and exits 0, or exits 1 when the reader closed the
// pipe before taking it all (EPIPE; or SIGPIPE kills it): whether the reader stopped early is in the status.
struct PipeWriter {
  int read_fd = -1;
  pid_t pid = -1;
  explicit PipeWriter(const std::string& bytes) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // child: only async-signal-safe calls
      ::close(fds[0]);
      size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t w = ::write(fds[1], bytes.data() + done, bytes.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ::_exit(1);
        done += static_cast<size_t>(w);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    read_fd = fds[0];
  }
  std::string path() const { return "/dev/fd/" + std::to_string(read_fd); }
  // Closes the read end and waits: true when the writer could not write everything (the reader stopped early).
  bool cut_off() {
    ::close(read_fd);
    read_fd = -1;
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  ~PipeWriter() {
    if (read_fd >= 0) ::close(read_fd);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

}  // namespace

TEST_CASE("npy: a regular file's size is checked against its header before its data is read") {
  TempDir dir("npy_size");
  // A valid header for 24 bytes followed by 256 MiB (a sparse hole: no disk used). The old reader read it all
  // into memory before finding the trailing bytes.
  const std::string path = dir / "padded.npy";
  const std::string good = small_f4_file();
  {
    std::ofstream out(path, std::ios::binary);
    out << good;
  }
  const uint64_t big = uint64_t(256) << 20;
  fs::resize_file(path, good.size() + big);
  const bool rss_ok = testing::reset_peak_rss();
  const long rss_before = testing::proc_status_kib("VmRSS");
  core::memory::reset_peak();
  const size_t bytes_before = core::memory::current_bytes();
  const std::string err = testing::error_of([&] { npy::load(path); });
  CHECK(err == "npy: " + path + ": " + std::to_string(big) + " unexpected bytes after the data (expected 24 bytes " +
                   "of data for shape (2,3), found " + std::to_string(big + 24) + ")");
  CHECK(core::memory::peak_bytes() - bytes_before < 4096);
  if (rss_ok && rss_before > 0) {
    const long grew_kib = testing::proc_status_kib("VmHWM") - rss_before;
    CAPTURE(grew_kib);
    CHECK(grew_kib < 16 * 1024);
  } else {
    MESSAGE("skipped the RSS check: /proc/self/clear_refs is not writable here");
  }

  // A header promising 1 GiB with 40 bytes behind it: refused from the file size, nothing allocated.
  const std::string lying = dir / "lying.npy";
  {
    std::ofstream out(lying, std::ios::binary);
    out << make_npy(f4_header("(268435456,)"), std::string(40, '\0'));
  }
  core::memory::reset_peak();
  CHECK(testing::error_of([&] { npy::load(lying); }) ==
        "npy: " + lying + ": truncated: expected 1073741824 bytes of data for shape (268435456), found 40");
  CHECK(core::memory::peak_bytes() - bytes_before < 4096);
}

TEST_CASE("npy: pipes and devices are read no further than the header promises") {
  // /dev/zero: refused at its 8th byte (the old reader grew until it ran out of memory).
  CHECK(testing::error_of([] { npy::load("/dev/zero"); }) ==
        "npy: /dev/zero: not a .npy file (it does not start with the magic string \\x93NUMPY)");
  CHECK(testing::error_of([] { npy::load("/dev/null"); }) ==
        "npy: /dev/null: not a .npy file (it does not start with the magic string \\x93NUMPY)");

  // A valid file through a pipe loads; so does an int64 one.
  {
    PipeWriter w(small_f4_file());
    const core::Tensor t = npy::load(w.path());
    CHECK(t.shape() == core::Shape{2, 3});
    CHECK(t.data()[5] == npy::load_from_bytes(small_f4_file(), "x").data()[5]);
    CHECK_FALSE(w.cut_off());
  }
  {
    PipeWriter w(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", std::string("\x05\0\0\0\xff\xff\xff\xff", 8)));
    CHECK(npy::load_int(w.path()).data == std::vector<int64_t, core::memory::CountingAllocator<int64_t>>{5, -1});
  }

  // A valid header followed by 64 MiB more than it describes: the reader stops after one byte too many and
  // closes the pipe, so the writer is cut off long before it is done.
  {
    PipeWriter w(small_f4_file() + std::string(size_t(64) << 20, '\0'));
    core::memory::reset_peak();
    const size_t before = core::memory::current_bytes();
    const std::string err = testing::error_of([&] { npy::load(w.path()); });
    CHECK(err == "npy: " + w.path() + ": unexpected bytes after the data (expected 24 bytes of data for shape " +
                     "(2,3); the input goes on)");
    CHECK(core::memory::peak_bytes() - before < 4096);
    CHECK(w.cut_off());
  }
  // Format 2.0 announcing a 4 GiB header: refused from the length field, nothing read after it.
  {
    std::string bytes = "\x93NUMPY\x02";
    bytes += '\0';
    bytes += std::string(4, '\xff');
    PipeWriter w(bytes + std::string(size_t(8) << 20, ' '));
    CHECK(testing::error_of([&] { npy::load(w.path()); }) ==
          "npy: " + w.path() + ": header length 4294967295 is more than the 65536 bytes any .npy header of a " +
              "float32 or int64 array needs; the file is corrupt");
    CHECK(w.cut_off());
  }
  // A header promising 1 GiB over a pipe that supplies 40 bytes: truncated, with at most one chunk allocated.
  {
    PipeWriter w(make_npy(f4_header("(268435456,)"), std::string(40, '\0')));
    core::memory::reset_peak();
    const size_t before = core::memory::current_bytes();
    CHECK(testing::error_of([&] { npy::load(w.path()); }) ==
          "npy: " + w.path() + ": truncated: expected 1073741824 bytes of data for shape (268435456), found 40");
    CHECK(core::memory::peak_bytes() - before <= (size_t(1) << 20) + 4096);
  }
}

TEST_CASE("npy: a directory, a missing or unreadable file: one line each") {
  TempDir dir("npy_special");
  CHECK(testing::error_of([&] { npy::load(dir.path.string()); }) ==
        "npy: cannot read " + dir.path.string() + ": Is a directory");
  CHECK(testing::error_of([&] { npy::load_int(dir.path.string()); }) ==
        "npy: cannot read " + dir.path.string() + ": Is a directory");
  const std::string locked = dir / "locked.npy";
  npy::save(locked, core::Tensor::zeros({2}));
  fs::permissions(locked, fs::perms::none);
  if (::geteuid() != 0) {  // root reads it anyway
    CHECK(testing::error_of([&] { npy::load(locked); }) == "npy: cannot open " + locked + ": Permission denied");
  }
}

TEST_CASE("npy: error messages escape control bytes from the header and the path") {
  const std::string data(8, '\0');
  // Each of these quotes header text: ESC, BEL, \v, \f, NUL must arrive as \x1b, \x07, ... on one line.
  const std::string nasty = std::string("de\x1b[31m\x07\x0b\x0c", 10) + std::string(1, '\0') + "x";
  const std::pair<std::string, std::string> cases[] = {
      {"{'" + nasty + "' '<f4'}", "expected ':' after key 'de\\x1b[31m\\x07\\x0b\\x0c\\x00x'"},
      {"{'" + nasty + "': 1}", "unexpected key 'de\\x1b[31m\\x07\\x0b\\x0c\\x00x'"},
      {"{'shape': (2,) 'descr'}", "expected ',' or '}' after the value of 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\x1b]0;pwned\x07': 1}",
       "unexpected key '\\x1b]0;pwned\\x07'"},
      {"{'descr': '\x1b[2J', 'fortran_order': False, 'shape': (2,)}", "dtype '\\x1b[2J' is not supported"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'a\\\\b': 1}", "unsupported character"},
  };
  for (const auto& [header, words] : cases) {
    CAPTURE(header);
    const std::string err = testing::error_of([&] { npy::load_from_bytes(make_npy(header, data), "f.npy"); });
    CHECK(doctest::String(err.c_str()) == doctest::Contains(words.c_str()));
    CHECK(testing::printable_line(err));
  }
  // A key that the parser reads up to ':' and then finds another character: the old message passed it raw.
  const std::string err =
      testing::error_of([&] { npy::load_from_bytes(make_npy("{'sh\x1b\x07pe' (2,)}", data), "f.npy"); });
  CHECK(err == "npy: f.npy: malformed header: expected ':' after key 'sh\\x1b\\x07pe'");

  // The path is quoted escaped too (a file name may hold any byte but '/' and NUL).
  TempDir dir("npy_esc");
  const std::string odd = dir / "q\x1b[31m\n.npy";
  CHECK(testing::error_of([&] { npy::load(odd); }) ==
        "npy: cannot open " + (dir / "q\\x1b[31m\\n.npy") + ": No such file or directory");
  {
    std::ofstream out(odd, std::ios::binary);
    out << "not numpy";
  }
  const std::string e2 = testing::error_of([&] { npy::load(odd); });
  CHECK(testing::printable_line(e2));
  CHECK(doctest::String(e2.c_str()) == doctest::Contains("q\\x1b[31m\\n.npy: not a .npy file"));
  const std::string e3 = testing::error_of([&] { npy::save(dir / "no\x07dir/x.npy", core::Tensor::zeros({1})); });
  CHECK(testing::printable_line(e3));
}
