#include "headwater/core/object_store.h"

#include <arrow/buffer.h>
#include <arrow/filesystem/localfs.h>
#include <arrow/filesystem/s3fs.h>
#include <arrow/io/file.h>
#include <arrow/io/interfaces.h>
#include <curl/curl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "headwater/core/text.h"

namespace headwater::storage {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kScheme = "s3://";

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string Region() {
  std::string region = Environment("AWS_REGION");
  if (region.empty()) region = Environment("AWS_DEFAULT_REGION");
  return region.empty() ? "us-east-1" : region;
}

// The S3 file systems made so far, one per endpoint, and the buckets given their own endpoint.
// Never destroyed: its file systems are finalized with Arrow's S3 layer at exit.
struct S3State {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<arrow::fs::FileSystem>> by_endpoint;
  std::map<std::string, std::string> bucket_endpoints;
};

S3State& State() {
  static S3State* state = new S3State();
  return *state;
}

void ShutDownS3() { (void)arrow::fs::EnsureS3Finalized(); }

Result<std::shared_ptr<arrow::fs::FileSystem>> S3For(const std::string& endpoint) {
  S3State& state = State();
  std::lock_guard lock(state.mutex);
  auto found = state.by_endpoint.find(endpoint);
  if (found != state.by_endpoint.end()) return found->second;
  if (!arrow::fs::IsS3Initialized()) {
    ARROW_RETURN_NOT_OK(arrow::fs::InitializeS3(arrow::fs::S3GlobalOptions::Defaults()));
  }
  arrow::fs::S3Options options = arrow::fs::S3Options::Defaults();
  options.region = Region();
  if (!endpoint.empty()) {
    std::string address = endpoint;
    if (address.starts_with("http://")) {
      options.scheme = "http";
      address = address.substr(7);
    } else if (address.starts_with("https://")) {
      address = address.substr(8);
    }
    while (address.ends_with("/")) address.pop_back();
    options.endpoint_override = address;
  }
  // A stalled or unreachable server is an error within seconds: a request making no progress for
  // 3 s fails (the AWS SDK's low-speed limit), and is tried 3 times in all, not the SDK's 10.
  options.connect_timeout = 5;
  options.retry_strategy = arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(3);
  auto made = arrow::fs::S3FileSystem::Make(options);
  if (!made.ok()) {
    return Status::IOError("cannot reach S3", endpoint.empty() ? "" : " at " + endpoint, ": ",
                           made.status().message());
  }
  // Arrow's S3 layer must be shut down before the process ends. Registered after the first
  // client exists, so the handler runs before the statics that client created are destroyed.
  static std::once_flag shut_down_at_exit;
  std::call_once(shut_down_at_exit, [] { std::atexit(ShutDownS3); });
  state.by_endpoint.emplace(endpoint, *made);
  return std::shared_ptr<arrow::fs::FileSystem>(*made);
}

// "bucket/key" of "s3://bucket/key/", without the trailing slash.
Result<std::string> PathInBucket(const fs::path& uri) {
  std::string path = uri.string().substr(kScheme.size());
  while (path.ends_with("/")) path.pop_back();
  if (path.empty() || path.starts_with("/")) {
    return Status::Invalid("'", uri.string(), "' names no bucket (write s3://bucket/key)");
  }
  return path;
}

std::string BucketOf(const std::string& path_in_bucket) {
  return path_in_bucket.substr(0, path_in_bucket.find('/'));
}

// The endpoint serving `bucket`: its own (UseEndpointForBucket), else the environment's; empty
// for AWS itself.
std::string EndpointFor(const std::string& bucket) {
  {
    S3State& state = State();
    std::lock_guard lock(state.mutex);
    auto found = state.bucket_endpoints.find(bucket);
    if (found != state.bucket_endpoints.end()) return found->second;
  }
  std::string endpoint = Environment("AWS_ENDPOINT_URL_S3");
  return endpoint.empty() ? Environment("AWS_ENDPOINT_URL") : endpoint;
}

Status Named(const fs::path& path, const Status& status) {
  if (status.ok()) return status;
  return Status::IOError(path.string(), ": ", status.message());
}

}  // namespace

bool IsObjectUri(const fs::path& path) { return path.native().starts_with(kScheme); }

Status UseEndpointForBucket(const std::string& bucket, const std::string& endpoint) {
  S3State& state = State();
  std::lock_guard lock(state.mutex);
  auto [it, added] = state.bucket_endpoints.emplace(bucket, endpoint);
  if (!added && it->second != endpoint) {
    return Status::Invalid("bucket '", bucket, "' is given two endpoints: ", it->second, " and ",
                           endpoint);
  }
  return Status::OK();
}

