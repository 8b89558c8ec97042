#include "apps/node/expert_hosting.hpp"

#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_messages.hpp"
#include "actors/moe/expert_directory.hpp"
#include "actors/moe/expert_uid.hpp"
#include "actors/moe/server/expert.hpp"
#include "apps/node/node.hpp"
#include "gpu/device.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <unordered_set>

namespace colony {

namespace {

/// Rounds of drawing uids before giving up on a crowded pattern.
constexpr int max_sampling_rounds = 16;

/// Longest a DHT read or write of the hosting may take.
constexpr std::chrono::milliseconds dht_timeout{10000};

/// Serves the `experts` catalog: every hosted expert's description.
caf::behavior expert_catalog(caf::event_based_actor*, envelope catalog) {
  return {
      [catalog](serve_atom, const std::string&, const std::string&,
                const envelope&) { return catalog; },
  };
}

std::string with_thousands(uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

caf::error register_service(node& n, const std::string& name,
                            const caf::actor& actor) {
  caf::scoped_actor self{n.system()};
  caf::error result;
  self->request(n.transport(), std::chrono::seconds(10),
                register_service_atom::value, name, actor)
      .receive([] {}, [&](caf::error& err) { result = err; });
  return result;
}

/// Draws `count` uids of `pattern` that no server has declared yet, none
/// of `excluded`.
caf::expected<std::vector<std::string>>
sample_free_uids(node& n, const std::string& pattern, size_t count,
                 std::unordered_set<std::string> excluded) {
  std::mt19937_64 rng{std::random_device{}()};
  if (!n.dht()) {
    // Nobody to ask: any uid of the pattern is free.
    return moe::sample_expert_uids(pattern, count, rng, excluded);
  }
  dht::dht_client client{n.system(), n.dht()};
  std::vector<std::string> chosen;
  for (int round = 0; round < max_sampling_rounds && chosen.size() < count;
       ++round) {
    auto draw =
        moe::sample_expert_uids(pattern, count - chosen.size(), rng, excluded);
    if (!draw)
      return std::move(draw.error());
    auto found = moe::get_experts(client, *draw, dht_timeout);
    if (!found)
      return std::move(found.error());
    for (size_t i = 0; i < draw->size(); ++i) {
      excluded.insert((*draw)[i]);
      if (!(*found)[i])
        chosen.push_back((*draw)[i]);
    }
  }
  if (chosen.size() < count)
    return make_error(errc::invalid_argument,
                      "pattern " + pattern + " has fewer than " +
                          std::to_string(count) +
                          " uids that no other server declared");
  return chosen;
}

/// Uids of `pattern` with a checkpoint in `dir` (sorted): a server
/// restarted with its checkpoint dir takes its own experts back, although
/// their declarations from before the restart are still in the DHT.
std::vector<std::string> checkpointed_uids(const std::string& dir,
                                           const std::string& pattern) {
  std::vector<std::string> result;
  auto parsed = moe::expert_pattern::parse(pattern);
  std::error_code ec;
  if (dir.empty() || !parsed || !std::filesystem::is_directory(dir, ec))
    return result;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    auto uid = entry.path().filename().string();
    if (parsed->contains(uid) &&
        std::filesystem::exists(entry.path() / "checkpoint_last.pt", ec))
      result.push_back(uid);
  }
  std::sort(result.begin(), result.end());
  return result;
}

} // namespace

caf::expected<std::unique_ptr<expert_hosting>> expert_hosting::start(node& n) {
  std::unique_ptr<expert_hosting> result{new expert_hosting(n)};
  for (const auto& group : n.config().experts)
    if (auto err = result->start_group(group))
      return err;
  result->catalog_ = n.system().spawn(
      expert_catalog, moe::encode_expert_catalog(result->descriptions_));
  if (auto err =
          register_service(n, moe::expert_catalog_service, result->catalog_))
    return err;
  if (n.dht()) {
    result->declare_once();
    result->declarer_ = std::thread{[h = result.get()] {
      h->declare_loop();
    }};
  } else if (!result->experts_.empty()) {
    n.log().warn("no DHT on this node: experts are served but not declared");
  }
  return result;
}

caf::error expert_hosting::start_group(const expert_group_config& group) {
  auto& n = node_;
  auto& log = n.log();
  std::vector<std::string> uids = group.expert_uids;
  if (uids.empty()) {
    uids = checkpointed_uids(group.checkpoint_dir, group.expert_pattern);
    if (uids.size() > group.num_experts)
      uids.resize(group.num_experts);
    if (!uids.empty())
      log.info("taking back {} experts checkpointed in {}", uids.size(),
               group.checkpoint_dir);
    if (uids.size() < group.num_experts) {
      auto sampled = sample_free_uids(n, group.expert_pattern,
                                      group.num_experts - uids.size(),
                                      {uids.begin(), uids.end()});
      if (!sampled)
        return std::move(sampled.error());
      uids.insert(uids.end(), sampled->begin(), sampled->end());
    }
  }
  auto& device = devices_[group.device];
  if (!device) {
    auto spawned = gpu::spawn_device(n.system(), group.device, n.shared_log());
    if (!spawned)
      return std::move(spawned.error());
    device = std::move(*spawned);
  }
  for (const auto& uid : uids) {
    for (const auto& h : experts_)
      if (h.uid == uid)
        return make_error(errc::invalid_argument,
                          "expert " + uid + " is hosted twice on this node");
    auto backend = moe::expert_backend::make(uid, group.expert_cls,
                                             group.hidden_dim, group.backend);
    if (!backend)
      return std::move(backend.error());
    if (!group.checkpoint_dir.empty()) {
      auto loaded = (*backend)->load_checkpoint(group.checkpoint_dir);
      if (!loaded)
        return std::move(loaded.error());
      if (*loaded)
        log.info("expert {}: restored checkpoint ({} updates, lr {})", uid,
                 (*backend)->update_count(), (*backend)->learning_rate());
    }
    moe::expert_actor_config cfg;
    cfg.backend = std::shared_ptr<moe::expert_backend>(std::move(*backend));
    cfg.device = device;
    cfg.min_batch_size = group.min_batch_size;
    cfg.max_batch_size = group.max_batch_size;
    cfg.compression = group.compression;
    cfg.checkpoint_dir = group.checkpoint_dir;
    cfg.checkpoint_period = group.update_period;
    cfg.log = n.shared_log();
    cfg.drop_rate = group.drop_rate;
    auto description = moe::describe_expert(cfg);
    auto actor = moe::spawn_expert(n.system(), std::move(cfg));
    if (auto err = register_service(n, moe::expert_service_prefix(uid), actor))
      return err;
    log.info("expert {} ready: {}, {} parameters, inputs {}", uid,
             description.expert_class,
             with_thousands(description.parameter_count),
             moe::to_string(description.schema.inputs));
    experts_.push_back(hosted{actor, uid, &group});
    descriptions_.push_back(std::move(description));
  }
  return caf::none;
}

void expert_hosting::declare_once() {
  auto& n = node_;
  dht::dht_client client{n.system(), n.dht()};
  // Groups differ in lifetime; declare each group's uids with its own.
  std::map<const expert_group_config*, std::vector<std::string>> by_group;
  for (const auto& h : experts_)
    by_group[h.group].push_back(h.uid);
  for (const auto& [group, uids] : by_group) {
    auto expiration =
        dht::dht_time() +
        std::chrono::duration<double>(group->effective_expiration()).count();
    auto stored =
        moe::declare_experts(client, uids, n.me().peer_id().to_string(),
                             n.address(), expiration, dht_timeout);
    if (!stored)
      n.log().warn("declaring {} experts failed: {}", uids.size(),
                   describe(stored.error()));
    else
      n.log().debug("declared {} experts ({} DHT writes accepted)", uids.size(),
                    *stored);
  }
}

void expert_hosting::declare_loop() {
  auto period = std::chrono::milliseconds::max();
  for (const auto& h : experts_)
    period = std::min(period, h.group->update_period);
  std::unique_lock<std::mutex> guard{mutex_};
  while (!stopping_) {
    if (wake_.wait_for(guard, period, [this] { return stopping_; }))
      break;
    guard.unlock();
    declare_once();
    guard.lock();
  }
}

expert_hosting::~expert_hosting() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  if (declarer_.joinable())
    declarer_.join();
  caf::scoped_actor self{node_.system()};
  for (const auto& h : experts_) {
    if (h.group->checkpoint_dir.empty())
      continue;
    self->request(h.actor, std::chrono::seconds(60),
                  moe::save_checkpoint_atom::value)
        .receive([] {},
                 [&](caf::error& err) {
                   node_.log().warn("last checkpoint of {} failed: {}", h.uid,
                                    describe(err));
                 });
  }
  for (const auto& h : experts_)
    caf::anon_send_exit(h.actor, caf::exit_reason::user_shutdown);
  for (const auto& [name, device] : devices_)
    caf::anon_send_exit(device, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(catalog_, caf::exit_reason::user_shutdown);
}

std::vector<std::pair<std::string, caf::actor>>
expert_hosting::expert_actors() const {
  std::vector<std::pair<std::string, caf::actor>> result;
  for (const auto& e : experts_)
    result.emplace_back(e.uid, e.actor);
  return result;
}

} // namespace colony
