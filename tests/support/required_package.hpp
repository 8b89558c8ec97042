#pragma once

// Tests that need a Debian package fail when it is missing rather than
// skip: a skipped test reads as a pass in CI, and scripts/install-deps.sh
// installs every package the tests need.

#include "actors/trainer/fashion_mnist.hpp"
#include "apps/output/learning_curve.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace colony::testing {

/// Succeeds if every one of `files` exists; otherwise fails naming the
/// first missing file and the Debian `package` that installs it. Use as
/// `ASSERT_TRUE(installed(...))`.
[[nodiscard]] inline ::testing::AssertionResult
installed(const std::string& package,
          const std::vector<std::filesystem::path>& files) {
  for (const auto& file : files) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
      return ::testing::AssertionFailure()
             << file.string() << " is missing: install the Debian package "
             << package << " (apt-get install " << package
             << ", or scripts/install-deps.sh)";
  }
  return ::testing::AssertionSuccess();
}

/// Both splits of Fashion-MNIST where `dataset-fashion-mnist` puts them.
[[nodiscard]] inline ::testing::AssertionResult fashion_mnist_installed() {
  std::filesystem::path dir{trainer::fashion_mnist_default_dir};
  std::vector<std::filesystem::path> files;
  for (const char* split : {"train", "t10k"})
    for (const char* part : {"-images-idx3-ubyte.gz", "-labels-idx1-ubyte.gz"})
      files.push_back(dir / (std::string{split} + part));
  return installed("dataset-fashion-mnist", files);
}

/// gnuplot, found the way colony's plots find it.
[[nodiscard]] inline ::testing::AssertionResult gnuplot_installed() {
  if (apps::gnuplot_available())
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "gnuplot is missing: install the Debian package gnuplot-nox "
            "(apt-get install gnuplot-nox, or scripts/install-deps.sh)";
}

} // namespace colony::testing
