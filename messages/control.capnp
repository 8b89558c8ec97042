@0xeaa0b8cfb4c9bcd7;
# A node's control service (`control`), served only to the peer ids its
# config lists in `node.control_peers`: the fault-injection harness reads a
# node's status and switches faults through it.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

struct ControlRequest {
  union {
    status @0 :Void;            # reply: NodeStatus
    setFaults @1 :FaultSettings; # reply: NodeStatus (after the change)
    poison @2 :PoisonRequest;   # reply: NodeStatus
  }
}

# Faults the node's transport injects into its own traffic.
struct FaultSettings {
  delayMs @0 :UInt32;
  jitterMs @1 :UInt32;
  dropRate @2 :Float64;          # in [0, 1]
  partitioned @3 :List(Text);    # listen addresses or peer ids (base58)
  seed @4 :UInt64;
}

enum PoisonMode {
  off @0;
  nanValues @1;    # every output element NaN
  wrongShape @2;   # outputs one column wider than they should be
}

struct PoisonRequest {
  mode @0 :PoisonMode;
  uids @1 :List(Text);           # empty: every expert of the node
}

struct NodeStatus {
  peerId @0 :Text;
  address @1 :Text;
  uptimeS @2 :Float64;
  rssBytes @3 :UInt64;
  warnings @4 :UInt64;           # log lines at warning level
  errors @5 :UInt64;             # log lines at error level or worse
  connections @6 :UInt32;

  hasDht @7 :Bool;
  dhtGets @8 :UInt64;            # keys looked up for local actors
  dhtGetsFound @9 :UInt64;
  dhtStores @10 :UInt64;
  dhtStoresAccepted @11 :UInt64;
  routingTableSize @12 :UInt32;

  expertsServed @13 :UInt32;
  expertsPoisoned @14 :UInt32;

  faults @15 :FaultSettings;     # in effect now
  messagesDelayed @16 :UInt64;
  messagesDropped @17 :UInt64;
  framesPartitioned @18 :UInt64;

  training @19 :TrainingStatus;  # unset unless the node trains
}

struct TrainingStatus {
  timeS @0 :Float64;             # since training started
  step @1 :UInt64;
  samples @2 :UInt64;
  trainLoss @3 :Float64;         # mean since the previous report
  samplesPerS @4 :Float64;
  liveExperts @5 :UInt32;
  failedCalls @6 :Float64;       # fraction since the previous report
  testAccuracy @7 :Float64;      # latest evaluation; NaN before the first
  finished @8 :Bool;
}
