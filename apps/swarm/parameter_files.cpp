#include "apps/swarm/parameter_files.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace colony::apps {

namespace {

caf::expected<std::vector<float>> read_floats(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::io_error, "cannot read " + path);
  std::vector<char> bytes{std::istreambuf_iterator<char>{in}, {}};
  if (bytes.size() % sizeof(float) != 0)
    return make_error(errc::invalid_argument,
                      path + ": " + std::to_string(bytes.size()) +
                          " bytes are not whole float32 values");
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

} // namespace

caf::expected<double>
max_parameter_difference(const std::vector<std::string>& paths) {
  if (paths.size() < 2)
    return make_error(errc::invalid_argument,
                      "comparing parameters needs two files at least");
  auto first = read_floats(paths.front());
  if (!first)
    return first.error();
  // The largest difference between any two is max - min per parameter.
  auto lo = *first;
  auto hi = *first;
  for (size_t f = 1; f < paths.size(); ++f) {
    auto next = read_floats(paths[f]);
    if (!next)
      return next.error();
    if (next->size() != first->size())
      return make_error(errc::invalid_argument,
                        paths[f] + " holds " + std::to_string(next->size()) +
                            " parameters, " + paths.front() + " " +
                            std::to_string(first->size()));
    for (size_t i = 0; i < next->size(); ++i) {
      lo[i] = std::min(lo[i], (*next)[i]);
      hi[i] = std::max(hi[i], (*next)[i]);
    }
  }
  double worst = 0;
  for (size_t i = 0; i < lo.size(); ++i) {
    double d = static_cast<double>(hi[i]) - static_cast<double>(lo[i]);
    if (std::isnan(d))
      return make_error(errc::invalid_argument,
                        "parameter " + std::to_string(i) + " is NaN");
    worst = std::max(worst, d);
  }
  return worst;
}

} // namespace colony::apps
