#pragma once

#include "actors/dht/record_validator.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace colony::dht {

/// Bounds on one DHT record, so no peer can pin storage with a value that
/// never expires, expires in a century, or is large. Every node checks them
/// on every store it serves and on every local store, and ignores found
/// values that break them.
struct record_limits {
  /// Longest a record may live past the storing node's now (seconds).
  double max_expiration_horizon = 86400;
  /// Largest value as stored, signature included (bytes).
  size_t max_value_bytes = 8192;
  /// Largest serialized key, and largest serialized subkey (bytes).
  size_t max_key_bytes = 1024;
};

/// Stable first word of each refusal reason of a store (docs/wire.md).
namespace refusal {
constexpr const char* expiration_not_finite = "expiration_not_finite";
constexpr const char* expiration_too_far = "expiration_too_far";
constexpr const char* expired = "expired";
constexpr const char* value_too_large = "value_too_large";
constexpr const char* key_too_large = "key_too_large";
} // namespace refusal

/// Returns why `record` may not be stored at DHT time `now` ("reason: detail",
/// the reason one of `refusal`'s words), or nothing if it is within
/// `limits`. Pure function.
[[nodiscard]] std::optional<std::string>
check_record(const dht_record& record, const record_limits& limits, double now);

} // namespace colony::dht
