#include "actors/trainer/fashion_mnist.hpp"

#include "messages/error.hpp"
#include "tests/support/required_package.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace colony::trainer {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("colony-mnist-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> be32(uint32_t x) {
  return {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
}

/// An IDX image file of `n` images of 2x3 pixels (pixel = index) and its
/// labels; `claimed` overrides the count in the image header.
void write_tiny(const std::string& images, const std::string& labels,
                uint32_t n, uint32_t claimed, uint8_t label = 3) {
  std::vector<uint8_t> img = be32(0x803);
  for (auto x : {be32(claimed), be32(2), be32(3)})
    img.insert(img.end(), x.begin(), x.end());
  for (uint32_t i = 0; i < n * 6; ++i)
    img.push_back(static_cast<uint8_t>(i));
  std::vector<uint8_t> lab = be32(0x801);
  auto cnt = be32(n);
  lab.insert(lab.end(), cnt.begin(), cnt.end());
  for (uint32_t i = 0; i < n; ++i)
    lab.push_back(label);
  write_bytes(images, img);
  write_bytes(labels, lab);
}

TEST(fashion_mnist, debian_package_loads_both_splits) {
  ASSERT_TRUE(colony::testing::fashion_mnist_installed());
  auto train = load_fashion_mnist("train");
  ASSERT_TRUE(train) << describe(train.error());
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(train->images.sizes(), (std::vector<int64_t>{60000, 784}));
  EXPECT_EQ(train->rows, 28);
  EXPECT_GE(train->images.min().item<float>(), 0.0f);
  EXPECT_LE(train->images.max().item<float>(), 1.0f);
  auto counts = at::bincount(train->labels);
  EXPECT_EQ(counts.size(0), 10);
  EXPECT_EQ(counts.min().item<int64_t>(), 6000); // balanced classes
  auto test = load_fashion_mnist("t10k");
  ASSERT_TRUE(test) << describe(test.error());
  EXPECT_EQ(test->size(), 10000);
  EXPECT_FALSE(load_fashion_mnist("validation"));
}

TEST(fashion_mnist, reads_plain_idx_files) {
  auto img = temp_path("img"), lab = temp_path("lab");
  write_tiny(img, lab, 4, 4);
  auto d = load_idx_dataset(img, lab);
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_EQ(d->size(), 4);
  EXPECT_EQ(d->images.sizes(), (std::vector<int64_t>{4, 6}));
  EXPECT_FLOAT_EQ(d->images[1][0].item<float>(), 6.0f / 255);
  EXPECT_EQ(d->labels[3].item<int64_t>(), 3);
  std::filesystem::remove(img);
  std::filesystem::remove(lab);
}

TEST(fashion_mnist, malformed_files_get_clear_errors) {
  auto img = temp_path("bad-img"), lab = temp_path("bad-lab");
  auto expect_malformed = [&](const char* needle) {
    auto d = load_idx_dataset(img, lab);
    ASSERT_FALSE(d);
    EXPECT_TRUE(is_error(d.error(), errc::malformed)) << describe(d.error());
    EXPECT_NE(error_reason(d.error()).find(needle), std::string::npos)
        << error_reason(d.error());
  };
  write_tiny(img, lab, 4, 1000000); // a header that lies about its count
  expect_malformed("pixel bytes");
  write_tiny(img, lab, 4, 4, 12); // a label out of range
  expect_malformed("out of range");
  write_bytes(img, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  expect_malformed("not an IDX image file");
  write_bytes(img, {0x1f, 0x8b, 8, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9});
  expect_malformed("bad gzip data");
  auto missing = load_idx_dataset(temp_path("none"), lab);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(is_error(missing.error(), errc::io_error));
  std::filesystem::remove(img);
  std::filesystem::remove(lab);
}

} // namespace
} // namespace colony::trainer
