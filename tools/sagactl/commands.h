// The sagactl commands, each returning the process exit code.
#ifndef SAGAWORKS_TOOLS_SAGACTL_COMMANDS_H_
#define SAGAWORKS_TOOLS_SAGACTL_COMMANDS_H_

#include <string>

#include "absl/time/time.h"
#include "tools/sagactl/platform.h"

namespace sagaworks::sagactl {

// DefaultHome: $SAGAWORKS_HOME, else the checkout sagactl was built from.
std::string DefaultHome();

int Up(Platform& platform, bool detach);
int Down(Platform& platform);
int PrintStatus(Platform& platform);
int KillService(Platform& platform, const std::string& name);
int StartService(Platform& platform, const std::string& name);
// ChaosOptions: what `sagactl chaos` asks for.
struct ChaosOptions {
  bool clear = false;
  double failure_rate = 0;
  int64_t latency_ms = 0;
  std::string code;    // empty: UNAVAILABLE
  std::string method;  // "Charge" or a full name; empty: every method
};

int Chaos(Platform& platform, const std::string& service,
          const ChaosOptions& options);
// ListSagas prints the newest sagas, only those in `status` when set, and
// only stuck ones with `stuck`.
int ListSagas(const std::string& orchestrator, const std::string& status,
              int limit, bool stuck);
int ShowSaga(const std::string& orchestrator, const std::string& id);

struct SagaActionOptions {
  std::string id;          // saga id or order id
  std::string resolution;  // resolve: "compensated" or "completed"
  std::string note;
  std::string operator_name;  // who acts; empty: $USER
};
// RetrySaga and ResolveSaga ask the orchestrator to act on a saga as an
// operator (a token for `operator_name` signed with the local key), under a
// fresh idempotency key, and print the saga as it then stands.
int RetrySaga(const Platform& platform, const std::string& orchestrator,
              const SagaActionOptions& options);
int ResolveSaga(const Platform& platform, const std::string& orchestrator,
                const SagaActionOptions& options);
// PrintToken prints a bearer token for `name` (an operator's with
// `operator_role`), signed with the local key in <home>/.sagaworks/tls/.
int PrintToken(const Platform& platform, const std::string& name,
               bool operator_role, absl::Duration ttl);

}  // namespace sagaworks::sagactl

#endif  // SAGAWORKS_TOOLS_SAGACTL_COMMANDS_H_
