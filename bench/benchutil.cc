#include "benchutil.h"

#include <fstream>
#include <random>
#include <sstream>

namespace eddy::bench {
namespace {

const char* kTaobao = EDDY_EVALDATA_DIR "/taobao-userbehavior-sample/UserBehavior.csv";

std::string Mapped(std::string_view behavior) {
  if (behavior == "pv") return "view";
  if (behavior == "cart") return "add_to_cart";
  if (behavior == "buy") return "purchase";
  return "click";  // fav has no canonical type; the README of evaldata suggests click
}

std::vector<std::string> Load() {
  std::vector<std::string> out;
  std::ifstream in(kTaobao);
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string user, item, cat, beh, ts;
    if (!std::getline(ss, user, ',') || !std::getline(ss, item, ',') ||
        !std::getline(ss, cat, ',') || !std::getline(ss, beh, ',') || !std::getline(ss, ts)) {
      continue;
    }
    out.push_back("{\"userId\":\"" + user + "\",\"itemId\":\"" + item + "\",\"category\":\"" +
                  cat + "\",\"type\":\"" + Mapped(beh) + "\",\"timestamp\":" + ts + "}");
  }
  return out;
}

std::vector<std::string> Synthetic(size_t n) {
  std::mt19937_64 rng(7);
  std::vector<std::string> out;
  const char* types[] = {"view", "view", "view", "view", "view", "view", "view", "view",
                         "add_to_cart", "purchase"};
  for (size_t i = 0; i < n; ++i) {
    out.push_back("{\"userId\":\"" + std::to_string(100000 + rng() % 58000) +
                  "\",\"itemId\":\"" + std::to_string(rng() % 5000000) + "\",\"category\":\"" +
                  std::to_string(rng() % 5000000) + "\",\"type\":\"" + types[rng() % 10] +
                  "\",\"timestamp\":" + std::to_string(1511658000 + i / 14) + "}");
  }
  return out;
}

}  // namespace

bool HaveTaobao() { return std::ifstream(kTaobao).good(); }

std::vector<std::string> TaobaoEvents(size_t n) {
  static const std::vector<std::string> base = HaveTaobao() ? Load() : Synthetic(100'000);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(base[i % base.size()]);
  return out;
}

std::string JoinNdjson(const std::vector<std::string>& events, size_t from, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out += events[(from + i) % events.size()];
    out += '\n';
  }
  return out;
}

}  // namespace eddy::bench