Result<Located> Locate(const fs::path& path) {
  if (!IsObjectUri(path)) {
    static auto local = std::make_shared<arrow::fs::LocalFileSystem>();
    return Located{local, path.string()};
  }
  ARROW_ASSIGN_OR_RAISE(std::string in_bucket, PathInBucket(path));
  ARROW_ASSIGN_OR_RAISE(auto s3, S3For(EndpointFor(BucketOf(in_bucket))));
  return Located{std::move(s3), std::move(in_bucket)};
}

Result<Kind> KindOf(const fs::path& path) {
  ARROW_ASSIGN_OR_RAISE(Located at, Locate(path));
  auto info = at.fs->GetFileInfo(at.path);
  if (!info.ok()) return Named(path, info.status());
  switch (info->type()) {
    case arrow::fs::FileType::File:
      return Kind::kFile;
    case arrow::fs::FileType::Directory:
      return Kind::kDirectory;
    default:
      return Kind::kMissing;
  }
}

Status MakeDirectories(const fs::path& path) {
  if (IsObjectUri(path)) return Status::OK();
  std::error_code error;
  fs::create_directories(path, error);
  if (error) return Status::IOError("cannot create ", path.string(), ": ", error.message());
  return Status::OK();
}

namespace {

// A local file whose large ranges are read by mapping them: the buffer ReadAt returns is the
// file's page-cache pages themselves (MAP_POPULATE fills the page tables at once), unmapped when
// its last reference goes, instead of a copy of them. A Parquet column chunk of 8 MB was copied
// at 0.5-1 GB/s on this machine: at 100M feature rows more than a core spent copying through the
// whole second pass. Reads are clamped to the size the file had when opened, so a range a corrupt
// footer names beyond the end reads short, as pread would, rather than mapping pages that are not
// there; a range that cannot be mapped (an address-space limit) is copied as before. A mapping
// outlives a replacement of the file by rename (every write here is one), not a truncation of it
// in place by another program while it is being read.
class MappedReadFile : public arrow::io::RandomAccessFile {
 public:
  MappedReadFile(std::shared_ptr<arrow::io::ReadableFile> file, int64_t size)
      : file_(std::move(file)), size_(size) {}

  Result<std::shared_ptr<arrow::Buffer>> ReadAt(int64_t position, int64_t nbytes) override {
    if (position < 0 || position >= size_ || std::min(nbytes, size_ - position) < kMapBytes) {
      return file_->ReadAt(position, nbytes);
    }
    nbytes = std::min(nbytes, size_ - position);
    static const int64_t page = ::sysconf(_SC_PAGESIZE);
    const int64_t start = position / page * page;
    const auto length = static_cast<size_t>(position - start + nbytes);
    void* mapped = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
                          file_->file_descriptor(), start);
    if (mapped == MAP_FAILED) return file_->ReadAt(position, nbytes);
    return std::make_shared<Mapping>(static_cast<uint8_t*>(mapped), length, position - start,
                                     nbytes);
  }
  Result<int64_t> ReadAt(int64_t position, int64_t nbytes, void* out) override {
    return file_->ReadAt(position, nbytes, out);
  }
  Status Close() override { return file_->Close(); }
  bool closed() const override { return file_->closed(); }
  Result<int64_t> Tell() const override { return file_->Tell(); }
  Status Seek(int64_t position) override { return file_->Seek(position); }
  Result<int64_t> Read(int64_t nbytes, void* out) override { return file_->Read(nbytes, out); }
  Result<std::shared_ptr<arrow::Buffer>> Read(int64_t nbytes) override {
    return file_->Read(nbytes);
  }
  Result<int64_t> GetSize() override { return file_->GetSize(); }
  bool supports_zero_copy() const override { return true; }

 private:
  static constexpr int64_t kMapBytes = 1 << 20;  // smaller reads are cheaper copied

  class Mapping : public arrow::Buffer {
   public:
    Mapping(uint8_t* mapped, size_t length, int64_t offset, int64_t size)
        : arrow::Buffer(mapped + offset, size), mapped_(mapped), length_(length) {}
    ~Mapping() override { ::munmap(mapped_, length_); }

   private:
    uint8_t* mapped_;
    size_t length_;
  };

  std::shared_ptr<arrow::io::ReadableFile> file_;
  int64_t size_;
};

}  // namespace

