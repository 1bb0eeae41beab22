// Mutual TLS as the platform uses it, on a real loopback server: who gets
// through, what a server learns of its caller, certificate rotation without
// a restart, and expired or foreign certificates refused.
#include "common/security/tls.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/security/certificates.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "sagaworks/v1/payment.grpc.pb.h"

namespace sagaworks::security {
namespace {

// Answers GetBalance with the caller's SPIFFE id as the customer.
class WhoAmI final : public v1::PaymentService::Service {
  grpc::Status GetBalance(grpc::ServerContext* context,
                          const v1::GetBalanceRequest*,
                          v1::Balance* response) override {
    response->set_customer_id(PeerSpiffeId(*context).value_or("anonymous"));
    return grpc::Status::OK;
  }
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sagaworks-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    now_ = absl::Now();
    absl::StatusOr<KeyPair> ca = CreateAuthority(
        "test CA", now_ - absl::Hours(1), now_ + absl::Hours(24));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    Write("ca.crt", ca_.cert_pem);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Write(const std::string& name, const std::string& text) {
    const std::string tmp = absl::StrCat(dir_, "/", name, ".tmp");
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, absl::StrCat(dir_, "/", name));
  }

  // Issue writes <file>.crt and <file>.key for workload `name`, signed by
  // `ca`, valid from `from` to `to`.
  TlsConfig Issue(const std::string& file, const std::string& name,
                  absl::Time from, absl::Time to, const KeyPair* ca = nullptr) {
    absl::StatusOr<KeyPair> pair = security::Issue(
        ca != nullptr ? *ca : ca_,
        {name, SpiffeId(name), {"localhost"}, {"127.0.0.1"}, from, to});
    EXPECT_TRUE(pair.ok()) << pair.status();
    Write(file + ".key", pair->key_pem);
    Write(file + ".crt", pair->cert_pem);
    return Config(file);
  }
  TlsConfig Config(const std::string& file) {
    TlsConfig c{absl::StrCat(dir_, "/", file, ".crt"),
                absl::StrCat(dir_, "/", file, ".key"),
                absl::StrCat(dir_, "/ca.crt")};
    c.refresh_seconds = 1;
    return c;
  }
  TlsConfig Valid(const std::string& file, const std::string& name) {
    return Issue(file, name, now_ - absl::Hours(1), now_ + absl::Hours(1));
  }

