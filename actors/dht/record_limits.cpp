#include "actors/dht/record_limits.hpp"

#include <cmath>
#include <cstdio>

namespace colony::dht {

namespace {

std::string limit_seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", s);
  return buf;
}

} // namespace

std::optional<std::string> check_record(const dht_record& record,
                                        const record_limits& limits,
                                        double now) {
  if (!std::isfinite(record.expiration))
    return std::string{refusal::expiration_not_finite} +
           ": the expiration must be a finite DHT time";
  if (record.expiration < now)
    return std::string{refusal::expired} + ": the expiration is " +
           limit_seconds_text(now - record.expiration) + " s in the past";
  if (record.expiration - now > limits.max_expiration_horizon)
    return std::string{refusal::expiration_too_far} + ": expires " +
           limit_seconds_text(record.expiration - now) +
           " s from now, at most " +
           limit_seconds_text(limits.max_expiration_horizon) + " s allowed";
  if (record.key.size() > limits.max_key_bytes)
    return std::string{refusal::key_too_large} + ": key of " +
           std::to_string(record.key.size()) + " bytes, at most " +
           std::to_string(limits.max_key_bytes);
  if (record.has_subkey && record.subkey.size() > limits.max_key_bytes)
    return std::string{refusal::key_too_large} + ": subkey of " +
           std::to_string(record.subkey.size()) + " bytes, at most " +
           std::to_string(limits.max_key_bytes);
  if (record.value.size() > limits.max_value_bytes)
    return std::string{refusal::value_too_large} + ": value of " +
           std::to_string(record.value.size()) + " bytes, at most " +
           std::to_string(limits.max_value_bytes);
  return std::nullopt;
}

} // namespace colony::dht
