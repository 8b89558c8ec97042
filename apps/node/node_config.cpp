#include "apps/node/node_config.hpp"

#include "actors/averaging/group_info.hpp"
#include "actors/moe/expert_uid.hpp"
#include "actors/moe/server/layer_registry.hpp"
#include "actors/trainer/expert_grid.hpp"
#include "messages/error.hpp"
#include "runtime/config/config_issues.hpp"
#include "runtime/config/toml_input.hpp"
#include "runtime/config/value_rules.hpp"
#include "runtime/logging.hpp"
#include "runtime/peer_address.hpp"
#include "runtime/peer_id.hpp"

#include <toml++/toml.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

namespace colony {

namespace {

// -- messages ----------------------------------------------------------------

std::string reason_of(const caf::error& err) {
  return error_reason(err);
}

std::string seconds_text(std::chrono::milliseconds duration) {
  return number_text(static_cast<double>(duration.count()) / 1000) + " s";
}

std::string in_quotes(std::string_view text) {
  return "'" + std::string{text} + "'";
}

/// Whether `section` is written as an array of tables (`[[experts]]`,
/// `[[averagers]]`): one entry of the config's list per table.
bool is_repeated_section(std::string_view section) {
  return section == "experts" || section == "averagers";
}

/// Adds the entry that the keys of the next `[[section]]` table fill.
void add_repeated_entry(node_config& cfg, std::string_view section) {
  if (section == "experts")
    cfg.experts.emplace_back();
  else
    cfg.averagers.emplace_back();
}

// -- the schema: a table of keys, each with a typed setter ------------------

/// The kind of value a key takes: it decides the type check and how the text
/// of an override is read.
enum class value_kind {
  string,
  boolean,
  bytes,
  count,
  number,
  seconds,
  string_list,
  integer_list
};

const char* expected_text(value_kind kind) noexcept {
  switch (kind) {
  case value_kind::string:
    return "a string";
  case value_kind::boolean:
    return "a boolean";
  case value_kind::bytes:
    return "an integer (bytes)";
  case value_kind::count:
    return "an integer";
  case value_kind::number:
    return "a number";
  case value_kind::seconds:
    return "a number (seconds)";
  case value_kind::string_list:
    return "an array of strings";
  case value_kind::integer_list:
    return "an array of integers";
  }
  return "?";
}

/// One key's value being applied to a config.
struct key_use {
  std::string name;        ///< `section.key`
  const toml::node& value; ///< its TOML value
  config_place where;      ///< where the value was written
  config_issues& issues;

  /// Returns where `part` (e.g. an array element) of the value was written.
  [[nodiscard]] config_place at(const toml::node& part) const {
    const auto& begin = part.source().begin;
    if (where.from_override || begin.line == 0)
      return where;
    return config_place::in(where.source, part.source());
  }

  void fail(std::string reason) const {
    issues.add(where, name + ": " + std::move(reason));
  }

  void fail_at(const toml::node& part, std::string reason) const {
    issues.add(at(part), name + ": " + std::move(reason));
  }

  void fail_type(value_kind kind) const {
    fail(std::string{"expected "} + expected_text(kind) + ", got " +
         toml_type_name(value));
  }
};

/// Checks a value and stores it in the config, or reports why not.
using key_setter = std::function<void(node_config&, const key_use&)>;

/// A key of the schema.
struct key_spec {
  value_kind kind;
  key_setter set;
};

/// What a cross-key rule sees: the finished config and where each key that
/// the input set came from.
struct rule_context {
  const std::map<std::string, config_place, std::less<>>& set_keys;
  config_place file;
  config_issues& issues;

  /// Reports at the first of `keys` that the input set, or at the file if
  /// every one of them kept its default.
  void fail(std::initializer_list<std::string_view> keys,
            std::string reason) const {
    for (auto key : keys)
      if (auto i = set_keys.find(key); i != set_keys.end()) {
        issues.add(i->second, std::move(reason));
        return;
      }
    issues.add(file, std::move(reason));
  }
};

/// A check across keys, run once every key is set.
using config_rule =
    std::function<void(const node_config&, const rule_context&)>;

/// The sections and keys a node config accepts, and its cross-key rules.
/// A new part of colony adds its section in `make_node_schema` below: one
/// line per key, naming the field and the check.
class config_schema {
 public:
  void add(std::string_view section, std::string_view key, key_spec spec) {
    sections_[std::string{section}].emplace(std::string{key}, std::move(spec));
  }

  void add_rule(config_rule rule) { rules_.push_back(std::move(rule)); }

  [[nodiscard]] bool has_section(std::string_view section) const {
    return sections_.find(section) != sections_.end();
  }

  [[nodiscard]] const key_spec* find(std::string_view section,
                                     std::string_view key) const {
    auto s = sections_.find(section);
    if (s == sections_.end())
      return nullptr;
    auto k = s->second.find(key);
    return k == s->second.end() ? nullptr : &k->second;
  }

  /// Returns "a, b, c": the keys of `section`, for hints.
  [[nodiscard]] std::string keys_of(std::string_view section) const {
    std::string result;
    for (const auto& [key, spec] : sections_.find(section)->second)
      result += (result.empty() ? "" : ", ") + key;
    return result;
  }

  /// Returns "[a], [b]": every section, for hints.
  [[nodiscard]] std::string section_names() const {
    std::string result;
    for (const auto& [section, keys] : sections_)
      result += (result.empty() ? "[" : ", [") + section + "]";
    return result;
  }

  [[nodiscard]] std::vector<std::string> all_keys() const {
    std::vector<std::string> result;
    for (const auto& [section, keys] : sections_)
      for (const auto& [key, spec] : keys)
        result.push_back(section + "." + key);
    return result;
  }

  [[nodiscard]] const std::vector<config_rule>& rules() const noexcept {
    return rules_;
  }

