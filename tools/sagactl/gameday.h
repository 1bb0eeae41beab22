// GameDay: a fault injected into the running local platform under a steady
// order load, and the success criteria measured: how many orders were
// placed, accepted and approved during the faults, how long after each
// fault orders were approved again and at full rate, orders lost, and
// whether money and stock add up to the approved orders exactly.
//
// Example:
//   GameDayOptions o;  // 40 orders/s for 30 s, faults from 5 s, every 4 s
//   return ReplicaLossGameDay(platform, o, std::cout);
#ifndef SAGAWORKS_TOOLS_SAGACTL_GAMEDAY_H_
#define SAGAWORKS_TOOLS_SAGACTL_GAMEDAY_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/sagactl/open_loop.h"
#include "tools/sagactl/platform.h"

namespace sagaworks::sagactl {

struct GameDayOptions {
  double rate = 40;     // orders per second, placed open loop
  double seconds = 30;  // how long the load runs
  int callers = 16;     // orders in flight at most
  // When the first fault lands after the load starts, and the time between
  // faults.
  absl::Duration first_fault = absl::Seconds(5);
  absl::Duration fault_spacing = absl::Seconds(4);
  // Who orders what: the demo data's GameDay customer and part, which have
  // money and stock for any number of runs.
  std::string customer = "gameday";
  std::string sku = "bolt";
  // Calls per order at most, all with the order's idempotency key, as a
  // client's retry policy makes them (UNAVAILABLE, DEADLINE_EXCEEDED and
  // ABORTED are retried).
  int attempts = 3;
  // How long to wait, after the load, for every accepted order to end.
  absl::Duration wait = absl::Seconds(90);

  absl::Status Validate() const;
  // Load is the open-loop load these options describe.
  OpenLoop Load() const;
};

// Fault is one thing a GameDay breaks; `inject` says what it did ("pid
// 1234") or why it could not.
struct Fault {
  std::string what;
  std::function<absl::StatusOr<std::string>()> inject;
};

// RunGameDay places the load, injects `faults` in turn, calls `repair`
// once the load has ended (restart what was killed), waits for every order
// to end and prints the figures. Returns 0 when no order was lost or
// refused and money and stock match the approved orders; 1 otherwise; 2
// when the platform is not fit for the run (named).
int RunGameDay(Platform& platform, const std::string& name,
               const std::vector<Fault>& faults,
               const std::function<absl::Status()>& repair,
               const GameDayOptions& options, std::ostream& out);

// ReplicaLossGameDay kills (SIGKILL) the second replica of each service in
// turn (order, orchestrator, inventory, payment, shipping) and starts them
// again after the load. Needs `sagactl up --replicas 2` or more.
int ReplicaLossGameDay(Platform& platform, const GameDayOptions& options,
                       std::ostream& out);

// DbFailoverGameDay kills (SIGKILL) the PostgreSQL primary's postmaster
// once, at the first fault time, and reports how long Patroni took to
// promote the standby besides the usual figures; the old primary rejoins
// as the standby. Needs `sagactl up --ha`.
int DbFailoverGameDay(Platform& platform, const GameDayOptions& options,
                      std::ostream& out);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_GAMEDAY_H_
