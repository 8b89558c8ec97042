#include "actors/optim/progress_record.hpp"

#include "actors/dht/record_validator.hpp"
#include "messages/collaborative.capnp.h"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "messages/flat_message.hpp"

#include <capnp/message.h>

#include <cmath>

namespace colony::optim {

std::string progress_key(const std::string& run_id) {
  return run_id + "_progress";
}

std::string progress_subkey(const peer_id& id) {
  return dht::signed_record_validator::owner_marker(id);
}

std::string encode(const progress_record& r) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::TrainingProgress>();
  out.setEpoch(r.epoch);
  out.setSamplesAccumulated(r.samples_accumulated);
  out.setSamplesPerSecond(r.samples_per_second);
  out.setTime(r.time);
  out.setClientMode(r.client_mode);
  out.setLeft(r.left);
  auto flat = to_envelope(message);
  return std::string{flat.data(), flat.size()};
}

dht::record_schema progress_schema(const std::string& run_id) {
  dht::record_schema s;
  s.name = "training progress";
  s.key = progress_key(run_id);
  s.match = dht::key_match::exact;
  s.subkey = dht::subkey_rule::required;
  s.subkey_form = dht::byte_schema::owner_marker();
  s.value = dht::byte_schema::checked(
      [](std::string_view bytes) {
        return static_cast<bool>(decode_progress_record(bytes));
      },
      max_progress_bytes);
  return s;
}

caf::expected<progress_record> decode_progress_record(std::string_view bytes) {
  if (bytes.size() > max_progress_bytes)
    return make_error(errc::malformed, "progress record of " +
                                           std::to_string(bytes.size()) +
                                           " bytes, above the bound " +
                                           std::to_string(max_progress_bytes));
  // DHT values carry no alignment promise: copy into a word-aligned buffer.
  envelope flat{std::vector<char>(bytes.begin(), bytes.end())};
  return read_flat_message(
      flat, "progress record",
      [](capnp::MessageReader& reader) -> caf::expected<progress_record> {
        auto in = reader.getRoot<wire::TrainingProgress>();
        progress_record r;
        r.epoch = in.getEpoch();
        r.samples_accumulated = in.getSamplesAccumulated();
        r.samples_per_second = in.getSamplesPerSecond();
        r.time = in.getTime();
        r.client_mode = in.getClientMode();
        r.left = in.getLeft();
        if (!std::isfinite(r.samples_per_second) || r.samples_per_second < 0)
          return make_error(errc::malformed,
                            "progress record with throughput " +
                                std::to_string(r.samples_per_second));
        if (r.samples_accumulated > max_progress_samples ||
            r.samples_per_second > max_progress_samples_per_second)
          return make_error(
              errc::malformed,
              "progress record claims " +
                  std::to_string(r.samples_accumulated) + " samples at " +
                  std::to_string(r.samples_per_second) + " samples/s");
        if (!std::isfinite(r.time) || r.time < 0)
          return make_error(errc::malformed, "progress record with time " +
                                                 std::to_string(r.time));
        return r;
      });
}

std::map<std::string, progress_record>
peer_progress(const dht::get_result& found, const peer_id& self) {
  std::map<std::string, progress_record> result;
  if (!found.found || !found.is_dictionary)
    return result;
  for (const auto& [subkey, entry] : found.subkeys) {
    auto owner = dht::signed_record_validator::owner_in(subkey);
    if (!owner || *owner == self)
      continue;
    auto record = decode_progress_record(entry.value);
    if (!record || record->left)
      continue;
    result.emplace(owner->to_string(), *record);
  }
  return result;
}

} // namespace colony::optim
