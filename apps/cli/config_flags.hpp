#pragma once

// Command-line flags that are keys of the node config. A command lists its
// flags with the key each one sets; the values become `--set`-style
// overrides, so the config's checks (one schema, apps/node/node_config.cpp)
// judge a flag exactly as the key in a file, and a message names the flag
// the user typed.

#include "apps/node/node_config.hpp"

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace colony::apps {

/// A flag and the config key it sets.
struct config_flag {
  /// The flag as typed, e.g. `--listen`.
  const char* flag;
  /// The key, `section.key`, e.g. `node.listen`.
  const char* key;
  const char* help;
  /// A list of strings: repeatable, and comma-separated values split.
  bool is_list = false;
};

/// The config-key flags of one command and the values they were given.
/// Must outlive the parse of the command line (CLI11 writes into it).
class config_flags {
 public:
  /// Registers each of `flags` on `cmd`. List flags take one argument per
  /// occurrence unless `greedy_lists` (then `--flag a b c` works, for
  /// commands without positional arguments).
  void add(CLI::App* cmd, std::vector<config_flag> flags,
           bool greedy_lists = false);

  /// `key=value` overrides for the flags that were given, in the order the
  /// flags were added.
  [[nodiscard]] std::vector<std::string> overrides() const;

  /// Rewrites `--set KEY:` into `FLAG:` in a config message, for the keys of
  /// these flags.
  [[nodiscard]] std::string name_flags(std::string text) const;

 private:
  std::vector<config_flag> flags_;
  /// Values by flag; map nodes keep their address for CLI11.
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

/// Where a command's node config comes from, lowest priority first.
struct command_config_sources {
  /// `--config FILE` (or a command's positional config); empty: defaults.
  std::string config_path;
  /// What the command sets unless told otherwise (e.g. a server hosts a
  /// DHT node), applied before the flags.
  std::vector<std::string> defaults;
  /// Flags that set config keys.
  const config_flags* flags = nullptr;
  /// `--set section.key=value`, applied after the flags.
  std::vector<std::string> sets;
  /// What the command itself needs (e.g. `dht.enabled=true`), applied last.
  std::vector<std::string> fixed;
};

/// Builds a command's node config from `sources` and checks it with the
/// config's rules. On a problem (including a missing or unreadable config
/// file) prints one line per problem to stderr, `FILE:LINE:COL: reason`,
/// `FILE: reason` or `--flag: reason`, and returns `usage_error_status`;
/// else returns 0 with the config in `out`.
int load_command_config(const command_config_sources& sources,
                        node_config& out);

} // namespace colony::apps
