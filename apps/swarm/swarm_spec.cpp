#include "apps/swarm/swarm_spec.hpp"

#include "messages/error.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

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

std::string where(std::string_view source, const toml::source_region& at) {
  return std::string{source} + ":" + std::to_string(at.begin.line) + ":" +
         std::to_string(at.begin.column) + ": ";
}

} // namespace

caf::expected<swarm_spec>
parse_swarm_spec(std::string_view toml_text, std::string_view source_name,
                 const std::string& base_dir,
                 const std::vector<std::string>& other_keys) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return make_error(errc::bad_config, where(source_name, e.source()) +
                                            std::string{e.description()});
  }
  std::vector<std::string> problems;
  swarm_spec spec;
  spec.source_path = std::string{source_name};
  for (auto&& [key, value] : root) {
    if (key.str() != "nodes" && std::find(other_keys.begin(), other_keys.end(),
                                          key.str()) == other_keys.end())
      problems.push_back(where(source_name, key.source()) + "unknown key '" +
                         std::string{key.str()} + "' (expected [[nodes]])");
  }
  const auto* nodes = root.get("nodes");
  if (nodes != nullptr && !nodes->is_array_of_tables())
    problems.push_back(where(source_name, nodes->source()) +
                       "nodes must be written [[nodes]] (an array of tables)");
  if (nodes != nullptr && nodes->is_array_of_tables()) {
    for (auto&& entry : *nodes->as_array()) {
      const auto& table = *entry.as_table();
      swarm_node_spec node;
      bool has_role = false;
      bool has_config = false;
      for (auto&& [key, value] : table) {
        auto at = where(source_name, value.source());
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
            problems.push_back(at + "nodes.role: expected \"dht\", "
                                    "\"server\" or \"trainer\"");
          has_role = true;
        } else if (name == "config") {
          const auto* text = value.as_string();
          if (text == nullptr || text->get().empty()) {
            problems.push_back(at + "nodes.config: expected a file name");
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
            problems.push_back(at +
                               "nodes.count: expected an integer "
                               "between 1 and " +
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
            problems.push_back(at + "nodes.set: expected an array of "
                                    "\"section.key=value\" strings");
        } else {
          problems.push_back(where(source_name, key.source()) +
                             "unknown key '" + name +
                             "' in [[nodes]] (role, config, count, set)");
        }
      }
      auto at = where(source_name, table.source());
      if (!has_role)
        problems.push_back(at + "[[nodes]] needs a role");
      if (!has_config)
        problems.push_back(at + "[[nodes]] needs a config");
      spec.nodes.push_back(std::move(node));
    }
  }
  if (problems.empty()) {
    bool has_dht = false;
    for (const auto& n : spec.nodes)
      has_dht = has_dht || n.role == swarm_role::dht;
    if (!has_dht)
      problems.push_back(std::string{source_name} +
                         ": a swarm needs a [[nodes]] table with role = "
                         "\"dht\" (its first node is the bootstrap)");
  }
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems)
      text += (text.empty() ? "" : "\n") + p;
    return make_error(errc::bad_config, std::move(text));
  }
  return spec;
}

caf::expected<swarm_spec> load_swarm_spec(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::io_error, "cannot read swarm spec " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto dir = std::filesystem::path{path}.parent_path().string();
  return parse_swarm_spec(text.str(), path, dir.empty() ? "." : dir);
}

} // namespace colony::apps
