#pragma once

#include "messages/error.hpp"

#include <caf/error.hpp>

#include <string>

namespace colony::averaging::detail {

/// `err` with `prefix` put before its reason (e.g. "part 3: "), so that a
/// decoder's error names where in a message it arose. Errors of other
/// categories than colony's pass unchanged.
inline caf::error with_prefix(const caf::error& err,
                              const std::string& prefix) {
  if (err.category() != colony_error_category)
    return err;
  return make_error(static_cast<errc>(err.code()), prefix + error_reason(err));
}

} // namespace colony::averaging::detail
