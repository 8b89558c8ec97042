#include "actors/trainer/fashion_mnist.hpp"

#include "messages/error.hpp"

#include <ATen/ops/from_blob.h>
#include <kj/compat/gzip.h>
#include <kj/io.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace colony::trainer {

namespace {

/// IDX magic numbers: 0x00 0x00, type 0x08 (unsigned byte), dimensions.
constexpr uint32_t idx_images_magic = 0x00000803;
constexpr uint32_t idx_labels_magic = 0x00000801;

/// Largest image side accepted.
constexpr uint32_t max_side = 4096;

/// Reads a whole file; gunzips it if it starts with gzip's magic bytes.
caf::expected<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::io_error,
                      "cannot read " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), {});
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b)
    return raw;
  try {
    kj::ArrayInputStream compressed{kj::arrayPtr(raw.data(), raw.size())};
    kj::GzipInputStream gzip{compressed};
    std::vector<uint8_t> out;
    uint8_t chunk[1 << 16];
    for (;;) {
      // tryRead may return less than asked before the end; 0 means the end.
      auto n = gzip.tryRead(chunk, 1, sizeof(chunk));
      if (n == 0)
        break;
      out.insert(out.end(), chunk, chunk + n);
      // Bounded: a gzip bomb stops at what a dataset of this size could be.
      if (out.size() > size_t{max_idx_items} * 64 * 64)
        return make_error(errc::too_large,
                          path + ": decompressed size too large");
    }
    return out;
  } catch (const kj::Exception& e) {
    return make_error(errc::malformed,
                      path + ": bad gzip data: " + e.getDescription().cStr());
  }
}

uint32_t big_endian(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) |
         (uint32_t{b[at + 2]} << 8) | uint32_t{b[at + 3]};
}

} // namespace

caf::expected<image_dataset> load_idx_dataset(const std::string& images_path,
                                              const std::string& labels_path) {
  auto images = read_file(images_path);
  if (!images)
    return std::move(images.error());
  auto labels = read_file(labels_path);
  if (!labels)
    return std::move(labels.error());
  if (images->size() < 16 || big_endian(*images, 0) != idx_images_magic)
    return make_error(errc::malformed,
                      images_path + ": not an IDX image file (magic 0x803)");
  if (labels->size() < 8 || big_endian(*labels, 0) != idx_labels_magic)
    return make_error(errc::malformed,
                      labels_path + ": not an IDX label file (magic 0x801)");
  auto count = big_endian(*images, 4);
  auto rows = big_endian(*images, 8);
  auto cols = big_endian(*images, 12);
  auto label_count = big_endian(*labels, 4);
  if (count > max_idx_items || rows == 0 || cols == 0 || rows > max_side ||
      cols > max_side)
    return make_error(errc::malformed, images_path + ": implausible header (" +
                                           std::to_string(count) +
                                           " images of " +
                                           std::to_string(rows) + "x" +
                                           std::to_string(cols) + ")");
  auto pixels = uint64_t{count} * rows * cols;
  if (images->size() != 16 + pixels)
    return make_error(errc::malformed, images_path + ": header claims " +
                                           std::to_string(pixels) +
                                           " pixel bytes, file has " +
                                           std::to_string(images->size() - 16));
  if (label_count != count || labels->size() != 8 + uint64_t{label_count})
    return make_error(errc::malformed,
                      labels_path + ": " + std::to_string(label_count) +
                          " labels for " + std::to_string(count) + " images");
  for (size_t i = 8; i < labels->size(); ++i)
    if ((*labels)[i] > 9)
      return make_error(errc::malformed, labels_path + ": label " +
                                             std::to_string((*labels)[i]) +
                                             " out of range 0..9");
  image_dataset d;
  d.rows = rows;
  d.cols = cols;
  auto n = static_cast<int64_t>(count);
  d.images =
      at::from_blob(images->data() + 16, {n, int64_t{rows} * cols}, at::kByte)
          .to(at::kFloat)
          .div_(255.0);
  d.labels = at::from_blob(labels->data() + 8, {n}, at::kByte).to(at::kLong);
  return d;
}

caf::expected<image_dataset> load_fashion_mnist(const std::string& split,
                                                const std::string& dir) {
  if (split != "train" && split != "t10k")
    return make_error(errc::invalid_argument,
                      "unknown split '" + split + "' (train or t10k)");
  return load_idx_dataset(dir + "/" + split + "-images-idx3-ubyte.gz",
                          dir + "/" + split + "-labels-idx1-ubyte.gz");
}

} // namespace colony::trainer
