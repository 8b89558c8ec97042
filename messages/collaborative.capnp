@0x86803a92fb45558b;
# The collaborative optimizer's training state as peers download it
# (actors/optim): the metadata of the state averager's download, beside its
# tensors (parameters, then optimizer state, then extra tensors).

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

struct TrainingStateMetadata {
  epoch @0 :UInt64;                # the epoch the state belongs to
  stepCounts @1 :List(Int64);      # optimizer step count per parameter
                                   # (Adam's `step`; empty if it keeps none)
  learningRates @2 :List(Float64); # one per parameter group
  parameterCount @3 :UInt32;       # leading tensors that are parameters
  optimizerStateCount @4 :UInt32;  # optimizer state tensors after them
}

# A trainer's progress toward the swarm's next epoch, under the DHT key
# `{run_id}_progress`, subkey the peer's owner marker (signed by the DHT).
struct TrainingProgress {
  epoch @0 :UInt64;              # the peer's local epoch
  samplesAccumulated @1 :UInt64; # samples it accumulated in that epoch
  samplesPerSecond @2 :Float64;  # its recent throughput
  time @3 :Float64;              # DHT time of the report
  clientMode @4 :Bool;           # a client-mode peer (its epoch does not lead)
  left @5 :Bool;                 # the peer has stopped training
}
