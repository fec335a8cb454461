#pragma once
// template.delete (Suble DELETE /projects/{p}/templates/{t}): the route marks the template
// deleting and enqueues this job, which removes what the template keeps and marks it deleted.
// Templates today stand for an OS image and keep no disk of their own; one saved from a backup
// (backup_snapshot) will have its snapshot removed here first, once backups exist.
#include "coordinator/jobs/job_runner.hpp"

namespace vpsfleet::instances {

inline constexpr const char* k_template_delete_kind = "template.delete";

// args: template_id.
void add_template_job_handlers(jobs::job_runner& runner);

}  // namespace vpsfleet::instances
