#include "actors/optim/training_state_metadata.hpp"

#include "messages/collaborative.capnp.h"
#include "messages/envelope.hpp"
#include "messages/flat_message.hpp"

#include <capnp/message.h>

#include <cmath>

namespace colony::optim {

std::string encode(const training_state_metadata& m) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::TrainingStateMetadata>();
  root.setEpoch(m.epoch);
  auto steps = root.initStepCounts(static_cast<unsigned>(m.step_counts.size()));
  for (size_t i = 0; i < m.step_counts.size(); ++i)
    steps.set(static_cast<unsigned>(i), m.step_counts[i]);
  auto lrs =
      root.initLearningRates(static_cast<unsigned>(m.learning_rates.size()));
  for (size_t i = 0; i < m.learning_rates.size(); ++i)
    lrs.set(static_cast<unsigned>(i), m.learning_rates[i]);
  root.setParameterCount(m.parameter_count);
  root.setOptimizerStateCount(m.optimizer_state_count);
  auto flat = to_envelope(message);
  return std::string(flat.data(), flat.size());
}

caf::expected<training_state_metadata>
decode_training_state_metadata(const std::string& bytes) {
  envelope message{std::vector<char>(bytes.begin(), bytes.end())};
  return read_flat_message(
      message, "training state metadata",
      [](capnp::MessageReader& reader)
          -> caf::expected<training_state_metadata> {
        auto root = reader.getRoot<wire::TrainingStateMetadata>();
        training_state_metadata m;
        m.epoch = root.getEpoch();
        auto steps = root.getStepCounts();
        auto lrs = root.getLearningRates();
        if (steps.size() > max_metadata_entries ||
            lrs.size() > max_metadata_entries)
          return make_error(errc::malformed,
                            "training state metadata: too many entries");
        for (auto s : steps) {
          if (s < 0)
            return make_error(errc::malformed,
                              "training state metadata: negative step count");
          m.step_counts.push_back(s);
        }
        for (auto lr : lrs) {
          if (!std::isfinite(lr) || lr < 0)
            return make_error(errc::malformed,
                              "training state metadata: learning rate " +
                                  std::to_string(lr));
          m.learning_rates.push_back(lr);
        }
        m.parameter_count = root.getParameterCount();
        m.optimizer_state_count = root.getOptimizerStateCount();
        return m;
      });
}

} // namespace colony::optim
