#pragma once
// JsonWriter: builds a compact JSON text into a string, escaping as RFC 8259 requires.
// The caller keeps the structure balanced; commas are inserted automatically.
// Thread-safety: none (a local builder).

#include <cstdint>
#include <string>
#include <string_view>

namespace eddy {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  // A fixed-point amount in millionths as an exact decimal number ("12.5", "-0.000001").
  JsonWriter& Micros(int64_t v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // `v`, or null when it is empty (an absent id or name).
  JsonWriter& StringOrNull(std::string_view v) { return v.empty() ? Null() : String(v); }
  // A value that is already JSON text (the caller vouches for it).
  JsonWriter& RawJson(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

  // util/json.h's escaper (valid JSON always: invalid UTF-8 becomes U+FFFD).
  static void AppendEscaped(std::string* out, std::string_view s);

 private:
  void Separator();
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace eddy
