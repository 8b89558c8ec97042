#pragma once

// Command-line flags that are parameters of one command rather than keys of
// the node config (a status period, a store's expiration, a ping count).
// They are checked by the same value rules as config keys
// (runtime/config/value_rules.hpp) while the command line is parsed, so a
// bad value is a usage error (exit 2, `--flag: reason`) before any node
// starts.

#include "runtime/config/value_rules.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace colony::apps {

/// Adds `name SECONDS` writing into `value`; refused unless `check_seconds`
/// accepts it with `bounds`.
CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name,
                                double& value, const std::string& help,
                                seconds_bounds bounds = {});

/// Adds `name N` writing into `value`; refused unless it is an integer in
/// [min, max].
CLI::Option* add_count_option(CLI::App* cmd, const std::string& name,
                              int64_t& value, const std::string& help,
                              int64_t min, int64_t max);

} // namespace colony::apps
