#include "runtime/config/config_issues.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <tuple>

namespace colony {

std::string config_place::text() const {
  if (line == 0)
    return source;
  return source + ":" + std::to_string(line) + ":" + std::to_string(column);
}

void config_issues::add(config_place where, std::string reason) {
  issues_.emplace_back(std::move(where), std::move(reason));
}

void config_issues::append(config_issues&& other) {
  for (auto& issue : other.issues_)
    issues_.push_back(std::move(issue));
  other.issues_.clear();
}

std::string config_issues::text() const {
  auto sorted = issues_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) {
                     const auto& x = a.first;
                     const auto& y = b.first;
                     return std::tie(x.from_override, x.line, x.column) <
                            std::tie(y.from_override, y.line, y.column);
                   });
  std::string result;
  for (size_t i = 0; i < sorted.size() && i < max_reported; ++i) {
    if (i > 0)
      result += '\n';
    result += sorted[i].first.text() + ": " + sorted[i].second;
  }
  if (sorted.size() > max_reported)
    result += "\n(" + std::to_string(sorted.size() - max_reported) +
              " more problems)";
  return result;
}

caf::error config_issues::to_error() const {
  return make_error(errc::bad_config, text());
}

} // namespace colony
