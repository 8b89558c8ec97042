#include "apps/cli/commands.hpp"
#include "runtime/tensor_allocator.hpp"

#include <csignal>

int main(int argc, char** argv) {
  // A peer that vanishes mid-write must not kill the node.
  std::signal(SIGPIPE, SIG_IGN);
  colony::tune_tensor_allocator();
  CLI::App app{"colony: decentralized mixture-of-experts training over "
               "unreliable peers"};
  app.require_subcommand(1);
  colony::apps::add_run_command(app);
  colony::apps::add_average_command(app);
  colony::apps::add_ping_command(app);
  colony::apps::add_dht_commands(app);
  colony::apps::add_server_command(app);
  colony::apps::add_train_command(app);
  colony::apps::add_swarm_command(app);
  colony::apps::add_harness_command(app);
  colony::apps::add_token_command(app);
  auto* bench = app.add_subcommand(
      "bench", "benchmarks; each prints one JSON line with its baseline");
  bench->require_subcommand(1);
  colony::apps::add_bench_transport_command(*bench);
  colony::apps::add_bench_dht_command(*bench);
  colony::apps::add_bench_compression_command(*bench);
  colony::apps::add_bench_throughput_command(*bench);
  colony::apps::add_bench_flood_command(*bench);
  colony::apps::add_bench_convergence_command(*bench);
  colony::apps::add_bench_collaborative_command(*bench);
  colony::apps::add_bench_allreduce_command(*bench);
  colony::apps::add_bench_moshpit_command(*bench);
  colony::apps::add_bench_state_command(*bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A command's own exit status travels as a RuntimeError (`exit_with`).
    if (e.get_name() == "RuntimeError")
      return e.get_exit_code();
    // Prints the reason (`--flag: reason`), or the help asked for.
    auto status = app.exit(e);
    return status == 0 ? 0 : colony::apps::usage_error_status;
  }
  return 0;
}
