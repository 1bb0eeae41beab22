// reflect_client: calls a gRPC server the way grpcurl does, knowing nothing
// but what the server's reflection service describes. The README's grpcurl
// commands run through it in the tests, with "grpcurl" replaced by its path.
//
//   reflect_client (-plaintext | -cacert CA.crt) [-v] [-d JSON]
//                  [-H 'key: value']... ADDR list|pkg.Service/Method
//
// Prints each response as JSON; on an error prints the code and message and
// exits with 64 + the status code, as grpcurl does.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

namespace {

namespace refl = grpc::reflection::v1alpha;
using google::protobuf::FileDescriptorProto;

const char* const kCodeNames[] = {"OK",
                                  "Canceled",
                                  "Unknown",
                                  "InvalidArgument",
                                  "DeadlineExceeded",
                                  "NotFound",
                                  "AlreadyExists",
                                  "PermissionDenied",
                                  "ResourceExhausted",
                                  "FailedPrecondition",
                                  "Aborted",
                                  "OutOfRange",
                                  "Unimplemented",
                                  "Internal",
                                  "Unavailable",
                                  "DataLoss",
                                  "Unauthenticated"};

int Fail(const grpc::Status& s) {
  std::printf("ERROR:\n  Code: %s\n  Message: %s\n",
              kCodeNames[static_cast<int>(s.error_code())],
              s.error_message().c_str());
  return 64 + static_cast<int>(s.error_code());
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "reflect_client: %s\n", why.c_str());
  return 2;
}

// Reflection: fetches descriptors over one reflection stream.
class Reflection {
 public:
  explicit Reflection(std::shared_ptr<grpc::Channel> channel)
      : stub_(refl::ServerReflection::NewStub(channel)) {
    stream_ = stub_->ServerReflectionInfo(&context_);
  }

  bool ListServices(std::vector<std::string>* out, grpc::Status* status) {
    refl::ServerReflectionRequest req;
    req.set_list_services("*");
    refl::ServerReflectionResponse resp;
    if (!Ask(req, &resp, status)) return false;
    for (const auto& s : resp.list_services_response().service()) {
      out->push_back(s.name());
    }
    return true;
  }

  // Loads the file defining `symbol` and everything it imports.
  bool LoadSymbol(const std::string& symbol, grpc::Status* status) {
    refl::ServerReflectionRequest req;
    req.set_file_containing_symbol(symbol);
    return LoadFiles(req, status);
  }

  google::protobuf::DescriptorDatabase* database() { return &db_; }

  void Close() {
    stream_->WritesDone();
    refl::ServerReflectionResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    stream_->Finish().ok();
  }

 private:
  bool Ask(const refl::ServerReflectionRequest& req,
           refl::ServerReflectionResponse* resp, grpc::Status* status) {
    if (!stream_->Write(req) || !stream_->Read(resp)) {
      *status = stream_->Finish();
      if (status->ok()) {
        *status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "reflection stream ended");
      }
      return false;
    }
    if (resp->has_error_response()) {
      *status = grpc::Status(
          static_cast<grpc::StatusCode>(resp->error_response().error_code()),
          resp->error_response().error_message());
      return false;
    }
    return true;
  }

  bool LoadFiles(const refl::ServerReflectionRequest& req,
                 grpc::Status* status) {
    refl::ServerReflectionResponse resp;
    if (!Ask(req, &resp, status)) return false;
    std::vector<std::string> deps;
    for (const std::string& bytes :
         resp.file_descriptor_response().file_descriptor_proto()) {
      FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) continue;
      if (!loaded_.insert(file.name()).second) continue;
      for (const std::string& d : file.dependency()) deps.push_back(d);
      db_.Add(file);
    }
    for (const std::string& d : deps) {
      if (loaded_.count(d) > 0) continue;
      refl::ServerReflectionRequest more;
      more.set_file_by_filename(d);
      if (!LoadFiles(more, status)) return false;
    }
    return true;
  }

  std::unique_ptr<refl::ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<refl::ServerReflectionRequest,
                                           refl::ServerReflectionResponse>>
      stream_;
  google::protobuf::SimpleDescriptorDatabase db_;
  std::set<std::string> loaded_;
};