 private:
  std::map<std::string, std::map<std::string, key_spec, std::less<>>,
           std::less<>>
      sections_;
  std::vector<config_rule> rules_;
};

/// A check of one string; returns the reason it fails, if it does.
using string_check =
    std::function<std::optional<std::string>(const std::string&)>;

// Each binder takes `access`, a function from the config to the field.

template <class Access>
key_spec string_key(Access access, string_check check = {}) {
  return {value_kind::string, [=](node_config& cfg, const key_use& use) {
            const auto* str = use.value.as_string();
            if (str == nullptr)
              return use.fail_type(value_kind::string);
            if (check)
              if (auto why = check(str->get()))
                return use.fail(std::move(*why));
            access(cfg) = str->get();
          }};
}

template <class Access>
key_spec bool_key(Access access) {
  return {value_kind::boolean, [=](node_config& cfg, const key_use& use) {
            const auto* flag = use.value.as_boolean();
            if (flag == nullptr)
              return use.fail_type(value_kind::boolean);
            access(cfg) = flag->get();
          }};
}

template <class Access>
key_spec bytes_key(Access access) {
  return {value_kind::bytes, [=](node_config& cfg, const key_use& use) {
            const auto* num = use.value.as_integer();
            if (num == nullptr)
              return use.fail_type(value_kind::bytes);
            auto bytes = check_bytes(num->get());
            if (!bytes)
              return use.fail(reason_of(bytes.error()));
            access(cfg) = *bytes;
          }};
}

template <class Access>
key_spec count_key(Access access, int64_t min = 0, int64_t max = 4096) {
  return {value_kind::count, [=](node_config& cfg, const key_use& use) {
            const auto* num = use.value.as_integer();
            if (num == nullptr)
              return use.fail_type(value_kind::count);
            auto count = check_count(num->get(), min, max);
            if (!count)
              return use.fail(reason_of(count.error()));
            using field = std::remove_reference_t<decltype(access(cfg))>;
            access(cfg) = static_cast<field>(*count);
          }};
}

/// The value of a TOML number, integer or floating point.
std::optional<double> number_of(const toml::node& value) {
  if (const auto* f = value.as_floating_point())
    return f->get();
  if (const auto* i = value.as_integer())
    return static_cast<double>(i->get());
  return std::nullopt;
}

/// Durations are written in seconds, integer or fractional, and kept in
/// milliseconds.
template <class Access>
key_spec seconds_key(Access access, bool zero_allowed = false) {
  return {value_kind::seconds, [=](node_config& cfg, const key_use& use) {
            auto seconds_read = number_of(use.value);
            if (!seconds_read)
              return use.fail_type(value_kind::seconds);
            double seconds = *seconds_read;
            seconds_bounds bounds;
            bounds.zero_allowed = zero_allowed;
            auto duration = check_seconds(seconds, bounds);
            if (!duration)
              return use.fail(reason_of(duration.error()));
            access(cfg) = *duration;
          }};
}

template <class Access>
key_spec string_list_key(Access access, string_check check = {}) {
  return {value_kind::string_list, [=](node_config& cfg, const key_use& use) {
            const auto* arr = use.value.as_array();
            if (arr == nullptr)
              return use.fail_type(value_kind::string_list);
            std::vector<std::string> result;
            bool ok = true;
            for (size_t i = 0; i < arr->size(); ++i) {
              const auto& element = *arr->get(i);
              auto prefix = "element " + std::to_string(i) + ": ";
              const auto* str = element.as_string();
              if (str == nullptr) {
                use.fail_at(element, prefix + "expected a string, got " +
                                         toml_type_name(element));
                ok = false;
              } else if (auto why = check ? check(str->get()) : std::nullopt) {
                use.fail_at(element, prefix + *why);
                ok = false;
              } else {
                result.push_back(str->get());
              }
            }
            if (ok)
              access(cfg) = std::move(result);
          }};
}

/// An array of integers, each in [min, max].
template <class Access>
key_spec integer_list_key(Access access, int64_t min, int64_t max) {
  return {value_kind::integer_list, [=](node_config& cfg, const key_use& use) {
            const auto* arr = use.value.as_array();
            if (arr == nullptr)
              return use.fail_type(value_kind::integer_list);
            std::vector<int64_t> result;
            bool ok = true;
            for (size_t i = 0; i < arr->size(); ++i) {
              const auto& element = *arr->get(i);
              auto prefix = "element " + std::to_string(i) + ": ";
              const auto* num = element.as_integer();
              if (num == nullptr) {
                use.fail_at(element, prefix + "expected an integer, got " +
                                         toml_type_name(element));
                ok = false;
              } else if (num->get() < min || num->get() > max) {
                use.fail_at(element, prefix + "must be between " +
                                         std::to_string(min) + " and " +
                                         std::to_string(max) + ", got " +
                                         std::to_string(num->get()));
                ok = false;
              } else {
                result.push_back(num->get());
              }
            }
            if (ok)
              access(cfg) = std::move(result);
          }};
}

/// A non-negative number (integer or floating point), at most `max`.
template <class Access>
key_spec number_key(Access access,
                    double max = std::numeric_limits<double>::infinity()) {
  return {value_kind::number, [=](node_config& cfg, const key_use& use) {
            auto read = number_of(use.value);
            if (!read)
              return use.fail_type(value_kind::number);
            double x = *read;
            auto number = check_number(x, max);
            if (!number)
              return use.fail(reason_of(number.error()));
            access(cfg) = *number;
          }};
}

/// A fraction in (0, 1].
template <class Access>
key_spec share_key(Access access) {
  return {value_kind::number, [=](node_config& cfg, const key_use& use) {
            auto read = number_of(use.value);
            if (!read)
              return use.fail_type(value_kind::number);
            double x = *read;
            if (!(x > 0 && x <= 1))
              return use.fail("must be a fraction in (0, 1], got " +
                              number_text(x));
            access(cfg) = x;
          }};
}

/// A tensor codec by name.
template <class Access>
key_spec codec_key(Access access) {
  return {value_kind::string, [=](node_config& cfg, const key_use& use) {
            const auto* str = use.value.as_string();
            if (str == nullptr)
              return use.fail_type(value_kind::string);
            auto codec = parse_compression_type(str->get());
            if (!codec)
              return use.fail("unknown compression " + in_quotes(str->get()) +
                              " (none, float16, scaled_float16, uniform_8bit, "
                              "quantile_8bit)");
            access(cfg) = *codec;
          }};
}

/// A codec by name that replaces another key's when given (a role of
/// role-adaptive compression).
template <class Access>
key_spec role_codec_key(Access access) {
  return codec_key([=](node_config& cfg) -> compression_type& {
    auto& codec = access(cfg);
    codec.emplace();
    return *codec;
  });
}

/// How a collaborative trainer averages gradients, by name.
template <class Access>
key_spec grad_averager_key(Access access) {
  return {value_kind::string, [=](node_config& cfg, const key_use& use) {
            const auto* str = use.value.as_string();
            if (str == nullptr)
              return use.fail_type(value_kind::string);
            auto kind = optim::parse_grad_averager_kind(str->get());
            if (!kind)
              return use.fail("unknown gradient averager " +
                              in_quotes(str->get()) + " (plain, power_sgd)");
            access(cfg) = *kind;
          }};
}

/// A check that accepts only the words in `choices`.
string_check one_of(std::vector<std::string> choices) {
  return [choices](const std::string& text) -> std::optional<std::string> {
    for (const auto& c : choices)
      if (text == c)
        return std::nullopt;
    std::string list;
    for (const auto& c : choices)
      list += (list.empty() ? "" : ", ") + c;
    return "unknown value " + in_quotes(text) + " (" + list + ")";
  };
}

std::optional<std::string> check_pattern(const std::string& text) {
  if (auto uids = moe::expand_expert_pattern(text, size_t{1} << 24); !uids)
    return reason_of(uids.error());
  return std::nullopt;
}

std::optional<std::string> check_uid(const std::string& text) {
  if (auto parsed = moe::parse_uid(text); !parsed)
    return reason_of(parsed.error());
  return std::nullopt;
}

std::optional<std::string> check_grid(const std::string& text) {
  if (auto grid = trainer::parse_expert_grid(text); !grid)
    return reason_of(grid.error());
  return std::nullopt;
}

std::optional<std::string> check_device(const std::string& text) {
  if (text == "cpu" || (text.rfind("cuda", 0) == 0))
    return std::nullopt;
  return "unknown device " + in_quotes(text) + " (cpu or cuda:N)";
}

/// A class of the layer registry, or a TorchScript file (.pt or .ts) that
/// exists. Classes a program registers itself must be registered before it
/// parses its config.
std::optional<std::string> check_expert_cls(const std::string& text) {
  auto ends_with = [&](std::string_view suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) ==
               0;
  };
  if (ends_with(".pt") || ends_with(".ts")) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(text, ec))
      return "no TorchScript file " + in_quotes(text);
    return std::nullopt;
  }
  if (moe::find_expert_class(text) != nullptr)
    return std::nullopt;
  std::string known;
  for (const auto& name : moe::expert_class_names())
    known += (known.empty() ? "" : ", ") + name;
  return "unknown expert class " + in_quotes(text) + " (known: " + known +
         "; or a TorchScript file ending in .pt or .ts)";
}

