// Final parameter files of trainers compare by their largest difference,
// and files that cannot be compared say why.

#include "apps/swarm/parameter_files.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

using namespace colony;
using namespace colony::apps;

namespace {

std::string write_floats(const std::string& name, std::vector<float> values) {
  auto path = (std::filesystem::temp_directory_path() /
               ("colony_params_" + std::to_string(::getpid()) + "_" + name))
                  .string();
  std::ofstream out{path, std::ios::binary};
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  return path;
}

} // namespace

TEST(parameter_files, the_largest_difference_between_any_two) {
  auto a = write_floats("a", {1, 2, 3});
  auto b = write_floats("b", {1, 2.5f, 3});
  auto c = write_floats("c", {0.75f, 2, 3});
  auto d = max_parameter_difference({a, b, c});
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_DOUBLE_EQ(*d, 0.5);
  auto same = max_parameter_difference({a, a});
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, 0);
  for (const auto& p : {a, b, c})
    std::remove(p.c_str());
}

TEST(parameter_files, refuses_what_cannot_be_compared) {
  auto a = write_floats("x", {1, 2, 3});
  auto shorter = write_floats("y", {1, 2});
  EXPECT_FALSE(max_parameter_difference({a}));
  auto d = max_parameter_difference({a, shorter});
  ASSERT_FALSE(d);
  EXPECT_NE(describe(d.error()).find("holds 2 parameters"), std::string::npos);
  EXPECT_FALSE(max_parameter_difference({a, "/nonexistent/params"}));
  {
    std::ofstream odd{shorter, std::ios::binary};
    odd << "abc";
  }
  EXPECT_FALSE(max_parameter_difference({a, shorter}));
  std::remove(a.c_str());
  std::remove(shorter.c_str());
}