// Waits for the one event the completion queue is expected to deliver next.
bool Await(grpc::CompletionQueue* cq) {
  void* tag;
  bool ok = false;
  return cq->Next(&tag, &ok) && ok;
}

grpc::ByteBuffer ToBuffer(const google::protobuf::Message& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool FromBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message* m) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return m->ParseFromString(bytes);
}

void PrintJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  std::cout << json;
  if (json.empty() || json.back() != '\n') std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "{}";
  bool verbose = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> positional;
  bool plaintext = false;
  std::string cacert;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-plaintext") {
      plaintext = true;
      continue;
    }
    if (arg == "-cacert" && i + 1 < argc) {
      cacert = argv[++i];
      continue;
    }
    if (arg == "-v") {
      verbose = true;
      continue;
    }
    if (arg == "-d" && i + 1 < argc) {
      data = argv[++i];
    } else if (arg == "-H" && i + 1 < argc) {
      const std::string h = argv[++i];
      const size_t colon = h.find(':');
      if (colon == std::string::npos) return Usage("bad header: " + h);
      std::string value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers.emplace_back(h.substr(0, colon), value);
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage("unsupported flag " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) return Usage("want ADDRESS and list|METHOD");
  // As grpcurl: TLS against the system's roots, or -cacert's; -plaintext
  // for none.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (plaintext) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    if (!cacert.empty()) {
      std::ifstream in(cacert);
      if (!in) return Usage("cannot read -cacert " + cacert);
      options.pem_root_certs.assign(std::istreambuf_iterator<char>(in), {});
    }
    credentials = grpc::SslCredentials(options);
  }
  auto channel = grpc::CreateChannel(positional[0], credentials);
  Reflection reflection(channel);
  grpc::Status status;

  if (positional[1] == "list") {
    std::vector<std::string> services;
    if (!reflection.ListServices(&services, &status)) return Fail(status);
    for (const auto& s : services) std::cout << s << "\n";
    reflection.Close();
    return 0;
  }

  const std::string& target = positional[1];
  const size_t slash = target.rfind('/');
  if (slash == std::string::npos) return Usage("want pkg.Service/Method");
  const std::string service = target.substr(0, slash);
  if (!reflection.LoadSymbol(service, &status)) return Fail(status);
  reflection.Close();
  google::protobuf::DescriptorPool pool(reflection.database());
  const auto* svc = pool.FindServiceByName(service);
  if (svc == nullptr) {
    return Fail(grpc::Status(grpc::StatusCode::NOT_FOUND,
                             "service not described: " + service));
  }
  const auto* method = svc->FindMethodByName(target.substr(slash + 1));
  if (method == nullptr) {
    return Fail(grpc::Status(grpc::StatusCode::NOT_FOUND,
                             "method not described: " + target));
  }
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(method->input_type())->New());
  auto parsed =
      google::protobuf::util::JsonStringToMessage(data, request.get());
  if (!parsed.ok()) return Usage("bad -d JSON: " + parsed.ToString());

  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  for (const auto& [k, v] : headers) context.AddMetadata(k, v);
  grpc::CompletionQueue cq;
  const std::string path = "/" + service + "/" + method->name();
  auto call = stub.PrepareCall(&context, path, &cq);
  call->StartCall(nullptr);
  Await(&cq);
  call->Write(ToBuffer(*request), nullptr);
  Await(&cq);
  call->WritesDone(nullptr);
  Await(&cq);
  grpc::ByteBuffer buffer;
  bool first = true;
  while (true) {
    call->Read(&buffer, nullptr);
    const bool got = Await(&cq);
    if (verbose && first) {
      // As grpcurl -v: the response headers, then the contents.
      std::cout << "\nResponse headers received:\n";
      for (const auto& [k, v] : context.GetServerInitialMetadata()) {
        std::cout << std::string(k.data(), k.size()) << ": "
                  << std::string(v.data(), v.size()) << "\n";
      }
      std::cout << "\nResponse contents:\n";
    }
    first = false;
    if (!got) break;
    std::unique_ptr<google::protobuf::Message> response(
        factory.GetPrototype(method->output_type())->New());
    if (!FromBuffer(buffer, response.get())) {
      return Usage("cannot decode the response");
    }
    PrintJson(*response);
  }
  call->Finish(&status, nullptr);
  Await(&cq);
  if (!status.ok()) return Fail(status);
  return 0;
}
