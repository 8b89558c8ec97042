#pragma once

// Fashion-MNIST as Debian's `dataset-fashion-mnist` ships it: gzipped IDX
// files (`dpkg -L dataset-fashion-mnist`), read directly.

#include <ATen/core/Tensor.h>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace colony::trainer {

/// Where Debian installs the dataset.
inline constexpr const char* fashion_mnist_default_dir =
    "/usr/share/datasets/fashion-mnist";

/// One split of the dataset.
struct image_dataset {
  /// (N, rows * cols) float32 in [0, 1].
  at::Tensor images;
  /// (N) int64 class indices in [0, 10).
  at::Tensor labels;
  int64_t rows = 0;
  int64_t cols = 0;

  [[nodiscard]] int64_t size() const {
    return labels.defined() ? labels.size(0) : 0;
  }
};

/// Most items a file may claim (bounds what a lying header can allocate).
inline constexpr uint32_t max_idx_items = 10'000'000;

/// Reads a gzipped (or plain) IDX image file and its label file. Errors:
/// io_error (unreadable), malformed (wrong magic, lying or mismatched
/// counts, truncated data, labels out of range).
caf::expected<image_dataset> load_idx_dataset(const std::string& images_path,
                                              const std::string& labels_path);

/// Loads the "train" (60000 images) or "t10k" (10000 images) split from
/// `dir` (`<split>-images-idx3-ubyte.gz`, `<split>-labels-idx1-ubyte.gz`).
caf::expected<image_dataset>
load_fashion_mnist(const std::string& split,
                   const std::string& dir = fashion_mnist_default_dir);

} // namespace colony::trainer
