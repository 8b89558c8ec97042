#include "apps/cli/store_value.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace colony::apps {
namespace {

std::string reason(const caf::expected<std::string>& value) {
  EXPECT_FALSE(value);
  if (value)
    return {};
  EXPECT_TRUE(is_error(value.error(), errc::invalid_argument));
  return error_reason(value.error());
}

store_value_source argument(std::string text) {
  store_value_source s;
  s.argument = std::move(text);
  return s;
}

store_value_source file(std::string path) {
  store_value_source s;
  s.value_file = std::move(path);
  return s;
}

TEST(store_value, takes_the_argument) {
  std::istringstream in;
  EXPECT_EQ(*read_store_value(argument("hello"), 100, in), "hello");
  EXPECT_EQ(*read_store_value(argument(""), 100, in), "");
}

TEST(store_value, an_argument_caps_at_128_kib) {
  std::istringstream in;
  std::string fits(max_argument_value_bytes, 'x');
  EXPECT_EQ(read_store_value(argument(fits), size_t{1} << 30, in)->size(),
            max_argument_value_bytes);
  EXPECT_EQ(reason(read_store_value(argument(fits + "x"), size_t{1} << 30, in)),
            "the value argument has 131073 bytes; at most 131072 fit on the "
            "command line (use --value-file FILE, or --value-file - for "
            "standard input)");
}

TEST(store_value, reads_standard_input_and_files_whole) {
  std::istringstream in{std::string("line one\nline two\0binary", 22)};
  auto value = read_store_value(file("-"), 1000, in);
  ASSERT_TRUE(value) << describe(value.error());
  EXPECT_EQ(*value, std::string("line one\nline two\0binary", 22));
  auto path = std::filesystem::temp_directory_path() /
              ("colony-store-value-" + std::to_string(::getpid()));
  std::string big(300000, 'v');
  std::ofstream(path, std::ios::binary) << big;
  std::istringstream unused;
  auto from_file = read_store_value(file(path.string()), 1 << 20, unused);
  ASSERT_TRUE(from_file) << describe(from_file.error());
  EXPECT_EQ(*from_file, big);
  EXPECT_EQ(reason(read_store_value(file(path.string()), 1000, unused)),
            path.string() +
                ": longer than 1000 bytes, the most a value may have "
                "(transport.max_message_bytes)");
  std::filesystem::remove(path);
  std::istringstream long_input{std::string(2000, 'x')};
  EXPECT_EQ(reason(read_store_value(file("-"), 1000, long_input)),
            "standard input: longer than 1000 bytes, the most a value may "
            "have (transport.max_message_bytes)");
}

TEST(store_value, needs_exactly_one_source_that_can_be_read) {
  std::istringstream in;
  EXPECT_EQ(reason(read_store_value(store_value_source{}, 100, in)),
            "no value: give it as an argument, or with --value-file FILE (- "
            "for standard input)");
  auto both = argument("x");
  both.value_file = "-";
  EXPECT_EQ(reason(read_store_value(both, 100, in)),
            "give the value as an argument or with --value-file, not both");
  EXPECT_EQ(reason(read_store_value(file("/nonexistent/value"), 100, in)),
            "/nonexistent/value: no such file");
  auto dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(reason(read_store_value(file(dir), 100, in)),
            dir + ": is a directory");
}

} // namespace
} // namespace colony::apps
