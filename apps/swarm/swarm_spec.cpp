#include "apps/swarm/swarm_spec.hpp"

#include "messages/error.hpp"
#include "runtime/config/toml_input.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

namespace colony::apps {

const char* to_string(swarm_role role) noexcept {
  switch (role) {
  case swarm_role::dht:
    return "dht";
  case swarm_role::server:
    return "server";
  case swarm_role::trainer:
    return "trainer";
  }
  return "?";
}

namespace {

/// Most processes one `[[nodes]]` table may start: a typo such as 1000 must
/// not fork-bomb the machine.
constexpr int64_t max_count = 64;

/// Reads one `[[nodes]]` table.
swarm_node_spec read_node(const toml::table& table, const std::string& source,
                          const std::string& base_dir, config_issues& issues) {
  auto at = [&](const toml::node& n) {
    return config_place::in(source, n.source());
  };
  swarm_node_spec node;
  bool has_role = false;
  bool has_config = false;
  for (auto&& [key, value] : table) {
    auto name = std::string{key.str()};
    if (name == "role") {
      const auto* text = value.as_string();
      auto role = text ? text->get() : std::string{};
      if (role == "dht")
        node.role = swarm_role::dht;
      else if (role == "server")
        node.role = swarm_role::server;
      else if (role == "trainer")
        node.role = swarm_role::trainer;
      else
        issues.add(at(value), "nodes.role: expected \"dht\", \"server\" or "
                              "\"trainer\"");
      has_role = true;
    } else if (name == "config") {
      const auto* text = value.as_string();
      if (text == nullptr || text->get().empty()) {
        issues.add(at(value), "nodes.config: expected a file name");
      } else {
        std::filesystem::path p{text->get()};
        node.config = p.is_absolute()
                          ? p.string()
                          : (std::filesystem::path{base_dir} / p).string();
      }
      has_config = true;
    } else if (name == "count") {
      const auto* n = value.as_integer();
      if (n == nullptr || n->get() < 1 || n->get() > max_count)
        issues.add(at(value), "nodes.count: expected an integer between 1 "
                              "and " +
                                  std::to_string(max_count));
      else
        node.count = static_cast<size_t>(n->get());
    } else if (name == "set") {
      const auto* list = value.as_array();
      bool ok = list != nullptr;
      if (ok)
        for (auto&& item : *list) {
          if (const auto* text = item.as_string())
            node.overrides.push_back(text->get());
          else
            ok = false;
        }
      if (!ok)
        issues.add(at(value), "nodes.set: expected an array of "
                              "\"section.key=value\" strings");
    } else {
      issues.add(config_place::in(source, key.source()),
                 "unknown key '" + name +
                     "' in [[nodes]] (role, config, count, set)");
    }
  }
  if (!has_role)
    issues.add(at(table), "[[nodes]] needs a role");
  if (!has_config)
    issues.add(at(table), "[[nodes]] needs a config");
  return node;
}

} // namespace

swarm_spec read_swarm_spec(std::string_view toml_text,
                           std::string_view source_name,
                           const std::string& base_dir,
                           const std::vector<std::string>& other_keys,
                           config_issues& issues) {
  std::string source{source_name};
  swarm_spec spec;
  spec.source_path = source;
  auto root = parse_toml(toml_text, source, issues);
  if (!root)
    return spec;
  auto found_before = issues.size();
  for (auto&& [key, value] : *root)
    if (key.str() != "nodes" && std::find(other_keys.begin(), other_keys.end(),
                                          key.str()) == other_keys.end())
      issues.add(config_place::in(source, key.source()),
                 "unknown key '" + std::string{key.str()} +
                     "' (expected [[nodes]])");
  if (const auto* nodes = root->get("nodes")) {
    if (!nodes->is_array_of_tables())
      issues.add(config_place::in(source, nodes->source()),
                 "nodes must be written [[nodes]] (an array of tables)");
    else
      for (auto&& entry : *nodes->as_array())
        spec.nodes.push_back(
            read_node(*entry.as_table(), source, base_dir, issues));
  }
  // Only worth saying of a spec whose nodes were read.
  if (issues.size() == found_before &&
      std::none_of(spec.nodes.begin(), spec.nodes.end(),
                   [](const auto& n) { return n.role == swarm_role::dht; }))
    issues.add(config_place{source},
               "a swarm needs a [[nodes]] table with role = \"dht\" (its "
               "first node is the bootstrap)");
  return spec;
}

caf::expected<swarm_spec> parse_swarm_spec(std::string_view toml_text,
                                           std::string_view source_name,
                                           const std::string& base_dir) {
  config_issues issues;
  auto spec = read_swarm_spec(toml_text, source_name, base_dir, {}, issues);
  if (!issues.empty())
    return issues.to_error();
  return spec;
}

caf::expected<swarm_spec> load_swarm_spec(const std::string& path) {
  auto text = read_config_file(path);
  if (!text)
    return std::move(text.error());
  auto dir = std::filesystem::path{path}.parent_path().string();
  return parse_swarm_spec(*text, path, dir.empty() ? "." : dir);
}

} // namespace colony::apps