Result<std::shared_ptr<arrow::io::RandomAccessFile>> OpenInput(const fs::path& path) {
  ARROW_ASSIGN_OR_RAISE(Located at, Locate(path));
  auto file = at.fs->OpenInputFile(at.path);
  if (!file.ok())
    return Status::IOError("cannot open ", path.string(), ": ", file.status().message());
  auto local = std::dynamic_pointer_cast<arrow::io::ReadableFile>(*file);
  if (local == nullptr) return *file;
  auto size = local->GetSize();
  if (!size.ok()) return Named(path, size.status());
  return std::make_shared<MappedReadFile>(std::move(local), *size);
}

Result<std::vector<fs::path>> ListObjects(const fs::path& uri) {
  ARROW_ASSIGN_OR_RAISE(Located at, Locate(uri));
  arrow::fs::FileSelector selector;
  selector.base_dir = at.path;
  selector.allow_not_found = true;  // a prefix with nothing under it yet is an empty directory
  auto infos = at.fs->GetFileInfo(selector);
  if (!infos.ok())
    return Status::IOError("cannot list ", uri.string(), ": ", infos.status().message());
  std::vector<fs::path> entries;
  std::string base = uri.string();
  while (base.ends_with("/")) base.pop_back();
  for (const auto& info : *infos) entries.emplace_back(base + "/" + info.base_name());
  return entries;
}

Result<std::string> ReadObject(const fs::path& uri) {
  ARROW_ASSIGN_OR_RAISE(auto file, OpenInput(uri));
  auto size = file->GetSize();
  if (!size.ok()) return Named(uri, size.status());
  auto bytes = file->ReadAt(0, *size);
  if (!bytes.ok())
    return Status::IOError("cannot read ", uri.string(), ": ", bytes.status().message());
  return (*bytes)->ToString();
}

Status Upload(const fs::path& local, const fs::path& uri) {
  ARROW_ASSIGN_OR_RAISE(Located at, Locate(uri));
  auto input = arrow::io::ReadableFile::Open(local.string());
  if (!input.ok())
    return Status::IOError("cannot open ", local.string(), ": ", input.status().message());
  auto output = at.fs->OpenOutputStream(at.path);
  if (!output.ok()) {
    return Status::IOError("cannot write ", uri.string(), ": ", output.status().message());
  }
  constexpr int64_t kChunk = 8 << 20;
  while (true) {
    auto chunk = (*input)->Read(kChunk);
    if (!chunk.ok()) {
      (void)(*output)->Abort();
      return Status::IOError("cannot read ", local.string(), ": ", chunk.status().message());
    }
    if ((*chunk)->size() == 0) break;
    Status written = (*output)->Write(*chunk);
    if (!written.ok()) {
      (void)(*output)->Abort();
      return Status::IOError("cannot write ", uri.string(), ": ", written.message());
    }
  }
  Status closed = (*output)->Close();  // completes the upload: the object appears whole
  if (!closed.ok()) return Status::IOError("cannot write ", uri.string(), ": ", closed.message());
  return Status::OK();
}

