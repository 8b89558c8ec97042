#include "actors/dht/record_validator.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::dht;

namespace {

std::shared_ptr<const identity> make_identity() {
  return std::make_shared<const identity>(*identity::generate());
}

validator_chain chain_for(std::shared_ptr<const identity> me) {
  validator_chain chain;
  chain.add(std::make_shared<signed_record_validator>(std::move(me)));
  return chain;
}

} // namespace

TEST(record_validator, records_without_owner_pass_untouched) {
  auto chain = chain_for(make_identity());
  dht_record r{"key", "", false, "value", 100.0};
  EXPECT_TRUE(chain.validate(r));
  EXPECT_EQ(chain.sign_value(r), "value");
  EXPECT_EQ(chain.strip_value(r), "value");
}

TEST(record_validator, owner_signs_and_everyone_verifies) {
  auto owner = make_identity();
  auto key = "peers" + signed_record_validator::owner_marker(owner->peer_id());
  dht_record r{key, "", false, "payload", 123.5};
  auto signed_value = chain_for(owner).sign_value(r);
  EXPECT_NE(signed_value, "payload");
  r.value = signed_value;
  auto other = chain_for(make_identity());
  EXPECT_TRUE(other.validate(r));
  EXPECT_EQ(other.strip_value(r), "payload");
}

TEST(record_validator, owned_subkey_works_like_owned_key) {
  auto owner = make_identity();
  auto subkey = signed_record_validator::owner_marker(owner->peer_id());
  dht_record r{"shared", subkey, true, "v", 10.0};
  r.value = "";
  auto value = chain_for(owner).sign_value(
      dht_record{"shared", subkey, true, "v", 10.0});
  r.value = value;
  EXPECT_TRUE(chain_for(nullptr).validate(r));
}

TEST(record_validator, forger_cannot_write_an_owned_record) {
  auto owner = make_identity();
  auto forger = make_identity();
  auto key = signed_record_validator::owner_marker(owner->peer_id());
  dht_record r{key, "", false, "evil", 50.0};
  // The forger's chain does not sign for someone else's marker...
  r.value = chain_for(forger).sign_value(r);
  EXPECT_FALSE(chain_for(owner).validate(r));
  // ...and a signature made with its own key does not verify either.
  dht_record mine{signed_record_validator::owner_marker(forger->peer_id()), "",
                  false, "evil", 50.0};
  auto forged_value = chain_for(forger).sign_value(mine);
  r.value = forged_value;
  EXPECT_FALSE(chain_for(owner).validate(r));
}

TEST(record_validator, tampering_breaks_the_signature) {
  auto owner = make_identity();
  auto key = signed_record_validator::owner_marker(owner->peer_id());
  dht_record r{key, "", false, "payload", 77.0};
  auto value = chain_for(owner).sign_value(r);
  r.value = value;
  ASSERT_TRUE(chain_for(nullptr).validate(r));
  auto later = r;
  later.expiration = 78.0; // replaying with a later expiration
  EXPECT_FALSE(chain_for(nullptr).validate(later));
  std::string changed = value;
  changed[0] = 'P';
  auto edited = r;
  edited.value = changed;
  EXPECT_FALSE(chain_for(nullptr).validate(edited));
  auto unsigned_record = r;
  unsigned_record.value = "payload";
  EXPECT_FALSE(chain_for(nullptr).validate(unsigned_record));
}
