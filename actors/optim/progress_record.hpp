#pragma once

// What a trainer publishes about its progress toward the next epoch, and
// how readers find it: one DHT dictionary `{run_id}_progress`, one subkey
// per peer that carries the peer's owner marker, so that the DHT signs the
// record with the peer's key and nobody else may overwrite it (hivemind
// signs the same records with RSA). Pure: the value's codec and bounds.

#include "actors/dht/dht_messages.hpp"
#include "actors/dht/schema_validator.hpp"
#include "runtime/peer_id.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace colony::optim {

/// One peer's progress (messages/collaborative.capnp's TrainingProgress).
struct progress_record {
  uint64_t epoch = 0;
  uint64_t samples_accumulated = 0;
  double samples_per_second = 0;
  /// DHT time of the report.
  double time = 0;
  bool client_mode = false;
  /// The peer stopped training: readers forget it at once instead of when
  /// its record expires.
  bool left = false;
};

/// Largest progress value a reader decodes (bytes).
constexpr size_t max_progress_bytes = 256;
/// Most samples a record may claim in one epoch, and the highest
/// throughput (samples/s): above them a record is absurd, not fast.
constexpr uint64_t max_progress_samples = uint64_t{1} << 40;
constexpr double max_progress_samples_per_second = 1e9;

/// The DHT key of a run's progress records.
[[nodiscard]] std::string progress_key(const std::string& run_id);

/// The subkey `id` publishes under (its owner marker: the DHT signs it).
[[nodiscard]] std::string progress_subkey(const peer_id& id);

[[nodiscard]] std::string encode(const progress_record& record);

/// The DHT schema of a run's progress records: under progress_key(run_id)
/// only subkeys that are one owner marker (signed records), each with a
/// value `decode_progress_record` accepts. Nodes running the run's tracker
/// refuse other records at store time, not only its readers.
[[nodiscard]] dht::record_schema progress_schema(const std::string& run_id);

/// Errors: malformed (not a TrainingProgress, above `max_progress_bytes`,
/// a negative or non-finite throughput or time, samples or throughput above
/// their bounds).
[[nodiscard]] caf::expected<progress_record>
decode_progress_record(std::string_view bytes);

/// The live records of other peers in `found` (a lookup of progress_key),
/// by peer id text: `self`, withdrawn records, subkeys that are not one
/// owner marker and values that do not decode are left out.
[[nodiscard]] std::map<std::string, progress_record>
peer_progress(const dht::get_result& found, const peer_id& self);

} // namespace colony::optim
