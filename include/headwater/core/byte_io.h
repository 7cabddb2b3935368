#pragma once
// Fixed-layout binary writing and reading for state files (checkpoints, operator state):
// values in the machine's byte order (little-endian here), byte strings with a u64 length.
// Reads fail — never crash — on truncated input.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace headwater {

template <typename T>
void PutFixed(std::string* out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

inline void PutBytes(std::string* out, std::string_view bytes) {
  PutFixed(out, static_cast<uint64_t>(bytes.size()));
  out->append(bytes);
}

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T* value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (bytes_.size() < sizeof(T)) return false;
    std::memcpy(value, bytes_.data(), sizeof(T));
    bytes_.remove_prefix(sizeof(T));
    return true;
  }
  /// A byte string written by PutBytes; `out` points into the input.
  bool GetBytes(std::string_view* out) {
    uint64_t size = 0;
    if (!Get(&size) || bytes_.size() < size) return false;
    *out = bytes_.substr(0, size);
    bytes_.remove_prefix(size);
    return true;
  }
  bool done() const { return bytes_.empty(); }
  /// The bytes not read yet: a count read from the input is checked against it before anything
  /// is allocated for it.
  size_t remaining() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

}  // namespace headwater
