#include "tests/support/required_package.hpp"

#include <gtest/gtest.h>

#include <string>

using colony::testing::installed;

TEST(required_package, present_files_pass) {
  EXPECT_TRUE(installed("any-package", {"/", "/tmp"}));
}

TEST(required_package, a_missing_file_fails_naming_the_package) {
  auto result = installed("dataset-nothing", {"/", "/nonexistent/colony-x"});
  EXPECT_FALSE(result);
  std::string message = result.message();
  EXPECT_NE(message.find("/nonexistent/colony-x is missing"), std::string::npos)
      << message;
  EXPECT_NE(message.find("apt-get install dataset-nothing"), std::string::npos)
      << message;
}