std::optional<std::string> check_listen(const std::string& text) {
  auto addr = peer_address::parse(text);
  if (!addr)
    return reason_of(addr.error());
  if (addr->id)
    return "a listen address names no peer id (the node's own id comes "
           "from its identity)";
  return std::nullopt;
}

std::optional<std::string> check_peer(const std::string& text) {
  auto addr = peer_address::parse(text);
  if (!addr)
    return reason_of(addr.error());
  if (addr->port == 0)
    return "bad address " + in_quotes(text) + ": port 0 cannot be dialed";
  return std::nullopt;
}

std::optional<std::string> check_peer_id(const std::string& text) {
  if (auto id = peer_id::parse(text); !id)
    return reason_of(id.error());
  return std::nullopt;
}

std::optional<std::string> check_swarm_id(const std::string& text) {
  // Travels in every handshake.
  constexpr size_t max_size = 256;
  if (text.empty())
    return std::string{"must not be empty"};
  if (text.size() > max_size)
    return "must be at most " + std::to_string(max_size) + " bytes";
  return std::nullopt;
}

std::optional<std::string> check_log_level(const std::string& text) {
  if (auto level = parse_log_level(text); !level)
    return reason_of(level.error());
  return std::nullopt;
}

/// `[trainer]`'s collaborative keys (actors/optim/collaborative_options.hpp).
void add_collaborative_keys(config_schema& s) {
  using std::chrono::milliseconds;
  auto t = [](node_config& c) -> trainer::trainer_options& {
    return c.trainer;
  };
  auto o = [=](node_config& c) -> optim::collaborative_options& {
    return t(c).collaboration;
  };
  s.add("trainer", "collaborative",
        bool_key([=](node_config& c) -> bool& { return t(c).collaborative; }));
  s.add("trainer", "final_parameters",
        string_key([=](node_config& c) -> std::string& {
          return t(c).final_parameters;
        }));
  s.add("trainer", "max_epochs",
        count_key([=](node_config& c) -> uint64_t& { return t(c).max_epochs; },
                  0, int64_t{1} << 40));
  s.add("trainer", "run_id", string_key([=](node_config& c) -> std::string& {
          return o(c).run_id;
        }));
  s.add("trainer", "target_batch_size",
        count_key(
            [=](node_config& c) -> uint64_t& { return o(c).target_batch_size; },
            1, int64_t{1} << 40));
  s.add("trainer", "matchmaking_time",
        seconds_key([=](node_config& c)
                        -> milliseconds& { return o(c).matchmaking_time; },
                    true));
  s.add("trainer", "averaging_timeout",
        seconds_key([=](node_config& c) -> milliseconds& {
          return o(c).averaging_timeout;
        }));
  s.add("trainer", "allreduce_timeout",
        seconds_key([=](node_config& c) -> std::optional<milliseconds>& {
          return o(c).allreduce_timeout;
        }));
  s.add("trainer", "next_chunk_timeout",
        seconds_key([=](node_config& c) -> std::optional<milliseconds>& {
          return o(c).next_chunk_timeout;
        }));
  s.add("trainer", "load_state_timeout",
        seconds_key([=](node_config& c) -> milliseconds& {
          return o(c).load_state_timeout;
        }));
  s.add(
      "trainer", "average_state_every",
      count_key(
          [=](node_config& c) -> uint64_t& { return o(c).average_state_every; },
          1, int64_t{1} << 40));
  s.add("trainer", "delay_state_averaging",
        bool_key([=](node_config& c) -> bool& {
          return o(c).delay_state_averaging;
        }));
  s.add("trainer", "delay_grad_averaging",
        bool_key([=](node_config& c) -> bool& {
          return o(c).delay_grad_averaging;
        }));
  s.add("trainer", "delay_optimizer_step",
        bool_key([=](node_config& c) -> std::optional<bool>& {
          return o(c).delay_optimizer_step;
        }));
  s.add("trainer", "use_local_updates", bool_key([=](node_config& c) -> bool& {
          return o(c).use_local_updates;
        }));
  s.add("trainer", "grad_compression",
        codec_key([=](node_config& c) -> compression_type& {
          return o(c).grad_compression.codec;
        }));
  s.add("trainer", "grad_averager",
        grad_averager_key([=](node_config& c) -> optim::grad_averager_kind& {
          return o(c).grad_averager;
        }));
  s.add(
      "trainer", "power_sgd_rank",
      count_key([=](node_config& c) -> int64_t& { return o(c).power_sgd_rank; },
                1, optim::max_power_sgd_rank));
  s.add("trainer", "state_averaging_compression",
        codec_key([=](node_config& c) -> compression_type& {
          return o(c).state_averaging_compression.fallback.codec;
        }));
  s.add("trainer", "parameter_compression",
        role_codec_key([=](node_config& c) -> std::optional<compression_type>& {
          return o(c).state_averaging_compression.parameter;
        }));
  s.add("trainer", "optimizer_compression",
        role_codec_key([=](node_config& c) -> std::optional<compression_type>& {
          return o(c).state_averaging_compression.optimizer;
        }));
  // The size threshold of every averaged tensor, gradients and state.
  s.add("trainer", "min_compressed_numel",
        {value_kind::count, [=](node_config& c, const key_use& use) {
           const auto* num = use.value.as_integer();
           if (num == nullptr)
             return use.fail_type(value_kind::count);
           auto count = check_count(num->get(), 0, int64_t{1} << 62);
           if (!count)
             return use.fail(reason_of(count.error()));
           o(c).grad_compression.min_compressed_numel = *count;
           o(c).state_averaging_compression.fallback.min_compressed_numel =
               *count;
         }});
  s.add("trainer", "load_state_compression",
        codec_key([=](node_config& c) -> compression_type& {
          return o(c).load_state_compression;
        }));
  s.add("trainer", "average_opt_statistics",
        string_list_key([=](node_config& c) -> std::vector<std::string>& {
          return o(c).average_opt_statistics;
        }));
  s.add("trainer", "target_group_size",
        count_key(
            [=](node_config& c) -> std::optional<size_t>& {
              return o(c).target_group_size;
            },
            1, averaging::max_group_members));
  s.add("trainer", "averaging_seed",
        count_key([=](node_config& c) -> uint64_t& { return o(c).seed; }, 0,
                  int64_t{1} << 62));
  s.add("trainer", "auxiliary",
        bool_key([=](node_config& c) -> bool& { return o(c).auxiliary; }));
  s.add("trainer", "averaging_drop_rate",
        number_key(
            [=](node_config& c) -> double& { return o(c).averaging_drop_rate; },
            1));
}