namespace {

struct Credentials {
  std::string key, secret, token;
};

std::string_view Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The AWS default chain's first two links: the environment, then the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or "default").
Result<Credentials> FindCredentials() {
  Credentials found{Environment("AWS_ACCESS_KEY_ID"), Environment("AWS_SECRET_ACCESS_KEY"),
                    Environment("AWS_SESSION_TOKEN")};
  if (!found.key.empty() && !found.secret.empty()) return found;
  std::string file = Environment("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty() && !Environment("HOME").empty())
    file = Environment("HOME") + "/.aws/credentials";
  std::string profile = Environment("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::ifstream in(file);
  std::string line, section;
  while (std::getline(in, line)) {
    std::string_view text = Trim(line);
    if (text.starts_with("[") && text.ends_with("]")) {
      section = std::string(Trim(text.substr(1, text.size() - 2)));
      continue;
    }
    const size_t equals = text.find('=');
    if (section != profile || equals == std::string_view::npos) continue;
    const std::string_view name = Trim(text.substr(0, equals));
    const std::string value(Trim(text.substr(equals + 1)));
    if (name == "aws_access_key_id") found.key = value;
    if (name == "aws_secret_access_key") found.secret = value;
    if (name == "aws_session_token") found.token = value;
  }
  if (found.key.empty() || found.secret.empty()) {
    return Status::IOError(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "or profile '",
        profile, "' in a shared credentials file");
  }
  return found;
}

std::string EscapeKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// The text of <Tag> in S3's XML error body, or "".
std::string XmlField(const std::string& body, const std::string& tag) {
  const size_t open = body.find("<" + tag + ">");
  if (open == std::string::npos) return "";
  const size_t start = open + tag.size() + 2;
  const size_t close = body.find("</" + tag + ">", start);
  return close == std::string::npos ? "" : body.substr(start, close - start);
}

struct Response {
  long code = 0;
  std::string body, headers;
};

// One signed request to the object `uri`: GET, or PUT of `body`, with extra headers.
Result<Response> Request(const fs::path& uri, const char* method, std::string_view body,
                         const std::vector<std::string>& extra) {
  ARROW_ASSIGN_OR_RAISE(std::string in_bucket, PathInBucket(uri));
  const std::string bucket = BucketOf(in_bucket);
  const std::string key = in_bucket.substr(std::min(in_bucket.size(), bucket.size() + 1));
  ARROW_ASSIGN_OR_RAISE(Credentials credentials, FindCredentials());
  std::string endpoint = EndpointFor(bucket);
  if (endpoint.empty()) endpoint = "https://s3." + Region() + ".amazonaws.com";
  if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
    endpoint = "https://" + endpoint;
  }
  while (endpoint.ends_with("/")) endpoint.pop_back();
  const std::string url = endpoint + "/" + bucket + "/" + EscapeKey(key);

  static std::once_flag initialized;
  std::call_once(initialized, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::IOError("cannot make a request to ", uri.string());
  curl_slist* headers = nullptr;
  auto add = [&](const std::string& header) {
    headers = curl_slist_append(headers, header.c_str());
  };
  add("x-amz-content-sha256: " + Sha256Hex(body));
  if (!credentials.token.empty()) add("x-amz-security-token: " + credentials.token);
  for (const std::string& header : extra) add(header);
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> owned(headers, curl_slist_free_all);
  const std::string sigv4 = "aws:amz:" + Region() + ":s3";
  const std::string user = credentials.key + ":" + credentials.secret;
  Response response;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, user.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (std::string_view(method) == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (std::string_view(method) == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const CURLcode done = curl_easy_perform(c);
  if (done != CURLE_OK) {
    return Status::IOError(uri.string(), ": cannot reach ", endpoint, ": ",
                           curl_easy_strerror(done));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.code);
  return response;
}

Status Refused(const fs::path& uri, const Response& response) {
  const std::string code = XmlField(response.body, "Code");
  const std::string message = XmlField(response.body, "Message");
  return Status::IOError(uri.string(), ": S3 answered ", response.code,
                         code.empty() ? "" : " " + code, message.empty() ? "" : ": " + message);
}

Result<std::string> ETagOf(const fs::path& uri, const Response& response) {
  std::istringstream headers(response.headers);
  std::string line;
  while (std::getline(headers, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "etag") return std::string(Trim(line.substr(colon + 1)));
  }
  return Status::IOError(uri.string(), ": S3 sent no ETag");
}

}  // namespace

Result<VersionedObject> ReadVersionedObject(const fs::path& uri) {
  ARROW_ASSIGN_OR_RAISE(Response response, Request(uri, "GET", "", {}));
  VersionedObject object;
  if (response.code == 404 && XmlField(response.body, "Code") == "NoSuchKey") return object;
  if (response.code != 200) return Refused(uri, response);
  object.exists = true;
  object.bytes = std::move(response.body);
  ARROW_ASSIGN_OR_RAISE(object.etag, ETagOf(uri, response));
  return object;
}

Result<std::string> ObjectVersion(const fs::path& uri) {
  ARROW_ASSIGN_OR_RAISE(Response response, Request(uri, "HEAD", "", {}));
  if (response.code == 404) return std::string();  // a HEAD answer has no body to tell more
  if (response.code != 200) return Refused(uri, response);
  return ETagOf(uri, response);
}

Status WriteObjectIfUnchanged(const fs::path& uri, std::string_view bytes,
                              const std::string& etag) {
  const std::string condition = etag.empty() ? "If-None-Match: *" : "If-Match: " + etag;
  ARROW_ASSIGN_OR_RAISE(Response response,
                        Request(uri, "PUT", bytes, {condition, "Content-Type: application/json"}));
  if (response.code == 412 || response.code == 409) {
    return Status::AlreadyExists(uri.string(),
                                 " changed since it was read: another writer "
                                 "updated it first; nothing was written");
  }
  if (response.code != 200) return Refused(uri, response);
  return Status::OK();
}

Status RemoveObject(const fs::path& uri) {
  ARROW_ASSIGN_OR_RAISE(Located at, Locate(uri));
  auto info = at.fs->GetFileInfo(at.path);
  if (info.ok() && info->type() == arrow::fs::FileType::NotFound) return Status::OK();
  return Named(uri, at.fs->DeleteFile(at.path));
}

}  // namespace headwater::storage
