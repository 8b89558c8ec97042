#include "actors/dht/dht_client.hpp"

#include <caf/all.hpp>

namespace colony::dht {

namespace {

/// Sends `xs` to `node` and waits for one answer of type T.
template <class T, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const caf::actor& node,
                     std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::expected<T> result{caf::error{}};
  self->request(node, caf::timespan{timeout}, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace

dht_client::dht_client(caf::actor_system& system, caf::actor node)
    : self_(system), node_(std::move(node)) {
  // nop
}

caf::expected<size_t> dht_client::bootstrap(std::chrono::milliseconds timeout) {
  return ask<size_t>(self_, node_, timeout, bootstrap_atom::value);
}

caf::expected<std::vector<bool>>
dht_client::store_many(std::vector<store_request> requests,
                       std::chrono::milliseconds timeout) {
  return ask<std::vector<bool>>(self_, node_, timeout, store_atom::value,
                                std::move(requests));
}

caf::expected<bool> dht_client::store(store_request request,
                                      std::chrono::milliseconds timeout) {
  std::vector<store_request> one;
  one.push_back(std::move(request));
  auto res = store_many(std::move(one), timeout);
  if (!res)
    return std::move(res.error());
  return res->front();
}

caf::expected<std::vector<store_reply>>
dht_client::store_many_checked(std::vector<store_request> requests,
                               std::chrono::milliseconds timeout) {
  return ask<std::vector<store_reply>>(
      self_, node_, timeout, store_checked_atom::value, std::move(requests));
}

caf::expected<store_reply>
dht_client::store_checked(store_request request,
                          std::chrono::milliseconds timeout) {
  std::vector<store_request> one;
  one.push_back(std::move(request));
  auto res = store_many_checked(std::move(one), timeout);
  if (!res)
    return std::move(res.error());
  return std::move(res->front());
}

caf::expected<std::vector<get_result>>
dht_client::get_many(std::vector<std::string> keys, bool latest,
                     std::chrono::milliseconds timeout) {
  return ask<std::vector<get_result>>(self_, node_, timeout, get_atom::value,
                                      std::move(keys), latest);
}

caf::expected<get_result> dht_client::get(std::string key, bool latest,
                                          std::chrono::milliseconds timeout) {
  auto res = get_many({std::move(key)}, latest, timeout);
  if (!res)
    return std::move(res.error());
  return std::move(res->front());
}

caf::expected<std::vector<std::string>>
dht_client::find_nearest(const std::string& id_hex, size_t k,
                         std::chrono::milliseconds timeout) {
  return ask<std::vector<std::string>>(self_, node_, timeout,
                                       nearest_atom::value, id_hex, k);
}

caf::error dht_client::add_validator(validator_ptr validator,
                                     std::chrono::milliseconds timeout) {
  caf::error result;
  self_
      ->request(node_, caf::timespan{timeout}, add_validator_atom::value,
                std::move(validator))
      .receive([] {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<dht_stats> dht_client::stats(std::chrono::milliseconds timeout) {
  return ask<dht_stats>(self_, node_, timeout, stats_atom::value);
}

} // namespace colony::dht