/// `[trainer]`: the training loop of `colony train`
/// (actors/trainer/trainer_options.hpp).
void add_trainer_keys(config_schema& s) {
  using std::chrono::milliseconds;
  using strings = std::vector<std::string>;
  using trainer::trainer_options;
  auto t = [](node_config& c) -> trainer_options& {
    return c.trainer;
  };
  s.add("trainer", "dataset_dir",
        string_key(
            [=](node_config& c) -> std::string& { return t(c).dataset_dir; }));
  s.add(
      "trainer", "classes",
      integer_list_key(
          [=](node_config& c) -> std::vector<int64_t>& { return t(c).classes; },
          0, 9));
  s.add("trainer", "hidden_dim",
        count_key([=](node_config& c) -> int64_t& { return t(c).hidden_dim; },
                  1, 1 << 16));
  s.add("trainer", "layer",
        string_key([=](node_config& c) -> std::string& { return t(c).layer; },
                   one_of({"moe", "switch"})));
  s.add("trainer", "grids",
        string_list_key([=](node_config& c) -> strings& { return t(c).grids; },
                        check_grid));
  s.add("trainer", "local_experts",
        bool_key([=](node_config& c) -> bool& { return t(c).local_experts; }));
  s.add("trainer", "expert_cls",
        string_key(
            [=](node_config& c) -> std::string& { return t(c).expert_cls; },
            check_expert_cls));
  s.add("trainer", "k_best",
        count_key([=](node_config& c) -> size_t& { return t(c).k_best; }, 1,
                  1 << 16));
  s.add("trainer", "k_min",
        count_key([=](node_config& c) -> size_t& { return t(c).k_min; }, 0,
                  1 << 16));
  s.add(
      "trainer", "backward_k_min",
      count_key([=](node_config& c) -> size_t& { return t(c).backward_k_min; },
                0, 1 << 16));
  s.add("trainer", "forward_timeout",
        seconds_key([=](node_config& c) -> milliseconds& {
          return t(c).forward_timeout;
        }));
  s.add("trainer", "backward_timeout",
        seconds_key([=](node_config& c) -> milliseconds& {
          return t(c).backward_timeout;
        }));
  s.add("trainer", "timeout_after_k_min",
        seconds_key([=](node_config& c)
                        -> milliseconds& { return t(c).timeout_after_k_min; },
                    true));
  s.add("trainer", "allow_zero_outputs", bool_key([=](node_config& c) -> bool& {
          return t(c).allow_zero_outputs;
        }));
  s.add("trainer", "detect_anomalies", bool_key([=](node_config& c) -> bool& {
          return t(c).detect_anomalies;
        }));
  s.add(
      "trainer", "failure_backoff",
      seconds_key(
          [=](node_config& c) -> milliseconds& { return t(c).failure_backoff; },
          true));
  s.add("trainer", "max_failure_backoff",
        seconds_key([=](node_config& c) -> milliseconds& {
          return t(c).max_failure_backoff;
        }));
  s.add("trainer", "compression",
        codec_key([=](node_config& c) -> compression_type& {
          return t(c).compression;
        }));
  s.add("trainer", "batch_size",
        count_key([=](node_config& c) -> size_t& { return t(c).batch_size; }, 1,
                  1 << 20));
  s.add("trainer", "learning_rate", number_key([=](node_config& c) -> double& {
          return t(c).learning_rate;
        }));
  s.add("trainer", "balancing_loss_weight",
        number_key([=](node_config& c) -> double& {
          return t(c).balancing_loss_weight;
        }));
  s.add("trainer", "max_steps",
        count_key([=](node_config& c) -> uint64_t& { return t(c).max_steps; },
                  0, int64_t{1} << 40));
  s.add("trainer", "max_time",
        seconds_key(
            [=](node_config& c) -> milliseconds& { return t(c).max_time; },
            true));
  s.add("trainer", "eval_every",
        count_key([=](node_config& c) -> uint64_t& { return t(c).eval_every; },
                  0, int64_t{1} << 40));
  s.add(
      "trainer", "eval_samples",
      count_key([=](node_config& c) -> uint64_t& { return t(c).eval_samples; },
                0, int64_t{1} << 40));
  s.add(
      "trainer", "report_every",
      count_key([=](node_config& c) -> uint64_t& { return t(c).report_every; },
                1, int64_t{1} << 40));
  s.add("trainer", "seed",
        count_key([=](node_config& c) -> uint64_t& { return t(c).seed; }, 0,
                  std::numeric_limits<int64_t>::max()));
  s.add("trainer", "init_seed",
        count_key([=](node_config& c) -> uint64_t& { return t(c).init_seed; },
                  0, std::numeric_limits<int64_t>::max()));
  s.add("trainer", "wait_for_experts",
        seconds_key([=](node_config& c) -> milliseconds& {
          return t(c).wait_for_experts;
        }));
  s.add("trainer", "metrics_csv",
        string_key(
            [=](node_config& c) -> std::string& { return t(c).metrics_csv; }));
  s.add("trainer", "plot",
        string_key([=](node_config& c) -> std::string& { return t(c).plot; }));
  add_collaborative_keys(s);
  s.add_rule([](const node_config& c, const rule_context& ctx) {
    const auto& o = c.trainer;
    if (!c.has_trainer)
      return;
    if (o.collaborative) {
      auto collab = o.collaboration;
      collab.batch_size_per_step = o.batch_size;
      collab.client_mode = c.client_mode;
      if (auto err = optim::validate(collab)) {
        std::istringstream lines(error_reason(err));
        for (std::string line; std::getline(lines, line);)
          ctx.fail({"trainer.collaborative"},
                   "[trainer] collaborative: " + line);
      }
      if (!c.dht_enabled)
        ctx.fail({"trainer.collaborative"},
                 "trainer.collaborative needs [dht] enabled = true");
    }
    if (o.max_epochs > 0 && !o.collaborative)
      ctx.fail({"trainer.max_epochs"},
               "trainer.max_epochs counts collaborative epochs: set "
               "trainer.collaborative = true");
    if (o.collaboration.auxiliary && !o.collaborative)
      ctx.fail({"trainer.auxiliary"},
               "trainer.auxiliary helps a collaborative run: set "
               "trainer.collaborative = true");
    if (o.max_steps == 0 && o.max_time.count() == 0 && o.max_epochs == 0 &&
        !o.collaboration.auxiliary)
      ctx.fail({"trainer.max_steps", "trainer.max_time"},
               "[trainer] needs max_steps, max_time or max_epochs");
    if (o.grids.empty())
      ctx.fail({"trainer.grids"}, "[trainer] needs at least one grid");
    if (o.local_experts && o.layer != "moe")
      ctx.fail({"trainer.local_experts", "trainer.layer"},
               "trainer.local_experts needs layer = \"moe\"");
    if (o.learning_rate <= 0)
      ctx.fail({"trainer.learning_rate"},
               "trainer.learning_rate must be positive");
  });
}

