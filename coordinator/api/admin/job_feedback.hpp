#pragma once
// The LNVPS job feedback WebSocket (GET /api/admin/v1/jobs/feedback): job events as LNVPS's
// worker feedback (Started, Progress, Completed, Failed, Cancelled), for one job or for all, fed by
// jobs::job_watch. A client may send {"type":"ping"} and gets {"type":"pong"}.
#include "common/http_server.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/database.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::jobs {
class job_watch;
}

namespace vpsfleet::api::admin {

// What a feedback message says about the job an event belongs to.
struct job_identity {
    std::int64_t id = 0;
    std::string uid;
    std::string kind;
    nlohmann::json args;
};

// LNVPS's name for the work a job does (StartVm, CreateVm, ...); our kind when LNVPS has none.
std::string lnvps_job_type(const std::string& kind, const nlohmann::json& args);

// {"job_id", "worker_id", "job_type", "status", "timestamp"} for an event, or null for events
// LNVPS has no status for (queued, cancel_requested, requeued).
nlohmann::json feedback_of(const jobs::job_event& event, const job_identity& job);

// A session streaming the feedback of `job`, or of every job when it is empty.
http::websocket_session feedback_session(store::database& db, jobs::job_watch& watch,
                                         std::optional<job_identity> job);

}  // namespace vpsfleet::api::admin
