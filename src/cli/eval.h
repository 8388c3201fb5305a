#pragma once
// `eddy eval`: offline replay evaluation of the recommender against baselines
// (docs/evaluation.md).
//
// The events of a file (CSV or NDJSON, as eddy-load --replay reads them) are ordered by
// time; the first `split` of them are ingested into an in-memory engine (event clock, no
// store); then, for every later event with a user and an item, each method is asked for
// that user's top k *before* the event is applied, and scores a hit when the event's item
// is in it (HitRate@k), 1/rank (MRR@k) and 1/log2(1 + rank) (NDCG@k, one relevant item).
// Methods, fed the same events at the same points:
//   eddy       - the recommendations with the configured weights;
//   eddy-embed - the same engine with every weight 0 but embed's (its embeddings alone);
//   POP        - the k items with the most events so far (ties: lower name);
//   Recent     - the user's own latest distinct items, newest first ("recently viewed");
//   Item-KNN   - item-to-item co-occurrence in users' histories: each touch pairs the item
//                with the user's last `history` distinct items; similarity is the cosine
//                c(a,b) / sqrt(n(a) n(b)); a user's score for b is the sum over their
//                `seeds` latest items;
//   V-SKNN     - session-based kNN (Ludewig & Jannach 2018): the user's current session
//                (split at sessions.gap_s of silence), items weighted linearly by position
//                (newest 1); among the 500 most recent past sessions sharing an item with
//                it, the 100 most similar (sum of the shared items' weights); an item's
//                score is the sum of the similarities of the neighbours holding it;
//   SR         - sequential rules (the same paper), over each user's history of distinct
//                items (a re-touched item moves to the end): when b is touched, the item k
//                <= 10 places back adds 1/k to the rule a -> b; the score of b is the sum of
//                the rules from the user's j-th last item (j <= 3), times 1/j.
// Every method's list is treated alike: with --exclude seen every item the user touched
// before is dropped from it (eddy's own ranking.exclude_seen is turned off, so that no
// method excludes more than another), and a list shorter than k is back-filled with POP's
// next items — so a cold user gets POP's list from every method.
//
// --tune: the last tenth of the replayed part is held out as a validation slice: a fresh
// engine replays the rest, and for each of the slice's first `tune_events` predictions
// asks for the list under every variant of the weights (each signal's weight moved over a
// grid, the others kept), all in one pass; each signal takes its best value; round 2 scores
// that combination, round 1's best variant and the moves around the combination, and keeps
// the best.
// The weights chosen are printed (as --set flags) and the evaluation runs with them. The
// evaluated part is never seen by the search.
// Events/s of the training replay is printed too.

#include <string>
#include <vector>

#include "config/loader.h"

namespace eddy {

struct EvalArgs {
  std::string data;                      // the event file
  std::string csv_columns;               // CSV column names ("" = NDJSON)
  std::string default_type = "view";     // the type of rows without one
  std::string item_categories;           // optional CSV: item id first, categories last
  double split = 0.8;
  uint32_t k = 20;
  uint32_t limit = 0;                    // evaluate at most this many events (0 = all)
  std::string exclude = "none";          // "none" or "seen"
  bool tune = false;                     // search the ranking weights first
  uint32_t tune_events = 2000;           // predictions scored per round of the search
};

// Prints the report to stdout; returns the process exit code.
int RunEval(const ConfigSources& config, const EvalArgs& args);

}  // namespace eddy
