#include "headwater/server/http_server.h"

#define H2O_USE_LIBUV 0
#include <arpa/inet.h>
#include <h2o.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace headwater::server {
namespace {

// h2o's handler struct, extended with the service it calls.
struct ServiceHandler {
  h2o_handler_t base;
  FeatureService* service;
};

int OnRequest(h2o_handler_t* self, h2o_req_t* req) {
  auto* handler = reinterpret_cast<ServiceHandler*>(self);
  HttpRequest request{
      std::string_view(req->method.base, req->method.len),
      std::string_view(req->path.base, req->path.len),
      req->entity.base ? std::string_view(req->entity.base, req->entity.len) : std::string_view(),
      {}};
  ssize_t header = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
  if (header != -1) {
    const h2o_iovec_t& value = req->headers.entries[header].value;
    request.authorization = std::string_view(value.base, value.len);
  }
  HttpResponse response = handler->service->Handle(request);
  req->res.status = response.status;
  req->res.reason = response.status < 400 ? "OK" : "Error";
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, nullptr,
                 response.content_type.data(), response.content_type.size());
  // The pool outlives the send; copy the body into it.
  h2o_iovec_t body = h2o_strdup(&req->pool, response.body.data(), response.body.size());
  static h2o_generator_t generator = {nullptr, nullptr};
  h2o_start_response(req, &generator);
  h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
  return 0;
}

void OnAccept(h2o_socket_t* listener, const char* error) {
  if (error != nullptr) return;
  h2o_socket_t* socket = h2o_evloop_socket_accept(listener);
  if (socket != nullptr) h2o_accept(static_cast<h2o_accept_ctx_t*>(listener->data), socket);
}

Result<int> Listen(const std::string& host, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return Status::Invalid("--host '", host, "' is not an IPv4 address");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    int error = errno;
    close(fd);
    return Status::IOError("cannot listen on ", host, ":", port, ": ", strerror(error));
  }
  return fd;
}

Result<SSL_CTX*> MakeTlsContext(const ServerOptions& options) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) return Status::IOError("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(context, options.cert.c_str()) != 1) {
    SSL_CTX_free(context);
    return Status::Invalid("--cert ", options.cert, ": not a readable PEM certificate chain");
  }
  if (SSL_CTX_use_PrivateKey_file(context, options.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(context) != 1) {
    SSL_CTX_free(context);
    return Status::Invalid("--key ", options.key, ": not a PEM private key for the certificate");
  }
  return context;
}

}  // namespace

Status Serve(FeatureService* service, const ServerOptions& options, const std::atomic<bool>& stop,
             const std::function<void()>& on_listening) {
  const int workers = options.workers > 0
                          ? options.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if ((options.cert.empty()) != (options.key.empty())) {
    return Status::Invalid("--cert and --key go together");
  }
  SSL_CTX* tls = nullptr;
  if (!options.cert.empty()) {
    ARROW_ASSIGN_OR_RAISE(tls, MakeTlsContext(options));
  }
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> tls_owner(tls, [](SSL_CTX* c) {
    if (c) SSL_CTX_free(c);
  });

  h2o_globalconf_t config;
  h2o_config_init(&config);
  config.max_request_entity_size = options.max_body_bytes;
  config.http1.req_timeout = static_cast<uint64_t>(options.io_timeout_seconds) * 1000;
  config.http2.idle_timeout = static_cast<uint64_t>(options.io_timeout_seconds) * 1000;
  config.server_name = h2o_iovec_init(H2O_STRLIT("headwater"));
  h2o_hostconf_t* host =
      h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_pathconf_t* path = h2o_config_register_path(host, "/", 0);
  auto* handler =
      reinterpret_cast<ServiceHandler*>(h2o_create_handler(path, sizeof(ServiceHandler)));
  handler->base.on_req = OnRequest;
  handler->service = service;

  // Bind every worker's socket before starting, so an error (port in use) returns at once.
  std::vector<int> sockets;
  for (int w = 0; w < workers; ++w) {
    auto fd = Listen(options.host, options.port);
    if (!fd.ok()) {
      for (int open : sockets) close(open);
      h2o_config_dispose(&config);
      return fd.status();
    }
    sockets.push_back(*fd);
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, fd = sockets[w]] {
      h2o_context_t context;
      h2o_context_init(&context, h2o_evloop_create(), &config);
      h2o_accept_ctx_t accept{};
      accept.ctx = &context;
      accept.hosts = config.hosts;
      accept.ssl_ctx = tls;
      h2o_socket_t* listener =
          h2o_evloop_socket_create(context.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
      listener->data = &accept;
      h2o_socket_read_start(listener, OnAccept);
      while (!stop.load(std::memory_order_relaxed)) h2o_evloop_run(context.loop, 100);
      h2o_socket_read_stop(listener);
      h2o_socket_close(listener);
      // Connections still open are dropped with the process; the loop is not torn down.
    });
  }
  if (on_listening) on_listening();
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (void)service->RefreshRegistry();  // a failed read keeps the current registry
  }
  for (auto& thread : threads) thread.join();
  return Status::OK();
}

}  // namespace headwater::server
