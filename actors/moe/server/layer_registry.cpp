#include "actors/moe/server/layer_registry.hpp"

#include "actors/moe/server/builtin_layers.hpp"

#include <map>
#include <mutex>

namespace colony::moe {

namespace {

/// All classes by name. Replaced classes are kept alive in `retired` so
/// pointers handed out earlier never dangle.
struct registry {
  std::mutex mtx;
  std::map<std::string, std::unique_ptr<expert_class>> classes;
  std::vector<std::unique_ptr<expert_class>> retired;

  registry() {
    for (auto& [name, cls] : builtin_expert_classes())
      classes[name] = std::make_unique<expert_class>(std::move(cls));
  }
};

registry& the_registry() {
  static registry instance;
  return instance;
}

} // namespace

void register_expert_class(std::string name, expert_class cls) {
  auto& reg = the_registry();
  auto ptr = std::make_unique<expert_class>(std::move(cls));
  std::lock_guard<std::mutex> guard{reg.mtx};
  auto& slot = reg.classes[std::move(name)];
  if (slot)
    reg.retired.push_back(std::move(slot));
  slot = std::move(ptr);
}

const expert_class* find_expert_class(const std::string& name) {
  auto& reg = the_registry();
  std::lock_guard<std::mutex> guard{reg.mtx};
  auto i = reg.classes.find(name);
  return i == reg.classes.end() ? nullptr : i->second.get();
}

std::vector<std::string> expert_class_names() {
  auto& reg = the_registry();
  std::lock_guard<std::mutex> guard{reg.mtx};
  std::vector<std::string> result;
  result.reserve(reg.classes.size());
  for (auto& entry : reg.classes)
    result.push_back(entry.first);
  return result;
}

} // namespace colony::moe
