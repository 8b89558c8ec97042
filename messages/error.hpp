#pragma once

#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace colony {

/// Error codes of colony, carried in `caf::error` with category "colony".
/// The context of such an error is one string: the human-readable reason.
enum class errc : uint8_t {
  unknown_dtype = 1, ///< a tensor's dtype is not one colony knows
  bad_shape,         ///< shape disagrees with data length or expectation
  too_large,         ///< a size claim exceeds a configured bound
  malformed,         ///< bytes that do not decode as the expected message
  unsupported_codec, ///< a compression that does not apply to the dtype
  unknown_service,   ///< no local actor serves the requested name
  timeout,           ///< a deadline passed before the answer arrived
  cancelled,         ///< the caller withdrew the call
  disconnected,      ///< the connection to the peer closed or went silent
  handshake_failed,  ///< identity proof, version or swarm id did not match
  remote_error,      ///< the remote handler failed; context has its text
  bad_config,        ///< a config file or override is invalid
  io_error,          ///< a local I/O operation failed (file, socket)
  unreachable,       ///< no connection could be made to the address
  invalid_argument,  ///< a caller passed a value outside the contract
  overloaded,        ///< a bounded queue is full
  group_too_small,   ///< averaging found fewer peers than min_group_size
  no_group_found,    ///< averaging found no group before the step's deadline
  allreduce_failed,  ///< an all-reduce round averaged none of its parts
};

/// Returns the stable name of `code`, e.g. "bad_shape".
const char* to_string(errc code) noexcept;

/// The category atom under which colony's errors travel in `caf::error`.
constexpr caf::atom_value colony_error_category = caf::atom("colony");

/// Makes a `caf::error` with code `code` and the reason `what`.
caf::error make_error(errc code, std::string what);

/// Makes a `caf::error` from a code alone.
inline caf::error make_error(errc code) {
  return make_error(code, {});
}

/// Returns true if `err` is colony's error `code`.
bool is_error(const caf::error& err, errc code) noexcept;

/// The reason text of colony's error `err` (its context), or `describe(err)`
/// for errors of other categories. This is what a remote caller is shown.
std::string error_reason(const caf::error& err);

/// Renders any `caf::error` as "code: reason" for logs and users.
std::string describe(const caf::error& err);

} // namespace colony
