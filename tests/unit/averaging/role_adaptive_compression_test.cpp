// The role-adaptive codec choice: each role its codec, every role the
// size threshold.

#include "actors/averaging/role_adaptive_compression.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::averaging;

TEST(role_adaptive_compression, roles_without_a_codec_use_the_fallback) {
  role_adaptive_compression roles;
  roles.fallback = {compression_type::float16, 100};
  roles.optimizer = compression_type::uniform_8bit;
  EXPECT_EQ(roles.for_role(tensor_role::parameter).codec,
            compression_type::float16);
  EXPECT_EQ(roles.for_role(tensor_role::gradient).codec,
            compression_type::float16);
  EXPECT_EQ(roles.for_role(tensor_role::other).codec,
            compression_type::float16);
  auto opt = roles.for_role(tensor_role::optimizer);
  EXPECT_EQ(opt.codec, compression_type::uniform_8bit);
  // The size rule holds in every role: small statistics stay exact.
  EXPECT_EQ(opt.min_compressed_numel, 100);
  EXPECT_EQ(opt.for_tensor(99, at::kFloat), compression_type::none);
  EXPECT_EQ(opt.for_tensor(100, at::kFloat), compression_type::uniform_8bit);
}

TEST(role_adaptive_compression, a_role_may_turn_compression_off) {
  role_adaptive_compression roles;
  roles.fallback.codec = compression_type::uniform_8bit;
  roles.parameter = compression_type::none;
  EXPECT_EQ(
      roles.for_role(tensor_role::parameter).for_tensor(1 << 20, at::kFloat),
      compression_type::none);
  EXPECT_EQ(roles.for_role(tensor_role::other).for_tensor(1 << 20, at::kFloat),
            compression_type::uniform_8bit);
}

TEST(role_adaptive_compression, tensors_get_the_policy_of_their_role) {
  role_adaptive_compression roles;
  roles.parameter = compression_type::float16;
  roles.optimizer = compression_type::quantile_8bit;
  auto codecs =
      roles.for_tensors({tensor_role::parameter, tensor_role::optimizer,
                         tensor_role::other, tensor_role::parameter});
  ASSERT_EQ(codecs.size(), 4u);
  EXPECT_EQ(codecs[0].codec, compression_type::float16);
  EXPECT_EQ(codecs[1].codec, compression_type::quantile_8bit);
  EXPECT_EQ(codecs[2].codec, compression_type::none);
  EXPECT_EQ(codecs[3].codec, compression_type::float16);
  EXPECT_STREQ(to_string(tensor_role::optimizer), "optimizer");
}
