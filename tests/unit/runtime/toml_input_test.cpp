#include "runtime/config/toml_input.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace colony {
namespace {

std::string reason_of(const caf::error& err) {
  return error_reason(err);
}

TEST(toml_input, reads_a_file_whole) {
  auto path = std::filesystem::temp_directory_path() /
              ("colony-toml-input-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "[node]\nswarm_id = \"x\"\n";
  auto text = read_config_file(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(text) << describe(text.error());
  EXPECT_EQ(*text, "[node]\nswarm_id = \"x\"\n");
}

TEST(toml_input, missing_file_and_directory_say_which_path_and_why) {
  auto missing = read_config_file("/nonexistent/colony.toml");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(is_error(missing.error(), errc::io_error));
  EXPECT_EQ(reason_of(missing.error()),
            "/nonexistent/colony.toml: no such file");
  auto dir = std::filesystem::temp_directory_path().string();
  auto directory = read_config_file(dir);
  ASSERT_FALSE(directory);
  EXPECT_TRUE(is_error(directory.error(), errc::io_error));
  EXPECT_EQ(reason_of(directory.error()),
            dir + ": is a directory, not a config file");
  auto empty = read_config_file("");
  ASSERT_FALSE(empty);
  EXPECT_TRUE(is_error(empty.error(), errc::io_error));
}

TEST(toml_input, an_endless_file_is_refused_at_the_bound) {
  auto endless = read_config_file("/dev/zero");
  ASSERT_FALSE(endless);
  EXPECT_EQ(reason_of(endless.error()),
            "/dev/zero: larger than 16 MiB, not a config file");
}

TEST(toml_input, syntax_errors_are_placed) {
  config_issues issues;
  auto table = parse_toml("[node]\nlisten = \n", "c.toml", issues);
  EXPECT_FALSE(table);
  ASSERT_EQ(issues.size(), 1u);
  auto text = issues.text();
  EXPECT_EQ(text.rfind("c.toml:2:", 0), 0u) << text;
  EXPECT_NE(text.find("TOML syntax error"), std::string::npos) << text;
  config_issues none;
  auto good = parse_toml("[node]\nlisten = \"a:1\"\n", "c.toml", none);
  ASSERT_TRUE(good);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(good->at_path("node.listen").value_or(std::string{}), "a:1");
}

TEST(toml_input, names_value_types) {
  config_issues issues;
  auto table = parse_toml("s = \"x\"\ni = 1\nf = 1.5\nb = true\na = []\n"
                          "[t]\n",
                          "c.toml", issues);
  ASSERT_TRUE(table);
  EXPECT_STREQ(toml_type_name(*table->get("s")), "a string");
  EXPECT_STREQ(toml_type_name(*table->get("i")), "an integer");
  EXPECT_STREQ(toml_type_name(*table->get("f")), "a floating-point number");
  EXPECT_STREQ(toml_type_name(*table->get("b")), "a boolean");
  EXPECT_STREQ(toml_type_name(*table->get("a")), "an array");
  EXPECT_STREQ(toml_type_name(*table->get("t")), "a table");
}

} // namespace
} // namespace colony
