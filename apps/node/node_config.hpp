#pragma once

#include "actors/dht/dht_options.hpp"
#include "actors/trainer/trainer_options.hpp"
#include "apps/node/averager_group_config.hpp"
#include "apps/node/expert_group_config.hpp"
#include "runtime/transport/transport_options.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace colony {

/// What a node is told by its config file (`configs/*.toml`) and `--set`
/// overrides. Every field has a default, so an empty file is a valid config.
struct node_config {
  /// `[node] listen`: address to accept connections on, `HOST:PORT`; port 0
  /// picks a free port.
  std::string listen = "127.0.0.1:0";
  /// `[node] initial_peers`: addresses to join the swarm through; any form
  /// `peer_address::parse` accepts.
  std::vector<std::string> initial_peers;
  /// `[node] identity_path`: file keeping the node's Ed25519 identity
  /// (created if missing); empty for a fresh identity on every start.
  /// Relative paths are relative to the working directory.
  std::string identity_path;
  /// `[node] swarm_id`: nodes of different swarms refuse each other.
  std::string swarm_id = "colony";
  /// `[node] swarm_authority`: peer id (base58) of the swarm's authority.
  /// When set, every peer must present an access token the authority
  /// signed for it (`colony token issue`), and this node presents its own
  /// (`access_token`). Empty: anyone with the swarm id may join.
  std::string swarm_authority;
  /// `[node] access_token`: file holding this node's access token; read
  /// again when it changes, so a node renews by being given a new file.
  std::string access_token;
  /// `[node] log_level`: trace, debug, info, warn, error, critical or off.
  std::string log_level = "info";
  /// `[node] client_mode`: connect out only; serve no incoming requests.
  bool client_mode = false;
  /// `[node] control_peers`: peer ids (base58 text form) allowed to call this
  /// node's control service (status, fault injection; the fault-injection
  /// harness passes its own). Empty: the node serves no control service.
  std::vector<std::string> control_peers;
  /// `[node] compute_threads`: LibTorch intra-op threads; 0 = one per core.
  size_t compute_threads = 0;
  /// `[transport]`: one key per field, sizes in bytes (integers), durations
  /// in seconds (floating point or integer).
  transport_options transport;
  /// `[dht] enabled`: host a DHT node; the other `[dht]` keys tune it.
  bool dht_enabled = false;
  dht::dht_options dht;
  /// `[[experts]]`: groups of experts this node serves (actors/moe). An
  /// override `experts.KEY=VALUE` applies to every group, creating one if
  /// the file has none.
  std::vector<expert_group_config> experts;
  /// `[[averagers]]`: averagers of synthetic tensor sets this node hosts
  /// (actors/averaging). An override `averagers.KEY=VALUE` applies to every
  /// one, creating one if the file has none.
  std::vector<averager_group_config> averagers;
  /// `[trainer]`: the training loop `colony train` runs (actors/trainer).
  /// `has_trainer` is set when the file or an override has the section.
  trainer::trainer_options trainer;
  bool has_trainer = false;
  /// The file (or source name) the config came from, for messages.
  std::string source_path;
};

/// Reads the TOML file at `path`, applies `overrides` and validates; see
/// `parse_node_config`. Fails with `errc::io_error` and `PATH: reason` if
/// the path names nothing, a directory, or an unreadable file.
[[nodiscard]] caf::expected<node_config>
load_node_config(const std::string& path,
                 const std::vector<std::string>& overrides = {});

/// Parses `toml_text`, applies `overrides`, then validates the result.
///
/// Each override is `section.key=value` (the argument of `--set`). The value
/// is read as a TOML value (`2.5`, `true`, `["a:1", "b:2"]`, `"text"`); if it
/// is not valid TOML it is taken as a plain string (`127.0.0.1:5000`). For a
/// string key a bare number or boolean is also taken as its text, and for a
/// list of strings a single string stands for a list of one.
///
/// Fails with `errc::bad_config` on a TOML syntax error, an unknown section
/// or key, a value of the wrong type or out of range, or inconsistent values
/// (e.g. `part_bytes` above half of `max_frame_bytes`, `num_experts` above
/// the uids of `expert_pattern`). The message has one line per problem,
/// `SOURCE:LINE:COL: reason`, where SOURCE is `source_name`; a problem in an
/// override reads `--set section.key: reason`.
///
/// `expert_cls` must name a class of the layer registry or an existing
/// TorchScript file: a program that registers its own classes does so
/// before it parses its config.
[[nodiscard]] caf::expected<node_config>
parse_node_config(std::string_view toml_text, std::string_view source_name,
                  const std::vector<std::string>& overrides = {});

/// Returns every key a node config accepts, as `section.key`, sorted (for
/// `--help` and error hints).
[[nodiscard]] std::vector<std::string> node_config_keys();

} // namespace colony
