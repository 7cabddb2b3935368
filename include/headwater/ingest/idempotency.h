#pragma once
// Idempotency keys for writes a client may retry (POST /push, /write-to-online-store, the SDK's
// push): a request that carries a key counts once, however often it is sent, within
// kIdempotencyWindow.
//
// A push writes to several places that cannot share one transaction (the batch source's files,
// the online store, a stream pipeline's write-ahead log), and a crash can fall between any two.
// So each write knows the key itself and skips what it already holds:
//   - an appended Parquet file carries the key's digest in its name (`...-k<digest>.parquet`),
//     a rewritten single-file source in its metadata (`headwater.push_keys`, the last 1,000);
//   - the write-ahead log keeps the key in the record (write_ahead_log.h);
//   - online rows are rewritten as they were: the store keeps the newest value per key, so
//     writing the same rows again changes nothing.
// The ledger below adds what a client sees: before anything is written, the key and a
// fingerprint of the request are logged (synced), so a retry is recognised after a restart, a
// key reused for a different request is refused, and a second copy of a request still in
// progress is refused rather than run twice at once.

#include <arrow/type_fwd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "headwater/core/status.h"
#include "headwater/core/time.h"

namespace headwater::ingest {

/// How long a key is remembered (at least): a retry within it counts once.
inline constexpr Duration kIdempotencyWindow{int64_t{24} * 3600 * 1'000'000};

/// A key is 1 to 255 visible ASCII characters (no space or control character), as an
/// `Idempotency-Key` header carries it (a UUID is the usual choice).
Status CheckIdempotencyKey(std::string_view key);

/// The first 16 hex digits of the key's SHA-256: the key in file names.
std::string KeyDigest(std::string_view key);

/// A fingerprint of a request: what it is (`what`, e.g. "push trades_push online") and its rows.
Result<std::string> RequestFingerprint(std::string_view what, const arrow::Table& rows);

/// Why a keyed request was refused (a detail of an AlreadyExists status).
enum class KeyConflict { kInProgress, kReusedForAnotherRequest };
std::optional<KeyConflict> KeyConflictOf(const Status& status);

class IdempotencyLedger {
 public:
  ~IdempotencyLedger();
  /// Opens (creating) the ledger file, forgetting keys older than the window.
  static Result<std::unique_ptr<IdempotencyLedger>> Open(const std::filesystem::path& path);

  /// Claims `key` for a request with `fingerprint` until Release: true when the key is new (now
  /// logged, synced), false when the same request was logged before (a retry: run it again, each
  /// write skipping what it holds). AlreadyExists with a KeyConflict when the key belongs to
  /// another request or a copy of this one is in progress. Thread-safe.
  Result<bool> Claim(std::string_view key, std::string_view fingerprint);
  void Release(std::string_view key);

 private:
  IdempotencyLedger(std::filesystem::path path) : path_(std::move(path)) {}
  void ReadLines(std::string_view text, int64_t oldest);

  std::filesystem::path path_;
  std::mutex mutex_;
  int fd_ = -1;
  std::unordered_map<std::string, std::string> fingerprints_;  // key -> fingerprint
  std::set<std::string> in_progress_;
};

}  // namespace headwater::ingest
