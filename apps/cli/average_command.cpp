// `colony average CONFIG.toml`: a node that hosts the averagers of its
// `[[averagers]]` tables and takes a given number of steps with each, one
// JSON line per step (the benchmark and the harness read them). `sum`, the
// sum of the tensors' elements after the step, lets a reader check that the
// members of a group hold the same values.

#include "actors/averaging/averaging_atoms.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"
#include "apps/cli/node_launch.hpp"
#include "apps/node/averager_hosting.hpp"
#include "apps/node/node.hpp"
#include "apps/output/json_text.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace colony::apps {

namespace {

struct average_args {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string address_file;
  std::string report_path;
  size_t steps = 1;
};

/// The JSON line of one step's outcome.
std::string step_line(const averager_hosting::hosted& h, size_t step,
                      const caf::expected<averaging::step_result>& r) {
  std::ostringstream out;
  out.precision(17);
  out << "{\"prefix\":" << json_string(h.prefix) << ",\"step\":" << step
      << ",\"sum\":";
  if (auto sum = h.element_sum(); std::isfinite(sum))
    out << sum;
  else
    out << "null";
  if (!r) {
    out << ",\"ok\":false,\"error\":" << json_string(describe(r.error()))
        << "}";
    return out.str();
  }
  out << ",\"ok\":true,\"group_size\":" << r->group.members.size()
      << ",\"index\":" << r->index
      << ",\"matchmaking_s\":" << r->matchmaking_time.count() / 1e6
      << ",\"allreduce_s\":" << r->allreduce_time.count() / 1e6
      << ",\"bytes_sent\":" << r->bytes_sent
      << ",\"averaged_parts\":" << r->averaged_parts
      << ",\"kept_parts\":" << r->kept_parts
      << ",\"group_bits\":" << json_string(r->group_bits) << "}";
  return out.str();
}

int run_average(const average_args& args) {
  block_shutdown_signals(); // before any thread exists
  node_config config;
  command_config_sources sources;
  sources.config_path = args.config_path;
  sources.sets = args.overrides;
  if (auto rc = load_command_config(sources, config))
    return rc;
  if (config.averagers.empty()) {
    std::cerr << "colony: " << args.config_path
              << ": no [[averagers]] to average" << std::endl;
    return usage_error_status;
  }
  auto started = node::start(config);
  if (!started) {
    std::cerr << "colony: cannot start node: " << describe(started.error())
              << std::endl;
    return 1;
  }
  auto& n = **started;
  if (auto rc = join_swarm(n))
    return rc;
  if (auto err = n.host_averagers()) {
    n.log().error("cannot start averagers: {}", error_reason(err));
    return 1;
  }
  if (auto rc = announce_address(n, args.address_file))
    return rc;
  std::ofstream report_file;
  if (!args.report_path.empty()) {
    report_file.open(args.report_path, std::ios::trunc);
    if (!report_file) {
      n.log().error("cannot write {}", args.report_path);
      return 1;
    }
  }
  std::ostream& report = args.report_path.empty() ? std::cout : report_file;
  caf::scoped_actor self{n.system()};
  size_t failed = 0;
  for (size_t step = 0; step < args.steps; ++step) {
    for (const auto& h : n.averagers()->averagers()) {
      averaging::step_request request;
      request.weight = h.config->weight;
      request.timeout = h.config->step_timeout;
      caf::expected<averaging::step_result> result{caf::error{}};
      self->request(h.averager, caf::infinite, averaging::step_atom::value,
                    std::move(request))
          .receive([&](averaging::step_result& r) { result = std::move(r); },
                   [&](caf::error& err) { result = std::move(err); });
      if (!result)
        ++failed;
      report << step_line(h, step, result) << std::endl;
    }
  }
  n.log().info("averaged {} steps, {} failed", args.steps, failed);
  return failed == 0 ? 0 : 1;
}

} // namespace

void add_average_command(CLI::App& app) {
  auto args = std::make_shared<average_args>();
  auto* cmd = app.add_subcommand(
      "average", "host the [[averagers]] of a node config and take steps");
  cmd->add_option("config", args->config_path, "node config (TOML)")
      ->required();
  cmd->add_option("--set", args->overrides,
                  "override a config key: section.key=value (repeatable)");
  cmd->add_option("--steps", args->steps,
                  "steps each averager takes before the node exits")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cmd->add_option("--report", args->report_path,
                  "write one JSON line per step here (default: stdout)");
  cmd->add_option("--address-file", args->address_file,
                  "write HOST:PORT here once accepting connections");
  cmd->callback([args] { exit_with(run_average(*args)); });
}

} // namespace colony::apps
