// plot/png.h — images to and from PNG files (stb_image_write, stb_image).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plot/canvas.h"

namespace plot {

// ---- files ---------------------------------------------------------------------------------------------------

// Writes a PNG, creating missing parent directories. The bytes go to a temporary file in the same directory
// that is then renamed, so `path` is never a half-written PNG. Throws core::Error naming `path` on failure.
void save_png(const Image& img, const std::string& path);
// The PNG bytes save_png() would write (deterministic: same image, same bytes).
std::vector<uint8_t> encode_png(const Image& img);
// Reads any PNG (or other format stb_image knows) as RGB. Throws core::Error naming `path` on failure.
Image load_png(const std::string& path);

}  // namespace plot
