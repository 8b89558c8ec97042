#pragma once

// The figures of an invariant's verdict as text (printf formats).

#include <cstdio>
#include <string>

namespace colony::apps {

/// `fmt` (a printf format of up to three doubles) filled with a, b and c.
inline std::string figure_text(const char* fmt, double a, double b = 0,
                               double c = 0) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), fmt, a, b, c);
  return buf;
}

} // namespace colony::apps