/// `[[averagers]]` (apps/node/averager_group_config.hpp). Keys apply to the
/// averager being read, the last one of the list.
void add_averager_keys(config_schema& s) {
  using std::chrono::milliseconds;
  auto a = [](node_config& c) -> averager_group_config& {
    return c.averagers.back();
  };
  auto o = [=](node_config& c) -> averaging::averager_options& {
    return a(c).options;
  };
  s.add("averagers", "prefix", string_key([=](node_config& c) -> std::string& {
          return o(c).prefix;
        }));
  s.add("averagers", "target_group_size",
        count_key(
            [=](node_config& c) -> std::optional<size_t>& {
              return o(c).target_group_size;
            },
            1, averaging::max_group_members));
  s.add(
      "averagers", "min_group_size",
      count_key([=](node_config& c) -> size_t& { return o(c).min_group_size; },
                1, averaging::max_group_members));
  s.add("averagers", "initial_group_bits",
        string_key([=](node_config& c) -> std::string& {
          return o(c).initial_group_bits;
        }));
  s.add("averagers", "min_matchmaking_time",
        seconds_key([=](node_config& c)
                        -> milliseconds& { return o(c).min_matchmaking_time; },
                    true));
  s.add("averagers", "request_timeout",
        seconds_key([=](node_config& c) -> milliseconds& {
          return o(c).request_timeout;
        }));
  s.add("averagers", "averaging_alpha",
        number_key(
            [=](node_config& c) -> double& { return o(c).averaging_alpha; }));
  s.add("averagers", "part_size_bytes",
        bytes_key(
            [=](node_config& c) -> uint64_t& { return o(c).part_size_bytes; }));
  s.add("averagers", "next_chunk_timeout",
        seconds_key([=](node_config& c) -> std::optional<milliseconds>& {
          return o(c).next_chunk_timeout;
        }));
  s.add("averagers", "allreduce_timeout",
        seconds_key([=](node_config& c) -> std::optional<milliseconds>& {
          return o(c).allreduce_timeout;
        }));
  s.add("averagers", "sender_timeout",
        seconds_key([=](node_config& c) -> std::optional<milliseconds>& {
          return o(c).sender_timeout;
        }));
  s.add("averagers", "reducer_timeout",
        seconds_key([=](node_config& c) -> std::optional<milliseconds>& {
          return o(c).reducer_timeout;
        }));
  s.add("averagers", "compression",
        codec_key([=](node_config& c) -> compression_type& {
          return o(c).compression.codec;
        }));
  s.add("averagers", "min_compressed_numel",
        count_key(
            [=](node_config& c) -> int64_t& {
              return o(c).compression.min_compressed_numel;
            },
            0, int64_t{1} << 40));
  s.add("averagers", "bandwidth",
        number_key([=](node_config& c) -> std::optional<double>& {
          return o(c).bandwidth;
        }));
  s.add("averagers", "min_vector_size",
        count_key(
            [=](node_config& c) -> uint64_t& { return o(c).min_vector_size; },
            0, int64_t{1} << 40));
  s.add("averagers", "auxiliary",
        bool_key([=](node_config& c) -> bool& { return o(c).auxiliary; }));
  s.add("averagers", "allow_state_sharing",
        bool_key([=](node_config& c) -> std::optional<bool>& {
          return o(c).allow_state_sharing;
        }));
  s.add("averagers", "declare_state_period",
        seconds_key([=](node_config& c) -> milliseconds& {
          return o(c).declare_state_period;
        }));
  s.add("averagers", "state_compression",
        codec_key([=](node_config& c) -> compression_type& {
          return o(c).state_compression;
        }));
  s.add("averagers", "floats",
        count_key([=](node_config& c) -> uint64_t& { return a(c).floats; }, 1,
                  int64_t{1} << 32));
  s.add("averagers", "tensors",
        count_key([=](node_config& c) -> size_t& { return a(c).tensors; }, 1,
                  4096));
  s.add("averagers", "seed",
        count_key([=](node_config& c) -> uint64_t& { return a(c).seed; }, 0,
                  int64_t{1} << 62));
  s.add(
      "averagers", "average_period",
      seconds_key(
          [=](node_config& c) -> milliseconds& { return a(c).average_period; },
          true));
  s.add("averagers", "step_timeout",
        seconds_key([=](node_config& c) -> milliseconds& {
          return a(c).step_timeout;
        }));
  s.add("averagers", "weight",
        number_key([=](node_config& c) -> double& { return a(c).weight; }));
  s.add("averagers", "log_rounds",
        bool_key([=](node_config& c) -> bool& { return a(c).log_rounds; }));
  s.add("averagers", "perturb",
        number_key([=](node_config& c) -> double& { return a(c).perturb; }));
  s.add_rule([](const node_config& c, const rule_context& ctx) {
    std::set<std::string> prefixes;
    for (size_t i = 0; i < c.averagers.size(); ++i) {
      const auto& g = c.averagers[i];
      auto name = "[[averagers]] #" + std::to_string(i + 1) + ": ";
      auto options = g.options;
      options.client_mode = c.client_mode;
      if (auto err = averaging::validate(options)) {
        auto text = error_reason(err);
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);)
          ctx.fail({"averagers.prefix"}, name + line);
      }
      if (!prefixes.insert(g.options.prefix).second)
        ctx.fail({"averagers.prefix"}, name + "prefix '" + g.options.prefix +
                                           "' is averaged twice on this node");
      if (!(g.perturb >= 0) || !std::isfinite(g.perturb))
        ctx.fail({"averagers.perturb"},
                 name + "perturb must be finite and >= 0");
      if (g.tensors > g.floats)
        ctx.fail({"averagers.tensors", "averagers.floats"},
                 name + "tensors (" + std::to_string(g.tensors) +
                     ") exceeds floats (" + std::to_string(g.floats) + ")");
      if (!c.dht_enabled)
        ctx.fail({"dht.enabled"},
                 name + "averagers find their groups through the DHT: set "
                        "[dht] enabled = true");
    }
  });
}

