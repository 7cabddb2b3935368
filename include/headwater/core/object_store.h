#pragma once
// Paths that may be S3 URIs: every file Headwater reads or writes outside its own local state
// (sources, offline datasets, entity and output files, the registry) is named by a
// std::filesystem::path holding either a local path or "s3://bucket/key". Both go through
// Arrow's file-system layer (arrow::fs): a local path through LocalFileSystem, a URI through
// S3FileSystem (libarrow_s3 from the pyarrow wheel), so one code path reads both.
//
// S3 settings are the AWS ecosystem's: credentials from the default chain (AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, then the shared credentials file and AWS_PROFILE),
// the region from AWS_REGION or AWS_DEFAULT_REGION (us-east-1 when neither is set), the endpoint
// from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (an http:// endpoint is spoken to in plain HTTP),
// or for one bucket from UseEndpointForBucket (a FileSource's s3_endpoint_override). Credentials
// never appear in a message.

#include <arrow/filesystem/type_fwd.h>
#include <arrow/io/type_fwd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "headwater/core/status.h"

namespace headwater::storage {

/// True for a path written as an S3 URI ("s3://bucket/key").
bool IsObjectUri(const std::filesystem::path& path);

/// The file system holding `path` and the path within it ("bucket/key" for a URI).
struct Located {
  std::shared_ptr<arrow::fs::FileSystem> fs;
  std::string path;
};
Result<Located> Locate(const std::filesystem::path& path);

/// Objects in `bucket` are served by `endpoint` ("http://host:port" or "host:port"), whatever
/// the environment says: a FileSource's s3_endpoint_override. The same bucket given two
/// different endpoints is an error.
Status UseEndpointForBucket(const std::string& bucket, const std::string& endpoint);

enum class Kind { kMissing, kFile, kDirectory };
/// What is at `path`. For a URI, a directory is a prefix with objects under it.
Result<Kind> KindOf(const std::filesystem::path& path);

/// Creates a local directory and its parents; nothing for a URI (a prefix exists once an object
/// is under it). IOError naming it on failure.
Status MakeDirectories(const std::filesystem::path& path);

/// A file opened for random access (ranged reads for a URI).
Result<std::shared_ptr<arrow::io::RandomAccessFile>> OpenInput(const std::filesystem::path& path);

/// The entries directly inside a URI "directory" (objects and common prefixes), unsorted.
Result<std::vector<std::filesystem::path>> ListObjects(const std::filesystem::path& uri);

/// A whole object's bytes.
Result<std::string> ReadObject(const std::filesystem::path& uri);

/// Uploads a local file as the object `uri`. S3 makes an object visible only when its upload
/// completes, so readers see the old object or the new one whole, never a part; an upload that
/// fails (or a process killed during it) leaves the old object, or none.
Status Upload(const std::filesystem::path& local, const std::filesystem::path& uri);

/// An object's bytes with its version (S3's ETag); `exists` false (and no bytes) when absent.
struct VersionedObject {
  bool exists = false;
  std::string bytes;
  std::string etag;
};
Result<VersionedObject> ReadVersionedObject(const std::filesystem::path& uri);

/// The object's current version (ETag) from a HEAD request; empty when there is no object.
Result<std::string> ObjectVersion(const std::filesystem::path& uri);

/// Compare-and-swap: writes `bytes` as the object `uri` only if it is still the version read
/// (`etag`; empty: only if there is no object). A conditional PUT (If-Match / If-None-Match),
/// which S3 and SeaweedFS evaluate atomically; Arrow's S3 layer has no such call, so this one
/// request is made with libcurl, signed with AWS Signature Version 4. AlreadyExists when another
/// writer got there first: nothing was written.
Status WriteObjectIfUnchanged(const std::filesystem::path& uri, std::string_view bytes,
                              const std::string& etag);

/// Removes the object `uri` (absent is fine).
Status RemoveObject(const std::filesystem::path& uri);

}  // namespace headwater::storage
