#pragma once
// The HTTP side of cluster mode (issue 20; docs/scale-out.md): how a read is spread over
// the nodes, the bytes a request or response travels between nodes as, and the response
// formats a merged global answer is printed with (the same as one node's).
//
// Thread-safety: pure functions.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "eddy/engine.h"
#include "http/router.h"

namespace eddy {

// A global read's part asked of one node (header X-Eddy-Part): it answers every entry
// (k = kPartK), the asking node merges and cuts to the client's k.
inline constexpr uint32_t kPartK = 1u << 30;
inline constexpr std::string_view kPartHeader = "X-Eddy-Part";
bool IsPartRequest(const Request& req);

// A read forwarded to its partition's owner carries how long the asking node still waits
// for it (milliseconds; a duration, not a time: the nodes' clocks need not agree): the
// owner neither answers nor records (a recommendation served under an experiment) once
// that long has passed since it parsed the request. Its deadline is later than the asking
// node's by the request's transit and queueing: an answer recorded in that window reaches
// a node that has answered 503 already.
inline constexpr std::string_view kAnswerWithinHeader = "X-Eddy-Answer-Within-Ms";
void SetAnswerWithin(Request& req, AnswerClaim::Clock::time_point by);
// The claim the owner answers a forwarded read under (null when it carries no deadline).
std::shared_ptr<AnswerClaim> ClaimOfForwarded(const Request& req);

std::string SerializeRequest(const Request& req);
std::optional<Request> ParseRequest(std::string_view bytes);
std::string SerializeResponse(const Response& res);
std::optional<Response> ParseResponse(std::string_view bytes);

Response TrendingResponse(unsigned v, const TrendingAnswer& a);
Response VelocityResponse(unsigned v, const std::string& category, const VelocityAnswer& a);
Response PopularResponse(unsigned v, const std::string& category, const PopularAnswer& a);
Response FunnelResponse(unsigned v, const FunnelAnswer& a);
Response RevenueResponse(unsigned v, const RevenueAnswer& a);
// `part`: a node's part of a merged read (X-Eddy-Part), with what the merge needs.
Response EngagementResponse(unsigned v, const std::string& item, const EngagementAnswer& a, bool part,
                            const std::vector<int64_t>& windows);
Response ItemResponse(unsigned v, const std::string& item, const CatalogRecord& c, const EngagementAnswer& a,
                      bool part, const std::vector<int64_t>& windows);
Response LowStockResponse(unsigned v, const LowStockAnswer& a);
// 503 with Retry-After: a node's part could not be had (moved, timed out, restarting).
Response NodesUnavailable(unsigned v, std::string_view why);

}  // namespace eddy