  void Serve(const TlsConfig& tls) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", ServerCredentials(tls), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  struct Answer {
    grpc::StatusCode code;
    std::string caller;  // what the server saw
    std::string server;  // the server's SPIFFE id, as the client saw it
  };
  // Call dials a fresh connection (`connection` sets it apart) and asks.
  Answer Call(std::shared_ptr<grpc::ChannelCredentials> credentials,
              int connection = 0) {
    grpc::ChannelArguments args;
    args.SetInt("test.connection", connection);
    auto stub = v1::PaymentService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("localhost:", port_), std::move(credentials), args));
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::Balance b;
    grpc::Status s = stub->GetBalance(&c, {}, &b);
    Answer a{s.error_code(), b.customer_id(), ""};
    if (auto auth = c.auth_context()) {
      auto ids = auth->FindPropertyValues("peer_spiffe_id");
      if (ids.size() == 1) a.server.assign(ids[0].data(), ids[0].size());
    }
    return a;
  }

  std::string dir_;
  absl::Time now_;
  KeyPair ca_;
  WhoAmI service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(TlsTest, ValidateNamesWhatIsWrong) {
  TlsConfig insecure;
  insecure.insecure = true;
  EXPECT_TRUE(insecure.Validate().ok());
  absl::Status none = TlsConfig{}.Validate();
  EXPECT_EQ(none.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(none.message().find("--insecure"), std::string::npos);

  TlsConfig payment = Valid("payment", "payment");
  EXPECT_TRUE(payment.Validate().ok()) << payment.Validate();
  TlsConfig order = Valid("order", "order");
  TlsConfig mixed = payment;
  mixed.key_file = order.key_file;
  EXPECT_NE(mixed.Validate().message().find("is not the key of --tls-cert"),
            std::string::npos);

  absl::StatusOr<KeyPair> other =
      CreateAuthority("other CA", now_ - absl::Hours(1), now_ + absl::Hours(1));
  ASSERT_TRUE(other.ok());
  TlsConfig foreign = Issue("foreign", "payment", now_ - absl::Hours(1),
                            now_ + absl::Hours(1), &*other);
  EXPECT_NE(foreign.Validate().message().find("is not valid under --tls-ca"),
            std::string::npos)
      << foreign.Validate();
  TlsConfig expired =
      Issue("expired", "payment", now_ - absl::Hours(2), now_ - absl::Hours(1));
  EXPECT_NE(expired.Validate().message().find("expired"), std::string::npos)
      << expired.Validate();
}

TEST_F(TlsTest, TheServerSeesTheCallersWorkloadOrNoneAndRefusesPlaintext) {
  Serve(Valid("payment", "payment"));
  Answer platform = Call(ChannelCredentials(Valid("sagactl", "sagactl")));
  EXPECT_EQ(platform.code, grpc::StatusCode::OK);
  EXPECT_EQ(platform.caller, "spiffe://sagaworks.local/sagactl");
  EXPECT_EQ(platform.server, "spiffe://sagaworks.local/payment");

  // A customer's client: checks the server, presents nothing.
  grpc::SslCredentialsOptions ca_only;
  ca_only.pem_root_certs = ca_.cert_pem;
  Answer customer = Call(grpc::SslCredentials(ca_only));
  EXPECT_EQ(customer.code, grpc::StatusCode::OK);
  EXPECT_EQ(customer.caller, "anonymous");

  EXPECT_EQ(Call(grpc::InsecureChannelCredentials()).code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ForeignAndExpiredCertificatesAreRefused) {
  Serve(Valid("payment", "payment"));
  absl::StatusOr<KeyPair> other =
      CreateAuthority("other CA", now_ - absl::Hours(1), now_ + absl::Hours(1));
  ASSERT_TRUE(other.ok());
  TlsConfig foreign = Issue("foreign", "orchestrator", now_ - absl::Hours(1),
                            now_ + absl::Hours(1), &*other);
  foreign.ca_file = absl::StrCat(dir_, "/ca.crt");  // trusts the server
  EXPECT_EQ(Call(ChannelCredentials(foreign)).code,
            grpc::StatusCode::UNAVAILABLE);
  TlsConfig expired = Issue("expired", "orchestrator", now_ - absl::Hours(2),
                            now_ - absl::Hours(1));
  EXPECT_EQ(Call(ChannelCredentials(expired)).code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, AClientRefusesAnExpiredServerCertificate) {
  Serve(Issue("payment", "payment", now_ - absl::Hours(2),
              now_ - absl::Hours(1)));
  EXPECT_EQ(Call(ChannelCredentials(Valid("sagactl", "sagactl"))).code,
            grpc::StatusCode::UNAVAILABLE);
}

// New certificate files are served to new connections, with no restart.
TEST_F(TlsTest, ReplacedCertificateFilesAreServedWithoutARestart) {
  Serve(Valid("server", "payment"));
  const TlsConfig client = Valid("sagactl", "sagactl");
  ASSERT_EQ(Call(ChannelCredentials(client)).server,
            "spiffe://sagaworks.local/payment");
  Valid("server", "payment-rotated");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string seen;
  for (int connection = 1; absl::Now() < deadline; ++connection) {
    seen = Call(ChannelCredentials(client), connection).server;
    if (seen == "spiffe://sagaworks.local/payment-rotated") break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(seen, "spiffe://sagaworks.local/payment-rotated");
}

}  // namespace
}  // namespace sagaworks::security
