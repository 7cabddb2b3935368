#include "headwater/server/http_server.h"

#define H2O_USE_LIBUV 0
#include <arpa/inet.h>
#include <h2o.h>
#include <h2o/version.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "headwater/core/text.h"

namespace headwater::server {
namespace {

// h2o's handler struct, extended with the service it calls.
struct ServiceHandler {
  h2o_handler_t base;
  FeatureService* service;
};

std::string_view Trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool StartsWithName(std::string_view line, std::string_view lower_name) {
  if (line.size() <= lower_name.size() || line[lower_name.size()] != ':') return false;
  for (size_t i = 0; i < lower_name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != lower_name[i]) return false;
  }
  return true;
}

// h2o 2.2 reads the body by the first Content-Length header and leaves the header out of the
// request it hands on, so a second one that disagrees — the shape of request smuggling — would
// go unseen. While the handler runs, an HTTP/1 request's raw header block is still at the head
// of its connection's input buffer; it is checked there, and refused whole (RFC 9110 8.6) when
// its Content-Length values disagree or come with a Transfer-Encoding (RFC 9112 6.1).
bool HasConflictingContentLength(h2o_req_t* req) {
  if (req->version >= 0x200 || req->entity.base == nullptr ||
      req->conn->callbacks->get_socket == nullptr) {
    return false;
  }
  h2o_socket_t* socket = req->conn->callbacks->get_socket(req->conn);
  if (socket == nullptr || socket->input == nullptr) return false;
  std::string_view input(socket->input->bytes, socket->input->size);
  std::string_view block = input.substr(0, input.find("\r\n\r\n"));
  std::string_view first;
  bool lengths = false, encoded = false;
  while (!block.empty()) {
    const size_t end = block.find('\n');
    std::string_view line = Trimmed(block.substr(0, end));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    block = end == std::string_view::npos ? std::string_view() : block.substr(end + 1);
    encoded = encoded || StartsWithName(line, "transfer-encoding");
    if (!StartsWithName(line, "content-length")) continue;
    std::string_view values = line.substr(sizeof("content-length"));
    while (true) {  // a value may itself be a list: "5, 5"
      const size_t comma = values.find(',');
      const std::string_view value = Trimmed(values.substr(0, comma));
      if (!lengths) first = value;
      lengths = true;
      if (value != first) return true;
      if (comma == std::string_view::npos) break;
      values.remove_prefix(comma + 1);
    }
  }
  return lengths && encoded;
}

// Refused requests (answers of 400 and above) go to stderr, one line per cause — the status and
// its error name — at most once a minute, with how many more there were since its last line: an
// operator sees every kind of refusal, and a flood of bad requests cannot flood the log (or block
// a server whose stderr nobody reads). Tokens and bodies are never written.
class RefusalLog {
 public:
  void Record(int status, std::string_view cause, h2o_req_t* req, std::string_view detail) {
    const auto now = std::chrono::steady_clock::now();
    int64_t more = 0;
    {
      std::lock_guard lock(mutex_);
      Cause& seen = causes_[std::to_string(status) + " " + std::string(cause)];
      if (seen.logged && now - seen.last < std::chrono::minutes(1)) {
        ++seen.suppressed;
        return;
      }
      more = std::exchange(seen.suppressed, 0);
      seen.logged = true;
      seen.last = now;
    }
    char peer[INET6_ADDRSTRLEN] = "?";
    sockaddr_storage address{};
    if (req->conn->callbacks->get_peername != nullptr &&
        req->conn->callbacks->get_peername(req->conn, reinterpret_cast<sockaddr*>(&address)) > 0) {
      const void* host =
          address.ss_family == AF_INET6
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr)
              : &reinterpret_cast<sockaddr_in*>(&address)->sin_addr;
      inet_ntop(address.ss_family, host, peer, sizeof peer);
    }
    const std::string_view path(req->path.base, std::min<size_t>(req->path.len, 200));
    std::string line = "refused " + std::to_string(status) + " " + std::string(cause) + ": " +
                       std::string(req->method.base, std::min<size_t>(req->method.len, 16)) + " " +
                       std::string(path) + " from " + peer;
    if (!detail.empty()) line += " (" + std::string(detail.substr(0, 300)) + ")";
    if (more > 0) line += "; " + std::to_string(more) + " more of this cause in the last minute";
    std::fprintf(stderr, "%s\n", PrintableText(line).c_str());
  }

 private:
  struct Cause {
    bool logged = false;
    std::chrono::steady_clock::time_point last;
    int64_t suppressed = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Cause> causes_;  // a few dozen at most: statuses × error names
};

RefusalLog& Refusals() {
  static RefusalLog log;
  return log;
}

// The service's answers are logged by OnRequest, with their error; h2o's own refusals (a body
// over the limit, a malformed request, a timed-out body) by this logger, with h2o's reason.
constexpr const char* kServiceReason = "Error";

void LogRefusal(h2o_logger_t*, h2o_req_t* req) {
  if (req->res.status < 400 || req->res.reason == kServiceReason) return;
  Refusals().Record(req->res.status, req->res.reason != nullptr ? req->res.reason : "", req, "");
}

void Respond(h2o_req_t* req, int status, std::string_view content_type, std::string_view body) {
  req->res.status = status;
  req->res.reason = status < 400 ? "OK" : kServiceReason;
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, nullptr,
                 content_type.data(), content_type.size());
  // The pool outlives the send; copy the body into it.
  h2o_iovec_t copy = h2o_strdup(&req->pool, body.data(), body.size());
  static h2o_generator_t generator = {nullptr, nullptr};
  h2o_start_response(req, &generator);
  h2o_send(req, &copy, 1, H2O_SEND_STATE_FINAL);
}

