// sagactl: runs and inspects a local sagaworks platform.
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/local/subprocess.h"
#include "common/log.h"
#include "common/server/grpc_server.h"
#include "common/server/process.h"
#include "tools/sagactl/certs.h"
#include "tools/sagactl/commands.h"
#include "tools/sagactl/gameday.h"
#include "tools/sagactl/load.h"
#include "tools/sagactl/scenario.h"

int main(int argc, char** argv) {
  using namespace sagaworks::sagactl;
  // Ctrl-C during `up` is handled by a clean `down`, not by dying.
  sagaworks::server::BlockTerminationSignals();
  sagaworks::SetLogService("sagactl");

  CLI::App app("sagactl: run and inspect a local sagaworks platform");
  app.require_subcommand(1);
  PlatformOptions options;
  options.home = DefaultHome();
  options.bin_dir = sagaworks::local::ExecutableDir();
  app.add_option("--home", options.home,
                 "checkout whose .sagaworks/ holds the cluster, logs, pids")
      ->envname("SAGAWORKS_HOME")
      ->capture_default_str();
  using sagaworks::platform::Info;
  using sagaworks::platform::LocalAddress;
  using sagaworks::platform::Service;
  const CLI::Validator target = sagaworks::server::TargetValidator();
  // Empty: every replica of the local platform (from 127.0.0.1:50051).
  std::string order;
  app.add_option("--order", order,
                 "order service address (for load); default: the local "
                 "platform's replicas")
      ->envname("SAGAWORKS_ORDER_ADDRESS")
      ->check(target);
  std::string orchestrator;
  app.add_option("--orchestrator", orchestrator,
                 "saga orchestrator address; default: the local platform's "
                 "replicas")
      ->envname("SAGAWORKS_ORCHESTRATOR_ADDRESS")
      ->check(target);

  app.add_flag("--insecure", options.insecure,
               "plaintext gRPC, no certificates: `up` starts the services "
               "with --insecure, other commands dial plaintext")
      ->envname("SAGAWORKS_INSECURE");

  std::vector<std::string> names;
  for (const auto& s : sagaworks::platform::Services()) names.push_back(s.name);
  const std::string service_names = absl::StrJoin(names, ", ");

  bool detach = false;
  CLI::App* up = app.add_subcommand(
      "up", "start PostgreSQL and the five services, wait until all SERVE");
  up->add_flag("--detach", detach, "return once everything is healthy");
  up->add_option("--replicas", options.replicas,
                 "processes of each service, balanced by their callers "
                 "(replica k listens on the first one's ports + (k-1)*100)")
      ->check(CLI::Range(1, sagaworks::sagactl::kMaxReplicas));
  up->add_flag("--ha", options.ha,
               "PostgreSQL as a primary and a synchronous standby under "
               "Patroni (with etcd), for failover");
  CLI::App* down =
      app.add_subcommand("down", "stop the services and PostgreSQL");
  CLI::App* status =
      app.add_subcommand("status", "health, pid and port of each process");
  std::string service;
  CLI::App* kill = app.add_subcommand("kill", "SIGKILL one service");
  kill->add_option("SERVICE", service, service_names)->required();
  CLI::App* start = app.add_subcommand("start", "start one service again");
  start->add_option("SERVICE", service, service_names)->required();
  ChaosOptions chaos_options;
  CLI::App* chaos = app.add_subcommand(
      "chaos", "inject failures or latency into one service, or --clear");
  chaos->add_option("SERVICE", service, service_names)->required();
  chaos
      ->add_option("--failure-rate", chaos_options.failure_rate,
                   "fraction of calls that fail, 0-1")
      ->check(CLI::Range(0.0, 1.0));
  chaos
      ->add_option("--latency-ms", chaos_options.latency_ms,
                   "added to each call before it runs")
      ->check(CLI::Range(int64_t{0}, int64_t{600000}));
  chaos->add_option("--code", chaos_options.code,
                    "status of injected failures (default UNAVAILABLE)");
  chaos->add_option("--method", chaos_options.method,
                    "only this method (\"Charge\"); default every method");
  chaos->add_flag("--clear", chaos_options.clear,
                  "remove the rule (of --method, or all)");
  CLI::App* sagas = app.add_subcommand("sagas", "list sagas or show one");
  sagas->require_subcommand(1);
  std::string saga_status;
  int limit = 20;
  CLI::App* list = sagas->add_subcommand("list", "newest sagas first");
  list->add_option("--status", saga_status,
                   "running, completed, compensating, compensated or failed");
  list->add_option("--limit", limit, "how many")->check(CLI::Range(1, 500));
  bool stuck = false;
  list->add_flag("--stuck", stuck,
                 "only sagas retrying, or due and not driven, for longer "
                 "than the orchestrator's --stuck-after-seconds");
  std::string saga_id;
  CLI::App* show =
      sagas->add_subcommand("show", "one saga with its step timeline");
  show->add_option("ID", saga_id, "saga id or order id")->required();
  SagaActionOptions action;
  CLI::App* retry = sagas->add_subcommand(
      "retry",
      "retry now the refused compensation of a FAILED saga (after fixing "
      "what made it refuse); recorded in its timeline");
  CLI::App* resolve = sagas->add_subcommand(
      "resolve",
      "close a FAILED (or still retrying) saga after setting things right "
      "by hand; recorded in its timeline");
  for (CLI::App* cmd : {retry, resolve}) {
    cmd->add_option("ID", action.id, "saga id or order id")->required();
    cmd->add_option("--note", action.note, "what was done, and why")
        ->required();
    cmd->add_option("--operator", action.operator_name,
                    "who acts, as the timeline records it (default $USER)");
  }
  resolve
      ->add_option("--as", action.resolution,
                   "compensated (undone by hand: the order is rejected) or "
                   "completed (done by hand: the order is approved)")
      ->required()
      ->check(CLI::IsMember({"compensated", "completed"}));

  std::string certs_dir;
  CLI::App* certs = app.add_subcommand(
      "certs",
      "write the platform CA and a certificate for each service and "
      "sagactl into a directory (what `up` does under .sagaworks/tls)");
  certs->add_option("--dir", certs_dir, "where to write them")->required();

  std::string token_name, token_role, token_ttl = "1h";
  CLI::App* token = app.add_subcommand(
      "token",
      "print a bearer token for a customer (or an operator), signed "
      "with the local key");
  token->add_option("NAME", token_name, "the customer id (the token's sub)")
      ->required();
  token->add_option("--role", token_role, "operator: an operator's token")
      ->check(CLI::IsMember({"operator"}));
  token
      ->add_option("--ttl", token_ttl,
                   "how long it is valid (30m, 1h, 24h; at most 720h)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            absl::Duration d;
            if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration() ||
                d > absl::Hours(720)) {
              return "'" + value + "' is not a duration from 1s to 720h";
            }
            return "";
          },
          "DURATION"))
      ->capture_default_str();

  LoadOptions load_options;
  double wait_seconds = 60;
  CLI::App* load = app.add_subcommand(
      "load", "place orders at a steady rate, then report how they ended");
  load->add_option("--rate", load_options.rate, "orders per second")
      ->check(CLI::Range(0.01, 10000.0))
      ->capture_default_str();
  load->add_option("--seconds", load_options.seconds, "how long")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  load->add_option("--callers", load_options.callers,
                   "concurrent CreateOrder calls at most")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  load->add_option("--customer", load_options.customer, "who orders")
      ->capture_default_str();
  load->add_option("--sku", load_options.sku, "what")->capture_default_str();
  load->add_option("--quantity", load_options.quantity, "how many of it")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  load->add_option("--country", load_options.country,
                   "shipping country (ZZ is undeliverable)")
      ->capture_default_str();
  load->add_option("--wait-seconds", wait_seconds,
                   "how long to wait for the orders to end")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  std::vector<std::string> scenarios;
  ScenarioOptions scenario_options;
  std::string slo_path;
  load->add_option(
          "--scenario", scenarios,
          absl::StrCat("run named scenarios, faults and all, instead of one "
                       "steady load (repeatable): all, ",
                       absl::StrJoin(ScenarioNames(), ", "),
                       "; they order as the demo customer gameday, 1 x bolt, "
                       "at 20/s for 20 s unless --rate, --seconds, "
                       "--customer or --sku say otherwise"))
      ->type_name("NAME");
  load->add_option("--target", scenario_options.target,
                   "scenarios: the service that gets the faults")
      ->check(CLI::IsMember({"payment", "inventory", "shipping"}))
      ->capture_default_str();
  load->add_option("--burst-rate", scenario_options.burst_rate,
                   "scenarios: orders per second of the burst")
      ->check(CLI::Range(1.0, 2000.0))
      ->capture_default_str();
  load->add_option("--burst-seconds", scenario_options.burst_seconds,
                   "scenarios: how long the burst lasts")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  load->add_option("--low-failure-rate", scenario_options.low_failure_rate,
                   "scenarios: share of the target's calls that fail in "
                   "failures-10 and latency-failures")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  load->add_option("--high-failure-rate", scenario_options.high_failure_rate,
                   "scenarios: share of the target's calls that fail in "
                   "failures-50")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  load->add_option("--latency-ms", scenario_options.latency_ms,
                   "scenarios: latency added to the target's calls")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  load->add_option("--slo", slo_path,
                   "scenarios: the SLO file (default <home>/deploy/slo.yaml)");
  load->add_flag("--json", scenario_options.json,
                 "scenarios: print one JSON document instead of text");
  load->add_option("--report", scenario_options.report_path,
                   "scenarios: also write an HTML report (one page, charts "
                   "included) to this file");

  GameDayOptions gameday_options;
  double first_fault_seconds = 5, fault_spacing_seconds = 4,
         gameday_wait_seconds = 90;
  CLI::App* gameday = app.add_subcommand(
      "gameday",
      "break the running platform on purpose under a steady load and "
      "measure what it costs");
  gameday->require_subcommand(1);
  CLI::App* replica_loss = gameday->add_subcommand(
      "replica-loss",
      "kill -9 the second replica of each service in turn (needs up "
      "--replicas 2), start them again after the load");
  CLI::App* db_failover = gameday->add_subcommand(
      "db-failover",
      "kill -9 the PostgreSQL primary's postmaster (needs up --ha) and "
      "measure the failover Patroni makes");
  for (CLI::App* g : {replica_loss, db_failover}) {
    g->add_option("--rate", gameday_options.rate, "orders per second")
        ->check(CLI::Range(1.0, 1000.0))
        ->capture_default_str();
    g->add_option("--seconds", gameday_options.seconds,
                  "how long the load runs")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str();
    g->add_option("--callers", gameday_options.callers,
                  "orders in flight at most")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    g->add_option("--first-fault-seconds", first_fault_seconds,
                  "when the first fault lands, from the load's start")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    g->add_option("--fault-spacing-seconds", fault_spacing_seconds,
                  "time between faults")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    g->add_option("--attempts", gameday_options.attempts,
                  "calls per order at most, under one idempotency key")
        ->check(CLI::Range(1, 10))
        ->capture_default_str();
    g->add_option("--wait-seconds", gameday_wait_seconds,
                  "how long to wait for the orders to end after the load")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (*certs) {
    absl::Status s =
        WriteCertificates(certs_dir, CertificateNames(), absl::Now());
    if (!s.ok()) {
      std::cerr << "sagactl: certs: " << s.message() << "\n";
      return 1;
    }
    std::cout << "certificates in " << certs_dir << " (CA: " << certs_dir
              << "/ca.crt)\n";
    return 0;
  }
  Platform platform(options);
  if (absl::Status s = platform.SetUpTls(); !s.ok()) {
    std::cerr << "sagactl: certificates: " << s.message() << "\n";
    return 1;
  }
  if (*token) {
    absl::Duration ttl;
    absl::ParseDuration(token_ttl, &ttl);  // checked above
    return PrintToken(platform, token_name, token_role == "operator", ttl);
  }
  if (order.empty()) order = platform.Target(Info(Service::kOrder));
  if (orchestrator.empty()) {
    orchestrator = platform.Target(Info(Service::kOrchestrator));
  }
  if (*up) {
    PlatformOptions recorded_options = options;
    recorded_options.replicas = 0;
    Platform recorded(recorded_options);
    if (options.replicas > 0 && recorded.replicas() != options.replicas &&
        recorded.AnythingRunning()) {
      std::cerr << "sagactl: up: the platform runs with " << recorded.replicas()
                << " replicas of each service; sagactl down first\n";
      return 1;
    }
    return Up(platform, detach);
  }
  if (*down) return Down(platform);
  if (*status) return PrintStatus(platform);
  if (*kill) return KillService(platform, service);
  if (*start) return StartService(platform, service);
  if (*chaos) return Chaos(platform, service, chaos_options);
  if (*list) return ListSagas(orchestrator, saga_status, limit, stuck);
  if (*show) return ShowSaga(orchestrator, saga_id);
  if (*retry) return RetrySaga(platform, orchestrator, action);
  if (*resolve) return ResolveSaga(platform, orchestrator, action);
  if (*gameday) {
    gameday_options.first_fault = absl::Seconds(first_fault_seconds);
    gameday_options.fault_spacing = absl::Seconds(fault_spacing_seconds);
    gameday_options.wait = absl::Seconds(gameday_wait_seconds);
    if (*replica_loss) {
      return ReplicaLossGameDay(platform, gameday_options, std::cout);
    }
    if (*db_failover) {
      return DbFailoverGameDay(platform, gameday_options, std::cout);
    }
  }
  if (*load && !scenarios.empty()) {
    // The shared flags apply when given; else the scenarios' own defaults.
    if (load->count("--rate") > 0) scenario_options.rate = load_options.rate;
    if (load->count("--seconds") > 0) {
      scenario_options.seconds = load_options.seconds;
    }
    if (load->count("--callers") > 0) {
      scenario_options.callers = load_options.callers;
    }
    if (load->count("--customer") > 0) {
      scenario_options.customer = load_options.customer;
    }
    if (load->count("--sku") > 0) scenario_options.sku = load_options.sku;
    if (load->count("--wait-seconds") > 0) {
      scenario_options.wait = absl::Seconds(wait_seconds);
    }
    scenario_options.slo_path =
        slo_path.empty() ? options.home + "/deploy/slo.yaml" : slo_path;
    return RunScenarios(platform, scenarios, scenario_options, std::cout);
  }
  if (*load) {
    load_options.wait = absl::Seconds(wait_seconds);
    return RunLoad(
        order, load_options,
        [&](const std::string& customer) { return platform.Bearer(customer); },
        std::cout);
  }
  return 2;
}
