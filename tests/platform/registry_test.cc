// The service registry (common/platform/services.h) against everything that
// repeats it: the generated descriptors, the migrations, the binaries, the
// compose stack, the Prometheus targets and the README's table. A new service
// that is in one and not the others fails here, naming what is missing.
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/local/subprocess.h"
#include "common/platform/services.h"
#include "common/server/policy.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "migrations/embedded.h"
#include "sagaworks/v1/inventory.grpc.pb.h"
#include "sagaworks/v1/orchestrator.grpc.pb.h"
#include "sagaworks/v1/order.grpc.pb.h"
#include "sagaworks/v1/payment.grpc.pb.h"
#include "sagaworks/v1/shipping.grpc.pb.h"
#include "tests/testing/served_methods.h"
#include "yaml-cpp/yaml.h"

namespace sagaworks::platform {
namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(absl::StrCat(SAGAWORKS_SOURCE_DIR, "/", relative));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string EnvName(const ServiceInfo& peer) {
  return absl::StrCat("SAGAWORKS_", absl::AsciiStrToUpper(peer.name),
                      "_ADDRESS");
}

// ExpectListensAndTls: a service's environment (`var` reads one variable,
// "<unset>" when missing) listens on all interfaces at its registry ports,
// names it in traces, and talks mutual TLS with its own certificate; never
// plaintext.
void ExpectListensAndTls(
    const ServiceInfo& s,
    const std::function<std::string(const std::string&)>& var) {
  EXPECT_EQ(var("SAGAWORKS_LISTEN"), absl::StrCat("0.0.0.0:", s.port));
  EXPECT_EQ(var("SAGAWORKS_HTTP_LISTEN"),
            absl::StrCat("0.0.0.0:", s.http_port));
  EXPECT_EQ(var("OTEL_SERVICE_NAME"), s.binary);
  EXPECT_EQ(var("SAGAWORKS_TLS_CERT"), absl::StrCat("/tls/", s.name, ".crt"));
  EXPECT_EQ(var("SAGAWORKS_TLS_KEY"), absl::StrCat("/tls/", s.name, ".key"));
  EXPECT_EQ(var("SAGAWORKS_TLS_CA"), "/tls/ca.crt");
  EXPECT_EQ(var("SAGAWORKS_INSECURE"), "<unset>");
}

TEST(RegistryTest, EveryServiceHasOneRowWithUniqueNamesAndPorts) {
  std::set<std::string> names, binaries, databases;
  std::set<int> ports;
  for (int i = 0; i < static_cast<int>(Service::kEnd); ++i) {
    const ServiceInfo& s = Info(static_cast<Service>(i));
    EXPECT_EQ(static_cast<int>(s.id), i);
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_TRUE(binaries.insert(s.binary).second) << s.binary;
    EXPECT_TRUE(databases.insert(s.database).second) << s.database;
    EXPECT_TRUE(ports.insert(s.port).second) << s.name << " " << s.port;
    EXPECT_TRUE(ports.insert(s.http_port).second)
        << s.name << " " << s.http_port;
    EXPECT_EQ(Find(s.name), &s);
    EXPECT_EQ(Find(s.binary), &s);
  }
  EXPECT_EQ(Services().size(), names.size());
  EXPECT_EQ(Find("no-such-service"), nullptr);
}

TEST(RegistryTest, EveryServiceServesADefinedGrpcServiceAndHasMigrations) {
  // Fails for a service whose gRPC service is not in the descriptor pool.
  EXPECT_FALSE(testing::ServedMethods().empty());
  for (const ServiceInfo& s : Services()) {
    SCOPED_TRACE(s.name);
    EXPECT_FALSE(migrations::ForService(s.name).empty())
        << "no migrations/" << s.name << "/ folder";
    for (Service peer : s.peers) EXPECT_NE(peer, s.id) << "calls itself";
  }
  for (const auto& [file, text] : migrations::demo()) {
    std::string name(file);
    EXPECT_TRUE(absl::EndsWith(name, ".sql")) << file;
    name.resize(name.size() - 4);
    EXPECT_NE(Find(name), nullptr)
        << "migrations/demo/" << file << " names no service";
  }
}

TEST(PolicyTest, EveryMethodOfEveryServiceHasAPolicy) {
  std::set<std::string> methods;
  for (const testing::ServedMethod& served : testing::ServedMethods()) {
    const std::string& method = served.method;
    methods.insert(method);
    const server::MethodPolicy* policy = server::FindPolicy(method);
    ASSERT_NE(policy, nullptr)
        << method << " has no row in common/server/policy.cc: everyone "
        << "would be denied";
    EXPECT_NE(server::DescribeAllowed(*policy), "nobody") << method;
    // Only health checks (and reflection) need no credentials.
    EXPECT_EQ(policy->open, served.descriptor->service()->full_name() ==
                                grpc::health::v1::Health::service_full_name())
        << method;
  }
  for (const server::MethodPolicy& policy : server::Policies()) {
    if (absl::StartsWith(policy.method, "/grpc.reflection.")) continue;
    EXPECT_EQ(methods.count(policy.method), 1u)
        << policy.method << " is in the policy but no process serves it";
  }
}

TEST(PolicyTest, MoneyAndStockMoveOnlyInsideASaga) {
  // Every call with an effect on another service's data is the
  // orchestrator's; starting and stopping sagas is the order service's.
  for (const char* method : {"/sagaworks.v1.PaymentService/Charge",
                             "/sagaworks.v1.PaymentService/Refund",
                             "/sagaworks.v1.InventoryService/ReserveStock",
                             "/sagaworks.v1.InventoryService/ReleaseStock",
                             "/sagaworks.v1.ShippingService/CreateShipment",
                             "/sagaworks.v1.ShippingService/CancelShipment",
                             "/sagaworks.v1.OrderService/ApproveOrder",
                             "/sagaworks.v1.OrderService/RejectOrder",
                             "/sagaworks.v1.OrderService/HoldOrder"}) {
    const server::MethodPolicy* policy = server::FindPolicy(method);
    ASSERT_NE(policy, nullptr) << method;
    EXPECT_EQ(server::DescribeAllowed(*policy), "the orchestrator service")
        << method;
  }
  for (const char* method : {"/sagaworks.v1.SagaOrchestrator/StartSaga",
                             "/sagaworks.v1.SagaOrchestrator/CancelSaga"}) {
    const server::MethodPolicy* policy = server::FindPolicy(method);
    ASSERT_NE(policy, nullptr) << method;
    EXPECT_EQ(server::DescribeAllowed(*policy), "the order service") << method;
  }
}

TEST(RegistryTest, EveryBinaryIsBuilt) {
  for (const ServiceInfo& s : Services()) {
    const std::string path = absl::StrCat(SAGAWORKS_BIN_DIR, "/", s.binary);
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path << " was not built: the CMake target must "
                           << "be named as the registry's binary";
  }
}

TEST(RegistryTest, TheImageBuildsEveryBinary) {
  const std::string dockerfile = ReadSource("Dockerfile");
  for (const ServiceInfo& s : Services()) {
    EXPECT_TRUE(absl::StrContains(dockerfile, absl::StrCat(" ", s.binary, " ")))
        << "the Dockerfile's build does not name " << s.binary;
  }
}

// The compose file as docker-compose resolves it (anchors merged), read
// once for the tests that look at it; a null node when it cannot be.
YAML::Node ResolvedCompose() {
  static const YAML::Node* const compose = [] {
    std::string out;
    absl::Status s = local::Run(
        {"/usr/bin/env", "docker-compose", "-f",
         absl::StrCat(SAGAWORKS_SOURCE_DIR, "/docker-compose.yml"), "config"},
        &out);
    EXPECT_TRUE(s.ok()) << s << "\n" << out;
    return new YAML::Node(s.ok() ? YAML::Load(out) : YAML::Node());
  }();
  return *compose;
}

TEST(RegistryTest, ComposeRunsEveryServiceAsTheRegistrySays) {
  const YAML::Node compose = ResolvedCompose();
  ASSERT_TRUE(compose.IsMap());
  const YAML::Node services = compose["services"];
  ASSERT_TRUE(services.IsMap());
  std::set<std::string> platform_images;
  for (const auto& entry : services) {
    const YAML::Node image = entry.second["image"];
    const YAML::Node command = entry.second["command"];
    const bool tool = command && command.IsSequence() &&
                      command[0].as<std::string>() == "sagactl";
    if (image && absl::StartsWith(image.as<std::string>(), "sagaworks:") &&
        !tool) {
      platform_images.insert(entry.first.as<std::string>());
    }
  }
  std::set<std::string> want;
  for (const ServiceInfo& s : Services()) {
    SCOPED_TRACE(s.binary);
    want.insert(s.binary);
    const YAML::Node service = services[s.binary];
    ASSERT_TRUE(service.IsDefined() && service.IsMap())
        << "docker-compose.yml has no service " << s.binary;
    ASSERT_TRUE(service["command"].IsSequence());
    EXPECT_EQ(service["command"][0].as<std::string>(), s.binary);
    const YAML::Node env = service["environment"];
    ASSERT_TRUE(env.IsMap());
    auto var = [&](const std::string& name) {
      return env[name] ? env[name].as<std::string>() : "<unset>";
    };
    ExpectListensAndTls(s, var);
    // As the service's own role, never the superuser.
    const std::string role = DatabaseRole(s);
    EXPECT_TRUE(absl::StartsWith(var("SAGAWORKS_DATABASE_URL"),
                                 absl::StrCat("postgresql://", role, ":")))
        << var("SAGAWORKS_DATABASE_URL");
    EXPECT_TRUE(absl::EndsWith(var("SAGAWORKS_DATABASE_URL"),
                               absl::StrCat("@postgres:5432/", s.database)))
        << var("SAGAWORKS_DATABASE_URL");
    for (Service id : s.peers) {
      const ServiceInfo& peer = Info(id);
      // A DNS name, so that callers balance over every replica it names.
      EXPECT_EQ(var(EnvName(peer)),
                absl::StrCat("dns:///", peer.binary, ":", peer.port));
    }
    std::set<std::string> ports;
    for (const auto& p : service["ports"]) ports.insert(p.as<std::string>());
    for (int port : {s.port, s.http_port}) {
      const std::string published =
          absl::StrCat("127.0.0.1:", port, ":", port, "/tcp");
      EXPECT_EQ(ports.count(published), 1u) << "not published: " << published;
    }
    std::string health;
    for (const auto& word : service["healthcheck"]["test"]) {
      absl::StrAppend(&health, word.as<std::string>(), " ");
    }
    EXPECT_TRUE(absl::StrContains(
        health, absl::StrCat("http://localhost:", s.http_port, "/health/")))
        << health;
  }
  EXPECT_EQ(platform_images, want)
      << "services of the sagaworks image in docker-compose.yml";
}

// deploy/k8s/<name>.yaml: each service's Deployment, headless Service and
// PodDisruptionBudget say what the registry says (the schemas are checked
// by deploy/k8s/check, the k8s_manifests test).
TEST(RegistryTest, KubernetesManifestsMatchTheRegistry) {
  for (const ServiceInfo& s : Services()) {
    SCOPED_TRACE(s.name);
    const std::string file = absl::StrCat("deploy/k8s/", s.name, ".yaml");
    const std::vector<YAML::Node> docs = YAML::LoadAll(ReadSource(file));
    std::map<std::string, YAML::Node> by_kind;
    for (const YAML::Node& doc : docs) {
      EXPECT_EQ(doc["metadata"]["name"].as<std::string>(), s.binary)
          << file << ": " << doc["kind"].as<std::string>();
      by_kind[doc["kind"].as<std::string>()] = doc;
    }
    ASSERT_EQ(by_kind.count("Deployment"), 1u) << file;
    ASSERT_EQ(by_kind.count("Service"), 1u) << file;
    ASSERT_EQ(by_kind.count("PodDisruptionBudget"), 1u) << file;
    const YAML::Node container =
        by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(container["command"][0].as<std::string>(), s.binary);
    std::map<std::string, int> ports;
    for (const auto& p : container["ports"]) {
      ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
    }
    EXPECT_EQ(ports["grpc"], s.port);
    EXPECT_EQ(ports["http"], s.http_port);
    std::map<std::string, int> service_ports;
    for (const auto& p : by_kind["Service"]["spec"]["ports"]) {
      service_ports[p["name"].as<std::string>()] = p["port"].as<int>();
    }
    EXPECT_EQ(service_ports["grpc"], s.port);
    EXPECT_EQ(service_ports["http"], s.http_port);
    std::map<std::string, std::string> env;
    for (const auto& e : container["env"]) {
      if (e["value"]) {
        env[e["name"].as<std::string>()] = e["value"].as<std::string>();
      }
    }
    auto var = [&](const std::string& name) {
      auto it = env.find(name);
      return it == env.end() ? std::string("<unset>") : it->second;
    };
    ExpectListensAndTls(s, var);
    // Its own role and database, through the operator's read-write Service.
    EXPECT_TRUE(absl::StartsWith(
        var("SAGAWORKS_DATABASE_URL"),
        absl::StrCat("postgresql://", DatabaseRole(s), ":$(DB_PASSWORD)@")))
        << var("SAGAWORKS_DATABASE_URL");
    EXPECT_TRUE(absl::StrContains(
        var("SAGAWORKS_DATABASE_URL"),
        absl::StrCat("@sagaworks-db-rw:5432/", s.database, "?")))
        << var("SAGAWORKS_DATABASE_URL");
    std::set<std::string> peers_named;
    for (const auto& [name, value] : env) {
      if (absl::EndsWith(name, "_ADDRESS")) peers_named.insert(name);
    }
    std::set<std::string> peers_wanted;
    for (Service id : s.peers) {
      const ServiceInfo& peer = Info(id);
      peers_wanted.insert(EnvName(peer));
      EXPECT_EQ(var(EnvName(peer)),
                absl::StrCat("dns:///", peer.binary, ":", peer.port));
    }
    EXPECT_EQ(peers_named, peers_wanted);
    const YAML::Node volumes =
        by_kind["Deployment"]["spec"]["template"]["spec"]["volumes"];
    EXPECT_EQ(volumes[0]["secret"]["secretName"].as<std::string>(),
              absl::StrCat("sagaworks-tls-", s.name));
  }
  // Every database, owned by its service's role.
  const std::string postgres = ReadSource("deploy/k8s/postgres.yaml");
  for (const ServiceInfo& s : Services()) {
    const std::string owned = absl::StrCat("CREATE DATABASE ", s.database,
                                           " OWNER ", DatabaseRole(s));
    const std::string bootstrap = absl::StrCat(
        "database: ", s.database, "\n      owner: ", DatabaseRole(s));
    EXPECT_TRUE(absl::StrContains(postgres, owned) ||
                absl::StrContains(postgres, bootstrap))
        << s.database << " for " << DatabaseRole(s);
  }
}

TEST(RegistryTest, ComposeCreatesEveryDatabaseWithItsOwnRole) {
  const YAML::Node compose = ResolvedCompose();
  ASSERT_TRUE(compose.IsMap());
  const YAML::Node postgres = compose["services"]["postgres"]["environment"];
  std::set<std::string> created;
  // create <database> <role> "$SAGAWORKS_<NAME>_DB_PASSWORD"
  const std::regex create(R"re(\ncreate (\w+) (\w+) "\$(\w+)")re");
  const std::string script = ReadSource("tools/compose/postgres-init.sh");
  for (std::sregex_iterator it(script.begin(), script.end(), create), end;
       it != end; ++it) {
    created.insert(absl::StrCat((*it)[1].str(), " ", (*it)[2].str()));
    EXPECT_TRUE(postgres[(*it)[3].str()].IsDefined())
        << (*it)[3] << " is not given to the postgres container";
  }
  std::set<std::string> want;
  for (const ServiceInfo& s : Services()) {
    want.insert(absl::StrCat(s.database, " ", DatabaseRole(s)));
  }
  EXPECT_EQ(created, want) << "tools/compose/postgres-init.sh";
  EXPECT_FALSE(postgres["POSTGRES_DB"].IsDefined())
      << "the superuser's database would be one a service uses";
}

TEST(RegistryTest, PrometheusScrapesEveryService) {
  const YAML::Node config =
      YAML::Load(ReadSource("tools/compose/prometheus.yml"));
  std::set<std::string> targets;
  for (const auto& job : config["scrape_configs"]) {
    for (const auto& group : job["static_configs"]) {
      for (const auto& t : group["targets"]) {
        targets.insert(t.as<std::string>());
      }
    }
  }
  std::set<std::string> want;
  for (const ServiceInfo& s : Services()) {
    want.insert(absl::StrCat(s.binary, ":", s.http_port));
  }
  EXPECT_EQ(targets, want) << "tools/compose/prometheus.yml";
}

// The README's "what runs" table: "| order-service | 50051 | 9451 | orders |".
TEST(RegistryTest, ReadmeTableMatches) {
  std::map<std::string, std::string> rows;
  for (absl::string_view line : absl::StrSplit(ReadSource("README.md"), '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() != 6) continue;
    for (std::string& c : cells) {
      c = std::string(absl::StripAsciiWhitespace(c));
    }
    if (Find(cells[1]) == nullptr && !absl::EndsWith(cells[1], "-service") &&
        !absl::StartsWith(cells[1], "saga-")) {
      continue;
    }
    rows[cells[1]] = absl::StrCat(cells[2], " ", cells[3], " ", cells[4]);
  }
  std::map<std::string, std::string> want;
  for (const ServiceInfo& s : Services()) {
    want[s.binary] = absl::StrCat(s.port, " ", s.http_port, " ", s.database);
  }
  EXPECT_EQ(rows, want) << "README.md's table: | process | gRPC | HTTP | "
                           "database |";
}

}  // namespace
}  // namespace sagaworks::platform