config_schema make_node_schema() {
  using std::chrono::milliseconds;
  using strings = std::vector<std::string>;
  config_schema s;
  // [node]
  s.add("node", "listen",
        string_key([](node_config& c) -> std::string& { return c.listen; },
                   check_listen));
  s.add("node", "initial_peers",
        string_list_key(
            [](node_config& c) -> strings& { return c.initial_peers; },
            check_peer));
  s.add("node", "identity_path", string_key([](node_config& c) -> std::string& {
          return c.identity_path;
        }));
  s.add("node", "swarm_id",
        string_key([](node_config& c) -> std::string& { return c.swarm_id; },
                   check_swarm_id));
  s.add("node", "swarm_authority",
        string_key(
            [](node_config& c) -> std::string& { return c.swarm_authority; },
            check_peer_id));
  s.add("node", "access_token", string_key([](node_config& c) -> std::string& {
          return c.access_token;
        }));
  s.add("node", "log_level",
        string_key([](node_config& c) -> std::string& { return c.log_level; },
                   check_log_level));
  s.add("node", "client_mode",
        bool_key([](node_config& c) -> bool& { return c.client_mode; }));
  s.add("node", "control_peers",
        string_list_key(
            [](node_config& c) -> strings& { return c.control_peers; },
            check_peer_id));
  // [dht]: a Kademlia DHT node in this process (actors/dht).
  s.add("dht", "enabled",
        bool_key([](node_config& c) -> bool& { return c.dht_enabled; }));
  s.add("dht", "bucket_size",
        count_key([](node_config& c) -> size_t& { return c.dht.bucket_size; },
                  1));
  s.add("dht", "depth_modulo",
        count_key([](node_config& c) -> size_t& { return c.dht.depth_modulo; },
                  1, 160));
  s.add("dht", "num_replicas",
        count_key([](node_config& c) -> size_t& { return c.dht.num_replicas; },
                  1));
  s.add("dht", "parallel_rpc",
        count_key([](node_config& c) -> size_t& { return c.dht.parallel_rpc; },
                  1));
  s.add("dht", "wait_timeout", seconds_key([](node_config& c) -> milliseconds& {
          return c.dht.wait_timeout;
        }));
  s.add("dht", "refresh_period",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.dht.refresh_period;
        }));
  s.add("dht", "cache_locally",
        bool_key([](node_config& c) -> bool& { return c.dht.cache_locally; }));
  s.add("dht", "cache_nearest",
        bool_key([](node_config& c) -> bool& { return c.dht.cache_nearest; }));
  s.add(
      "dht", "storage_maxsize",
      count_key([](node_config& c) -> size_t& { return c.dht.storage_maxsize; },
                0, int64_t{1} << 40));
  s.add("dht", "max_storage_share", share_key([](node_config& c) -> double& {
          return c.dht.max_storage_share;
        }));
  s.add("dht", "stores_per_peer_per_minute",
        count_key([](node_config& c)
                      -> size_t& { return c.dht.stores_per_peer_per_minute; },
                  0, int64_t{1} << 40));
  s.add("dht", "max_expiration_horizon",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.dht.max_expiration_horizon;
        }));
  s.add("dht", "max_value_bytes", bytes_key([](node_config& c) -> size_t& {
          return c.dht.max_value_bytes;
        }));
  s.add("dht", "cache_maxsize",
        count_key([](node_config& c) -> size_t& { return c.dht.cache_maxsize; },
                  0, int64_t{1} << 40));
  s.add("dht", "client_mode",
        bool_key([](node_config& c) -> bool& { return c.dht.client_mode; }));
  s.add("dht", "ensure_bootstrap_success",
        bool_key([](node_config& c) -> bool& {
          return c.dht.ensure_bootstrap_success;
        }));
  s.add("node", "compute_threads",
        count_key([](node_config& c) -> size_t& { return c.compute_threads; }));
  // [transport]: one key per field of transport_options.
  s.add("transport", "max_frame_bytes",
        bytes_key([](node_config& c) -> size_t& {
          return c.transport.max_frame_bytes;
        }));
  s.add("transport", "max_message_bytes",
        bytes_key([](node_config& c) -> size_t& {
          return c.transport.max_message_bytes;
        }));
  s.add("transport", "part_bytes", bytes_key([](node_config& c) -> size_t& {
          return c.transport.part_bytes;
        }));
  s.add("transport", "max_inflight_bytes",
        bytes_key([](node_config& c) -> size_t& {
          return c.transport.max_inflight_bytes;
        }));
  s.add("transport", "heartbeat_interval",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.transport.heartbeat_interval;
        }));
  s.add("transport", "idle_timeout",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.transport.idle_timeout;
        }));
  s.add("transport", "peer_timeout",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.transport.peer_timeout;
        }));
  s.add("transport", "connect_timeout",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.transport.connect_timeout;
        }));
  s.add("transport", "handshake_timeout",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.transport.handshake_timeout;
        }));
  s.add("transport", "encryption", bool_key([](node_config& c) -> bool& {
          return c.transport.encryption;
        }));
  s.add("transport", "max_pending_handshakes_per_ip",
        count_key(
            [](node_config& c) -> size_t& {
              return c.transport.max_pending_handshakes_per_ip;
            },
            0, 1 << 20));
  s.add("transport", "max_connections_per_ip",
        count_key([](node_config& c)
                      -> size_t& { return c.transport.max_connections_per_ip; },
                  0, 1 << 20));
  s.add("transport", "max_calls_per_peer",
        count_key([](node_config& c)
                      -> size_t& { return c.transport.max_calls_per_peer; },
                  0, 1 << 20));
  s.add("transport", "max_request_bytes_per_peer",
        count_key(
            [](node_config& c) -> size_t& {
              return c.transport.max_request_bytes_per_peer;
            },
            0, int64_t{1} << 40));
  s.add("transport", "default_call_timeout",
        seconds_key([](node_config& c) -> milliseconds& {
          return c.transport.default_call_timeout;
        }));
  // [[experts]]: groups of hosted experts (apps/expert_group_config.hpp).
  // Keys are applied to the group being read, the last one of the list.
  auto group = [](node_config& c) -> expert_group_config& {
    return c.experts.back();
  };
  s.add(
      "experts", "num_experts",
      count_key([=](node_config& c) -> size_t& { return group(c).num_experts; },
                0, 1 << 20));
  s.add("experts", "expert_pattern",
        string_key([=](node_config& c)
                       -> std::string& { return group(c).expert_pattern; },
                   check_pattern));
  s.add("experts", "expert_uids",
        string_list_key(
            [=](node_config& c) -> strings& { return group(c).expert_uids; },
            check_uid));
  s.add("experts", "expert_cls",
        string_key(
            [=](node_config& c) -> std::string& { return group(c).expert_cls; },
            check_expert_cls));
  s.add(
      "experts", "hidden_dim",
      count_key([=](node_config& c) -> int64_t& { return group(c).hidden_dim; },
                1, 1 << 20));
  s.add("experts", "min_batch_size",
        count_key(
            [=](node_config& c) -> size_t& { return group(c).min_batch_size; },
            1, 1 << 24));
  s.add("experts", "max_batch_size",
        count_key(
            [=](node_config& c) -> size_t& { return group(c).max_batch_size; },
            1, 1 << 24));
  s.add("experts", "device",
        string_key(
            [=](node_config& c) -> std::string& { return group(c).device; },
            check_device));
  s.add("experts", "optimizer",
        string_key([=](node_config& c)
                       -> std::string& { return group(c).backend.optimizer; },
                   one_of({"adam", "sgd", "none"})));
  s.add("experts", "learning_rate", number_key([=](node_config& c) -> double& {
          return group(c).backend.learning_rate;
        }));
  s.add("experts", "scheduler",
        string_key([=](node_config& c)
                       -> std::string& { return group(c).backend.scheduler; },
                   one_of({"none", "linear"})));
  s.add("experts", "num_warmup_steps",
        count_key([=](node_config& c)
                      -> int64_t& { return group(c).backend.num_warmup_steps; },
                  0, int64_t{1} << 40));
  s.add("experts", "num_training_steps",
        count_key(
            [=](node_config& c) -> int64_t& {
              return group(c).backend.num_training_steps;
            },
            0, int64_t{1} << 40));
  s.add("experts", "clip_grad_norm", number_key([=](node_config& c) -> double& {
          return group(c).backend.clip_grad_norm;
        }));
  s.add("experts", "update_period",
        seconds_key([=](node_config& c) -> milliseconds& {
          return group(c).update_period;
        }));
  s.add("experts", "expiration",
        seconds_key([=](node_config& c) -> milliseconds& {
          return group(c).expiration;
        }));
  s.add("experts", "compression",
        codec_key([=](node_config& c) -> compression_type& {
          return group(c).compression;
        }));
  s.add("experts", "checkpoint_dir",
        string_key([=](node_config& c) -> std::string& {
          return group(c).checkpoint_dir;
        }));
  s.add("experts", "drop_rate",
        number_key(
            [=](node_config& c) -> double& { return group(c).drop_rate; }, 1));
  s.add_rule([](const node_config& c, const rule_context& ctx) {
    for (size_t i = 0; i < c.experts.size(); ++i) {
      const auto& g = c.experts[i];
      auto name = "[[experts]] #" + std::to_string(i + 1) + ": ";
      if (g.expert_uids.empty() &&
          (g.expert_pattern.empty() || g.num_experts == 0))
        ctx.fail({"experts.expert_uids", "experts.expert_pattern",
                  "experts.num_experts"},
                 name + "needs expert_uids, or expert_pattern and "
                        "num_experts > 0");
      if (!g.expert_uids.empty() && !g.expert_pattern.empty())
        ctx.fail({"experts.expert_uids", "experts.expert_pattern"},
                 name + "takes expert_uids or expert_pattern, not both");
      // The pattern itself passed its own check.
      if (auto pattern = moe::expert_pattern::parse(g.expert_pattern);
          pattern && g.expert_uids.empty() && g.num_experts > pattern->size())
        ctx.fail({"experts.num_experts", "experts.expert_pattern"},
                 name + "num_experts (" + std::to_string(g.num_experts) +
                     ") is more than the " + std::to_string(pattern->size()) +
                     " uids of expert_pattern " + g.expert_pattern);
      if (g.min_batch_size > g.max_batch_size)
        ctx.fail({"experts.min_batch_size", "experts.max_batch_size"},
                 name + "min_batch_size (" + std::to_string(g.min_batch_size) +
                     ") exceeds max_batch_size (" +
                     std::to_string(g.max_batch_size) + ")");
      const auto& b = g.backend;
      if (b.scheduler == "linear" &&
          (b.num_training_steps <= 0 ||
           b.num_warmup_steps > b.num_training_steps))
        ctx.fail({"experts.scheduler", "experts.num_training_steps"},
                 name + "scheduler linear needs num_training_steps > 0 and "
                        "num_warmup_steps <= num_training_steps");
    }
  });
  add_averager_keys(s);
  add_trainer_keys(s);
  // Cross-key rules.
  s.add_rule([](const node_config& c, const rule_context& ctx) {
    // A part travels in one frame together with its call header.
    const auto& t = c.transport;
    if (t.part_bytes > t.max_frame_bytes / 2)
      ctx.fail({"transport.part_bytes", "transport.max_frame_bytes"},
               "transport.part_bytes (" + std::to_string(t.part_bytes) +
                   ") must be at most half of transport.max_frame_bytes (" +
                   std::to_string(t.max_frame_bytes) + ")");
  });
  s.add_rule([](const node_config& c, const rule_context& ctx) {
    // Otherwise a frame of the largest size could never be sent.
    const auto& t = c.transport;
    if (t.max_inflight_bytes < t.max_frame_bytes)
      ctx.fail({"transport.max_inflight_bytes", "transport.max_frame_bytes"},
               "transport.max_inflight_bytes (" +
                   std::to_string(t.max_inflight_bytes) +
                   ") must be at least transport.max_frame_bytes (" +
                   std::to_string(t.max_frame_bytes) + ")");
  });
  s.add_rule([](const node_config& c, const rule_context& ctx) {
    // Otherwise an idle but healthy peer times out between heartbeats.
    const auto& t = c.transport;
    if (t.heartbeat_interval >= t.peer_timeout)
      ctx.fail({"transport.heartbeat_interval", "transport.peer_timeout"},
               "transport.heartbeat_interval (" +
                   seconds_text(t.heartbeat_interval) +
                   ") must be shorter than transport.peer_timeout (" +
                   seconds_text(t.peer_timeout) + ")");
  });
  return s;
}

