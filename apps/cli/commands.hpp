#pragma once

#include <CLI/CLI.hpp>

namespace colony::apps {

// Each `colony` subcommand registers itself on the parsed app.

/// Exit status of a usage error: a bad flag or config value, a missing
/// config file. The reason is printed and no node is started.
constexpr int usage_error_status = 2;

/// Ends a command's callback: CLI11 turns a non-zero status into the
/// process's exit status.
inline void exit_with(int status) {
  if (status != 0)
    throw CLI::RuntimeError(status);
}

/// `colony run CONFIG.toml [--set k=v ...] [--address-file F]`
void add_run_command(CLI::App& app);

/// `colony average CONFIG.toml [--steps N] [--report F] [--set k=v ...]`
void add_average_command(CLI::App& app);

/// `colony ping ADDR [--count N] [--json]`
void add_ping_command(CLI::App& app);

/// `colony dht`, `colony dht-store`, `colony dht-get`, `colony experts`
void add_dht_commands(CLI::App& app);

/// `colony server [flags]`, `colony info ADDR`
void add_server_command(CLI::App& app);

/// `colony train CONFIG.toml [--set k=v ...] [--metrics-csv F] [--plot F]`
void add_train_command(CLI::App& app);

/// `colony swarm SWARM.toml [--out DIR]`: a local swarm of processes.
void add_swarm_command(CLI::App& app);

/// `colony token authority|issue|show`: swarm access tokens.
void add_token_command(CLI::App& app);

/// `colony harness SCENARIO.toml [--out DIR]`: fault injection.
void add_harness_command(CLI::App& app);

/// `colony bench convergence [--steps N] [--json]`
void add_bench_convergence_command(CLI::App& bench);

/// `colony bench collaborative [--epochs N] [--peers 1,2,4] [--json]`
void add_bench_collaborative_command(CLI::App& bench);

/// `colony bench allreduce [--peers P] [--floats N] [--compression C]`
void add_bench_allreduce_command(CLI::App& bench);

/// `colony bench moshpit [--peers P] [--group-size G] [--drop D] [--json]`
void add_bench_moshpit_command(CLI::App& bench);

/// `colony bench state [--megabytes M] [--json]`
void add_bench_state_command(CLI::App& bench);

/// `colony bench dht [--peers N] [--keys K] [--failure-rate F] [--json]`
void add_bench_dht_command(CLI::App& bench);

/// `colony bench transport [--json]`
void add_bench_transport_command(CLI::App& bench);

/// `colony bench throughput [--experts E] [--clients C] [--batch-sizes ...]`
void add_bench_throughput_command(CLI::App& bench);

/// `colony bench flood [--concurrency N] [--seconds S] [--json]`
void add_bench_flood_command(CLI::App& bench);

/// `colony bench compression [--numel N] [--repeats R] [--json]`
void add_bench_compression_command(CLI::App& bench);

} // namespace colony::apps
