#pragma once

// A local swarm written down: which `colony` node processes to start, each
// from a node config, how many, with which overrides. `colony swarm` runs
// one; the fault-injection harness's scenarios name their nodes the same
// way.

#include "runtime/config/config_issues.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace colony::apps {

/// What a node process does, which decides how it is started and in which
/// order: DHT nodes first (the first is the bootstrap every other node
/// joins through), then expert servers one by one (so that each samples
/// uids the earlier ones did not take), then trainers all at once.
enum class swarm_role { dht, server, trainer };

[[nodiscard]] const char* to_string(swarm_role role) noexcept;

/// One `[[nodes]]` table.
struct swarm_node_spec {
  swarm_role role = swarm_role::dht;
  /// `config`: the node config; relative paths are relative to the spec's
  /// directory.
  std::string config;
  /// `count`: how many processes of this config.
  size_t count = 1;
  /// `set`: overrides (`section.key=value`) for each of them.
  std::vector<std::string> overrides;
};

struct swarm_spec {
  std::vector<swarm_node_spec> nodes;
  /// Where the spec came from, for messages.
  std::string source_path;
};

/// Parses a spec. Errors (`errc::bad_config`, `SOURCE:LINE:COL: reason`):
/// TOML syntax, unknown keys, unknown role, count 0 or above 64, a spec
/// without a DHT node. Config paths are resolved against `base_dir`.
[[nodiscard]] caf::expected<swarm_spec>
parse_swarm_spec(std::string_view toml_text, std::string_view source_name,
                 const std::string& base_dir);

/// Reads the `[[nodes]]` of a spec as `parse_swarm_spec` does, but adds each
/// problem to `issues` (for a reader of a larger file, such as a harness
/// scenario) and returns what it could read. `other_keys`: top-level keys
/// that reader owns (e.g. `[scenario]`, `[[faults]]`), skipped here.
[[nodiscard]] swarm_spec
read_swarm_spec(std::string_view toml_text, std::string_view source_name,
                const std::string& base_dir,
                const std::vector<std::string>& other_keys,
                config_issues& issues);

/// Reads and parses the spec at `path` (configs resolved against its
/// directory). Errors as `parse_swarm_spec`, plus io_error.
[[nodiscard]] caf::expected<swarm_spec>
load_swarm_spec(const std::string& path);

} // namespace colony::apps