const config_schema& node_schema() {
  static const config_schema schema = make_node_schema();
  return schema;
}

// -- reading input ----------------------------------------------------------

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

/// Reads the value text of an override as TOML, falling back to a plain
/// string; the result is the value under key "v" of a one-key table.
toml::table read_override_value(std::string_view text, value_kind kind,
                                const std::string& source) {
  toml::table holder;
  try {
    holder = toml::parse("v = " + std::string{text}, source);
    if (holder.size() != 1 || !holder.contains("v"))
      holder = toml::table{{"v", std::string{text}}};
  } catch (const toml::parse_error&) {
    holder = toml::table{{"v", std::string{text}}};
  }
  const toml::node& value = *holder.get("v");
  bool scalar = value.is_number() || value.is_boolean() || value.is_date() ||
                value.is_time() || value.is_date_time();
  // `--set node.swarm_id=2024` means the string "2024".
  if (kind == value_kind::string && scalar)
    holder.insert_or_assign("v", std::string{text});
  // `--set node.initial_peers=HOST:PORT` means a list of one.
  if (kind == value_kind::string_list && value.is_string())
    holder.insert_or_assign("v", toml::array{value.as_string()->get()});
  // `--set trainer.classes=3` means a list of one.
  if (kind == value_kind::integer_list && value.is_integer())
    holder.insert_or_assign("v", toml::array{value.as_integer()->get()});
  return holder;
}

