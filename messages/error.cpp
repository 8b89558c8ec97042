#include "messages/error.hpp"

#include <caf/sec.hpp>

namespace colony {

const char* to_string(errc code) noexcept {
  switch (code) {
  case errc::unknown_dtype:
    return "unknown_dtype";
  case errc::bad_shape:
    return "bad_shape";
  case errc::too_large:
    return "too_large";
  case errc::malformed:
    return "malformed";
  case errc::unsupported_codec:
    return "unsupported_codec";
  case errc::unknown_service:
    return "unknown_service";
  case errc::timeout:
    return "timeout";
  case errc::cancelled:
    return "cancelled";
  case errc::disconnected:
    return "disconnected";
  case errc::handshake_failed:
    return "handshake_failed";
  case errc::remote_error:
    return "remote_error";
  case errc::bad_config:
    return "bad_config";
  case errc::io_error:
    return "io_error";
  case errc::unreachable:
    return "unreachable";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::overloaded:
    return "overloaded";
  case errc::group_too_small:
    return "group_too_small";
  case errc::no_group_found:
    return "no_group_found";
  case errc::allreduce_failed:
    return "allreduce_failed";
  }
  return "unknown_error";
}

caf::error make_error(errc code, std::string what) {
  return caf::error{static_cast<uint8_t>(code), colony_error_category,
                    caf::make_message(std::move(what))};
}

// CAF 0.17's error reads its category, code and context through a pointer
// that an empty error (no error) does not have: check for one first.

bool is_error(const caf::error& err, errc code) noexcept {
  return err && err.category() == colony_error_category &&
         err.code() == static_cast<uint8_t>(code);
}

std::string error_reason(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == colony_error_category &&
      err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return describe(err);
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  std::string reason;
  if (err.context().match_elements<std::string>())
    reason = err.context().get_as<std::string>(0);
  std::string name;
  if (err.category() == colony_error_category)
    name = to_string(static_cast<errc>(err.code()));
  else if (err.category() == caf::atom("system"))
    name = caf::to_string(static_cast<caf::sec>(err.code()));
  else
    name = caf::to_string(err);
  return reason.empty() ? name : name + ": " + reason;
}

} // namespace colony