int OnRequest(h2o_handler_t* self, h2o_req_t* req) {
  auto* handler = reinterpret_cast<ServiceHandler*>(self);
  if (HasConflictingContentLength(req)) {
    Refusals().Record(400, "bad request", req, "conflicting Content-Length headers");
    Respond(req, 400, "application/json",
            R"({"error":"bad request","detail":"conflicting Content-Length headers"})");
    return 0;
  }
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
  header = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
  if (header != -1) {
    const h2o_iovec_t& value = req->headers.entries[header].value;
    request.idempotency_key = std::string_view(value.base, value.len);
    request.has_idempotency_key = true;
  }
  HttpResponse response = handler->service->Handle(request);
  if (response.status >= 400) {
    Refusals().Record(response.status, response.error.empty() ? "error" : response.error, req,
                      response.error_detail);
  }
  if (response.ui_asset) {
    // Only this server's scripts run in the page; styles set by scripts (the charts) are allowed.
    static constexpr std::string_view kPolicy =
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'";
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0,
                          nullptr, kPolicy.data(), kPolicy.size());
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                          nullptr, H2O_STRLIT("nosniff"));
  }
  Respond(req, response.status, response.content_type, response.body);
  return 0;
}

// One worker's listener and the connections it accepted and has not closed yet: h2o 2.2 cannot
// close an idle HTTP/1 keep-alive connection on shutdown, so the worker does it from this set.
struct Worker {
  h2o_accept_ctx_t accept{};
  std::unordered_set<h2o_socket_t*> open;
};

struct Connection {
  Worker* worker;
  h2o_socket_t* socket;
};

void OnClose(void* data) {  // after h2o freed the socket: only its address is used
  auto* connection = static_cast<Connection*>(data);
  connection->worker->open.erase(connection->socket);
  delete connection;
}

void OnAccept(h2o_socket_t* listener, const char* error) {
  if (error != nullptr) return;
  h2o_socket_t* socket = h2o_evloop_socket_accept(listener);
  if (socket == nullptr) return;
  auto* worker = static_cast<Worker*>(listener->data);
  worker->open.insert(socket);
  socket->on_close.cb = OnClose;
  socket->on_close.data = new Connection{worker, socket};
  h2o_accept(&worker->accept, socket);
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
  const int workers = options.workers > 0 ? options.workers : service->default_workers();
  if ((options.cert.empty()) != (options.key.empty())) {
    return Status::Invalid("--cert and --key go together");
  }
  // Each connection is a file descriptor: take all the system allows (the soft limit is often
  // 1,024; the hard one tens of thousands), as nginx's worker_rlimit_nofile does.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &files);
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
  // h2o answers some requests before any path is chosen, under the host's fallback path.
  for (h2o_pathconf_t* conf : {path, &host->fallback_path}) {
    h2o_create_logger(conf, sizeof(h2o_logger_t))->log_access = LogRefusal;
  }

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
      Worker worker;
      worker.accept.ctx = &context;
      worker.accept.hosts = config.hosts;
      worker.accept.ssl_ctx = tls;
      h2o_socket_t* listener =
          h2o_evloop_socket_create(context.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
      listener->data = &worker;
      h2o_socket_read_start(listener, OnAccept);
      while (!stop.load(std::memory_order_relaxed)) h2o_evloop_run(context.loop, 100);
      h2o_socket_read_stop(listener);
      h2o_socket_close(listener);
      // Let requests in flight finish (a second at most), then end the connections still open
      // (idle keep-alive ones) by shutting their sockets: h2o reads the end of the stream and
      // closes each its own way. Then free the loop and everything h2o allocated for it, so a
      // sanitizer build ends with nothing leaked.
      if (!worker.open.empty()) h2o_context_request_shutdown(&context);  // HTTP/2: a GOAWAY
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (!worker.open.empty() && std::chrono::steady_clock::now() < deadline) {
        h2o_evloop_run(context.loop, 10);
      }
      for (h2o_socket_t* socket : worker.open) shutdown(h2o_socket_get_fd(socket), SHUT_RDWR);
      const auto last = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (!worker.open.empty() && std::chrono::steady_clock::now() < last) {
        h2o_evloop_run(context.loop, 10);
      }
      // The graceful-shutdown timer outlives the connections it was for.
      if (h2o_timeout_is_linked(&context.http2._graceful_shutdown_timeout)) {
        h2o_timeout_unlink(&context.http2._graceful_shutdown_timeout);
      }
      if (worker.open.empty()) {  // else h2o would free them under its own feet: left to exit
        h2o_evloop_t* loop = context.loop;
        h2o_multithread_queue_t* queue = context.queue;
        h2o_context_dispose(&context);
#if H2O_VERSION_MAJOR == 2 && H2O_VERSION_MINOR < 3
        std::free(queue);  // h2o 2.2's evloop build closes the queue but never frees it (2.3 does)
#else
        (void)queue;
#endif
        h2o_evloop_destroy(loop);
      }
    });
  }
  if (on_listening) on_listening();
  for (int tick = 1; !stop.load(); ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (void)service->RefreshRegistry();      // a failed read keeps the current registry
    if (tick % 5 == 0) service->Sample();  // the web UI's live plots: a sample a second
  }
  for (auto& thread : threads) thread.join();
  h2o_config_dispose(&config);
  return Status::OK();
}

}  // namespace headwater::server