/// Checks one `section.key=value` override and writes it into `root`.
void apply_override(toml::table& root, std::string_view text,
                    const config_schema& schema,
                    std::map<std::string, config_place, std::less<>>& origins,
                    config_issues& issues) {
  auto eq = text.find('=');
  auto key = std::string{trim(text.substr(0, eq))};
  auto where = config_place::of_override("--set " + key);
  auto dot = key.find('.');
  if (eq == std::string_view::npos || dot == std::string::npos || dot == 0 ||
      dot + 1 == key.size()) {
    issues.add(where, "expected section.key=value, e.g. "
                      "node.listen=127.0.0.1:5000");
    return;
  }
  auto section = key.substr(0, dot);
  auto name = key.substr(dot + 1);
  if (!schema.has_section(section)) {
    issues.add(where, "unknown section [" + section +
                          "] (known: " + schema.section_names() + ")");
    return;
  }
  const auto* spec = schema.find(section, name);
  if (spec == nullptr) {
    issues.add(where, "unknown key " + in_quotes(name) + " in [" + section +
                          "] (known: " + schema.keys_of(section) + ")");
    return;
  }
  auto holder =
      read_override_value(trim(text.substr(eq + 1)), spec->kind, where.source);
  auto* target = root.get(section);
  if (is_repeated_section(section)) {
    // Applies to every group; a file without one gets one.
    if (target == nullptr)
      target = root.insert(section, toml::array{toml::table{}})
                   .first->second.as_array();
    if (auto* groups = target->as_array();
        groups && groups->is_array_of_tables()) {
      for (auto&& group : *groups)
        group.as_table()->insert_or_assign(name, *holder.get("v"));
      origins[key] = where;
    }
    return;
  }
  if (target == nullptr)
    target = root.insert(section, toml::table{}).first->second.as_table();
  // A file whose section is not a table gets that reported on its own.
  if (auto* table = target->as_table()) {
    table->insert_or_assign(name, std::move(*holder.get("v")));
    origins[key] = where;
  }
}

} // namespace

caf::expected<node_config>
parse_node_config(std::string_view toml_text, std::string_view source_name,
                  const std::vector<std::string>& overrides) {
  const auto& schema = node_schema();
  std::string source =
      source_name.empty() ? std::string{"<config>"} : std::string{source_name};
  config_issues issues;
  auto parsed = parse_toml(toml_text, source, issues);
  if (!parsed)
    return issues.to_error();
  toml::table& root = *parsed;
  // Overrides go into the parsed tree first, so they replace file values
  // before anything is checked.
  std::map<std::string, config_place, std::less<>> override_origins;
  for (const auto& text : overrides)
    apply_override(root, text, schema, override_origins, issues);
  node_config cfg;
  std::map<std::string, config_place, std::less<>> set_keys;
  for (auto&& [section_key, section_node] : root) {
    auto section = std::string{section_key.str()};
    auto section_where = config_place::in(source, section_key.source());
    if (!schema.has_section(section)) {
      if (section_node.is_table())
        issues.add(section_where, "unknown section [" + section + "] (known: " +
                                      schema.section_names() + ")");
      else if (section_node.is_array_of_tables())
        issues.add(section_where, "unknown section [[" + section +
                                      "]] (known: " + schema.section_names() +
                                      ")");
      else
        issues.add(section_where,
                   "unknown top-level key " + in_quotes(section) +
                       " (keys belong in a section: " + schema.section_names() +
                       ")");
      continue;
    }
    // Applies the keys of one table of `section` to the config.
    auto apply_table = [&](const toml::table& table) {
      for (auto&& [key, value] : table) {
        auto name = section + "." + std::string{key.str()};
        auto over = override_origins.find(name);
        bool overridden = over != override_origins.end();
        config_place key_where =
            overridden ? over->second : config_place::in(source, key.source());
        const auto* spec = schema.find(section, key.str());
        if (spec == nullptr) {
          issues.add(key_where,
                     "unknown key " + in_quotes(key.str()) + " in [" + section +
                         "] (known: " + schema.keys_of(section) + ")");
          continue;
        }
        config_place value_where = key_where;
        if (!overridden && value.source().begin.line != 0)
          value_where = config_place::in(source, value.source());
        spec->set(cfg, key_use{name, value, value_where, issues});
        set_keys[name] = value_where;
      }
    };
    if (is_repeated_section(section)) {
      const auto* groups = section_node.as_array();
      if (groups == nullptr || !groups->is_array_of_tables()) {
        issues.add(section_where,
                   section + " must be written [[" + section +
                       "]] (an array of tables), got " +
                       std::string{toml_type_name(section_node)});
        continue;
      }
      for (auto&& group : *groups) {
        add_repeated_entry(cfg, section);
        apply_table(*group.as_table());
      }
      continue;
    }
    const auto* table = section_node.as_table();
    if (table == nullptr) {
      issues.add(section_where, in_quotes(section) + " must be a table [" +
                                    section + "], got " +
                                    toml_type_name(section_node));
      continue;
    }
    if (section == "trainer")
      cfg.has_trainer = true;
    apply_table(*table);
  }
  // Cross-key rules only make sense on values that passed their own checks.
  if (issues.empty()) {
    rule_context ctx{set_keys, config_place{source}, issues};
    for (const auto& rule : schema.rules())
      rule(cfg, ctx);
  }
  if (!issues.empty())
    return issues.to_error();
  cfg.source_path = std::string{source_name};
  return cfg;
}

caf::expected<node_config>
load_node_config(const std::string& path,
                 const std::vector<std::string>& overrides) {
  auto text = read_config_file(path);
  if (!text)
    return std::move(text.error());
  return parse_node_config(*text, path, overrides);
}

std::vector<std::string> node_config_keys() {
  return node_schema().all_keys();
}

} // namespace colony
