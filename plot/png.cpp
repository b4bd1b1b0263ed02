// plot/png.cpp — PNG files (plot/png.h).
#include "plot/png.h"

#include <unistd.h>  // getpid, for a temporary file name no other process uses

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

// The implementations of these two live in libstb (-lstb); only the declarations are included here.
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

namespace plot {

// ============================================================================================================
// PNG files
// ============================================================================================================

std::vector<uint8_t> encode_png(const Image& img) {
  AZ_CHECK(img.width > 0 && img.height > 0, "encode_png: cannot encode an empty ", img.width, "x", img.height,
           " image");
  AZ_CHECK(img.rgb.size() == size_t(img.width) * size_t(img.height) * 3, "encode_png: a ", img.width, "x",
           img.height, " image needs ", size_t(img.width) * size_t(img.height) * 3, " bytes, it has ",
           img.rgb.size());
  std::vector<uint8_t> bytes;
  // stb calls this with each piece of the file; we collect them, then write the file ourselves.
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
  };
  const int ok = stbi_write_png_to_func(append, &bytes, img.width, img.height, 3, img.rgb.data(), img.width * 3);
  AZ_CHECK(ok != 0, "encode_png: stb_image_write failed on a ", img.width, "x", img.height, " image");
  return bytes;
}

void save_png(const Image& img, const std::string& path) {
  namespace fs = std::filesystem;
  AZ_CHECK(!path.empty(), "save_png: empty path");
  AZ_CHECK(img.width > 0 && img.height > 0, "save_png: '", path, "': cannot save an empty ", img.width, "x",
           img.height, " image");
  const std::vector<uint8_t> bytes = encode_png(img);
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    AZ_CHECK(!ec, "save_png: cannot write '", path, "': cannot create directory '", target.parent_path().string(),
             "': ", ec.message());
  }
  // Write next to the target, then rename: a rename within one directory is atomic, so readers see either
  // the old file or the complete new one. The pid keeps two processes writing the same figure apart.
  fs::path tmp = target.parent_path() / ("." + target.filename().string() + ".tmp" + std::to_string(getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    AZ_CHECK(f.good(), "save_png: cannot write '", path, "': ", std::strerror(errno));
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    f.close();
    if (!f) {
      const std::string reason = std::strerror(errno);
      fs::remove(tmp, ec);
      AZ_FAIL("save_png: cannot write '", path, "': ", reason);
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string reason = ec.message();
    fs::remove(tmp, ec);
    AZ_FAIL("save_png: cannot write '", path, "': ", reason);
  }
}

Image load_png(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &w, &h, &channels, 3);  // 3: convert to RGB
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    AZ_FAIL("load_png: cannot read '", path, "': ", reason ? reason : "unknown error");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels, pixels + size_t(w) * size_t(h) * 3);
  stbi_image_free(pixels);
  return img;
}

}  // namespace plot
