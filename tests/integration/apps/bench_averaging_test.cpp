// `colony bench moshpit` and `colony bench state` with small numbers: they
// run, converge or verify, and say so in their JSON line.

#include "tests/integration/test_nodes.hpp"
#include "tests/support/json_check.hpp"

#include <sstream>

using namespace colony::testing;

TEST(bench_moshpit, sixteen_peers_in_groups_of_four_reach_the_mean) {
  temp_dir dir;
  auto [rc, out] =
      run_colony(dir, {"bench", "moshpit", "--peers", "16", "--group-size", "4",
                       "--floats", "1000", "--rounds-max", "6",
                       "--min-matchmaking-time", "1", "--json"});
  ASSERT_EQ(rc, 0) << out;
  auto line = last_json_line(out);
  EXPECT_NE(line.find("\"bench\":\"moshpit\""), std::string::npos) << out;
  EXPECT_NE(line.find("\"grid_dims\":2"), std::string::npos) << line;
  EXPECT_NE(line.find("\"converged\":true"), std::string::npos) << line;
}

TEST(bench_moshpit, a_group_size_that_is_not_a_power_of_two_is_a_usage_error) {
  temp_dir dir;
  auto [rc, out] = run_colony(
      dir, {"bench", "moshpit", "--peers", "16", "--group-size", "3"});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("power of two"), std::string::npos) << out;
}

TEST(bench_state, a_few_megabytes_arrive_exactly) {
  temp_dir dir;
  auto [rc, out] = run_colony(
      dir, {"bench", "state", "--megabytes", "4", "--repeats", "2", "--json"});
  ASSERT_EQ(rc, 0) << out;
  auto line = last_json_line(out);
  EXPECT_NE(line.find("\"bench\":\"state\""), std::string::npos) << out;
  EXPECT_NE(line.find("\"verified\":true"), std::string::npos) << line;
  EXPECT_NE(line.find("\"ratio\":"), std::string::npos) << line;
}
