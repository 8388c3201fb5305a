#pragma once
// eddy::Status: the outcome of an operation that can fail. Cheap when OK (no allocation).
// Thread-safety: a value type; distinct objects may be used from distinct threads.

#include <memory>
#include <string>
#include <string_view>

namespace eddy {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong (bad config value, bad event)
  kNotFound,
  kResourceExhausted, // a bounded resource is full; retry later (HTTP 429)
  kUnavailable,       // stopping or not ready (HTTP 503)
  kTooLarge,          // the input can never fit (HTTP 413)
  kIoError,
  kCorruption,
  kInternal,
  kAlreadyExists,     // a conditional write lost: someone else holds what it wanted
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string_view message);

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string_view m) { return {StatusCode::kInvalidArgument, m}; }
  static Status NotFound(std::string_view m) { return {StatusCode::kNotFound, m}; }
  static Status ResourceExhausted(std::string_view m) {
    return {StatusCode::kResourceExhausted, m};
  }
  static Status Unavailable(std::string_view m) { return {StatusCode::kUnavailable, m}; }
  static Status TooLarge(std::string_view m) { return {StatusCode::kTooLarge, m}; }
  static Status IoError(std::string_view m) { return {StatusCode::kIoError, m}; }
  static Status Corruption(std::string_view m) { return {StatusCode::kCorruption, m}; }
  static Status Internal(std::string_view m) { return {StatusCode::kInternal, m}; }
  static Status AlreadyExists(std::string_view m) { return {StatusCode::kAlreadyExists, m}; }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  std::string_view message() const { return state_ ? std::string_view(state_->message) : ""; }
  std::string ToString() const;

  // Explicitly drops a Status the caller has decided not to act on.
  void IgnoreError() const {}

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const State> state_;
};

std::string_view StatusCodeName(StatusCode code);

}  // namespace eddy
